"""Input integrity (cpoc-rules §11): a Patient for every line, and an element of the wrong
FHIR type makes its resource unreadable (a warning naming resource and element), in every
reader, never an exception."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_read_support import FAKE_KNOWLEDGE

from cpoc_fhir.cli import bundled_examples
from cpoc_fhir.engine.facts import PatientRecord
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.fhir.read import open_source, patient_resources, read_record
from cpoc_fhir.fhir.read.pathway_facts import read_pathway_facts
from cpoc_fhir.knowledge import Knowledge
from cpoc_fhir.packs.cpoc.payer import PayerSchedule
from cpoc_fhir.service import Evaluator

RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
SCT = "http://snomed.info/sct"
SUBJECT = {"reference": "Patient/p"}
PACLITAXEL = {"coding": [{"system": RX, "code": "56946"}]}  # test_read_support's fake catalog
CAPECITABINE = {"coding": [{"system": RX, "code": "194000"}]}

# One readable resource per reader, and the PatientRecord field its fact lands in.
TEMPLATES: dict[str, tuple[dict[str, Any], str]] = {
    "Condition": ({
        "resourceType": "Condition", "subject": SUBJECT,
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C18.7"}]},
        "clinicalStatus": {"coding": [{"code": "active"}]}, "onsetDateTime": "2024-01-10",
    }, "diagnoses"),
    "Observation": ({
        "resourceType": "Observation", "status": "final", "subject": SUBJECT,
        "code": {"coding": [{"system": "http://loinc.org", "code": "89247-1"}]},
        "effectiveDateTime": "2024-01-12", "valueInteger": 1,
    }, "performance"),
    "MedicationAdministration": ({
        "resourceType": "MedicationAdministration", "status": "completed", "subject": SUBJECT,
        "medicationCodeableConcept": PACLITAXEL, "effectiveDateTime": "2024-02-01",
    }, "exposures"),
    "MedicationDispense": ({
        "resourceType": "MedicationDispense", "status": "completed", "subject": SUBJECT,
        "medicationCodeableConcept": CAPECITABINE, "whenHandedOver": "2024-02-01",
        "daysSupply": {"value": 14, "unit": "d"},
    }, "exposures"),
    "MedicationStatement": ({
        "resourceType": "MedicationStatement", "status": "active", "subject": SUBJECT,
        "medicationCodeableConcept": CAPECITABINE,
        "effectivePeriod": {"start": "2024-03-01", "end": "2024-03-14"},
    }, "exposures"),
    "MedicationRequest": ({
        "resourceType": "MedicationRequest", "status": "active", "intent": "order",
        "subject": SUBJECT, "medicationCodeableConcept": PACLITAXEL, "authoredOn": "2024-04-01",
        "dosageInstruction": [{"timing": {"event": ["2024-04-02"]},
                               "route": {"coding": [{"system": SCT, "code": "47625008"}]}}],
    }, "exposures"),
    "Encounter": ({
        "resourceType": "Encounter", "status": "finished", "subject": SUBJECT,
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "period": {"start": "2024-01-15"},
    }, "visits"),
    "EpisodeOfCare": ({
        "resourceType": "EpisodeOfCare", "status": "active", "patient": SUBJECT,
        "period": {"start": "2024-01-01"},
    }, "episodes"),
    "ResearchSubject": ({
        "resourceType": "ResearchSubject", "status": "on-study", "individual": SUBJECT,
        "study": {"reference": "ResearchStudy/s"}, "period": {"start": "2024-02-01"},
    }, "trials"),
    "Procedure": ({
        "resourceType": "Procedure", "status": "completed", "subject": SUBJECT,
        "code": {"coding": [{"system": SCT, "code": "234336002"}]},
        "performedDateTime": "2024-05-01",
    }, "transplants"),
}  # fmt: skip

# (resource type, element, wrong value, the problem named in the warning)
WRONG_TYPES: list[tuple[str, str, object, str]] = [
    ("Condition", "onsetDateTime", "01/10/2024", "onsetDateTime is not a FHIR dateTime"),
    ("Condition", "recordedDate", 20240110, "recordedDate is not a FHIR dateTime"),
    ("Condition", "code", {"coding": ["C18.7"]}, "code.coding[0] is not a FHIR Coding"),
    ("Condition", "clinicalStatus", "active", "clinicalStatus is not a FHIR CodeableConcept"),
    ("Observation", "status", ["final"], "status is not a FHIR code"),
    ("Observation", "status", {"code": "final"}, "status is not a FHIR code"),
    ("Observation", "status", 1, "status is not a FHIR code"),
    ("Observation", "effectiveDateTime", "not a date", "effectiveDateTime is not a FHIR dateTime"),
    ("Observation", "issued", "2024-01-12T9:00", "issued is not a FHIR instant"),
    ("Observation", "code", {"coding": "89247-1"}, "code.coding is not a FHIR array of Coding"),
    ("Observation", "valueInteger", "2", "valueInteger is not a FHIR integer"),
    ("MedicationAdministration", "status", ["completed"], "status is not a FHIR code"),
    ("MedicationAdministration", "effectiveDateTime", "2024-02-31",
     "effectiveDateTime is not a FHIR dateTime"),
    ("MedicationAdministration", "medicationCodeableConcept", {"coding": [56946]},
     "medicationCodeableConcept.coding[0] is not a FHIR Coding"),
    ("MedicationAdministration", "request", "MedicationRequest/x",
     "request is not a FHIR Reference"),
    ("MedicationDispense", "status", {"code": "completed"}, "status is not a FHIR code"),
    ("MedicationDispense", "whenHandedOver", 20240201, "whenHandedOver is not a FHIR dateTime"),
    ("MedicationDispense", "daysSupply", {"value": "14"}, "daysSupply.value is not a FHIR decimal"),
    ("MedicationStatement", "status", 7, "status is not a FHIR code"),
    ("MedicationStatement", "effectivePeriod", "2024-03", "effectivePeriod is not a FHIR Period"),
    ("MedicationStatement", "effectivePeriod", {"start": "March"},
     "effectivePeriod.start is not a FHIR dateTime"),
    ("MedicationRequest", "status", ["active"], "status is not a FHIR code"),
    ("MedicationRequest", "intent", {"code": "order"}, "intent is not a FHIR code"),
    ("MedicationRequest", "authoredOn", "April", "authoredOn is not a FHIR dateTime"),
    ("MedicationRequest", "dosageInstruction", [{"timing": {"event": ["soon"]}}],
     "dosageInstruction[0].timing.event[0] is not a FHIR dateTime"),
    ("MedicationRequest", "dosageInstruction", ["iv"], "dosageInstruction[0] is not a FHIR Dosage"),
    ("Encounter", "status", ["finished"], "status is not a FHIR code"),
    ("Encounter", "period", {"start": "2024-13-01"}, "period.start is not a FHIR dateTime"),
    ("Encounter", "class", [{"code": "AMB"}], "class is not a FHIR Coding"),
    ("EpisodeOfCare", "status", {"code": "active"}, "status is not a FHIR code"),
    ("EpisodeOfCare", "period", "2024", "period is not a FHIR Period"),
    ("ResearchSubject", "status", 3, "status is not a FHIR code"),
    ("ResearchSubject", "period", {"end": "later"}, "period.end is not a FHIR dateTime"),
    ("Procedure", "status", ["completed"], "status is not a FHIR code"),
    ("Procedure", "performedDateTime", "May 2024", "performedDateTime is not a FHIR dateTime"),
    ("Procedure", "code", {"coding": [None]}, "code.coding[0] is not a FHIR Coding"),
]  # fmt: skip


def _resource(kind: str, rid: str, **changes: object) -> dict[str, Any]:
    resource = copy.deepcopy(TEMPLATES[kind][0])
    resource["id"] = rid
    resource.update(changes)
    return resource


def _read(*resources: dict[str, Any]) -> PatientRecord:
    given = [{"resourceType": "Patient", "id": "p"}, *resources]
    return read_record(patient_resources(given, "p"), FAKE_KNOWLEDGE)


def _refs(record: PatientRecord) -> set[str]:
    fields = ("diagnoses", "performance", "exposures", "visits", "episodes", "trials")
    return {fact.ref for name in (*fields, "transplants") for fact in getattr(record, name)}


# Elements read only when the one before them is absent (the first date present is used).
READ_AFTER = {"issued": "effectiveDateTime", "recordedDate": "onsetDateTime"}


@pytest.mark.parametrize(("kind", "element", "value", "problem"), WRONG_TYPES)
def test_an_element_of_the_wrong_type_leaves_its_resource_out(
    kind: str, element: str, value: object, problem: str
) -> None:
    bad = _resource(kind, "bad", **{element: value})
    bad.pop(READ_AFTER.get(element, ""), None)
    record = _read(_resource(kind, "good"), bad)
    assert f"{kind}/bad: {problem}; left out" in record.warnings
    assert f"{kind}/good" in {f.ref for f in getattr(record, TEMPLATES[kind][1])}
    assert f"{kind}/bad" not in _refs(record)
    assert not [w for w in record.warnings if w.startswith(f"{kind}/good")]


def test_every_reader_is_covered() -> None:
    assert {kind for kind, *_ in WRONG_TYPES} == set(TEMPLATES)


def test_an_unreadable_related_resource_is_named_with_its_path() -> None:
    """The order of an administration is read with it: its problem names the order."""
    order = _resource("MedicationRequest", "order", authoredOn="someday")
    given = _resource(
        "MedicationAdministration", "given", request={"reference": "MedicationRequest/order"}
    )
    record = _read(order, given)
    problem = "authoredOn is not a FHIR dateTime; left out"
    assert record.warnings == (
        f"MedicationAdministration/given: MedicationRequest/order.{problem}",
        f"MedicationRequest/order: {problem}",  # read on its own, without the administration
    )
    assert record.exposures == ()


def test_an_unreadable_patient_bills_nothing() -> None:
    patient = {"resourceType": "Patient", "id": "p", "deceasedDateTime": "last spring"}
    resources = patient_resources([patient, _resource("Condition", "c")], "p")
    record = read_record(resources, FAKE_KNOWLEDGE)
    assert record == PatientRecord(
        "Patient/p",
        warnings=(
            "Patient/p: deceasedDateTime is not a FHIR dateTime; left out",
            "Patient/p: the Patient cannot be read; its resources bill nothing",
        ),
    )


def test_a_patient_reference_of_the_wrong_type_is_left_out() -> None:
    condition = _resource("Condition", "c", subject="Patient/p")  # a string, not a Reference
    resources = patient_resources([{"resourceType": "Patient", "id": "p"}, condition], "p")
    assert [r["resourceType"] for r in resources.resources] == ["Patient"]
    assert resources.warnings == [
        "resources[2]: Condition/c: subject is not a FHIR Reference; left out"
    ]


def test_bundle_entries_of_the_wrong_type_are_skipped(tmp_path: Path) -> None:
    bundle = {
        "resourceType": "Bundle", "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "p"}},
            "Condition/c",
            {"fullUrl": 5, "resource": _resource("Condition", "c1")},
            {"resource": [_resource("Condition", "c2")]},
            {"resource": {"id": "c3"}},
            {"resource": _resource("Condition", "c4", id=4)},
            {"resource": _resource("Condition", "c5")},
        ],
    }  # fmt: skip
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle))
    source = open_source(path)
    (patient,) = source.patients()
    assert sorted(r["id"] for r in patient.resources) == ["c5", "p"]
    assert source.warnings == [
        "b.json: Bundle.entry[1] is not a FHIR Bundle entry; entry skipped",
        "b.json: Bundle.entry[2].fullUrl is not a FHIR string; entry skipped",
        "b.json: Bundle.entry[3].resource is not a FHIR Resource; entry skipped",
        "b.json: Bundle.entry[4].resource is not a FHIR Resource; entry skipped",
        "b.json: Bundle.entry[5].resource.id is not a FHIR string; entry skipped",
    ]


def test_pathway_facts_leave_out_unreadable_results() -> None:
    her2 = {
        "resourceType": "Observation", "id": "her2", "status": "final", "subject": SUBJECT,
        "code": {"coding": [{"system": "http://loinc.org", "code": "48676-1"}]},
        "effectiveDateTime": "2024-01-02",
        "valueCodeableConcept": {"coding": [{"system": "http://loinc.org", "code": "LA6576-8"}]},
    }  # fmt: skip
    later = {**her2, "id": "later", "effectiveDateTime": "2024-03-04", "status": ["final"]}
    patient = {"resourceType": "Patient", "id": "p"}
    facts = read_pathway_facts(patient_resources([patient, her2, later], "p"), date(2024, 6, 1))
    # The later result has a status that is no code: left out, the earlier one stands.
    assert facts.markers["HER2"].ref == "Observation/her2"


# --- a Patient for every line -----------------------------------------------------------------
PHANTOM = "Patient/does-not-exist"
# tests/data/golden/appendix-a-folfox/expected.json: New Patient, 6 FOLFOX months, monitoring
# months 7-13 with the Transition (c) of month 7.
GOLDEN_A = ["xx100", *["xx204"] * 6, "xx303", "xx401", "xx303", "xx303", *["xx302"] * 3, "xx301"]


def _appendix_a() -> dict[str, Any]:
    return json.loads((bundled_examples() / "appendix-a-folfox.json").read_text())


def _with_phantom(bundle: dict[str, Any]) -> dict[str, Any]:
    """Appendix A plus its first 8 administrations copied onto a patient that does not exist."""
    given = [e["resource"] for e in bundle["entry"]
             if e["resource"]["resourceType"] == "MedicationAdministration"][:8]  # fmt: skip
    for number, resource in enumerate(copy.deepcopy(given)):
        resource["id"] = f"phantom-{number}"
        resource["subject"] = {"reference": PHANTOM}
        bundle["entry"].append({"resource": resource})
    return bundle


def _write(layout: str, bundle: dict[str, Any], folder: Path) -> Path:
    resources = [e["resource"] for e in bundle["entry"]]
    if layout == "bundle":
        (folder / "record.json").write_text(json.dumps(bundle))
        return folder / "record.json"
    if layout == "folder":
        for number, resource in enumerate(resources):
            (folder / f"{number}.json").write_text(json.dumps(resource))
        return folder
    by_type: dict[str, list[str]] = {}
    for resource in resources:
        by_type.setdefault(resource["resourceType"], []).append(json.dumps(resource))
    for kind, lines in by_type.items():
        (folder / f"{kind}.ndjson").write_text("\n".join(lines) + "\n")
    return folder


@pytest.mark.parametrize("layout", ["bundle", "folder", "ndjson"])
def test_a_patient_who_does_not_exist_bills_nothing(
    layout: str, tmp_path: Path, knowledge: Knowledge, payer: PayerSchedule
) -> None:
    evaluator = Evaluator(knowledge, RuleSettings(), payer)
    source = open_source(_write(layout, _with_phantom(_appendix_a()), tmp_path))
    timelines = {t.patient_ref: t for t in evaluator.timelines(source, date(2026, 3, 3))}
    assert set(timelines) == {"Patient/appendix-a-folfox", PHANTOM}
    phantom = timelines[PHANTOM]
    assert phantom.lines == ()  # before: a final xx203 line for the reference string
    assert phantom.warnings == (
        f"{PHANTOM}: no Patient resource in the input; its 8 resource(s) bill nothing",
    )
    # The real patient of the same file bills the 15 lines of the golden test.
    assert [line.code for line in timelines["Patient/appendix-a-folfox"].lines] == GOLDEN_A


def test_a_hook_record_without_its_patient_bills_nothing(
    knowledge: Knowledge, payer: PayerSchedule
) -> None:
    """The CDS Hooks path: in-memory resources; the Patient comes from prefetch or a read."""
    evaluator = Evaluator(knowledge, RuleSettings(), payer)
    resources = [e["resource"] for e in _appendix_a()["entry"]]
    without = [r for r in resources if r["resourceType"] != "Patient"]
    timeline = evaluator.timeline(patient_resources(without, "appendix-a-folfox"), date(2026, 3, 3))
    assert timeline.lines == ()
    assert timeline.warnings[-1].startswith("Patient/appendix-a-folfox: no Patient resource")
    full = evaluator.timeline(patient_resources(resources, "appendix-a-folfox"), date(2026, 3, 3))
    assert [line.code for line in full.lines] == GOLDEN_A


# --- no exception, whatever the JSON -------------------------------------------------------------
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False)
    | st.sampled_from(["", "final", "2024-01-01", "2024-13-45", "Patient/p", "AMB", "x"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["coding", "code", "system", "display", "text", "reference", "start",
                         "end", "value", "unit", "timing", "event", "repeat", "route"]),
        inner, max_size=4,
    ),
    max_leaves=8,
)  # fmt: skip
# Elements the readers read, beyond those of the templates.
ELEMENTS = sorted({
    "effectivePeriod", "effectiveInstant", "issued", "reasonCode", "reasonReference", "dosage",
    "contained", "medicationReference", "verificationStatus", "abatementDateTime",
    "abatementPeriod", "onsetPeriod", "onsetString", "meta", "hospitalization", "serviceType",
    "diagnosis", "episodeOfCare", "managingOrganization", "type", "authorizingPrescription",
    "basedOn", "dateAsserted", "context", "requester", "encounter", "statusReason",
    "dispenseRequest", "interpretation", "valueQuantity", "valueString", "valueCodeableConcept",
    "performedPeriod", "whenPrepared", "serviceProvider", "subject", "patient", "individual",
    "id", "deceasedDateTime", "deceasedBoolean",
    *(key for template, _ in TEMPLATES.values() for key in template if key != "resourceType"),
})  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(sorted(TEMPLATES)),
    changes=st.dictionaries(st.sampled_from(ELEMENTS), JSON, min_size=1, max_size=3),
    in_patient=st.booleans(),
)
def test_no_json_value_makes_a_reader_raise(
    kind: str, changes: dict[str, object], in_patient: bool
) -> None:
    resource = _resource(kind, "r", **changes)
    patient: dict[str, Any] = {"resourceType": "Patient", "id": "p"}
    if in_patient:  # the Patient's own elements take the values too
        patient.update({k: v for k, v in changes.items() if k not in ("id", "resourceType")})
    status = _resource("Observation", "s", code={"coding": [
        {"system": "http://loinc.org", "code": "97509-4"}]}, valueCodeableConcept=changes.get(
        "valueCodeableConcept"), valueString=changes.get("valueString"))  # fmt: skip
    record = read_record(patient_resources([patient, resource, status], "p"), FAKE_KNOWLEDGE)
    assert record.patient_ref == "Patient/p"
    # Only values or warnings: every warning names what it is about first.
    assert all(": " in warning for warning in record.warnings)
