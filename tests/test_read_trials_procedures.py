"""ResearchSubject → trial enrolments; Procedure → stem cell transplants."""

from __future__ import annotations

from datetime import date

import pytest
from test_read_support import by_ref, read_fixture

from cpoc_fhir.engine.facts import PatientRecord


@pytest.fixture(scope="module")
def record() -> PatientRecord:
    return read_fixture("records/trials_procedures.json")


@pytest.mark.parametrize(
    ("subject_id", "start", "end", "on_study"),
    [
        ("on-study", date(2024, 1, 15), date(2024, 6, 30), True),
        ("follow-up", date(2024, 7, 1), None, True),
        ("intervention", None, None, True),
        ("off-study", date(2023, 1, 1), date(2023, 2, 1), False),
    ],
)
def test_trial_enrolments(
    record: PatientRecord, subject_id: str, start: date | None, end: date | None, on_study: bool
) -> None:
    (trial,) = by_ref(record.trials)[f"ResearchSubject/{subject_id}"]
    assert (trial.start, trial.end, trial.on_study) == (start, end, on_study)


def test_invalid_status_warns(record: PatientRecord) -> None:
    assert "ResearchSubject/placeholder" not in by_ref(record.trials)
    assert (
        "ResearchSubject/placeholder: status is not a ResearchSubject status; not used"
        in record.warnings
    )


def test_transplants(record: PatientRecord) -> None:
    assert [(t.ref, t.on) for t in record.transplants] == [
        ("Procedure/hsct", date(2024, 3, 4)),
        ("Procedure/autologous-cpt", date(2024, 4, 2)),
    ]
    assert "Procedure/hsct-undated: stem cell transplant without a performed date; not used" in (
        record.warnings
    )
    assert len(record.warnings) == 2
