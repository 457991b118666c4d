"""Q1-Q6 (value-and-models §12.2) at their edges, hand-derived.

Every case is a small FHIR R4 record read by the real reader and engine (builders in
tests/test_quality_fhir.py); counts are (initial population, denominator, exclusions,
numerator) for performance year 2025, as of 2025-12-31 unless said.
"""

from __future__ import annotations

import pytest
from test_quality_fhir import (
    TAMOXIFEN,
    Resource,
    cancer,
    condition,
    counts,
    ecog,
    given,
    hospice_episode,
    hospice_visit,
    measure,
    pain,
    patient,
    patient_year,
    phq,
    planned,
    run,
    stage,
    visit,
)

from cpoc_fhir.value.quality import QUALITY_MEASURES
from cpoc_fhir.value.settings import ValueSettings

DEATH = "2025-06-20"


def dead(*more: Resource, death: str = DEATH) -> list[Resource]:
    """A lung cancer patient who died on ``death``, seen by the practice in March."""
    return [patient(death), cancer(), visit("v1", "2025-03-03"), given("m0", "2025-03-03"), *more]


# --- shape --------------------------------------------------------------------------------------
def test_the_six_measures_and_their_direction() -> None:
    shape = [(m.id, m.improvement, m.unit, m.source) for m in QUALITY_MEASURES]
    assert shape == [
        ("Q1", "increase", "line starts", "QOPI core"),
        ("Q2", "increase", "visits", "NQF 0384 / CMS 157"),
        ("Q3", "increase", "patients", "QOPI core"),
        ("Q4", "decrease", "patients", "NQF 0210"),
        ("Q5", "increase", "patients", "OCM-3 / EOM-2"),
        ("Q6", "increase", "patients", "CMS 2 / OCM-5"),
    ]


# --- Q4: systemic therapy in the last 14 days of life ------------------------------------------
@pytest.mark.parametrize(
    ("day", "numerator"),
    [
        ("2025-06-06", 1),  # death − 14: inside (NQF 0210 "within 14 days of death")
        ("2025-06-05", 0),  # death − 15: outside
        ("2025-06-20", 1),  # the day of death
    ],
)
def test_q4_day_14_counts_day_15_does_not(day: str, numerator: int) -> None:
    assert counts(run("Q4", dead(given("m1", day)))) == (1, 1, 0, numerator)


def test_q4_hormonal_therapy_alone_is_not_systemic_therapy() -> None:
    # tamoxifen (RxNorm 10324) 5 days before death: anti-cancer, but hormonal (NQF 0210)
    found = run("Q4", dead(given("m1", "2025-06-15", TAMOXIFEN)))
    assert counts(found) == (1, 1, 0, 0)


def test_q4_an_infusion_ordered_but_never_given_does_not_count() -> None:
    assert counts(run("Q4", dead(planned("r1", "2025-06-15")))) == (1, 1, 0, 0)


def test_q4_evidence_names_the_dose_the_patient_and_the_cancer() -> None:
    found = run("Q4", dead(given("m1", "2025-06-10")))
    assert found.cases == {
        "initial-population": ["Patient/p1"],
        "denominator": ["Patient/p1"],
        "numerator": ["Patient/p1"],
    }
    assert found.evidence["initial-population"] == ["Patient/p1", "Condition/c1"]
    assert found.evidence["denominator"] == ["Patient/p1", "MedicationAdministration/m1"]
    assert found.evidence["numerator"] == ["MedicationAdministration/m1"]


@pytest.mark.parametrize(
    ("death", "expected"),
    [
        ("2024-12-31", (0, 0, 0, 0)),  # died the year before: not in 2025's population
        ("2025-01-01", (1, 1, 0, 0)),  # first day of the year (seen in the 180 days before)
        ("2025-12-31", (0, 0, 0, 0)),  # last day, but no care in the 180 days before
    ],
)
def test_q4_death_in_the_year_and_under_care(death: str, expected: tuple[int, ...]) -> None:
    resources = [patient(death), cancer(), visit("v1", "2024-12-01"), given("m0", "2024-12-01")]
    assert counts(run("Q4", resources)) == expected


def test_q4_death_after_as_of_is_not_known_yet() -> None:
    assert counts(run("Q4", dead(), as_of="2025-06-19")) == (0, 0, 0, 0)


def test_q4_care_transferred_before_death_leaves_the_population() -> None:
    # the practice's oncology EpisodeOfCare (untyped: the practice's own) ended on 04-01
    episode = {
        "resourceType": "EpisodeOfCare",
        "id": "onc",
        "status": "finished",
        "patient": {"reference": "Patient/p1"},
        "period": {"start": "2025-01-01", "end": "2025-04-01"},
    }
    assert counts(run("Q4", dead(episode, given("m1", "2025-06-18")))) == (0, 0, 0, 0)


