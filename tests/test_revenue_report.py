"""``cpoc report revenue`` and the revenue summary (issue 17 item 5): what counts as billed,
provisional, on hold and not billable, by month, code, pack and level."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from revenue_builders import practice_items

from cpoc_fhir.cli import main
from cpoc_fhir.fhir.write.review_marks import HOLD_EXTENSION
from cpoc_fhir.reports import revenue_items
from cpoc_fhir.reports.revenue import RevenueFilters, summarise
from cpoc_fhir.reports.revenue_items import PackIndex, revenue_rows

from revenue_builders import CODESYSTEM  # isort: skip


def test_groups_months_codes_levels_and_reasons() -> None:
    rev = summarise(
        revenue_rows(practice_items(), PackIndex(CODESYSTEM)), RevenueFilters("2025-03", "2025-04")
    )
    assert [r.item_id for r in rev.rows] == ["c1", "c3", "c8", "c7", "c2", "c4"]  # by date
    # March: billed c1 800; planned c8 430; held c3 1000.  April: billed c7 70; planned c2
    # 600; not billable c4 20.  c5 (entered in error) and c6 (May) are out.
    assert rev.by_month == {
        "2025-03": {
            "billed": Decimal("800.00"),
            "planned": Decimal("430.00"),
            "held": Decimal("1000.00"),
        },
        "2025-04": {
            "billed": Decimal("70.00"),
            "planned": Decimal("600.00"),
            "not-billable": Decimal("20.00"),
        },
    }
    # revenue = billed + planned + held = 870 + 1030 + 1000 = 2900 (not billable 20 apart)
    assert rev.revenue == Decimal("2900.00")
    assert rev.counts == {"billed": 2, "planned": 2, "held": 1, "not-billable": 1}
    # Treatment Month levels: c1 level 4, c8 level 2, c2 level 3 (c4 is Active Monitoring)
    assert rev.levels == {2: 1, 3: 1, 4: 1}
    assert rev.backlog_reasons == {"ECOG not documented in the month": 2}
    assert rev.hold_reasons == {"referral letter missing": 1}
    # by code, revenue groups only: March xx100 1000 (held), xx202 430, xx204 800
    assert rev.by_month_code["2025-03"] == {
        "xx100": Decimal("1000.00"),
        "xx202": Decimal("430.00"),
        "xx204": Decimal("800.00"),
    }
    assert {r.item_id: r.model for r in rev.rows}["c7"] == "eom"  # M0010 in HCPCS: EOM's MEOS


def test_filters_provider_model_code() -> None:
    items = list(revenue_rows(practice_items(), PackIndex(CODESYSTEM)))
    may = summarise(items, RevenueFilters("2025-05", "2025-05", provider="Practitioner/dr-b"))
    assert [r.item_id for r in may.rows] == ["c6"] and may.revenue == Decimal("800.00")
    eom = summarise(items, RevenueFilters(model="eom"))
    assert [r.item_id for r in eom.rows] == ["c7"]
    assert "eom" in eom.models and "cpoc" in eom.models  # choices come from every row
    tm4 = summarise(items, RevenueFilters(code="xx204"))
    assert tm4.revenue == Decimal("1600.00")  # c1 + c6, 800 each


def test_hold_extension_url_is_the_review_apps() -> None:
    assert revenue_items.HOLD_EXTENSION == HOLD_EXTENSION


def _bundle(tmp_path: Path) -> Path:
    path = tmp_path / "charges.json"
    entries = [{"resource": r} for r in practice_items()]
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}))
    return path


def test_cli_table_csv_json_html_xlsx(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = str(_bundle(tmp_path))
    base = ["report", "revenue", bundle, "--from", "2025-03", "--to", "2025-04"]
    assert main(base) == 0
    table = capsys.readouterr().out
    assert max(len(line) for line in table.splitlines()) <= 80
    assert "2025-03" in table and "2900.00" in table and "ECOG not documented" in table
    assert main([*base, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["month"] for r in rows] == ["2025-03", "2025-04", "total"]
    assert rows[0]["revenue"] == "2230.00"  # March: 800 + 430 + 1000
    assert rows[2]["not-billable"] == "20.00"
    assert main([*base, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["revenue"] == "2900.00" and data["treatmentMonthLevels"] == {"2": 1, "3": 1, "4": 1}
    out = tmp_path / "revenue.html"
    assert main([*base, "--format", "html", "--out", str(out)]) == 0
    html = out.read_text()
    assert html.count("<svg") >= 3 and "Revenue by month and status" in html
    assert ("<script" not in html and "2,900.00" in html) or "2900.00" in html
    book = tmp_path / "revenue.xlsx"
    assert main([*base, "--format", "xlsx", "--out", str(book)]) == 0
    assert book.read_bytes()[:2] == b"PK"


def test_cli_refuses_bad_months_and_unknown_pack(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = str(_bundle(tmp_path))
    with pytest.raises(SystemExit):
        main(["report", "revenue", bundle, "--from", "2025-13", "--to", "2025-04"])
    assert main(["report", "revenue", bundle, "--from", "2025-05", "--to", "2025-04"]) == 2
    assert (
        main(
            ["report", "revenue", bundle, "--from", "2025-03", "--to", "2025-04", "--model", "nope"]
        )
        == 2
    )
    assert "nope" in capsys.readouterr().err
