"""Patient and Condition → death and diagnoses (fixture: conditions)."""

from __future__ import annotations

from datetime import date

import pytest
from test_read_support import FAKE_KNOWLEDGE, by_ref, read_fixture, warnings_about

from cpoc_fhir.engine.facts import CancerRole, Diagnosis, PatientRecord
from cpoc_fhir.fhir.read import patient_resources, read_record


@pytest.fixture(scope="module")
def record() -> PatientRecord:
    return read_fixture("records/conditions.json")


def diagnosis(record: PatientRecord, cond_id: str) -> Diagnosis:
    (found,) = by_ref(record.diagnoses)[f"Condition/{cond_id}"]
    return found


def test_death_is_the_date_as_written(record: PatientRecord) -> None:
    assert record.death == date(2024, 6, 30)
    assert record.patient_ref == "Patient/cond"


@pytest.mark.parametrize(
    ("cond_id", "icd10", "snomed", "onset", "abatement", "active", "recurrence"),
    [
        ("icd-colon", ("C189",), (), date(2023, 5, 17), None, True, False),
        ("snomed-lung", (), ("254637007",), date(2022, 11, 1), None, True, False),
        ("recurrence", ("C187",), (), date(2021, 1, 1), None, True, True),  # recordedDate
        ("onset-string", (), (), date(2020, 2, 3), None, True, False),
        ("resolved", ("J189",), (), date(2022, 12, 20), date(2023, 1, 10), False, False),
        ("abatement-period", ("D701",), (), None, date(2023, 3, 15), False, False),
    ],
)
def test_codes_dates_and_status(
    record: PatientRecord,
    cond_id: str,
    icd10: tuple[str, ...],
    snomed: tuple[str, ...],
    onset: date | None,
    abatement: date | None,
    active: bool,
    recurrence: bool,
) -> None:
    found = diagnosis(record, cond_id)
    assert (found.icd10, found.snomed, found.onset, found.abatement) == (
        icd10,
        snomed,
        onset,
        abatement,
    )
    assert (found.active, found.recurrence) == (active, recurrence)


@pytest.mark.parametrize(
    ("cond_id", "role", "cancer_type"),
    [
        ("icd-colon", CancerRole.PRIMARY, "colorectal"),
        ("snomed-lung", CancerRole.PRIMARY, "lung"),
        ("onset-string", CancerRole.NONE, None),
        ("mcode-secondary", CancerRole.SECONDARY, None),  # the profile wins over the code
        ("mcode-primary", CancerRole.PRIMARY, "other"),  # a primary the code lists miss
        ("who-icd10-secondary", CancerRole.SECONDARY, None),
    ],
)
def test_cancer_role(
    record: PatientRecord, cond_id: str, role: CancerRole, cancer_type: str | None
) -> None:
    found = diagnosis(record, cond_id)
    assert (found.cancer_role, found.cancer_type) == (role, cancer_type)


def test_toxicity_flag_and_display(record: PatientRecord) -> None:
    assert diagnosis(record, "toxicity").toxicity
    assert diagnosis(record, "icd-colon").display == "Malignant neoplasm of colon, unspecified"
    assert diagnosis(record, "snomed-lung").display == "NSCLC"


def test_refuted_and_entered_in_error_are_skipped(record: PatientRecord) -> None:
    refs = {d.ref for d in record.diagnoses}
    assert "Condition/refuted" not in refs
    assert "Condition/entered-in-error" not in refs


def test_condition_without_code_warns(record: PatientRecord) -> None:
    assert warnings_about(record, "Condition/no-code") == [
        "Condition/no-code: no code or text; not used"
    ]
    assert len(record.warnings) == 1


def test_deceased_without_date_warns() -> None:
    resources = patient_resources([{"resourceType": "Patient", "id": "p", "deceasedBoolean": True}])
    record = read_record(resources, FAKE_KNOWLEDGE)
    assert record.death is None
    assert record.warnings == ("Patient/p: deceased, but no date of death is recorded",)