def test_q4_no_cancer_on_record_is_not_in_the_population() -> None:
    resources = [patient(DEATH), condition("h1", "I10"), visit("v1", "2025-06-01", reason="h1")]
    assert counts(run("Q4", resources)) == (0, 0, 0, 0)


def test_q4_q5_deceased_without_a_date_is_a_warning_not_a_crash() -> None:
    resources = [patient(True), cancer(), visit("v1", "2025-03-03"), given("m0", "2025-03-03")]
    for mid in ("Q4", "Q5"):
        found = run(mid, resources)
        assert counts(found) == (0, 0, 0, 0)
        assert found.warnings == ["Patient/p1: deceased without a date of death; left out"]
    assert run("Q1", resources).warnings == []  # a warning only where it matters


# --- Q5: hospice 3 days or more before death ---------------------------------------------------
@pytest.mark.parametrize(
    ("start", "numerator"),
    [("2025-06-17", 1), ("2025-06-18", 0)],  # death − 3 counts, death − 2 does not
)
def test_q5_hospice_3_days_counts_2_days_does_not(start: str, numerator: int) -> None:
    assert counts(run("Q5", dead(hospice_episode("h1", start)))) == (1, 1, 0, numerator)


def test_q5_hospice_encounter_counts_and_a_live_discharge_does_not() -> None:
    assert counts(run("Q5", dead(hospice_visit("hv", "2025-06-01")))) == (1, 1, 0, 1)
    left = hospice_episode("h1", "2025-05-01", "2025-05-20")  # discharged alive a month before
    assert counts(run("Q5", dead(left))) == (1, 1, 0, 0)


def test_q5_hospice_without_a_start_date_is_a_warning() -> None:
    found = run("Q5", dead(hospice_episode("h1", None)))
    assert counts(found) == (1, 1, 0, 0)
    assert found.warnings == ["EpisodeOfCare/h1: hospice care without a start date; not counted"]


# --- Q1: performance status in the 30 days up to the first dose -------------------------------
@pytest.mark.parametrize(
    ("day", "numerator"),
    [
        ("2025-03-03", 1),  # day −30 of the 2025-04-02 first dose
        ("2025-03-02", 0),  # day −31
        ("2025-04-02", 1),  # day 0
        ("2025-04-03", 0),  # the day after the first dose
    ],
)
def test_q1_the_30_day_window(day: str, numerator: int) -> None:
    resources = [patient(), cancer(), given("m1", "2025-04-02"), ecog("e1", day)]
    assert counts(run("Q1", resources)) == (1, 1, 0, numerator)


def test_q1_counts_each_new_line_in_the_year_by_its_first_dose() -> None:
    resources = [
        patient(),
        cancer(),
        given("m0", "2024-12-31"),  # line 1 starts the year before: not counted
        given("m1", "2025-01-21"),  # same line (paclitaxel again)
        given("m2", "2025-06-02", "2555"),  # cisplatin after the 28-day window: line 2
        ecog("e1", "2025-05-20"),
    ]
    found = run("Q1", resources)
    assert found.cases["denominator"] == ["MedicationAdministration/m2"]
    assert found.evidence["numerator"] == ["Observation/e1"]
    assert counts(found) == (1, 1, 0, 1)


def test_q1_line_starting_on_january_first() -> None:
    resources = [patient(), cancer(), given("m1", "2025-01-01"), ecog("e1", "2024-12-15")]
    assert counts(run("Q1", resources)) == (1, 1, 0, 1)  # ECOG of the year before counts


# --- Q2: pain intensity quantified -----------------------------------------------------------
VISIT = "2025-05-15"


@pytest.mark.parametrize(
    ("drug_day", "denominator"),
    [
        ("2025-04-15", 1),  # visit − 30
        ("2025-04-14", 0),  # visit − 31
        ("2025-06-14", 1),  # visit + 30
        ("2025-06-15", 0),  # visit + 31
    ],
)
def test_q2_anti_cancer_drug_within_30_days_of_the_visit(drug_day: str, denominator: int) -> None:
    resources = [patient(), cancer(), visit("v1", VISIT), given("m1", drug_day)]
    assert counts(run("Q2", resources)) == (denominator, denominator, 0, 0)


def test_q2_pain_score_on_the_visit_day_or_in_the_visit() -> None:
    base = [patient(), cancer(), visit("v1", VISIT), given("m1", VISIT)]
    assert counts(run("Q2", [*base, pain("o1", VISIT)])) == (1, 1, 0, 1)
    assert counts(run("Q2", [*base, pain("o1", "2025-05-16")])) == (1, 1, 0, 0)
    in_visit = pain("o1", "2025-05-16", encounter={"reference": "Encounter/v1"})
    assert counts(run("Q2", [*base, in_visit])) == (1, 1, 0, 1)
    assert counts(run("Q2", [*base, pain("o1", VISIT, None)])) == (1, 1, 0, 0)  # no value


