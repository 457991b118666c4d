"""Observations → performance status, disease status and stage groups (fixture: observations)."""

from __future__ import annotations

from datetime import date

import pytest
from test_read_support import by_ref, read_fixture, warnings_about

from cpoc_fhir.engine.facts import DiseaseState, PatientRecord


@pytest.fixture(scope="module")
def record() -> PatientRecord:
    return read_fixture("records/observations.json")


@pytest.mark.parametrize(
    ("obs_id", "on", "ecog", "scale", "raw"),
    [
        ("ecog-int", date(2024, 3, 5), 2, "ecog", None),  # the date as written, no TZ shift
        ("ecog-code", date(2024, 3, 1), 3, "ecog", None),  # LA9625-0; "2024-03" → first day
        ("ecog-interpretation", date(2024, 1, 1), 0, "ecog", None),  # LA9622-7
        ("karnofsky-int", date(2024, 4, 1), 2, "karnofsky", 60),
        ("karnofsky-code", date(2024, 4, 2), 1, "karnofsky", 70),  # LA29178-3
    ],
)
def test_performance_status(
    record: PatientRecord, obs_id: str, on: date, ecog: int, scale: str, raw: int | None
) -> None:
    (found,) = by_ref(record.performance)[f"Observation/{obs_id}"]
    assert (found.on, found.ecog, found.scale, found.raw) == (on, ecog, scale, raw)


@pytest.mark.parametrize(
    ("obs_id", "state"),
    [
        ("status-improved", DiseaseState.IMPROVED),
        ("status-stable", DiseaseState.STABLE),
        ("status-worsened", DiseaseState.WORSENED),
        ("status-undetermined", DiseaseState.UNDETERMINED),
        ("status-not-detected", DiseaseState.NED),
        ("status-no-abnormality", DiseaseState.NED),
        ("status-remission-code", DiseaseState.NED),  # mCODE STU1 88040-1 + USCRS-352236
        ("status-remission-text", DiseaseState.NED),
        ("status-unknown", DiseaseState.UNDETERMINED),  # SNOMED 12345678: no status we know
    ],
)
def test_disease_status(record: PatientRecord, obs_id: str, state: DiseaseState) -> None:
    (found,) = by_ref(record.disease_status)[f"Observation/{obs_id}"]
    assert found.state is state


@pytest.mark.parametrize(
    ("obs_id", "stage", "metastatic"),
    [
        ("stage-loinc-3c", "3C", False),
        ("stage-loinc-4a", "4A", True),
        ("stage-snomed-iv", "IV", True),  # SNOMED 1222837003 without a display
        ("stage-snomed-ivb", "IVB", True),
        ("stage-snomed-iiic", "IIIC", False),
        ("stage-profile-text", "4", True),
        ("stage-figo", "IVB", False),  # FIGO IVB is not AJCC stage IV
    ],
)
def test_stage_groups(record: PatientRecord, obs_id: str, stage: str, metastatic: bool) -> None:
    (found,) = by_ref(record.stages)[f"Observation/{obs_id}"]
    assert (found.stage, found.metastatic) == (stage, metastatic)


@pytest.mark.parametrize(
    ("obs_id", "warning"),
    [
        ("ecog-out-of-range", "ECOG value missing or out of range"),
        ("ecog-undated", "no effective date; not used"),
        (
            "status-unknown",
            "cancer disease status: value has no known disease status code; read as undetermined",
        ),
        ("stage-no-value", "stage group value not understood; not used"),
    ],
)
def test_uninterpretable_observations_warn(
    record: PatientRecord, obs_id: str, warning: str
) -> None:
    assert warnings_about(record, f"Observation/{obs_id}") == [f"Observation/{obs_id}: {warning}"]


def test_skipped_and_unrelated_observations_leave_no_trace(record: PatientRecord) -> None:
    refs = {f.ref for f in (*record.performance, *record.disease_status, *record.stages)}
    for obs_id in ("ecog-entered-in-error", "status-cancelled", "grade-gleason", "hemoglobin"):
        assert f"Observation/{obs_id}" not in refs
        assert not warnings_about(record, f"Observation/{obs_id}")
    assert len(record.warnings) == 4
