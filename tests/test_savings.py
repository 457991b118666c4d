"""``cpoc report savings`` (value-and-models §13.2): hand-derived savings, the minimum savings
rate (below, exactly at, above, a loss), the baseline's risk adjustment worked by hand, and the
command over the Appendix A patient with claims written here."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_claims import CPT, HCPCS, eob, eob_item

from cpoc_fhir.cli import bundled_examples, main
from cpoc_fhir.economics.categories import load_categories
from cpoc_fhir.economics.savings import Outcome, baseline_expected
from cpoc_fhir.economics.savings_cli import savings_table
from cpoc_fhir.economics.savings_spend import SpendInputs, YearSpend, year_spend
from cpoc_fhir.fhir.read import open_source
from cpoc_fhir.reports.benchmarks import example_benchmarks_path, load_benchmarks

PATIENT = "appendix-a-folfox"
RECORD = bundled_examples() / f"{PATIENT}.json"
MSR, SHARE = Decimal("0.02"), Decimal("0.50")
NUBC = "https://www.nubc.org/CodeSystem/RevenueCodes"
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"


# --- the arithmetic -------------------------------------------------------------------------
def outcome(expected: str, actual: str) -> Outcome:
    return Outcome(Decimal(expected), Decimal(actual), MSR, SHARE)


def test_below_the_minimum_savings_rate_pays_nothing() -> None:
    # 1000 − 990 = 10 saved: 1 % ≤ 2 %.
    found = outcome("1000", "990")
    assert (found.savings, found.savings_rate, found.payment) == (10, Decimal("0.01"), 0)
    assert not found.above_minimum


def test_exactly_at_the_minimum_savings_rate_pays_nothing() -> None:
    # 1000 − 980 = 20: exactly 2 %. §13.2 pays "only above" the rate: nothing.
    found = outcome("1000", "980")
    assert found.savings_rate == MSR and not found.above_minimum and found.payment == 0
    assert "not above" in found.reason()


def test_above_the_minimum_savings_rate_pays_the_share_of_all_savings() -> None:
    # 1000 − 979.99 = 20.01: 2.001 % > 2 %; 50 % of 20.01 = 10.005 (rounded where shown: 10.01).
    found = outcome("1000", "979.99")
    assert found.above_minimum and found.payment == Decimal("10.005")
    # 10 000 − 8 500 = 1 500 (15 %): 750.
    assert outcome("10000", "8500").payment == 750


def test_a_loss_pays_nothing_and_is_not_recovered() -> None:
    found = outcome("1000", "1100")
    assert found.savings == -100 and found.payment == 0 and not found.above_minimum
    assert "upside only" in found.reason()


def test_no_expected_spending_pays_nothing() -> None:
    found = outcome("0", "0")
    assert found.savings_rate is None and found.payment == 0


@given(
    st.integers(min_value=0, max_value=10**9),
    st.integers(min_value=0, max_value=10**9),
    st.integers(min_value=0, max_value=100),
    st.integers(min_value=0, max_value=100),
)
def test_payment_is_never_negative_nor_above_the_share(
    expected: int, actual: int, msr: int, share: int
) -> None:
    found = Outcome(
        Decimal(expected) / 100, Decimal(actual) / 100, Decimal(msr) / 1000, Decimal(share) / 100
    )
    assert 0 <= found.payment <= max(found.savings, Decimal(0)) * found.share
    if found.payment:
        assert found.savings_rate is not None and found.savings_rate > found.minimum_savings_rate


# --- the baseline's risk adjustment -----------------------------------------------------------
def spend(year: int, months: int, units: str, **by_category: str) -> YearSpend:
    out = YearSpend(year, True, months=months, risk_units=Decimal(units))
    out.by_category = {k.replace("_", "-"): Decimal(v) for k, v in by_category.items()}
    return out


def test_baseline_expected_is_spend_per_risk_unit_times_this_years_units() -> None:
    # Baseline: 20 patient-months, all weight 1 (20 risk units); lab 260.00, imaging 1000.00.
    # This year: 10 months, 6 of weight 1.5 and 4 of weight 1: 13 risk units.
    # Per patient-month lab 13.00; risk index 1.3 against 1.0: 13.00 × 10 × 1.3 = 169.00
    # = 260 × 13 / 20. Imaging 1000 × 13 / 20 = 650.00; hospital: none in the baseline, 0.
    base = spend(2024, 20, "20", laboratory="260.00", imaging="1000.00")
    now = spend(2025, 10, "13")
    found = baseline_expected(base, now, ("laboratory", "imaging", "hospital"))
    assert found == {"laboratory": 169, "imaging": 650, "hospital": 0}
    assert baseline_expected(spend(2024, 0, "0"), now, ("laboratory",)) is None


def test_risk_units_of_the_appendix_a_year_from_the_er_factors() -> None:
    # Appendix A in 2025: months 1-6 xx204 (C 0, P 0, T 4), months 7-10 Active Monitoring
    # (C 0, P 0, T 0). The example benchmarks' factors: toxicity 4 → 1.5, 0 → 1.0, C/P 0 → 1.0;
    # no practice Location: distance factor 1. 6 × 1.5 + 4 × 1.0 = 13 risk units.
    from cpoc_fhir.config import load_config, load_payer
    from cpoc_fhir.knowledge.loader import load_knowledge
    from cpoc_fhir.service import Evaluator

    config = load_config(None)
    evaluator = Evaluator(load_knowledge(), config.rules, load_payer(None, None))
    benchmarks = load_benchmarks(example_benchmarks_path()).er
    inputs = SpendInputs(evaluator, config.value, load_categories(), benchmarks, None, None)
    found = year_spend(inputs, open_source(RECORD), None, 2025)
    assert (found.months, found.treatment_months, found.risk_units) == (10, 6, 13)
    unadjusted = SpendInputs(evaluator, config.value, load_categories(), None, None, None)
    assert year_spend(unadjusted, open_source(RECORD), None, 2025).risk_units == 10


# --- the command over the Appendix A patient ----------------------------------------------------
def institutional_er(eob_id: str, on: str, paid: float) -> dict[str, Any]:
    item = eob_item(1, "99284", None, on=on)
    item["revenue"] = {"coding": [{"system": NUBC, "code": "0450"}]}
    item["adjudication"] = [
        {
            "category": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/adjudication",
                        "code": "benefit",
                    }
                ]
            },
            "amount": {"value": paid, "currency": "USD"},
        }
    ]
    return eob(
        eob_id, PATIENT, item, type={"coding": [{"system": CLAIM_TYPE, "code": "institutional"}]}
    )


CLAIMS = (
    # In month 1 (2025-03-03 …): 99213 (no category), CBC 85025 10.00 (lab), oxaliplatin
    # J9263 × 170 45.90 (oncolytic).
    eob(
        "m1",
        PATIENT,
        eob_item(1, "99213", 92.03),
        eob_item(2, "85025", 10.00),
        eob_item(3, "J9263", 45.90, system=HCPCS, units=170),
    ),
    # In month 4: CT 74177 300.00 (imaging).
    eob("m4", PATIENT, eob_item(1, "74177", 300.00, on="2025-06-10")),
    # In month 8 (Active Monitoring): an ER visit, revenue 0450, 1200.00 (emergency).
    institutional_er("er", "2025-10-10", 1200.00),
    # Before the New Patient visit: in no CPOC month, counted apart.
    eob("pre", PATIENT, eob_item(1, "74177", 300.00, on="2025-02-01")),
)


def expected_file(tmp_path: Path, emergency: str = "1300.00") -> Path:
    path = tmp_path / "expected.toml"
    path.write_text(
        '[expected]\nsource = "a payer letter (test)"\nyear = 2025\n'
        "[expected.categories]\n"
        f'laboratory = "100.00"\nimaging = "400.00"\nhospital = "0"\nemergency = "{emergency}"\n'
        'oncolytic-drugs = "50.00"\nradiation = "0"\nsupportive-drugs = "0"\n',
        encoding="utf-8",
    )
    return path


def run(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    claims = tmp_path / "claims.json"
    claims.write_text(
        json.dumps(
            {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": r} for r in CLAIMS],
            }
        ),
        encoding="utf-8",
    )
    code = main(
        [
            "report",
            "savings",
            "--year",
            "2025",
            str(RECORD),
            "--claims",
            str(claims),
            "--format",
            "json",
            *args,
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def test_payer_figure_savings_above_the_minimum(tmp_path: Path, capsys) -> None:
    out = run(tmp_path, capsys, "--expected", str(expected_file(tmp_path)))
    rows = {r["category"]: r for r in out["categories"]}
    # Actual: lab 10.00, imaging 300.00, emergency 1200.00, oncolytic 45.90 = 1555.90.
    assert {c: r["actual"] for c, r in rows.items()} == {
        "laboratory": "10.00",
        "imaging": "300.00",
        "hospital": "0.00",
        "emergency": "1200.00",
        "oncolytic-drugs": "45.90",
        "radiation": "0.00",
        "supportive-drugs": "0.00",
    }
    # Expected 100 + 400 + 0 + 1300 + 50 = 1850.00; savings 294.10; rate 0.158973 > 0.02;
    # payment 50 % × 294.10 = 147.05.
    assert (out["expected"], out["actual"], out["savings"]) == ("1850.00", "1555.90", "294.10")
    assert (out["savingsRate"], out["aboveMinimum"], out["payment"]) == ("0.1590", True, "147.05")
    assert rows["imaging"]["savings"] == "100.00" and rows["emergency"]["savings"] == "100.00"
    # 99213 92.03 is in no category; the February CT is outside every CPOC month.
    assert out["uncategorised"] == {"items": 1, "amount": "92.03"}
    assert out["outsideMonths"] == {"items": 1, "amount": "300.00"}
    assert rows["imaging"]["outsideMonths"] == "300.00"
    assert out["exposure"]["year"]["patientMonths"] == 10 and out["method"] == "payer"
    assert out["riskAdjusted"] is False and out["warnings"] == []


def test_payer_figure_with_a_loss_pays_nothing(tmp_path: Path, capsys) -> None:
    # Emergency expected 1000: expected 1550.00 < actual 1555.90: savings −5.90, payment 0.
    out = run(tmp_path, capsys, "--expected", str(expected_file(tmp_path, "1000.00")))
    assert (out["savings"], out["payment"], out["aboveMinimum"]) == ("-5.90", "0.00", False)


def test_enhanced_care_excludes_emergency(tmp_path: Path, capsys) -> None:
    settings = tmp_path / "savings.toml"
    settings.write_text('[savings]\nenhanced_care = true\nshare = "0.60"\n', encoding="utf-8")
    out = run(
        tmp_path, capsys, "--expected", str(expected_file(tmp_path)), "--settings", str(settings)
    )
    rows = {r["category"]: r for r in out["categories"]}
    assert rows["emergency"]["included"] is False and rows["emergency"]["expected"] is None
    assert "13.1" in rows["emergency"]["excludedBecause"]
    # Expected 550.00, actual 355.90: savings 194.10 (35.29 %), 60 % → 116.46.
    assert (out["expected"], out["actual"], out["payment"]) == ("550.00", "355.90", "116.46")


def test_standardised_prices_replace_paid_amounts(tmp_path: Path, capsys) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text(
        '[fee_schedule]\nid = "std"\nsource = "test"\n'
        f'[codes."74177"]\nsystem = "{CPT}"\namount = "250.00"\n'
        f'[codes.J9263]\nsystem = "{HCPCS}"\namount = "0.25"\n',
        encoding="utf-8",
    )
    out = run(tmp_path, capsys, "--expected", str(expected_file(tmp_path)), "--prices", str(prices))
    rows = {r["category"]: r["actual"] for r in out["categories"]}
    # CT at 250.00; J9263 0.25 × 170 = 42.50; 85025 and the ER item keep their paid amounts.
    assert (rows["imaging"], rows["oncolytic-drugs"], rows["laboratory"]) == (
        "250.00",
        "42.50",
        "10.00",
    )
    assert out["pricing"]["basis"] == "standardised"
    assert out["items"]["basis"] == {"paid (not in the price table)": 3, "standardised": 2}
    assert any("not in the price table" in w for w in out["warnings"])


def test_baseline_without_months_warns(tmp_path: Path, capsys) -> None:
    # The same record as its own baseline for 2024: no CPOC month in 2024, no expected figure.
    out = run(
        tmp_path,
        capsys,
        "--baseline",
        str(RECORD),
        "--baseline-year",
        "2024",
        "--benchmarks",
        str(example_benchmarks_path()),
    )
    assert out["expected"] is None and out["payment"] == "0.00"
    assert any("no CPOC month" in w for w in out["warnings"])
    assert out["exposure"]["year"]["riskUnits"] == "13.0000"


@pytest.mark.parametrize(
    "args, message",
    [
        ((), "--expected FILE or --baseline"),
        (("--baseline", "x"), "--baseline-year"),
        (("--expected", "x", "--benchmarks", "y"), "--benchmarks"),
        (("--baseline", "x", "--baseline-year", "2025"), "not before"),
    ],
)
def test_bad_usage_exits_2(tmp_path: Path, capsys, args: tuple[str, ...], message: str) -> None:
    code = main(
        ["report", "savings", "--year", "2025", str(RECORD), "--claims", str(RECORD), *args]
    )
    assert code == 2 and message in capsys.readouterr().err


def test_expected_file_missing_a_category_names_it(tmp_path: Path, capsys) -> None:
    path = tmp_path / "e.toml"
    path.write_text(
        '[expected]\nsource = "x"\n[expected.categories]\nlaboratory = "1"\n', encoding="utf-8"
    )
    code = main(
        [
            "report",
            "savings",
            "--year",
            "2025",
            str(RECORD),
            "--claims",
            str(RECORD),
            "--expected",
            str(path),
        ]
    )
    assert code == 2 and "expected.categories.imaging is required" in capsys.readouterr().err


def test_table_fits_80_columns(tmp_path: Path, capsys) -> None:
    data = run(tmp_path, capsys, "--expected", str(expected_file(tmp_path)))
    table = savings_table(data)
    assert "147.05" in table
    assert max(len(line) for line in table.splitlines()) <= 80  # issue 17 item 6 (was 100)
    assert savings_table(data, None).split() == table.split()  # --wide: only unwrapped
