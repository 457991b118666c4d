"""What every pack's ``pack.py`` does alike (value-and-models §15): read its data file, and
write a line's amount in a card title.

A pack's amounts and codes come from a TOML data file (the shipped one, or the one
``[models] data_files`` names); a file that cannot be read or parsed is an ``InputError``
naming it. Loads files, so only ``pack.py`` modules import it (the rules stay pure).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from cpoc_fhir.errors import InputError

Data = TypeVar("Data")


def read_data_file(
    path: str | Path | None,
    default: Path,
    parse: Callable[[dict[str, Any], str], Data],
    model: str,
) -> Data:
    """The data file at ``path`` (None: ``default``) parsed; ``InputError`` naming the file
    when it cannot be read or parsed ("cannot read the ``model`` data: …")."""
    where = Path(path) if path else default
    try:
        raw = tomllib.loads(where.read_text(encoding="utf-8"))
        return parse(raw, str(where))
    except (OSError, tomllib.TOMLDecodeError, ValueError) as exc:
        raise InputError(str(where), f"cannot read the {model} data: {exc}") from None


def money(amount: Any, currency: str) -> str:
    """An amount for a line's title: ``$160.00`` in dollars, else ``EUR 160.00``."""
    return f"${amount:.2f}" if currency in ("USD", "$", "") else f"{currency} {amount:.2f}"
