"""Q1-Q6 over a synthetic practice year, every expected case derived from the generator's own
choices (``PracticeTruth``), never from the FHIR files it wrote.

The derivations restate §12.2 on the truth: Q1 line starts with ECOG in day −30 … 0; Q2 visits
with a treatment day within ±30 days, numerator the visits whose pain was scored; Q3 first
treatment in the year, solid tumours, stage on or before it; Q4/Q5 deaths in the year (each of
them treated in the 180 days before death, so under the practice's care), a non-hormonal
treatment day in death − 14 … death, hospice starting on or before death − 3; Q6 patients with
a visit in the year, a PHQ day in the year (the generator writes no depression diagnosis).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from cpoc_fhir.config import load_payer
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.fhir.read import open_source
from cpoc_fhir.knowledge.loader import load_knowledge
from cpoc_fhir.service import Evaluator
from cpoc_fhir.synthetic import generate_practice
from cpoc_fhir.synthetic.truth import PatientTruth, PracticeTruth
from cpoc_fhir.value.model import (
    DENOMINATOR,
    EXCLUSION,
    INITIAL_POPULATION,
    NUMERATOR,
    MeasureTally,
    PatientYear,
)
from cpoc_fhir.value.quality import QUALITY_MEASURES
from cpoc_fhir.value.settings import ValueSettings

YEAR = 2025
AS_OF = date(YEAR, 12, 31)
START = date(YEAR, 1, 1)
Cases = dict[str, set[str]]  # population → case ids, per patient


@pytest.fixture(scope="module")
def practice(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[PracticeTruth, dict[str, MeasureTally]]:
    out = tmp_path_factory.mktemp("practice")
    truth = generate_practice(out, patients=250, seed=7, year=YEAR, claims=False)
    evaluator = Evaluator(load_knowledge(), RuleSettings(), load_payer(None))
    tallies = {m.id: MeasureTally(m.id) for m in QUALITY_MEASURES}
    for resources in open_source(out).patients():
        record = evaluator.record(resources)
        timeline = evaluator.evaluate(record, AS_OF)
        pid = resources.patient_ref.removeprefix("Patient/")
        py = PatientYear(pid, resources, record, timeline, YEAR, AS_OF)
        for m in QUALITY_MEASURES:
            tallies[m.id].add(pid, m.evaluate(py, ValueSettings()))
    return truth, tallies


def in_year(day: date | None) -> bool:
    return day is not None and START <= day <= AS_OF


def near(days: list[date], day: date, before: int, after: int) -> bool:
    return any(day - timedelta(days=before) <= d <= day + timedelta(days=after) for d in days)


def found(tally: MeasureTally, pid: str) -> Cases:
    c = tally.patients.get(pid)
    return (
        {
            p: set(c.cases.get(p, []))
            for p in (INITIAL_POPULATION, DENOMINATOR, EXCLUSION, NUMERATOR)
        }
        if c
        else {}
    )


def expect(ip: set[str], den: set[str], num: set[str], excl: set[str] | None = None) -> Cases:
    if not ip:
        return {}
    return {INITIAL_POPULATION: ip, DENOMINATOR: den, EXCLUSION: excl or set(), NUMERATOR: num}


def q1_counts(p: PatientTruth) -> tuple[int, int]:
    starts = [s for s in p.line_starts if in_year(s)]
    return len(starts), sum(1 for s in starts if near(p.ecog_days, s, 30, 0))


def q2(p: PatientTruth) -> Cases:
    visits = [v for v in p.visits if in_year(v.day) and near(p.treatment_days, v.day, 30, 30)]
    ids = {f"Encounter/{v.encounter_id}" for v in visits}
    return expect(ids, ids, {f"Encounter/{v.encounter_id}" for v in visits if v.pain_scored})


def q3(p: PatientTruth) -> Cases:
    if not in_year(p.first_treatment):
        return {}
    case = {f"Patient/{p.patient_id}"}
    staged = p.stage_day is not None and p.first_treatment and p.stage_day <= p.first_treatment
    if not p.solid:
        return {}
    return expect(case, case, case if staged else set())


def q4(p: PatientTruth) -> Cases:
    if not in_year(p.death) or p.death is None:
        return {}
    case = {f"Patient/{p.patient_id}"}
    late = not p.hormonal_only and near(p.treatment_days, p.death, 14, 0)
    return expect(case, case, case if late else set())


def q5(p: PatientTruth) -> Cases:
    if not in_year(p.death) or p.death is None:
        return {}
    case = {f"Patient/{p.patient_id}"}
    early = p.hospice_start is not None and p.hospice_start <= p.death - timedelta(days=3)
    return expect(case, case, case if early else set())


def q6(p: PatientTruth) -> Cases:
    if not any(in_year(v.day) for v in p.visits):
        return {}
    case = {f"Patient/{p.patient_id}"}
    return expect(case, case, case if any(in_year(d) for d in p.phq_days) else set())


@pytest.mark.parametrize(
    ("mid", "derive"), [("Q2", q2), ("Q3", q3), ("Q4", q4), ("Q5", q5), ("Q6", q6)]
)
def test_each_patients_cases_follow_from_the_truth(
    practice: tuple[PracticeTruth, dict[str, MeasureTally]], mid: str, derive: object
) -> None:
    truth, tallies = practice
    wrong = {
        pid: (found(tallies[mid], pid), want)
        for pid, p in truth.patients.items()
        if found(tallies[mid], pid) != (want := derive(p))  # type: ignore[operator]
    }
    assert not wrong, list(wrong.items())[:3]


def test_q1_line_starts_and_their_performance_status(
    practice: tuple[PracticeTruth, dict[str, MeasureTally]],
) -> None:
    truth, tallies = practice
    for pid, p in truth.patients.items():
        cases = found(tallies["Q1"], pid)
        got = (len(cases.get(DENOMINATOR, ())), len(cases.get(NUMERATOR, ())))
        assert got == q1_counts(p), pid


def test_the_practice_year_exercises_every_edge(
    practice: tuple[PracticeTruth, dict[str, MeasureTally]],
) -> None:
    # The generator makes each case occur (its notes): late chemotherapy and none, hospice
    # ≥ 3 days and < 3 days, liquid tumours, unscored visits, unstaged first treatments.
    truth, tallies = practice
    for mid in ("Q1", "Q2", "Q3", "Q4", "Q5", "Q6"):
        t = tallies[mid]
        assert 0 < t.numerator < t.denominator - t.exclusions, (mid, t.counts)
    # lymphoma patients (the generator's liquid tumour) are not in Q3
    liquid = {
        pid for pid, p in truth.patients.items() if not p.solid and in_year(p.first_treatment)
    }
    assert liquid and not liquid & set(tallies["Q3"].patients)