def test_q2_only_the_practices_face_to_face_visits_of_the_year() -> None:
    resources = [
        patient(),
        cancer(),
        given("m1", VISIT),
        visit("v1", VISIT, klass="VR"),  # virtual
        visit("v2", VISIT, reason=None),  # not for the cancer: not the practice's oncology
        visit("v3", VISIT, status="planned"),
        visit("v4", "2024-12-20"),  # the year before
        visit("v5", "2025-05-20"),  # counts
    ]
    found = run("Q2", resources)
    assert found.cases["denominator"] == ["Encounter/v5"]


# --- Q3: stage documented before the first treatment ----------------------------------------
@pytest.mark.parametrize(
    ("first", "in_population"),
    [("2025-01-01", 1), ("2025-12-31", 1), ("2024-12-31", 0)],
)
def test_q3_first_treatment_in_the_year(first: str, in_population: int) -> None:
    resources = [
        patient(),
        cancer(onset="2024-06-01"),
        stage("s1", "2024-06-10"),
        given("m1", first),
    ]
    assert counts(run("Q3", resources)) == (in_population, in_population, 0, in_population)


def test_q3_stage_on_the_day_counts_the_day_after_does_not() -> None:
    base = [patient(), cancer(), given("m1", "2025-04-02")]
    assert counts(run("Q3", [*base, stage("s1", "2025-04-02")])) == (1, 1, 0, 1)
    assert counts(run("Q3", [*base, stage("s1", "2025-04-03")])) == (1, 1, 0, 0)


def test_q3_stage_on_the_cancer_condition_counts_by_its_recorded_date() -> None:
    staged = cancer(onset="2025-03-01")
    staged["recordedDate"] = "2025-03-20"
    staged["stage"] = [{"summary": {"text": "Stage IIB"}}]
    resources = [patient(), staged, given("m1", "2025-04-02")]
    found = run("Q3", resources)
    assert counts(found) == (1, 1, 0, 1)
    assert found.evidence["numerator"] == ["Condition/c1"]
    staged["recordedDate"] = "2025-04-03"  # recorded the day after the first dose
    assert counts(run("Q3", resources)) == (1, 1, 0, 0)
    # a stage on a non-cancer Condition (clinosim writes CKD stages) is no cancer stage
    ckd = condition("k1", "N18.3", "2020-01-01")
    ckd["stage"] = [{"summary": {"text": "CKD G3"}}]
    assert counts(run("Q3", [patient(), cancer(), ckd, given("m1", "2025-04-02")])) == (1, 1, 0, 0)


def test_q3_liquid_tumours_are_not_in_the_population() -> None:
    # C91.10 chronic lymphocytic leukaemia: not a solid tumour
    resources = [patient(), cancer(code="C91.10"), given("m1", "2025-04-02")]
    assert counts(run("Q3", resources)) == (0, 0, 0, 0)


def test_q3_a_liquid_cancer_diagnosed_after_the_first_treatment_does_not_count() -> None:
    # breast cancer treated 2025-04-02; a lymphoma diagnosed in September is another story
    later = cancer("c2", "C83.30", "2025-09-01")
    resources = [patient(), cancer(code="C50.911"), later, given("m1", "2025-04-02")]
    assert counts(run("Q3", resources)) == (1, 1, 0, 0)
    both = cancer("c2", "C83.30", "2025-03-01")  # both known by the first treatment: not solid
    resources = [patient(), cancer(code="C50.911"), both, given("m1", "2025-04-02")]
    assert counts(run("Q3", resources)) == (0, 0, 0, 0)


def test_q3_a_later_line_is_not_a_first_treatment() -> None:
    resources = [patient(), cancer(), given("m0", "2024-03-01"), given("m1", "2025-04-02", "2555")]
    assert counts(run("Q3", resources)) == (0, 0, 0, 0)


# --- Q6: depression screening -----------------------------------------------------------------
def test_q6_screened_in_the_year() -> None:
    base = [patient(), cancer(), visit("v1", "2025-05-15")]
    assert counts(run("Q6", [*base, phq("q1", "2025-11-30")])) == (1, 1, 0, 1)
    assert counts(run("Q6", [*base, phq("q1", "2024-11-30")])) == (1, 1, 0, 0)
    assert counts(run("Q6", [*base, phq("q1", "2025-02-01", code="55757-9")])) == (1, 1, 0, 1)


