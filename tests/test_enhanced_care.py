"""The enhanced-care supplement (value-and-models §13.1): the xx600 line of an opted-in payer
in the engine, its published definitions, the target and the quarterly amounts (hand-derived),
and ``cpoc report enhanced-care`` with its new payer file version."""

from __future__ import annotations

import contextlib
import io
import json
import tomllib
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cpoc_fhir.cli import bundled_examples, main
from cpoc_fhir.config import load_payer
from cpoc_fhir.economics.enhanced_care import compute_target, quarter_amount, reconcile
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.errors import KnowledgeError
from cpoc_fhir.fhir.read import open_source
from cpoc_fhir.fhir.write import PublishSettings
from cpoc_fhir.fhir.write.definitions import charge_item_definitions, code_system
from cpoc_fhir.knowledge import Knowledge
from cpoc_fhir.packs.cpoc.codes import CODES, Component
from cpoc_fhir.packs.cpoc.payer import PayerSchedule
from cpoc_fhir.service import Evaluator

EXAMPLE = Path(__file__).parents[1] / "cpoc_fhir" / "knowledge" / "data" / "payer-example.toml"


def opted_in_payer_file(folder: Path, extra: str = "") -> Path:
    """The shipped illustrative payer file, opted in (s = 50.00, cost 1500.00, cap 2)."""
    text = EXAMPLE.read_text(encoding="utf-8").replace("opted_in = false", "opted_in = true")
    path = folder / "payer-opted-in.toml"
    path.write_text(text + extra, encoding="utf-8")
    return path


def lines(payer: PayerSchedule, knowledge: Knowledge, case: str, as_of: str) -> list[Any]:
    evaluator = Evaluator(knowledge, RuleSettings(), payer)
    source = open_source(bundled_examples() / f"{case}.json")
    [timeline] = list(evaluator.timelines(source, date.fromisoformat(as_of)))
    return list(timeline.lines)


# --- the engine --------------------------------------------------------------------------------
def test_appendix_a_has_one_xx600_per_treatment_month_and_none_in_monitoring(
    tmp_path: Path, knowledge: Knowledge
) -> None:
    payer = load_payer(opted_in_payer_file(tmp_path))
    got = lines(payer, knowledge, "appendix-a-folfox", "2026-03-03")
    # Appendix A (tests/data/golden): FOLFOX months 1-6 (2025-03-03 … 2025-09-02) are
    # Treatment Months (xx204), months 7-13 Active Monitoring. One xx600 per Treatment Month,
    # same month and period, at s = 50.00 (no quarter amount in the file), final like its
    # xx204; none in months 7-13.
    supplements = [x for x in got if x.code == "xx600"]
    treatment = [x for x in got if x.component is Component.TREATMENT_MONTH]
    assert [x.month for x in supplements] == [1, 2, 3, 4, 5, 6]
    assert [(x.start, x.end) for x in supplements] == [(t.start, t.end) for t in treatment]
    assert {str(x.amount) for x in supplements} == {"50.00"}
    assert {x.status.value for x in supplements} == {"final"}
    assert all(x.component is Component.ENHANCED_CARE for x in supplements)
    assert supplements[0].evidence and "II-B.2" in supplements[0].explanation[0]
    # the 11 codes' lines are the golden's: not one more, not one changed
    not_opted = lines(load_payer(None), knowledge, "appendix-a-folfox", "2026-03-03")
    assert [x for x in got if x.code != "xx600"] == not_opted


def test_not_opted_in_nothing_changes(knowledge: Knowledge, payer: PayerSchedule) -> None:
    assert payer.enhanced_care is not None and not payer.enhanced_opt_in
    for case in ("appendix-a-folfox", "appendix-b-nsclc", "oral-capecitabine-trial"):
        assert all(x.code != "xx600" for x in lines(payer, knowledge, case, "2026-03-03"))
    with pytest.raises(ValueError, match="not opted in"):
        payer.amount("xx600", date(2025, 3, 3))


