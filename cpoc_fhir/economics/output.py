"""Where the economics reports go: ``--out FILE`` or, without it, stdout."""

from __future__ import annotations

import sys
from pathlib import Path

from cpoc_fhir.errors import InputError


def write_report(out: Path | None, text: str) -> None:
    """``text`` to ``out``, or to stdout when no file was asked for; a file that cannot be
    written is an input error naming it."""
    if out is None:
        sys.stdout.write(text)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(str(out), f"cannot be written ({exc.strerror})") from None
