"""The quality measures' FHIR R4 reading (cpoc_fhir/value/quality_fhir.py), and the builders
the other quality tests share: small FHIR JSON resources read by the real reader and engine
into a PatientYear."""

from __future__ import annotations

from datetime import date
from typing import Any

from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.fhir.read import PatientResources, read_record
from cpoc_fhir.knowledge.loader import load_knowledge
from cpoc_fhir.packs.cpoc.payer import PayerSchedule
from cpoc_fhir.packs.cpoc.timeline import evaluate
from cpoc_fhir.value.model import POPULATIONS, Contribution, PatientYear
from cpoc_fhir.value.quality import QUALITY_MEASURES, QualityContribution
from cpoc_fhir.value.quality_fhir import read_quality
from cpoc_fhir.value.settings import ValueSettings

Resource = dict[str, Any]
PID = "p1"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
PACLITAXEL, TAMOXIFEN = "56946", "10324"
_PAYER: PayerSchedule | None = None


# --- builders -------------------------------------------------------------------------------
def patient(deceased: str | bool | None = None, pid: str = PID) -> Resource:
    out: Resource = {"resourceType": "Patient", "id": pid}
    if isinstance(deceased, bool):
        out["deceasedBoolean"] = deceased
    elif deceased is not None:
        out["deceasedDateTime"] = deceased
    return out


def condition(
    cid: str, code: str, onset: str | None = "2024-01-10", system: str = ICD10
) -> Resource:
    out: Resource = {
        "resourceType": "Condition",
        "id": cid,
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": {"reference": f"Patient/{PID}"},
    }
    if onset:
        out["onsetDateTime"] = onset
    return out


def cancer(cid: str = "c1", code: str = "C34.90", onset: str | None = "2024-01-10") -> Resource:
    return condition(cid, code, onset)


def visit(
    eid: str, day: str, klass: str = "AMB", reason: str | None = "c1", status: str = "finished"
) -> Resource:
    out: Resource = {
        "resourceType": "Encounter",
        "id": eid,
        "status": status,
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": klass},
        "subject": {"reference": f"Patient/{PID}"},
        "period": {"start": f"{day}T09:00:00Z", "end": f"{day}T09:30:00Z"},
    }
    if reason:
        out["reasonReference"] = [{"reference": f"Condition/{reason}"}]
    return out


def given(mid: str, day: str, rxcui: str = PACLITAXEL, status: str = "completed") -> Resource:
    return {
        "resourceType": "MedicationAdministration",
        "id": mid,
        "status": status,
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": rxcui}]},
        "subject": {"reference": f"Patient/{PID}"},
        "effectiveDateTime": f"{day}T10:00:00Z",
    }


def planned(mid: str, day: str, rxcui: str = PACLITAXEL) -> Resource:
    """An infusion ordered for ``day``, not recorded as given."""
    return {
        "resourceType": "MedicationRequest",
        "id": mid,
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": rxcui}]},
        "subject": {"reference": f"Patient/{PID}"},
        "authoredOn": day,
        "dosageInstruction": [
            {
                "route": {"coding": [{"system": SNOMED, "code": "47625008"}]},
                "timing": {"event": [day]},
            }
        ],
    }


def observation(
    oid: str, code: str, day: str | None, value: int | None = 4, **more: Any
) -> Resource:
    out: Resource = {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": f"Patient/{PID}"},
        **more,
    }
    if day:
        out["effectiveDateTime"] = f"{day}T09:15:00Z"
    if value is not None:
        out["valueInteger"] = value
    return out


def ecog(oid: str, day: str, value: int = 1) -> Resource:
    return observation(oid, "89247-1", day, value)


def stage(oid: str, day: str, text: str = "IIIA") -> Resource:
    out = observation(oid, "21908-9", day, None)
    out["valueCodeableConcept"] = {"text": text}
    return out


def pain(oid: str, day: str | None, value: int | None = 3, **more: Any) -> Resource:
    return observation(oid, "72514-3", day, value, **more)


def phq(
    oid: str, day: str | None, value: int | None = 2, code: str = "44261-6", **more: Any
) -> Resource:
    return observation(oid, code, day, value, **more)


def hospice_episode(eid: str, start: str | None, end: str | None = None) -> Resource:
    period = {k: v for k, v in (("start", start), ("end", end)) if v}
    out: Resource = {
        "resourceType": "EpisodeOfCare",
        "id": eid,
        "status": "active" if end is None else "finished",
        "type": [{"coding": [{"system": SNOMED, "code": "385763009"}]}],
        "patient": {"reference": f"Patient/{PID}"},
    }
    if period:
        out["period"] = period
    return out


def hospice_visit(eid: str, day: str) -> Resource:
    out = visit(eid, day, klass="HH", reason=None)
    out["type"] = [{"coding": [{"system": SNOMED, "code": "305336008"}]}]
    return out