def test_q6_depression_diagnosed_before_the_first_visit_is_excluded() -> None:
    base = [patient(), cancer(), visit("v1", "2025-05-15"), visit("v2", "2025-08-01")]
    before = condition("d1", "F32.9", "2025-05-14")  # the day before the first visit
    assert counts(run("Q6", [*base, before, phq("q1", "2025-06-01")])) == (1, 1, 1, 0)
    same_day = condition("d1", "F32.9", "2025-05-15")  # diagnosed at the visit: not before
    assert counts(run("Q6", [*base, same_day, phq("q1", "2025-06-01")])) == (1, 1, 0, 1)
    resolved = condition("d1", "F33.1", "2019-01-01")
    resolved["abatementDateTime"] = "2020-01-01"  # CMS 2: diagnosed before, resolved or not
    assert counts(run("Q6", [*base, resolved])) == (1, 1, 1, 0)
    snomed = condition("d1", "370143000", "2020-01-01", "http://snomed.info/sct")
    assert counts(run("Q6", [*base, snomed])) == (1, 1, 1, 0)
    bipolar = condition("d1", "F31.81", None)  # undated: on the record, so before
    assert counts(run("Q6", [*base, bipolar])) == (1, 1, 1, 0)


def test_q6_a_declined_screen_is_an_exception_unless_one_was_done() -> None:
    absent = {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                "code": "asked-declined",
            }
        ]
    }
    base = [patient(), cancer(), visit("v1", "2025-05-15")]
    declined = phq("q1", "2025-05-15", None, dataAbsentReason=absent)
    assert counts(run("Q6", [*base, declined])) == (1, 1, 1, 0)
    assert counts(run("Q6", [*base, declined, phq("q2", "2025-09-01")])) == (1, 1, 0, 1)


def test_q6_a_screen_after_as_of_is_not_known_yet() -> None:
    resources = [patient(), cancer(), visit("v1", "2025-05-15"), phq("q1", "2025-09-01")]
    assert counts(run("Q6", resources, as_of="2025-08-31")) == (1, 1, 0, 0)
    assert counts(run("Q6", resources, as_of="2025-09-01")) == (1, 1, 0, 1)


def test_q6_no_visit_no_population() -> None:
    assert counts(run("Q6", [patient(), cancer(), phq("q1", "2025-05-15")])) == (0, 0, 0, 0)


# --- a record without its Patient ------------------------------------------------------------
def test_a_record_without_patient_counts_nowhere_and_says_so() -> None:
    resources = [
        cancer(),
        visit("v1", "2025-03-03"),
        given("m1", "2025-03-03"),
        pain("o1", "2025-03-03"),
    ]
    py = patient_year(resources)
    for m in QUALITY_MEASURES:
        found = m.evaluate(py, ValueSettings())
        assert found.cases == {}
        assert found.warnings == ["Patient/p1: no readable Patient resource; left out of Q1-Q6"]  # type: ignore[attr-defined]


def test_a_practice_tally_of_two_patients() -> None:
    # p1 died 2025-06-20 with paclitaxel on 06-10 (Q4 met); p2 (the same record, no dose in
    # the last 14 days) is not: rate 1 / (2 − 0) = 1/2, each patient's evidence kept apart.
    from fractions import Fraction

    from cpoc_fhir.value.model import MeasureTally

    tally = MeasureTally("Q4")
    tally.add("p1", run("Q4", dead(given("m1", "2025-06-10"))))
    tally.add("p2", run("Q4", dead(given("m1", "2025-05-10"))))
    tally.add("p3", run("Q4", [patient(), cancer()]))  # alive: no case, not listed
    assert (tally.denominator, tally.exclusions, tally.numerator) == (2, 0, 1)
    assert tally.rate == Fraction(1, 2)
    shown = tally.patients_json()
    assert sorted(shown) == ["p1", "p2"]
    assert shown["p1"]["numerator"] == {
        "cases": ["Patient/p1"],
        "evidence": ["MedicationAdministration/m1"],
    }
    assert "numerator" not in shown["p2"]


def test_the_six_measures_share_one_derivation_per_patient_year() -> None:
    from cpoc_fhir.value.quality_facts import facts_for

    py = patient_year(dead(given("m1", "2025-06-10")))
    assert facts_for(py) is facts_for(py)
    assert counts(measure("Q4").evaluate(py, ValueSettings())) == (1, 1, 0, 1)


def test_patient_years_evaluated_in_any_order_keep_their_own_facts() -> None:
    late = patient_year(dead(given("m1", "2025-06-10")))  # Q4 met
    early = patient_year(dead(given("m1", "2025-05-10")))  # Q4 not met
    q4 = measure("Q4")
    order = [late, early, late, late, early]
    assert [counts(q4.evaluate(py, ValueSettings()))[3] for py in order] == [1, 0, 1, 1, 0]