def test_a_quarter_amount_prices_the_lines_whose_month_starts_in_it(
    tmp_path: Path, knowledge: Knowledge
) -> None:
    extra = '\n[enhanced_care.quarters]\n2025-Q2 = "0.00"\n2025-Q3 = "87.5"\n'
    payer = load_payer(opted_in_payer_file(tmp_path, extra))
    got = [
        x for x in lines(payer, knowledge, "appendix-a-folfox", "2026-03-03") if x.code == "xx600"
    ]
    # months start 03-03 (Q1: s), 04-03, 05-03, 06-03 (Q2: 0.00), 07-03, 08-03 (Q3: 87.50)
    assert [str(x.amount) for x in got] == ["50.00", "0.00", "0.00", "0.00", "87.50", "87.50"]
    # no GPCI, no value-based adjustment on the agreed amount
    assert payer.amount("xx600", date(2025, 3, 3)) == Decimal("50.00")


def test_a_provisional_treatment_month_makes_its_supplement_provisional(
    tmp_path: Path, knowledge: Knowledge
) -> None:
    payer = load_payer(opted_in_payer_file(tmp_path))
    # as of 2025-03-10, month 1 (2025-03-03 … 2025-04-02) is open: xx204 provisional
    got = lines(payer, knowledge, "appendix-a-folfox", "2025-03-10")
    by_code = {x.code: x for x in got if x.month == 1}
    assert by_code["xx600"].status.value == "provisional"
    assert (
        by_code["xx600"].status
        == next(x for x in got if x.month == 1 and x.code.startswith("xx20")).status
    )


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ("opted_in = true", "enhanced_care.amount is not a number"),
        ('opted_in = "yes"\namount = "50"', "opted_in must be true or false"),
        ('opted_in = true\namount = "-1"', "amount must be a positive amount"),
        ('opted_in = true\namount = "50"\ncap = "0.5"', "cap is a multiple"),
        (
            'opted_in = true\namount = "50"\n[enhanced_care.quarters]\n"2025-5" = "1"',
            "not a quarter",
        ),
    ],
)
def test_a_bad_enhanced_care_table_names_the_field(table: str, problem: str) -> None:
    data = tomllib.loads(
        '[payer]\nid = "p"\nname = "P"\nnew_patient_amount = "1000"\n[enhanced_care]\n' + table
    )
    with pytest.raises(KnowledgeError, match=problem):
        PayerSchedule.from_data(data, "payer.toml")


# --- definitions -------------------------------------------------------------------------------
def test_definitions_add_xx600_only_for_an_opted_in_payer(
    tmp_path: Path, payer: PayerSchedule
) -> None:
    settings = PublishSettings()
    assert len(charge_item_definitions(payer, settings)) == len(CODES) == 11
    # the 11 codes and the two risk-corridor settlement codes (§14.4)
    assert code_system(settings)["count"] == 13
    extra = '\n[enhanced_care.quarters]\n2026-Q1 = "62.50"\n'
    opted = load_payer(opted_in_payer_file(tmp_path, extra))
    definitions = charge_item_definitions(opted, settings)
    assert [d["id"] for d in definitions][-1] == "cpoc-xx600"
    groups = definitions[-1]["propertyGroup"]
    # the quarter's group first (selected by the billing month's start), then s
    assert [g["priceComponent"][0]["amount"]["value"] for g in groups] == [62.5, 50.0]
    assert "@2026-01-01" in groups[0]["applicability"][0]["expression"]
    assert "@2026-04-01" in groups[0]["applicability"][0]["expression"]
    concepts = code_system(settings, enhanced_care=True)["concept"]
    # xx600 after the 11 line codes, the settlement codes last
    assert [c["code"] for c in concepts[11:]] == [
        "xx600",
        "corridor-supplement",
        "corridor-recovery",
    ]


# --- target and amounts (hand-derived) ---------------------------------------------------------
def test_target_on_the_rates_basis() -> None:
    # baseline 10.5 per 100 patient-months, 300 of 400 months Treatment Months (share 0.75),
    # s = 50, cost 1500: §13.1's reduction 100 × 50 / 1500 = 3.3333… per 100 treatment months
    # = 2.5 per 100 patient-months → target 10.5 − 2.5 = 8.0000.
    target = compute_target(Decimal("10.5"), 300, 400, Decimal(50), Decimal(1500), 2025, 2026)
    assert target.value == Decimal("8.0000")
    assert target.treatment_share == Decimal("0.7500")
    assert (target.baseline_year, target.set_in) == (2025, 2026)
    # no monitoring months: the formula as written, 10.5 − 3.3333 = 7.1667
    assert compute_target(Decimal("10.5"), 4, 4, Decimal(50), Decimal(1500)).value == Decimal(
        "7.1667"
    )


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        ("8", "50.00"),  # r = target: s
        ("6", "62.50"),  # 50 × (1 + 2/8) = 62.50
        ("10", "37.50"),  # 50 × (1 − 2/8) = 37.50
        ("20", "0.00"),  # 50 × (1 − 12/8) = −25 → floored at 0
        ("16", "0.00"),  # 50 × (1 − 1) = 0 exactly
        ("0", "100.00"),  # 50 × (1 + 8/8) = 100 = 2 s, the cap
    ],
)
def test_quarter_amount(rate: str, expected: str) -> None:
    assert quarter_amount(Decimal(50), Decimal(8), Decimal(rate), Decimal(2)) == Decimal(expected)


