"""Shared savings over generated practices (cpoc_fhir.synthetic): the actual spending follows
from the generator's truth — every claim line it paid, by the category its code belongs to
(the generator's docstring lists what it bills) — whether the claims are read with the
records or apart, as paid or at the generator's own fee schedule as standardised prices."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cpoc_fhir.cli import main
from cpoc_fhir.reports.benchmarks import example_benchmarks_path
from cpoc_fhir.synthetic import PracticeTruth, generate_practice

YEAR, BASELINE = 2025, 2024
LAB = frozenset({"85025", "80053", "36415"})
IMAGING = frozenset({"74177"})


def truth_category(code: str, kind: str) -> str:
    """The category each code the generator bills belongs to (service-categories.toml)."""
    if code in LAB:
        return "laboratory"
    if code in IMAGING:
        return "imaging"
    if code.startswith("J9"):
        return "oncolytic-drugs"
    if code.startswith("J"):
        return "supportive-drugs"  # J0640 leucovorin
    assert kind == "replaced", code  # E&M and administration codes: the practice's own
    return "uncategorised"


def truth_by_category(truth: PracticeTruth) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(Decimal)
    for patient in truth.patients.values():
        for line in patient.claims:
            out[truth_category(line.code, line.kind)] += line.paid
    return dict(out)


@pytest.fixture(scope="module")
def practice(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PracticeTruth]:
    folder = tmp_path_factory.mktemp("savings-2025")
    return folder, generate_practice(folder, patients=30, seed=11, year=YEAR, claims=True)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PracticeTruth]:
    folder = tmp_path_factory.mktemp("savings-2024")
    return folder, generate_practice(folder, patients=30, seed=12, year=BASELINE, claims=True)


def report(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    code = main(["report", "savings", "--year", str(YEAR), *argv, "--format", "json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def check_against_truth(out: dict[str, Any], truth: PracticeTruth) -> None:
    expected = truth_by_category(truth)
    rows = {r["category"]: r for r in out["categories"]}
    for category, amount in expected.items():
        if category == "uncategorised":
            inside = Decimal(out["uncategorised"]["amount"])
            outside = Decimal(out["outsideMonths"]["amount"]) - sum(
                Decimal(r["outsideMonths"]) for r in rows.values()
            )
        else:
            inside = Decimal(rows[category]["actual"])
            outside = Decimal(rows[category]["outsideMonths"])
        # Every paid line is either in a CPOC month of the year or counted outside.
        assert inside + outside == amount, category
    assert Decimal(rows["hospital"]["actual"]) == 0 and Decimal(rows["radiation"]["actual"]) == 0
    assert out["items"]["unpriced"] == 0


def test_actual_spending_follows_from_the_truth(practice, baseline, capsys) -> None:
    folder, truth = practice
    base_folder, _ = baseline
    out = report(
        capsys,
        str(folder),
        "--claims",
        str(folder),
        "--baseline",
        str(base_folder),
        "--baseline-year",
        str(BASELINE),
        "--benchmarks",
        str(example_benchmarks_path()),
    )
    check_against_truth(out, truth)
    # Oncolytic drugs are given on treatment days, inside Treatment Months: every J9 line
    # from 1 February (a billing month is at most 31 days, so it started in the year) to
    # 31 December is in, and nothing dated outside [1 January, 31 January next year] is.
    j9 = [line for p in truth.patients.values() for line in p.claims if line.code.startswith("J9")]
    surely_in = sum(
        (ln.paid for ln in j9 if date(YEAR, 2, 1) <= ln.day <= date(YEAR, 12, 31)), Decimal(0)
    )
    maybe_in = sum(
        (ln.paid for ln in j9 if date(YEAR, 1, 1) <= ln.day <= date(YEAR + 1, 1, 31)), Decimal(0)
    )
    found = Decimal({r["category"]: r for r in out["categories"]}["oncolytic-drugs"]["actual"])
    assert surely_in <= found <= maybe_in and found > 0
    # The baseline's spend is the 2024 practice's in its own months; expected = baseline ×
    # this year's risk units / the baseline's (the JSON's own figures, to the cent).
    ratio = Decimal(out["exposure"]["year"]["riskUnits"]) / Decimal(
        out["exposure"]["baseline"]["riskUnits"]
    )
    for row in out["categories"]:
        estimate = Decimal(row["baselineSpend"]) * ratio
        assert abs(Decimal(row["expected"]) - estimate) <= Decimal("0.05"), row["category"]
    assert out["riskAdjusted"] is True and out["method"] == "baseline"
    assert Decimal(out["payment"]) >= 0


def test_claims_read_apart_give_the_same_figures(practice, tmp_path: Path, capsys) -> None:
    folder, truth = practice
    claims = tmp_path / "claims"
    claims.mkdir()
    shutil.copy(folder / "ExplanationOfBenefit.ndjson", claims)
    expected_file = tmp_path / "expected.toml"
    expected_file.write_text(
        '[expected]\nsource = "test"\n[expected.categories]\n'
        + "".join(
            f'{c} = "1000000"\n'
            for c in (
                "laboratory",
                "imaging",
                "hospital",
                "emergency",
                "oncolytic-drugs",
                "radiation",
                "supportive-drugs",
            )
        ),
        encoding="utf-8",
    )
    apart = report(capsys, str(folder), "--claims", str(claims), "--expected", str(expected_file))
    together = report(
        capsys, str(folder), "--claims", str(folder), "--expected", str(expected_file)
    )
    check_against_truth(apart, truth)
    assert apart["categories"] == together["categories"] and apart["actual"] == together["actual"]
    # Priced at the generator's own fee schedule (paid = amount × units, exact cents), the
    # standardised figures are the paid ones.
    priced = report(
        capsys,
        str(folder),
        "--claims",
        str(folder),
        "--expected",
        str(expected_file),
        "--prices",
        truth.fee_schedule,
    )
    assert priced["categories"] == together["categories"]
    assert set(priced["items"]["basis"]) == {"standardised"}
