"""Helpers every report's renderers share: aligned tables, percentages, rates in JSON, CSV text,
a result in its ``--format`` and writing an output file with a clear error."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal
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
    """A rate in JSON: a float of the rate rounded once, exactly, to 4 places half up (as
    ``decimal_text``, the ER rates and the MeasureReports' measureScore round), or null.
    ``round(float(…))`` rounded a tie such as 1/32 down (0.0312) where the MeasureReport
    says 0.0313, and 1/160 up but 7/160 down, by the float's binary error."""
    return None if value is None else float(_rounded(value, 4))


def decimal_text(value: Fraction | Decimal | None, places: int = 4) -> str | None:
    """A rate as a decimal string, rounded once to ``places`` (half up), or None."""
    return None if value is None else str(_rounded(value, places))


def _rounded(value: Fraction | Decimal, places: int) -> Decimal:
    number = (
        Decimal(value.numerator) / Decimal(value.denominator)
        if isinstance(value, Fraction)
        else Decimal(value)
    )
    return number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def csv_text(rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(rows)
    return buffer.getvalue()


def report_text(
    result: dict[str, Any],
    fmt: str,
    csv_rows: Callable[[dict[str, Any]], Iterable[Sequence[Any]]],
    table: Callable[[dict[str, Any]], str],
) -> str:
    """A report's ``result`` as ``--format`` asks: ``json`` (indented), ``csv`` (the rows of
    ``csv_rows``), else ``table``."""
    if fmt == "json":
        return json.dumps(result, indent=1) + "\n"
    if fmt == "csv":
        return csv_text(csv_rows(result))
    return table(result)


def write_text(path: Path, text: str) -> None:
    """Write an output file; a failure names the file and the reason."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(str(path), f"cannot write: {os_reason(exc)}") from None


def os_reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc)
