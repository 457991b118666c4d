"""Helpers every report's renderers share: aligned tables, percentages, rates in JSON, CSV text
and writing an output file with a clear error."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from cpoc_fhir.errors import InputError

DASH = "—"


def aligned(rows: Sequence[Sequence[str]], right: set[int], indent: str = "  ") -> list[str]:
    """Rows of cells as lines, each column as wide as its widest cell; columns in ``right``
    right-aligned (numbers), the others left-aligned."""
    if not rows:
        return []
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(r)
        ]
        lines.append(indent + "  ".join(cells).rstrip())
    return lines


def pct(value: Fraction | Decimal | float | None, places: int = 1) -> str:
    """A fraction 0-1 as a percentage ("81.3%"); "—" for none."""
    if value is None:
        return DASH
    number = float(Fraction(value)) if not isinstance(value, float) else value
    return f"{number * 100:.{places}f}%"


def rate_json(value: Fraction | Decimal | None) -> float | None:
    """A rate in JSON: a float rounded to 4 places (the value report's shape), or null."""
    return None if value is None else round(float(value), 4)


def decimal_text(value: Fraction | Decimal | None, places: int = 4) -> str | None:
    """A rate as a decimal string, rounded once to ``places`` (half-even), or None."""
    if value is None:
        return None
    number = (
        Decimal(value.numerator) / Decimal(value.denominator)
        if isinstance(value, Fraction)
        else Decimal(value)
    )
    return str(number.quantize(Decimal(1).scaleb(-places)))


def csv_text(rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(rows)
    return buffer.getvalue()


def write_text(path: Path, text: str) -> None:
    """Write an output file; a failure names the file and the reason."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(str(path), f"cannot write: {os_reason(exc)}") from None


def os_reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc)
