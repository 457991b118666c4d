"""``cpoc report corridors`` over a generated practice: F follows from the generator's truth.

The practice (``cpoc_fhir.synthetic``) bills every visit and infusion day as CARIN BB
ExplanationOfBenefits, i.e. it records the replaced codes in parallel. For each of the truth's
replaced-code claim lines of 2025 the engine's line that holds its day (the New Patient day,
else the billing month's line, cpoc-rules §10) is found here from the timeline; F of a quarter
is the truth's paid amounts of the lines starting in it, P the payer file's amounts of the
lines of the patient-quarters with such a claim (the others have no F without a baseline).
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from cpoc_fhir.cli import main
from cpoc_fhir.config import load_payer
from cpoc_fhir.economics.corridors import quarter_of, settle
from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.lines import BillingLine, LineStatus
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.fhir.read import open_source
from cpoc_fhir.knowledge import Knowledge
from cpoc_fhir.service import Evaluator
from cpoc_fhir.synthetic import PracticeTruth, generate_practice

YEAR = 2025
END = date(YEAR, 12, 31)


@pytest.fixture(scope="module")
def practice(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PracticeTruth]:
    folder = tmp_path_factory.mktemp("corridor-practice")
    return folder, generate_practice(folder, patients=60, seed=13, year=YEAR, claims=True)


def holding(lines: list[BillingLine], day: date) -> BillingLine | None:
    new_patient = next((x for x in lines if x.component is Component.NEW_PATIENT), None)
    if new_patient is None or day < new_patient.start:
        return None
    if day == new_patient.start:
        return new_patient
    return next((x for x in lines if x.month is not None and x.start <= day <= x.end), None)


def test_f_and_p_follow_from_the_truths_replaced_claims(practice, capsys, knowledge: Knowledge):
    folder, truth = practice
    assert main(["report", "corridors", str(folder), "--year", str(YEAR), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    payer = load_payer(None)
    evaluator = Evaluator(knowledge, RuleSettings(), payer)
    ffs: dict[str, Decimal] = defaultdict(Decimal)
    cpoc: dict[str, Decimal] = defaultdict(Decimal)
    patients: dict[str, set[str]] = defaultdict(set)
    for timeline in evaluator.timelines(open_source(folder), END):
        pid = timeline.patient_ref.removeprefix("Patient/")
        lines = [x for x in timeline.lines if x.status is not LineStatus.NOT_BILLABLE]
        recorded: dict[str, Decimal] = defaultdict(Decimal)
        for claim in truth.patients[pid].claims:
            if claim.kind != "replaced" or claim.day.year != YEAR:
                continue
            line = holding(lines, claim.day)
            if line is not None and line.start.year == YEAR:
                recorded[quarter_of(line.start)] += claim.paid
                patients[quarter_of(line.start)].add(pid)
        for quarter, amount in recorded.items():
            ffs[quarter] += amount
        for line in lines:
            if line.start.year == YEAR and quarter_of(line.start) in recorded:
                cpoc[quarter_of(line.start)] += payer.amount(line.code, on=line.start)
    rows = {q["quarter"]: q for q in data["quarters"]}
    assert {q["payer"] for q in data["quarters"]} == {"Organization/example-payer"}  # Coverage
    assert set(rows) == {f"{YEAR}-Q{n}" for n in range(1, 5)}
    for quarter, row in rows.items():
        assert Decimal(row["ffsRecorded"]) == ffs[quarter] == Decimal(row["ffs"])
        assert Decimal(row["cpoc"]) == cpoc[quarter]
        assert row["patientsRecorded"] == len(patients[quarter])
        expected = settle(ffs[quarter], cpoc[quarter], Decimal("0.03"))
        assert row["outcome"] == expected.outcome
        assert (Decimal(row["supplement"]), Decimal(row["recovery"])) == (
            expected.supplement,
            expected.recovery,
        )
    assert sum(ffs.values()) > 0


def test_a_baseline_year_prices_the_quarters_without_claims(
    practice, capsys, knowledge: Knowledge
) -> None:
    folder, truth = practice
    args = ["report", "corridors", str(folder), "--year", str(YEAR), "--format", "json"]
    assert main([*args, "--baseline", str(folder), "--baseline-year", str(YEAR - 1)]) == 0
    data = json.loads(capsys.readouterr().out)
    # The baseline per code, from the truth: the 2024 replaced claims held by each code's
    # lines (timeline as of 2024-12-31, lines starting in 2024) over the number of those lines.
    evaluator = Evaluator(knowledge, RuleSettings(), load_payer(None))
    paid: dict[str, Decimal] = defaultdict(Decimal)
    count: dict[str, int] = defaultdict(int)
    for timeline in evaluator.timelines(open_source(folder), date(YEAR - 1, 12, 31)):
        pid = timeline.patient_ref.removeprefix("Patient/")
        lines = [x for x in timeline.lines if x.status is not LineStatus.NOT_BILLABLE]
        for line in lines:
            if line.start.year == YEAR - 1:
                count[line.code] += 1
        for claim in truth.patients[pid].claims:
            if claim.kind == "replaced" and claim.day.year == YEAR - 1:
                line = holding(lines, claim.day)
                if line is not None and line.start.year == YEAR - 1:
                    paid[line.code] += claim.paid
    expected = {
        code: str((paid[code] / n).quantize(Decimal("0.01"), ROUND_HALF_UP))
        for code, n in count.items()
    }
    assert {r["code"]: r["perLine"] for r in data["baseline"]["byCode"]} == expected
    assert {r["code"]: r["lines"] for r in data["baseline"]["byCode"]} == dict(count)
    assert Decimal(data["totals"]["ffsEstimated"]) > 0
    for row in data["quarters"]:
        assert Decimal(row["ffs"]) == Decimal(row["ffsRecorded"]) + Decimal(row["ffsEstimated"])
        # one payer: a patient-quarter is either recorded or estimated
        assert row["patients"] == row["patientsRecorded"] + row["patientsEstimated"]