def test_the_cap_is_configurable() -> None:
    # 50 × (1 + 8/8) = 100 capped at 1.5 × 50 = 75
    assert quarter_amount(Decimal(50), Decimal(8), Decimal(0), Decimal("1.5")) == Decimal("75.00")
    # 50 × (1 + 5/8) = 81.25: under 2 s
    assert quarter_amount(Decimal(50), Decimal(8), Decimal(3), Decimal(2)) == Decimal("81.25")


@given(
    st.decimals(min_value=1, max_value=500, places=2),
    st.decimals(min_value=Decimal("0.1"), max_value=100, places=4),
    st.decimals(min_value=0, max_value=200, places=4),
    st.decimals(min_value=1, max_value=3, places=1),
)
def test_amounts_stay_between_zero_and_the_cap(
    s: Decimal, target: Decimal, rate: Decimal, cap: Decimal
) -> None:
    paid = quarter_amount(s, target, rate, cap)
    # the cap is rounded as every amount is, once and half up (cpoc-rules §1): 1.5 × 2.83 =
    # 4.245 → 4.25
    assert Decimal(0) <= paid <= (cap * s).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    # a lower rate never pays less
    assert quarter_amount(s, target, rate / 2, cap) >= paid


def test_reconcile_uses_complete_quarters_only() -> None:
    quarters = [
        {"quarter": "2026-Q1", "patientMonths": 10, "riskAdjustedRate": "8.0000"},
        {"quarter": "2026-Q2", "patientMonths": 10, "riskAdjustedRate": None},
        {"quarter": "2026-Q3", "patientMonths": 10, "riskAdjustedRate": "4.0000"},
    ]
    rows = reconcile(quarters, date(2026, 9, 29), Decimal(50), Decimal(8), Decimal(2))
    assert [(r.quarter, r.sets, r.complete, r.amount) for r in rows] == [
        ("2026-Q1", "2026-Q2", True, Decimal("50.00")),
        ("2026-Q2", "2026-Q3", True, Decimal("50.00")),  # no rate: s
        ("2026-Q3", "2026-Q4", False, None),  # ends 09-30, after the as-of date
    ]


# --- the command -------------------------------------------------------------------------------
def value_file(folder: Path, year: int, er: dict[str, Any], as_of: str | None = None) -> Path:
    path = folder / f"value-{year}.json"
    path.write_text(json.dumps({"year": year, "asOf": as_of or f"{year}-12-31", "er": er}))
    return path


def cpoc(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(argv))
    return code, out.getvalue()


YEAR_ER = {
    "riskAdjustedRate": "9.0000",
    "patientMonths": 400,
    "treatmentMonths": 200,
    "quarters": [
        {"quarter": "2026-Q1", "patientMonths": 100, "riskAdjustedRate": "8.0000"},
        {"quarter": "2026-Q2", "patientMonths": 100, "riskAdjustedRate": "20.0000"},
        {"quarter": "2026-Q3", "patientMonths": 100, "riskAdjustedRate": "0.0000"},
        {"quarter": "2026-Q4", "patientMonths": 100, "riskAdjustedRate": "6.0000"},
    ],
}
BASELINE_ER = {"riskAdjustedRate": "10.5000", "patientMonths": 400, "treatmentMonths": 300}


