"""``cpoc model`` over a generated practice: every FFS figure follows from the generator's
truth (its claims, their codes and paid amounts), the CPOC side from the engine's lines."""

from __future__ import annotations

import json
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from cpoc_fhir.cli import main
from cpoc_fhir.config import load_payer
from cpoc_fhir.engine.lines import LineStatus
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.fhir.read import open_source
from cpoc_fhir.knowledge import Knowledge
from cpoc_fhir.packs.cpoc.codes import CODES
from cpoc_fhir.service import Evaluator
from cpoc_fhir.synthetic import PracticeTruth, generate_practice

FEES = Path(__file__).resolve().parents[1] / "cpoc_fhir/knowledge/data/fee-schedule-example.toml"
START, END = date(2025, 1, 1), date(2025, 12, 31)
PERIOD = ["--from", START.isoformat(), "--to", END.isoformat()]


@pytest.fixture(scope="module")
def practice(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PracticeTruth]:
    folder = tmp_path_factory.mktemp("practice")
    return folder, generate_practice(folder, patients=80, seed=11, year=2025, claims=True)


def model(capsys: pytest.CaptureFixture[str], records: Path, ffs: Path, *args: str) -> dict:
    assert main(["model", str(records), "--ffs", str(ffs), *PERIOD, "--format", "json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def truth_sums(truth: PracticeTruth) -> dict[str, Decimal]:
    sums = {"replaced": Decimal(0), "drug": Decimal(0), "other": Decimal(0)}
    for patient in truth.patients.values():
        for line in patient.claims:
            if START <= line.day <= END:
                sums[line.kind] += line.paid
    return sums


def test_ffs_revenue_and_neutral_base_follow_from_the_truth(practice, capsys, knowledge: Knowledge):
    folder, truth = practice
    out = model(capsys, folder, folder)
    sums = truth_sums(truth)
    items = sum(1 for p in truth.patients.values() for c in p.claims if START <= c.day <= END)
    assert out["ffsReplacedRevenue"] == str(sums["replaced"])
    assert out["ffsDrugRevenue"] == str(sums["drug"])
    assert out["ffsOtherRevenue"] == str(sums["other"])
    assert out["ffsItems"]["priced"] == {"paid": items}
    assert out["ffsItems"]["unpriced"]["items"] == 0 and out["warnings"] == []
    # Σ rv of the billable lines starting in 2025 (timeline as of 2025-12-31).
    evaluator = Evaluator(knowledge, RuleSettings(), load_payer(None))
    rv = sum(
        (
            CODES[line.code][2]
            for timeline in evaluator.timelines(open_source(folder), END)
            for line in timeline.lines
            if line.status is not LineStatus.NOT_BILLABLE and START <= line.start <= END
        ),
        Decimal(0),
    )
    assert Decimal(out["cpocRelativeValueSum"]) == rv
    expected = (sums["replaced"] / (rv / 100)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert out["neutralBase"] == str(expected)
    # Attribution loses nothing: the components' FFS (and "none") add up to the total.
    assert sum(Decimal(r["ffsReplaced"]) for r in out["byComponent"]) == sums["replaced"]
    # The New Patient line is the first visit (the generator's new-patient E&M day): its FFS
    # is what was paid for the replaced codes on that day.
    first_visit = sum(
        (
            c.paid
            for p in truth.patients.values()
            if p.visits and START <= p.visits[0].day <= END
            for c in p.claims
            if c.kind == "replaced" and c.day == p.visits[0].day
        ),
        Decimal(0),
    )
    (new_patient,) = [r for r in out["byComponent"] if r["code"] == "xx100"]
    assert Decimal(new_patient["ffsReplaced"]) == first_visit
    # Payer's side: other spending = drugs + other services of the claims.
    assert out["payer"]["ffs"]["otherSpending"] == str(sums["drug"] + sums["other"])
    per_patient = sum(Decimal(p["variance"]) for p in out["byPatient"])
    assert per_patient == Decimal(out["scenario"]["revenue"]) - sums["replaced"]


def test_the_fee_schedule_prices_claims_that_carry_no_paid_amount(practice, capsys, tmp_path):
    folder, truth = practice
    # The same claims without their adjudications: the example fee schedule (the one the
    # generator priced them from) gives every amount back.
    unpaid = tmp_path / "ExplanationOfBenefit.ndjson"
    with (folder / "ExplanationOfBenefit.ndjson").open() as source, unpaid.open("w") as out:
        for line in source:
            eob = json.loads(line)
            for item in eob["item"]:
                item.pop("adjudication")
            out.write(json.dumps(eob) + "\n")
    without = model(capsys, folder, unpaid)
    assert without["ffsItems"]["unpriced"]["items"] > 0  # no schedule: nothing priced
    assert without["ffsReplacedRevenue"] == "0.00"
    priced = model(capsys, folder, unpaid, "--fee-schedule", str(FEES))
    paid = model(capsys, folder, folder)
    for key in ("ffsReplacedRevenue", "ffsDrugRevenue", "ffsOtherRevenue", "neutralBase"):
        assert priced[key] == paid[key]
    assert set(priced["ffsItems"]["priced"]) == {"fee-schedule"}
    assert priced["feeSchedule"]["illustrative"] is True
    assert truth_sums(truth)["replaced"] == Decimal(priced["ffsReplacedRevenue"])
