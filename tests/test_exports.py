"""Exports (issue 17 item 5): CSV and Excel of a timeline's lines (``cpoc timeline --format
csv|xlsx``), text never run as a formula, amounts exact."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from timeline_builders import timeline

from cpoc_fhir.cli import main
from cpoc_fhir.exports import (
    TIMELINE_HEADERS,
    Table,
    text_of,
    timeline_table,
    write_csv,
    write_xlsx,
)


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_timeline_rows_one_per_line_with_exact_amounts() -> None:
    table = timeline_table([timeline()])
    assert table.headers == TIMELINE_HEADERS
    out = io.StringIO()
    write_csv(table, out)
    rows = _csv_rows(out.getvalue())
    # timeline(): a New Patient line (xx100, provisional, 1000.00, no month) and Treatment
    # Month 1 (xx204, level 4, final, 800.00, score total 0+0+4+6 = 10, folfox)
    assert [(r["code"], r["month"], r["amount"], r["status"]) for r in rows] == [
        ("xx100", "", "1000.00", "provisional"),
        ("xx204", "1", "800.00", "final"),
    ]
    tm = rows[1]
    assert (tm["from"], tm["to"], tm["level"], tm["score"], tm["regimen"]) == (
        "2025-03-03",
        "2025-04-02",
        "4",
        "10",
        "folfox",
    )
    assert tm["evidence"].split(" | ")[0] == "Condition/c1"
    # the warning starts with "=": quoted so that a spreadsheet shows it as text
    assert tm["warnings"].startswith("'=HYPERLINK")
    assert out.getvalue().count("\r\n") == 3  # header + 2 rows, RFC 4180 line ends


@pytest.mark.parametrize(
    ("cell", "text"),
    [
        ("=1+1", "'=1+1"),
        ("+x", "'+x"),
        ("-x", "'-x"),
        ("@x", "'@x"),
        ("plain", "plain"),
        (Decimal("-12.50"), "-12.50"),  # a number keeps its sign: not text
        (date(2025, 9, 1), "2025-09-01"),
        (None, ""),
        (7, "7"),
    ],
)
def test_cell_text(cell: object, text: str) -> None:
    assert text_of(cell) == text  # type: ignore[arg-type]


def _sheet(path_or_bytes: bytes) -> tuple[str, list[str]]:
    with zipfile.ZipFile(io.BytesIO(path_or_bytes)) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
        shared = book.read("xl/sharedStrings.xml").decode()
    strings = re.findall(r"<t[^>]*>([^<]*)</t>", shared)
    return sheet, strings


def test_xlsx_amounts_are_numbers_and_text_is_never_a_formula() -> None:
    table = Table(
        ("code", "amount", "from", "note"),
        (("xx204", Decimal("800.00"), date(2025, 3, 3), "=SUM(A1:A9)"),),
    )
    out = io.BytesIO()
    write_xlsx({"lines": table}, out)
    sheet, strings = _sheet(out.getvalue())
    assert "<f>" not in sheet  # no formula cell anywhere
    assert "=SUM(A1:A9)" in strings and "xx204" in strings
    assert "<v>800</v>" in sheet  # 800.00 as a number (formatted #,##0.00)
    assert "<v>45719</v>" in sheet  # 2025-03-03 as an Excel date: 45719 days after 1899-12-30
    assert '<pane ySplit="1"' in sheet and "<autoFilter" in sheet


def test_cli_timeline_csv_and_xlsx(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["timeline", "--as-of", "2025-12-15", "--patient", "appendix-a-folfox"]
    assert main([*args, "--format", "csv"]) == 0
    captured = capsys.readouterr()
    rows = _csv_rows(captured.out)
    assert rows and {r["patient"] for r in rows} == {"Patient/appendix-a-folfox"}
    assert rows[0]["code"] == "xx100"  # New Patient first, then the months in order
    assert "illustrative" in captured.err
    target = tmp_path / "lines.xlsx"
    assert main([*args, "--format", "xlsx", "--out", str(target)]) == 0
    sheet, strings = _sheet(target.read_bytes())
    assert "Patient/appendix-a-folfox" in strings
    assert sheet.count("<row ") == len(rows) + 1


def test_cli_xlsx_to_a_terminal_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    assert main(["timeline", "--as-of", "2025-12-15", "--format", "xlsx"]) == 2
    assert "--out" in capsys.readouterr().err
