"""The MedicationRequest reader's fast paths (issue 16 item 4) answer what the code before did.

``_route_in`` remembers its answer per text; ``read_order`` reads the dosages once for the
route and the planned dates; ``_stop`` skips the stop-reason tests when there is no
statusReason. The route reference below is the former ``_route_in``, restated; the orders
are read through the real reader, and this file also passes against the code before these
changes (checked with PYTHONPATH on the previous commit).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpoc_fhir.engine.facts import ExposureKind, PatientRecord, Route, StopReason
from cpoc_fhir.fhir.read import ReaderSettings, patient_resources, read_record
from cpoc_fhir.fhir.read.medications import _ORAL_WORDS, _PARENTERAL_WORDS, _route_in
from cpoc_fhir.knowledge import Knowledge

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
_WORDS = [
    "oral", "Orally", "TABLET", "capsules", "po", "by mouth", "buccal", "Injection", "IV",
    "infusion", "subcut", "SQ", "im", "intrathecal", "intra-arterial", "ivpb", "mg", "100",
    "paclitaxel", "-", "/", "(", ")",
]  # fmt: skip


def _former_route_in(words: str) -> Route | None:
    words = words.lower()
    oral, parenteral = bool(_ORAL_WORDS.search(words)), bool(_PARENTERAL_WORDS.search(words))
    if oral == parenteral:
        return None
    return Route.ORAL if oral else Route.PARENTERAL


_text = st.one_of(
    st.lists(st.sampled_from(_WORDS), max_size=5).map(" ".join),
    st.lists(st.sampled_from(_WORDS), max_size=4).map("".join),  # words run together
    st.text(max_size=12),
)


@settings(max_examples=400, deadline=None)
@given(_text)
def test_route_in_remembers_the_former_answer(words: str) -> None:
    expected = _former_route_in(words)
    assert _route_in(words) is expected
    assert _route_in(words) is expected  # the remembered answer


def _order(oid: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": oid,
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {
            "coding": [{"system": RXNORM, "code": "56946", "display": "paclitaxel"}],
            "text": "PACLitaxel 100 MG Injection",
        },
        "subject": {"reference": "Patient/p"},
        "authoredOn": "2025-03-01",
        **extra,
    }


def _read(knowledge: Knowledge, *orders: dict[str, Any]) -> PatientRecord:
    patient = {"resourceType": "Patient", "id": "p"}
    resources = patient_resources([patient, *orders], "Patient/p")
    return read_record(resources, knowledge, ReaderSettings())


@pytest.fixture(scope="module")
def record(knowledge: Knowledge) -> PatientRecord:
    events = {"timing": {"event": ["2025-03-04", "2025-03-11"]}, "route": {"text": "IV"}}
    bounds = {"timing": {"repeat": {"boundsPeriod": {"start": "2025-04-02"}}}}
    return _read(
        knowledge,
        _order("events", dosageInstruction=[events]),
        _order("bounds", dosageInstruction=[bounds, events]),  # events win over bounds
        _order("no-dosage"),
        _order("bad-dosage", dosageInstruction="every week"),
        _order("bad-timing", dosageInstruction=[{"timing": {"event": "soon"}}]),
        _order("stopped-no-reason", status="stopped"),
        _order(
            "stopped-progression",
            status="stopped",
            statusReason={"text": "Disease progression"},
        ),
        _order("stopped-bad-reason", status="stopped", statusReason="progression"),
        _order("oral-words", medicationCodeableConcept={"text": "capecitabine 500 MG Oral Tablet"}),
    )


def _days(record: PatientRecord, oid: str) -> list[tuple[date, ExposureKind, Route]]:
    ref = f"MedicationRequest/{oid}"
    return sorted((e.start, e.kind, e.route) for e in record.exposures if e.ref == ref)


def test_planned_days_come_from_the_dosages_read_once(record: PatientRecord) -> None:
    planned, iv = ExposureKind.PLANNED, Route.PARENTERAL
    two = [(date(2025, 3, 4), planned, iv), (date(2025, 3, 11), planned, iv)]
    assert _days(record, "events") == two
    assert _days(record, "bounds") == two
    assert _days(record, "no-dosage") == [(date(2025, 3, 1), planned, iv)]  # authoredOn


def test_malformed_dosages_still_leave_the_order_out(record: PatientRecord) -> None:
    assert _days(record, "bad-dosage") == [] and _days(record, "bad-timing") == []
    assert (
        "MedicationRequest/bad-dosage: dosageInstruction is not a FHIR array of Dosage; left out"
        in record.warnings
    )
    assert (
        "MedicationRequest/bad-timing: dosageInstruction[0].timing.event[0] is not a FHIR "
        "dateTime; left out" in record.warnings
    )


def test_stops_need_a_stated_reason(record: PatientRecord) -> None:
    stops = {s.ref: s.reason for s in record.order_stops}
    assert stops == {"MedicationRequest/stopped-progression": StopReason.PROGRESSION}
    assert _days(record, "stopped-bad-reason") == []
    assert (
        "MedicationRequest/stopped-bad-reason: statusReason is not a FHIR CodeableConcept; "
        "left out" in record.warnings
    )


def test_oral_wording_gives_an_oral_supply(record: PatientRecord) -> None:
    routes = {route for _, _, route in _days(record, "oral-words")}
    assert routes == {Route.ORAL}
