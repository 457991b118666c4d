"""EpisodeOfCare and Encounter → care episodes and visits (fixture: encounters)."""

from __future__ import annotations

from datetime import date

import pytest
from test_read_support import by_ref, read_fixture, warnings_about

from cpoc_fhir.engine.facts import EpisodeKind, PatientRecord
from cpoc_fhir.fhir.read import ReaderSettings

PRACTICE = ReaderSettings(practice_organizations=frozenset({"Organization/practice"}))


@pytest.fixture(scope="module")
def record() -> PatientRecord:
    return read_fixture("records/encounters.json")


@pytest.fixture(scope="module")
def practice_record() -> PatientRecord:
    return read_fixture("records/encounters.json", PRACTICE)


@pytest.mark.parametrize(
    ("enc_id", "on", "face_to_face", "oncology"),
    [
        ("amb-cancer", date(2024, 2, 1), True, True),  # reasonReference → cancer Condition
        ("acute-reason-code", date(2024, 2, 2), True, True),  # in-progress; reasonCode C50.911
        ("virtual-oncology", date(2024, 2, 3), False, True),  # VR is not face to face
        ("emergency", date(2024, 2, 4), False, False),
        ("home-health-oncology-text", date(2024, 2, 5), True, True),
        ("in-episode", date(2024, 2, 6), True, True),  # episodeOfCare → oncology episode
        ("arrived", date(2024, 2, 7), False, False),  # not yet seen
        ("hypertension-visit", date(2024, 2, 8), True, False),
        ("elsewhere", date(2024, 2, 9), True, True),  # no practice organizations set
    ],
)
def test_visits(
    record: PatientRecord, enc_id: str, on: date, face_to_face: bool, oncology: bool
) -> None:
    (visit,) = by_ref(record.visits)[f"Encounter/{enc_id}"]
    assert (visit.on, visit.face_to_face, visit.oncology) == (on, face_to_face, oncology)


def test_planned_and_undated_encounters_are_not_visits(record: PatientRecord) -> None:
    refs = by_ref(record.visits)
    assert "Encounter/planned" not in refs and "Encounter/undated" not in refs
    assert warnings_about(record, "Encounter/undated") == [
        "Encounter/undated: no period.start; not used as a visit"
    ]


@pytest.mark.parametrize(
    ("ref", "kind", "start", "end"),
    [
        ("EpisodeOfCare/ep-oncology", EpisodeKind.ONCOLOGY, date(2024, 1, 10), None),
        ("EpisodeOfCare/ep-untyped", EpisodeKind.ONCOLOGY, date(2024, 1, 11), date(2024, 12, 31)),
        ("EpisodeOfCare/ep-diagnosis", EpisodeKind.ONCOLOGY, date(2024, 1, 12), None),
        ("EpisodeOfCare/ep-elsewhere", EpisodeKind.ONCOLOGY, date(2024, 1, 15), None),
        ("EpisodeOfCare/ep-hospice", EpisodeKind.HOSPICE, date(2024, 9, 1), None),
        ("Encounter/hospice-care", EpisodeKind.HOSPICE, date(2024, 5, 1), None),
        ("Encounter/discharged-to-hospice", EpisodeKind.HOSPICE, date(2024, 4, 5), None),
    ],
)
def test_episodes(
    record: PatientRecord, ref: str, kind: EpisodeKind, start: date, end: date | None
) -> None:
    (episode,) = by_ref(record.episodes)[ref]
    assert (episode.kind, episode.start, episode.end) == (kind, start, end)


def test_non_oncology_and_planned_episodes_are_left_out(record: PatientRecord) -> None:
    refs = by_ref(record.episodes)
    assert "EpisodeOfCare/ep-diabetes" not in refs
    assert "EpisodeOfCare/ep-planned" not in refs
    assert len(record.episodes) == 7


def test_practice_organizations_exclude_other_organizations(practice_record: PatientRecord) -> None:
    episodes = by_ref(practice_record.episodes)
    assert "EpisodeOfCare/ep-elsewhere" not in episodes
    assert "EpisodeOfCare/ep-oncology" in episodes
    (elsewhere,) = by_ref(practice_record.visits)["Encounter/elsewhere"]
    assert not elsewhere.oncology
    (ours,) = by_ref(practice_record.visits)["Encounter/amb-cancer"]
    assert ours.oncology
    # Resources that name no organization still count, and the record says which.
    assert practice_record.warnings[-1] == (
        "EpisodeOfCare/ep-untyped, EpisodeOfCare/ep-diagnosis, Encounter/acute-reason-code "
        "and 3 more: no organization named; counted as the practice's"
    )
