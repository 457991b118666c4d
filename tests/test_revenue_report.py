"""``cpoc report revenue`` and the revenue summary (issue 17 item 5): what counts as billed,
provisional, on hold and not billable, by month, code, pack and level."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from revenue_builders import coverage, practice_coverages, practice_items

from cpoc_fhir.cli import main
from cpoc_fhir.fhir.write.review_marks import HOLD_EXTENSION
from cpoc_fhir.reports import revenue_items, revenue_payers
from cpoc_fhir.reports.revenue import RevenueFilters, rows_table, summarise
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


def _payers() -> revenue_payers.Payers:
    from cpoc_fhir.knowledge.loader import load_knowledge

    resources = practice_coverages()
    return revenue_payers.read_payers(resources, resources, load_knowledge())


def test_each_line_is_paid_by_the_patients_primary_coverage_on_its_day() -> None:
    rows = list(
        revenue_payers.with_payers(revenue_rows(practice_items(), PackIndex(CODESYSTEM)), _payers())
    )
    # worked from practice_coverages(): a's Coverage changes on 1 April (c1 03-03 Acme, c2
    # 04-02 Medicare); b's primary is Medicare (order 1 before 2; the cancelled order-0 Acme
    # is out of force); c has none; d is covered by Acme from 04-01 (c7) but not on 03-20 (c8).
    # Medicare's Coverage says display "CMS"; its Organization's name names the payer.
    assert {r.item_id: r.payer for r in rows} == {
        "c1": "Acme Health",
        "c2": "Medicare Part B",
        "c3": "Medicare Part B",
        "c4": "Medicare Part B",
        "c6": "No coverage",
        "c7": "Acme Health",
        "c8": "No coverage",
    }
    rev = summarise(rows, RevenueFilters("2025-03", "2025-04"))
    # revenue groups by payer: Acme c1 800 + c7 70; Medicare c2 600 + c3 1000 (c4 not
    # billable is not revenue); no coverage c8 430 — together the 2900 of the months
    assert rev.by_payer == {
        "Acme Health": Decimal("870.00"),
        "Medicare Part B": Decimal("1600.00"),
        "No coverage": Decimal("430.00"),
    }
    assert sum(rev.by_payer.values()) == rev.revenue
    assert rev.payers == ("Acme Health", "Medicare Part B", "No coverage")
    medicare = summarise(rows, RevenueFilters("2025-03", "2025-04", payer="Medicare Part B"))
    assert [r.item_id for r in medicare.rows] == ["c3", "c2", "c4"]
    assert medicare.revenue == Decimal("1600.00")
    none = summarise(rows, RevenueFilters(payer="No coverage"))
    assert [r.item_id for r in none.rows] == ["c8", "c6"]  # c6: May, c is never covered
    table = rows_table(medicare.rows)
    assert table.headers[3:6] == ("model", "payer", "code")
    assert {row[4] for row in table.rows} == {"Medicare Part B"}


def test_a_payer_without_an_organization_is_named_by_display_then_reference() -> None:
    from cpoc_fhir.knowledge.loader import load_knowledge

    covs = [
        coverage("x1", "p", {"reference": "Organization/gone", "display": "Blue Plan"}),
        coverage("x2", "q", {"reference": "Organization/gone2"}),
        coverage("x3", "r", {"identifier": {"system": "urn:payer", "value": "77"}}),
        coverage("x4", "s", {"display": ""}),  # no payor named: left out with a warning
    ]
    payers = revenue_payers.read_payers(covs, (), load_knowledge())
    day = date(2025, 5, 1)
    assert [payers.payer_of(f"Patient/{p}", day) for p in "pqrs"] == [
        "Blue Plan",
        "Organization/gone2",
        "urn:payer|77",
        "No coverage",
    ]
    assert payers.warnings == ("Coverage/x4: no payor named; its payer is not used",)
    assert revenue_payers.payor_organizations(payers) == ["gone", "gone2"]


def test_hold_extension_url_is_the_review_apps() -> None:
    assert revenue_items.HOLD_EXTENSION == HOLD_EXTENSION


def _bundle(tmp_path: Path, coverages: bool = False) -> Path:
    path = tmp_path / "charges.json"
    resources = practice_items() + (practice_coverages() if coverages else [])
    entries = [{"resource": r} for r in resources]
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


def test_cli_payer_filter_and_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = str(_bundle(tmp_path, coverages=True))
    base = ["report", "revenue", bundle, "--from", "2025-03", "--to", "2025-04"]
    # the golden of test_each_line_is_paid_by_…: Medicare c2 600 + c3 1000 (+ c4 20 apart)
    assert main([*base, "--payer", "Medicare Part B", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["revenue"] == "1600.00" and data["filters"]["payer"] == "Medicare Part B"
    assert data["payers"] == {"Medicare Part B": "1600.00"}
    assert data["counts"]["not-billable"] == 1
    assert main([*base, "--payer", "No coverage", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["revenue"] == "430.00"  # c8
    assert main(base) == 0
    text = capsys.readouterr().out
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "revenue by payer" in text and "870.00  Acme Health" in text
    page = tmp_path / "payers.html"
    assert main([*base, "--format", "html", "--out", str(page)]) == 0
    html = page.read_text()
    # the page's numbers have thousands separators (the page kit's ``number``)
    assert '<th scope="row">Medicare Part B</th><td class="num">1,600.00</td>' in html
    book = tmp_path / "payers.xlsx"
    assert main([*base, "--format", "xlsx", "--out", str(book)]) == 0
    from zipfile import ZipFile

    with ZipFile(book) as z:
        strings = z.read("xl/sharedStrings.xml").decode()
    assert "<t>payer</t>" in strings and "<t>Acme Health</t>" in strings


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


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["billed", "planned", "held", "not-billable"]),
            st.sampled_from(["Acme Health", "Medicare Part B", "No coverage"]),
            st.integers(min_value=0, max_value=10**6),
            st.integers(min_value=1, max_value=12),
        ),
        max_size=30,
    )
)
def test_the_payer_buckets_split_the_revenue_exactly(
    lines: list[tuple[str, str, int, int]],
) -> None:
    """Invariant: every line has one payer, so the buckets add up to the revenue, and the
    payer filter's revenues add up to it too."""
    from cpoc_fhir.reports.revenue import RevenueRow

    rows = [
        RevenueRow(
            f"i{n}",
            "Patient/p",
            date(2025, month, 1),
            "xx204",
            "cpoc",
            group,
            Decimal(cents) / 100,
            payer=payer,
        )
        for n, (group, payer, cents, month) in enumerate(lines)
    ]
    whole = summarise(rows, RevenueFilters())
    assert sum(whole.by_payer.values(), Decimal(0)) == whole.revenue
    parts = [summarise(rows, RevenueFilters(payer=p)).revenue for p in whole.payers]
    assert sum(parts, Decimal(0)) == whole.revenue
