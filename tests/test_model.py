"""``cpoc model``: hand-derived goldens for the neutral base, margin, payer file, relative-value
revisions, variance and the payer's side (§14.1, §14.2), over the Appendix A patient."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_claims import CPT, HCPCS, eob, eob_item

from cpoc_fhir.cli import bundled_examples, main
from cpoc_fhir.economics.claims import ClaimLine
from cpoc_fhir.economics.model import ModelOptions, neutral_base, patient_economics
from cpoc_fhir.economics.payer_side import PayerSide
from cpoc_fhir.engine.lines import PatientTimeline
from cpoc_fhir.knowledge import Knowledge

PATIENT = "appendix-a-folfox"
RECORD = bundled_examples() / f"{PATIENT}.json"
PAYER_EXAMPLE = Path(__file__).resolve().parents[1] / "cpoc_fhir/knowledge/data/payer-example.toml"

# Month 1 of Appendix A (xx204, rv 80, from 2025-03-03): one FOLFOX infusion day billed FFS.
MARCH = eob(
    "march",
    PATIENT,
    eob_item(1, "99213", 92.03, submitted=150.00),  # established visit, level 3
    eob_item(2, "96413", 135.71),  # chemotherapy infusion, first hour
    eob_item(3, "96415", 29.36),  # each additional hour
    eob_item(4, "J9263", 45.90, system=HCPCS, units=170),  # oxaliplatin 85 mg: a drug
)


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }


def run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], *resources: dict, args: tuple = ()
) -> dict:
    ffs = tmp_path / "ffs.json"
    ffs.write_text(json.dumps(bundle(*resources)), encoding="utf-8")
    code = main(["model", str(RECORD), "--ffs", str(ffs), "--format", "json", *args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def march(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    return run(tmp_path, capsys, MARCH, args=("--from", "2025-03-01", "--to", "2025-03-31", *args))


def test_neutral_base_is_replaced_revenue_over_relative_values(tmp_path, capsys) -> None:
    out = march(tmp_path, capsys)
    # Replaced (II-D): 99213 92.03 + 96413 135.71 + 96415 29.36 = 257.10 (paid, not the 150.00
    # submitted). J9263 45.90 is a drug payment, apart. The period's line: xx204, rv 80.
    # neutralBase = 257.10 / (80 / 100) = 321.375 → 321.38 (half up, once).
    assert out["ffsReplacedRevenue"] == "257.10"
    assert out["ffsDrugRevenue"] == "45.90"
    assert out["ffsOtherRevenue"] == "0.00"
    assert out["cpocRelativeValueSum"] == "80"
    assert out["neutralBase"] == "321.38"
    # At the neutral base the line pays 321.38 × 0.80 = 257.104 → 257.10: variance 0.00.
    assert out["scenario"]["basis"] == "neutral" and out["scenario"]["revenue"] == "257.10"
    assert out["byComponent"] == [
        {
            "code": "xx204",
            "component": "treatment-month",
            "level": 4,
            "display": "Treatment Month Payment, level 4",
            "lines": 1,
            "relativeValues": "80",
            "ffsReplaced": "257.10",
            "cpoc": "257.10",
            "variance": "0.00",
        }
    ]
    assert out["byPatient"] == [
        {
            "patient": f"Patient/{PATIENT}",
            "cancer": "colorectal",
            "lines": 1,
            "relativeValues": "80",
            "ffsReplaced": "257.10",
            "ffsDrug": "45.90",
            "ffsOther": "0.00",
            "cpoc": "257.10",
            "variance": "0.00",
        }
    ]
    # Payer (§14.2), 3 % off other spending: FFS 257.10 + 45.90 = 303.00; CPOC 257.10 +
    # 45.90 × 0.97 = 44.523 → 301.623; saves 1.377 → 1.38; break-even (257.10 − 257.10) /
    # 45.90 = 0.
    assert out["payer"] == {
        "reduction": "0.0300",
        "ffs": {"practicePayments": "257.10", "otherSpending": "45.90", "total": "303.00"},
        "cpoc": {"practicePayments": "257.10", "otherSpending": "44.52", "total": "301.62"},
        "savings": "1.38",
        "savingsRate": "0.0045",  # 1.377 / 303.00 = 0.004544…
        "budgetNeutral": True,
        "breakEvenReduction": "0.0000",
    }
    assert out["furthestBelow"] == [] and out["warnings"] == []


def test_margin_base_and_its_break_even(tmp_path, capsys) -> None:
    out = march(tmp_path, capsys, "--margin", "5%")
    # 257.10 × 1.05 / 0.80 = 337.44375 → 337.44; the line: 337.44 × 0.80 = 269.952 → 269.95.
    assert out["margin"] == {"rate": "0.05", "base": "337.44"}
    assert out["neutralBase"] == "321.38"
    assert out["scenario"]["basis"] == "margin" and out["scenario"]["revenue"] == "269.95"
    # Break-even: (269.95 − 257.10) / 45.90 = 0.279956… → 0.2800; with 3 %: FFS 303.00 against
    # 269.95 + 44.523 = 314.473 → the payer spends 11.47 more.
    assert out["payer"]["breakEvenReduction"] == "0.2800"
    assert out["payer"]["savings"] == "-11.47" and out["payer"]["budgetNeutral"] is False


def test_revenue_under_a_payer_file(tmp_path, capsys) -> None:
    out = march(tmp_path, capsys, "--payer", str(PAYER_EXAMPLE), "--reduction", "10%")
    # Base 1000.00, gpci 1, vba 0: xx204 = 800.00; variance 800.00 − 257.10 = 542.90.
    assert out["scenario"] == {
        "basis": "payer",
        "base": "1000.00",  # as the payer file writes them
        "gpci": "1.000",
        "vba": "0.00",
        "payer": "example-illustrative",
        "illustrative": True,
        "revenue": "800.00",
    }
    assert out["byPatient"][0]["variance"] == "542.90"
    # Break-even (800.00 − 257.10) / 45.90 = 11.82788… → 11.8279; with 10 %: 303.00 against
    # 800.00 + 41.31 = 841.31 → −538.31.
    assert out["payer"]["breakEvenReduction"] == "11.8279"
    assert out["payer"]["reduction"] == "0.1000" and out["payer"]["savings"] == "-538.31"


def test_relative_value_revision(tmp_path, capsys) -> None:
    revision = tmp_path / "rv.toml"
    revision.write_text('name = "xx204 lowered"\n[codes]\nxx204 = 60\n', encoding="utf-8")
    out = march(tmp_path, capsys, "--relative-values", str(revision))
    # 257.10 / (60 / 100) = 428.50
    assert out["cpocRelativeValueSum"] == "60" and out["neutralBase"] == "428.50"
    assert out["relativeValues"] == {
        "name": "xx204 lowered",
        "source": None,
        "changed": {"xx204": ["80", "60"]},
    }


def test_variance_by_component_month_and_the_patients_below(tmp_path, capsys) -> None:
    early = eob(
        "feb",
        PATIENT,
        eob_item(1, "99213", 92.03, on="2025-02-10"),  # before New Patient: in no CPOC line
        eob_item(2, "99205", 180.00, on="2025-02-18"),  # the New Patient day
    )
    april = eob("apr", PATIENT, eob_item(1, "99213", 92.03, on="2025-04-10"))
    january = eob("jan", PATIENT, eob_item(1, "99243", 150.00, on="2025-01-20"))  # outside
    out = run(
        tmp_path,
        capsys,
        early,
        MARCH,
        april,
        january,
        args=("--from", "2025-02-01", "--to", "2025-04-30"),
    )
    # Lines starting in the period: xx100 (2025-02-18, rv 100), xx204 (03-03), xx204 (04-03):
    # Σ rv 260. Replaced: 92.03 + 180.00 + 257.10 + 92.03 = 621.16.
    # neutralBase = 621.16 / 2.60 = 238.9077 → 238.91; xx100 238.91, xx204 191.128 → 191.13.
    assert out["ffsReplacedRevenue"] == "621.16" and out["cpocRelativeValueSum"] == "260"
    assert out["neutralBase"] == "238.91"
    assert out["ffsReplacedOutsideCpocLines"] == "92.03"
    assert out["ffsItems"]["outsidePeriod"] == 1
    rows = {
        r["code"]: (r["lines"], r["ffsReplaced"], r["cpoc"], r["variance"])
        for r in out["byComponent"]
    }
    assert rows == {
        "xx100": (1, "180.00", "238.91", "58.91"),
        "xx204": (2, "349.13", "382.26", "33.13"),  # 257.10 + 92.03; 2 × 191.13
        "none": (0, "92.03", "0.00", "-92.03"),
    }
    months = {
        r["month"]: (r["lines"], r["ffsReplaced"], r["cpoc"], r["variance"]) for r in out["byMonth"]
    }
    assert months == {
        "2025-02": (1, "272.03", "238.91", "-33.12"),
        "2025-03": (1, "257.10", "191.13", "-65.97"),
        "2025-04": (1, "92.03", "191.13", "99.10"),
    }
    # 621.17 against 621.16: one cent of per-line rounding, above FFS, so nobody is below.
    assert out["scenario"]["revenue"] == "621.17" and out["furthestBelow"] == []


def test_the_patients_furthest_below_ffs_with_their_lines(tmp_path, capsys) -> None:
    out = march(tmp_path, capsys, "--margin=-10%")
    # 257.10 × 0.90 / 0.80 = 289.2375 → 289.24; xx204 = 231.392 → 231.39; variance −25.71.
    (below,) = out["furthestBelow"]
    assert below["patient"] == f"Patient/{PATIENT}" and below["variance"] == "-25.71"
    assert below["cpocLines"] == [
        {
            "code": "xx204",
            "start": "2025-03-03",
            "month": 1,
            "status": "provisional",  # as of 2025-03-31 the month runs to 04-02
            "amount": "231.39",
            "ffsReplaced": "257.10",
        }
    ]
    assert below["ffsReplacedCodes"] == {"96413": 1, "96415": 1, "99213": 1}


def test_charges_of_a_patient_without_record_are_left_out_and_named(tmp_path, capsys) -> None:
    stranger = eob("x", "someone-else", eob_item(1, "99213", 92.03))
    out = run(
        tmp_path, capsys, MARCH, stranger, args=("--from", "2025-03-01", "--to", "2025-03-31")
    )
    assert out["ffsReplacedRevenue"] == "257.10"
    assert out["ffsItems"]["patientsWithoutRecord"] == 1
    assert any("Patient/someone-else" in w for w in out["warnings"])


def test_table_fits_80_columns(tmp_path, capsys) -> None:
    ffs = tmp_path / "ffs.json"
    ffs.write_text(json.dumps(bundle(MARCH)), encoding="utf-8")
    argv = ["model", str(RECORD), "--ffs", str(ffs), "--from", "2025-03-01", "--to", "2025-03-31"]
    assert main([*argv, "--margin=-10%"]) == 0
    text = capsys.readouterr().out
    assert "revenue-neutral New Patient base" in text and "321.38" in text
    assert "break-even reduction" in text
    assert max(len(line) for line in text.splitlines()) <= 80  # issue 17 item 6 (was 100)
    # --wide: a line each — the replaced codes' revenue and its "in no CPOC line" share on
    # one line (fitted, the share goes under it), the same figures
    assert main([*argv, "--margin=-10%", "--wide"]) == 0
    wide = capsys.readouterr().out
    (line,) = [x for x in wide.splitlines() if "FFS revenue of the codes CPOC replaces" in x]
    assert "(in no CPOC line: " in line and "(in no CPOC line: " in text
    assert sorted(wide.split()) == sorted(text.split())  # only the line breaks differ


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--from", "2025-04-01", "--to", "2025-03-01"), "--from: 2025-04-01 is after --to"),
        (
            ("--from", "2025-03-01", "--to", "2025-03-31", "--fee-schedule", "{fees}"),
            "codes.99213.amount is required",
        ),
        (
            ("--from", "2025-03-01", "--to", "2025-03-31", "--relative-values", "{rv}"),
            "codes.xx999 is not a CPOC code",
        ),
    ],
)
def test_bad_input_exits_2_naming_file_and_field(tmp_path, capsys, extra, message) -> None:
    ffs = tmp_path / "ffs.json"
    ffs.write_text(json.dumps(bundle(MARCH)), encoding="utf-8")
    fees = tmp_path / "fees.toml"
    fees.write_text(f'[fee_schedule]\nid = "f"\nsource = "x"\n[codes."99213"]\nsystem = "{CPT}"\n')
    rv = tmp_path / "rv.toml"
    rv.write_text("[codes]\nxx999 = 1\n")
    args = [a.format(fees=fees, rv=rv) for a in extra]
    assert main(["model", str(RECORD), "--ffs", str(ffs), *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    if "{fees}" in extra:
        assert str(fees) in err
    if "{rv}" in extra:
        assert str(rv) in err


def test_unreadable_charges_exit_2_naming_the_file(tmp_path, capsys) -> None:
    missing = tmp_path / "no-such-claims.ndjson"
    argv = [
        "model",
        str(RECORD),
        "--ffs",
        str(missing),
        "--from",
        "2025-03-01",
        "--to",
        "2025-03-31",
    ]
    assert main(argv) == 2
    assert f"{missing}: no such file or folder" in capsys.readouterr().err
    broken = tmp_path / "claims.json"
    broken.write_text("{not json", encoding="utf-8")
    assert main([*argv[:3], str(broken), *argv[4:]]) == 2
    assert f"{broken}: not JSON" in capsys.readouterr().err


def test_a_margin_that_is_not_a_rate_is_bad_usage(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as caught:
        main(
            [
                "model",
                str(RECORD),
                "--ffs",
                str(RECORD),
                "--from",
                "2025-03-01",
                "--to",
                "2025-03-31",
                "--margin",
                "lots",
            ]
        )
    assert caught.value.code == 2
    assert "not a rate" in capsys.readouterr().err


@pytest.fixture(scope="module")
def appendix_timeline(knowledge: Knowledge) -> tuple[PatientTimeline, Any]:
    from cpoc_fhir.config import load_payer
    from cpoc_fhir.engine.settings import RuleSettings
    from cpoc_fhir.fhir.read import open_source
    from cpoc_fhir.service import Evaluator

    evaluator = Evaluator(knowledge, RuleSettings(), load_payer(None))
    (resources,) = open_source(RECORD).patients()
    record = evaluator.record(resources)
    return evaluator.evaluate(record, date(2025, 12, 31)), record


OPTIONS = ModelOptions(date(2025, 1, 1), date(2025, 12, 31))
REPLACED = ("99213", "99214", "96413", "96415", "96417", "96375", "36415")


@settings(max_examples=60, deadline=None)
@given(
    amounts=st.lists(
        st.tuples(
            st.sampled_from(REPLACED), st.integers(1, 365), st.decimals("0.01", "5000", places=2)
        ),
        min_size=1,
        max_size=30,
    ),
    k=st.integers(1, 40),
)
def test_scaling_every_ffs_amount_by_k_scales_the_neutral_base_by_k(
    appendix_timeline, amounts, k
) -> None:
    timeline, record = appendix_timeline

    def base(factor: int) -> Decimal | None:
        lines = [
            ClaimLine(
                PATIENT,
                date.fromordinal(OPTIONS.start.toordinal() + day - 1),
                CPT,
                code,
                Decimal(1),
                amount * factor,
                f"EOB/e#item{n}",
                "paid",
            )
            for n, (code, day, amount) in enumerate(amounts)
        ]
        patient = patient_economics(timeline, record, lines, OPTIONS)
        # attribution loses nothing: the lines' FFS and the unattributed rest add up
        assert sum(line.ffs for line in patient.lines) + patient.unattributed == patient.replaced
        return neutral_base(patient.replaced, patient.rv_sum)

    one, scaled = base(1), base(k)
    assert one is not None and scaled is not None
    # Exact before rounding; each side is rounded once to cents, so they differ by at most
    # half a cent on the scaled side plus k half-cents on the other.
    assert abs(scaled - k * one) <= Decimal("0.005") * (k + 1)


def test_records_holding_their_claims_are_read_in_one_pass(tmp_path, capsys) -> None:
    # INPUT and --ffs the same Bundle: the Appendix A record with its EOB, and an EOB of a
    # patient the Bundle has no Patient for. Same figures as with two inputs.
    record = json.loads(RECORD.read_text())
    record["entry"] += [
        {"resource": MARCH},
        {"resource": eob("x", "someone-else", eob_item(1, "99213", 92.03))},
    ]
    both = tmp_path / "both.json"
    both.write_text(json.dumps(record), encoding="utf-8")
    code = main(["model", str(both), "--ffs", str(both), "--from", "2025-03-01", "--to",
                 "2025-03-31", "--format", "json"])  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (out["ffsReplacedRevenue"], out["ffsDrugRevenue"], out["neutralBase"]) == (
        "257.10",
        "45.90",
        "321.38",
    )
    assert out["patients"] == 1 and out["ffsItems"]["patientsWithoutRecord"] == 1
    assert any("Patient/someone-else" in w for w in out["warnings"])


money = st.decimals("0", "1000000", places=2)


@given(practice_ffs=money, practice_cpoc=money, other=st.decimals("0.01", "1000000", places=2))
def test_at_the_break_even_reduction_the_payer_neither_saves_nor_loses(
    practice_ffs: Decimal, practice_cpoc: Decimal, other: Decimal
) -> None:
    side = PayerSide(practice_ffs, practice_cpoc, other, Decimal("0.03"))
    assert side.break_even is not None
    at_break_even = PayerSide(practice_ffs, practice_cpoc, other, side.break_even)
    assert abs(at_break_even.savings) < Decimal("1e-15")
    # a larger reduction saves, a smaller one costs (§14.2)
    more = PayerSide(practice_ffs, practice_cpoc, other, side.break_even + Decimal("0.01"))
    assert more.savings > 0


def test_no_charge_in_the_period_says_the_ffs_side_is_empty(tmp_path, capsys) -> None:
    out = run(tmp_path, capsys, MARCH, args=("--from", "2025-05-01", "--to", "2025-05-31"))
    assert out["ffsReplacedRevenue"] == "0.00" and out["ffsItems"]["outsidePeriod"] == 4
    assert out["neutralBase"] == "0.00"  # xx204 of 2025-05-03 (rv 80) against no FFS revenue
    assert out["warnings"] == [
        "no priced FFS charge (ChargeItem, Claim, ExplanationOfBenefit) in the period: the FFS "
        "side is empty and the revenue-neutral base is 0"
    ]


def test_option_1_patients_billed_fee_for_service_are_counted_apart(tmp_path, capsys) -> None:
    """§14.3: with CPOC for lung cancer only, the Appendix A patient (colon cancer) keeps FFS:
    her March charges (99213 92.03 + 96413 135.71 + 96415 29.36 = 257.10 replaced, J9263
    45.90 drug, as in the first test) are counted apart and are no part of neutrality."""
    config = tmp_path / "option1.toml"
    config.write_text('[rules]\ncpoc_cancer_types = ["lung"]\n', encoding="utf-8")
    ffs = tmp_path / "ffs.json"
    ffs.write_text(json.dumps(bundle(MARCH)), encoding="utf-8")
    argv = ["--config", str(config), "model", str(RECORD), "--ffs", str(ffs)]
    argv += ["--from", "2025-03-01", "--to", "2025-03-31"]
    assert main([*argv, "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["feeForService"] == {
        "patients": 1,
        "replaced": "257.10",
        "drug": "45.90",
        "other": "0.00",
    }
    assert (out["patients"], out["ffsReplacedRevenue"], out["cpocLines"]) == (0, "0.00", 0)
    assert main(argv) == 0
    assert "billed fee-for-service (not a CPOC cancer type, §14.3): 1 patient(s)" in (
        capsys.readouterr().out
    )