def test_report_json_and_write_payer_bill_the_next_quarters(
    tmp_path: Path, knowledge: Knowledge
) -> None:
    payer = opted_in_payer_file(tmp_path)
    value = value_file(tmp_path, 2026, YEAR_ER)
    baseline = value_file(tmp_path, 2025, BASELINE_ER)
    new = tmp_path / "payer-v2.toml"
    code, text = cpoc(
        "report", "enhanced-care", "--year", "2026", "--value", str(value), "--baseline",
        str(baseline), "--payer", str(payer), "--format", "json", "--write-payer", str(new),
    )  # fmt: skip
    assert code == 0
    report = json.loads(text)
    # target 8.0000 (test_target_on_the_rates_basis); Q1 r = 8 → Q2 s; Q2 r = 20 → Q3 0;
    # Q3 r = 0 → Q4 2 s; Q4 r = 6 → 2027-Q1 50 × (1 + 2/8) = 62.50
    assert report["target"]["value"] == "8.0000"
    assert report["amounts"] == {
        "2026-Q2": "50.00", "2026-Q3": "0.00", "2026-Q4": "100.00", "2027-Q1": "62.50",
    }  # fmt: skip
    written = tomllib.loads(new.read_text())
    assert written["payer"]["version"] == 2
    care = written["enhanced_care"]
    assert (care["target"], care["target_set_in"], care["baseline_year"]) == ("8.0000", 2026, 2025)
    assert care["quarters"]["2027-Q1"] == "62.50"
    assert "enhanced-care reconciliation 2026" in written["history"][-1]["source"]
    # the next quarter's lines bill the written amount: a line starting in 2027-Q1
    assert load_payer(new).amount("xx600", date(2027, 2, 10)) == Decimal("62.50")
    # the table (issue 17 item 6): 80 columns, the same words as --wide, the amounts above
    args = ["report", "enhanced-care", "--year", "2026", "--value", str(value), "--baseline",
            str(baseline), "--payer", str(payer)]  # fmt: skip
    code, fitted = cpoc(*args)
    assert code == 0 and max(len(line) for line in fitted.splitlines()) <= 80
    code, wide = cpoc(*args, "--wide")
    assert code == 0 and wide.split() == fitted.split() and "62.50" in fitted
    # the target is fixed: another one within 3 years is refused, --force resets it
    code, _ = cpoc(
        "report", "enhanced-care", "--year", "2027", "--value", str(value_file(tmp_path, 2027, {
            "quarters": []})), "--payer", str(new), "--target", "7",
    )  # fmt: skip
    assert code == 2
    code, text = cpoc(
        "report", "enhanced-care", "--year", "2027", "--value", str(tmp_path / "value-2027.json"),
        "--payer", str(new), "--target", "7", "--force", "--format", "json",
    )  # fmt: skip
    assert code == 0 and json.loads(text)["target"]["value"] == "7"
    # from the payer file, no --target: the fixed target
    code, text = cpoc(
        "report", "enhanced-care", "--year", "2027", "--value", str(tmp_path / "value-2027.json"),
        "--payer", str(new), "--format", "json",
    )  # fmt: skip
    assert code == 0 and json.loads(text)["target"]["how"] == "payer file"
    # an existing output is never replaced
    code, _ = cpoc(
        "report", "enhanced-care", "--year", "2026", "--value", str(value), "--payer", str(new),
        "--write-payer", str(new),
    )  # fmt: skip
    assert code == 2


def test_report_refuses_what_it_cannot_use(tmp_path: Path) -> None:
    payer = opted_in_payer_file(tmp_path)
    value = value_file(tmp_path, 2026, YEAR_ER)
    base = ["report", "enhanced-care", "--value", str(value), "--payer", str(payer)]
    assert cpoc(*base, "--year", "2025", "--target", "8")[0] == 2  # not the report's year
    assert cpoc(*base, "--year", "2026")[0] == 2  # no target anywhere
    low = value_file(tmp_path, 2025, {**BASELINE_ER, "riskAdjustedRate": "2.0"})
    assert cpoc(*base, "--year", "2026", "--baseline", str(low))[0] == 2  # target ≤ 0
    code, text = cpoc(*base, "--year", "2026", "--target", "8")
    assert code == 0 and "2027-Q1" in text and "capped at 2 × s" in text


def test_html_page_shows_rates_target_and_amounts(tmp_path: Path) -> None:
    payer = opted_in_payer_file(tmp_path)
    value = value_file(tmp_path, 2026, YEAR_ER)
    code, html = cpoc(
        "report", "enhanced-care", "--year", "2026", "--value", str(value), "--payer",
        str(payer), "--target", "8", "--format", "html",
    )  # fmt: skip
    assert code == 0
    assert html.count("<svg") >= 2 and "ILLUSTRATIVE" in html.upper()
    assert "2027-Q1" in html and "62.50" in html and "<script" not in html
