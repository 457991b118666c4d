"""Tables as CSV and Excel files (issue 17 item 5): a timeline's lines, the work queue, the
revenue report's rows.

- CSV: UTF-8, a header row, RFC 4180 quoting; amounts as the Decimal's text ("1234.50").
  A text cell that a spreadsheet would run as a formula (starting ``=``, ``+``, ``-``, ``@``,
  tab or carriage return) is prefixed with ``'`` (OWASP "CSV injection"); numbers are not.
- Excel (.xlsx) by XlsxWriter: it only writes, which is all an export does, has no
  dependency, and is faster and smaller in memory than openpyxl (which reads too and pulls in
  et-xmlfile). Text is written as text (``write_string``: never a formula), amounts as numbers
  with two decimals (a spreadsheet sums them), dates as dates; the header row is frozen and
  filtered; each sheet's columns sized to their content.

XlsxWriter is imported only when an .xlsx is written.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import IO, Any

from cpoc_fhir.engine.lines import PatientTimeline

Cell = str | int | Decimal | date | None
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_COLUMN_CHARS = 60


@dataclass(frozen=True)
class Table:
    """A header and its rows (one cell per header)."""

    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


def text_of(cell: Cell) -> str:
    """A cell as CSV text: a Decimal's own digits, a date in ISO form, None as ""."""
    if cell is None:
        return ""
    if isinstance(cell, date):
        return cell.isoformat()
    if isinstance(cell, str):
        return "'" + cell if cell.startswith(_FORMULA_START) else cell
    return str(cell)


def write_csv(table: Table, out: IO[str]) -> None:
    """``table`` as CSV on ``out`` (opened with ``newline=""`` when a file)."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.headers)
    for row in table.rows:
        writer.writerow([text_of(cell) for cell in row])


def write_xlsx(sheets: Mapping[str, Table], out: IO[bytes] | str) -> None:
    """Each table on a sheet of its name (at most 31 characters) of one workbook."""
    import xlsxwriter

    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False})
    bold = book.add_format({"bold": True})
    money = book.add_format({"num_format": "#,##0.00"})
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    for name, table in sheets.items():
        sheet = book.add_worksheet(name[:31])
        widths = [len(h) for h in table.headers]
        for col, header in enumerate(table.headers):
            sheet.write_string(0, col, header, bold)
        for r, row in enumerate(table.rows, start=1):
            for col, cell in enumerate(row):
                _write_cell(sheet, r, col, cell, money, day)
                widths[col] = max(widths[col], len(text_of(cell)))
        for col, chars in enumerate(widths):
            sheet.set_column(col, col, min(chars, MAX_COLUMN_CHARS) + 2)
        sheet.freeze_panes(1, 0)
        if table.rows:
            sheet.autofilter(0, 0, len(table.rows), len(table.headers) - 1)
    book.close()


def _write_cell(sheet: Any, r: int, col: int, cell: Cell, money: Any, day: Any) -> None:
    if cell is None:
        return
    if isinstance(cell, bool):  # bool is an int: written as text, not 1/0
        sheet.write_string(r, col, str(cell).lower())
    elif isinstance(cell, Decimal):
        sheet.write_number(r, col, float(cell), money)
    elif isinstance(cell, int):
        sheet.write_number(r, col, cell)
    elif isinstance(cell, date):
        sheet.write_datetime(r, col, cell, day)
    else:
        sheet.write_string(r, col, cell)


# --- a timeline's lines -----------------------------------------------------------------------
TIMELINE_HEADERS = (
    "patient",
    "model",
    "episode",
    "month",
    "from",
    "to",
    "code",
    "component",
    "level",
    "status",
    "amount",
    "score",
    "regimen",
    "explanation",
    "warnings",
    "evidence",
)


def timeline_table(timelines: Iterable[PatientTimeline]) -> Table:
    """One row per billing line of every timeline (``cpoc timeline --format csv|xlsx``);
    explanation, warnings and evidence joined with " | "."""
    rows: list[tuple[Cell, ...]] = []
    for timeline in timelines:
        for line in timeline.lines:
            rows.append(
                (
                    timeline.patient_ref,
                    line.model,
                    line.episode,
                    line.month,
                    line.start,
                    line.end,
                    line.code,
                    line.component.value,
                    line.level,
                    line.status.value,
                    line.amount,
                    line.score.total if line.score else None,
                    line.score.regimen if line.score else None,
                    _joined(line.explanation),
                    _joined(line.warnings),
                    _joined(line.evidence),
                )
            )
    return Table(TIMELINE_HEADERS, tuple(rows))


def _joined(texts: Sequence[str]) -> str:
    return " | ".join(texts)