def patient_year(
    resources: list[Resource], year: int = 2025, as_of: str | None = None
) -> PatientYear:
    """The real reader and engine over ``resources`` (shipped knowledge, default rules)."""
    global _PAYER
    from cpoc_fhir.config import load_payer

    _PAYER = _PAYER or load_payer(None)
    knowledge = load_knowledge()
    grouped = PatientResources(f"Patient/{PID}", resources)
    record = read_record(grouped, knowledge)
    day = date.fromisoformat(as_of) if as_of else date(year, 12, 31)
    timeline = evaluate(record, knowledge, RuleSettings(), _PAYER, day)
    return PatientYear(PID, grouped, record, timeline, year, day)


def measure(mid: str) -> Any:
    return next(m for m in QUALITY_MEASURES if m.id == mid)


def run(
    mid: str, resources: list[Resource], year: int = 2025, as_of: str | None = None
) -> QualityContribution:
    found = measure(mid).evaluate(patient_year(resources, year, as_of), ValueSettings())
    assert isinstance(found, QualityContribution)
    return found


def counts(c: Contribution) -> tuple[int, int, int, int]:
    """(initial population, denominator, exclusions, numerator)."""
    ip, den, excl, num = (len(c.cases.get(p, [])) for p in POPULATIONS)
    return ip, den, excl, num


# --- the reader -------------------------------------------------------------------------------
def test_pain_and_phq_observations_are_read_with_their_day_encounter_and_result() -> None:
    resources = PatientResources(
        f"Patient/{PID}",
        [
            patient(),
            pain("o1", "2025-03-04", encounter={"reference": "Encounter/v1"}),
            pain(
                "o2",
                "2025-03-05",
                None,
                dataAbsentReason={
                    "coding": [
                        {
                            "code": "asked-declined",
                            "system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                        }
                    ]
                },
            ),
            phq(
                "o3", "2025-04-01", None, code="44249-1", hasMember=[{"reference": "Observation/x"}]
            ),
            phq("o4", "2025-04-02", status="entered-in-error"),
            observation("o5", "8867-4", "2025-04-02", 80),  # heart rate: neither
        ],
    )
    reading = read_quality(resources)
    assert [(s.ref, s.on, s.encounter, s.result, s.declined) for s in reading.pain] == [
        ("Observation/o1", date(2025, 3, 4), "Encounter/v1", True, False),
        ("Observation/o2", date(2025, 3, 5), None, False, True),
    ]
    # a PHQ-9 panel whose items are members has a result; entered-in-error is skipped
    assert [(s.ref, s.result) for s in reading.depression] == [("Observation/o3", True)]
    assert reading.warnings == []


def test_an_undated_screen_and_a_wrongly_typed_element_are_warnings_not_crashes() -> None:
    bad = pain("o2", "2025-03-05")
    bad["effectiveDateTime"] = 20250305  # a number, not a FHIR dateTime
    reading = read_quality(PatientResources(f"Patient/{PID}", [patient(), pain("o1", None), bad]))
    assert reading.pain == []
    texts = [text for _, text in reading.warnings]
    assert texts == [
        "Observation/o1: pain score without an effective date; not counted",
        "Observation/o2: effectiveDateTime is not a FHIR dateTime; not counted",
    ]


def test_hospice_from_episode_encounter_type_and_discharge_disposition() -> None:
    discharged = visit("v9", "2025-05-10", klass="IMP", reason=None)
    discharged["hospitalization"] = {
        "dischargeDisposition": {
            "coding": [
                {"system": "https://www.nubc.org/CodeSystem/PatDischargeStatus", "code": "51"}
            ]
        }
    }
    worded = hospice_episode("e2", "2025-06-01")
    worded["type"] = [{"text": "Hospice programme"}]
    resources = PatientResources(
        f"Patient/{PID}",
        [
            patient(),
            hospice_episode("e1", "2025-02-01", "2025-03-01"),
            worded,
            hospice_visit("v1", "2025-04-01"),
            discharged,
            visit("v2", "2025-04-02"),  # an office visit: not hospice
        ],
    )
    found = {(h.ref, h.start, h.end) for h in read_quality(resources).hospice}
    assert found == {
        ("EpisodeOfCare/e1", date(2025, 2, 1), date(2025, 3, 1)),
        ("EpisodeOfCare/e2", date(2025, 6, 1), None),
        ("Encounter/v1", date(2025, 4, 1), None),
        ("Encounter/v9", date(2025, 5, 10), None),  # discharged that day
    }


def test_face_to_face_classes_value_set_is_the_readers() -> None:
    from cpoc_fhir.fhir.read.encounters import FACE_TO_FACE_CLASSES
    from cpoc_fhir.value.valuesets import value_set

    vs = value_set("face-to-face-class")
    assert {code for _, code in vs.exact} == FACE_TO_FACE_CLASSES


def test_codings_of_the_wrong_shape_are_passed_over_or_named() -> None:
    odd = pain("o1", "2025-03-04")
    odd["code"]["coding"].insert(0, {"system": {"not": "a uri"}, "code": ["x"]})
    odd["code"]["coding"].insert(0, "72514-3")
    reading = read_quality(PatientResources(f"Patient/{PID}", [patient(), odd]))
    # the raw look-up passes the odd codings over; the checked read then names the first
    assert reading.pain == []
    assert [text for _, text in reading.warnings] == [
        "Observation/o1: code.coding[0] is not a FHIR Coding; not counted"
    ]
