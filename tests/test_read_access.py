"""The checked access to parsed FHIR JSON (fhir/read/access.py): values back, or one
UnreadableElement naming the element and the FHIR type it should have had."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from cpoc_fhir.fhir.read import access
from cpoc_fhir.fhir.read.access import UnreadableElement


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024", date(2024, 1, 1)),  # year precision: the first day
        ("2024-05", date(2024, 5, 1)),
        ("2024-05-06", date(2024, 5, 6)),
        ("2024-05-06T23:30:00Z", date(2024, 5, 6)),  # the date as written: no zone shift
        ("2024-05-06T23:30:00.123-05:00", date(2024, 5, 6)),
        ("2024-05-06T23:30:00+14:00", date(2024, 5, 6)),
        ("2024-05-06T08:00:00", date(2024, 5, 6)),  # zone missing: tolerated (only the date used)
        ("2024-02-30", None),  # no such day
        ("2024-13", None),
        ("2024-5-6", None),
        ("20240506", None),
        ("2024-05-06 08:00", None),  # a space, not "T"
        ("2024-05-06T25:00:00Z", None),
        ("2024-05-06T08:00Z", None),  # seconds are required in FHIR R4
        ("0000", None),
        ("yesterday", None),
        ("", None),
        (20240506, None),
        (["2024-05-06"], None),
        ({"start": "2024-05-06"}, None),
        (None, None),
    ],
)
def test_parse_date(value: object, expected: date | None) -> None:
    assert access.parse_date(value) == expected


def test_a_date_that_is_no_date_is_unreadable() -> None:
    with pytest.raises(UnreadableElement) as caught:
        access.date({"effectiveDateTime": "last week"}, "effectiveDateTime")
    assert str(caught.value) == "effectiveDateTime is not a FHIR dateTime"
    assert (caught.value.element_path, caught.value.expected) == ("effectiveDateTime", "dateTime")
    assert access.date({}, "effectiveDateTime") is None  # absent is not wrong


CASES: list[tuple[Any, dict[str, Any], str, str]] = [
    # (helper, node, element, the problem it reports)
    (access.code, {"status": ["final"]}, "status", "status is not a FHIR code"),
    (access.code, {"status": {"code": "final"}}, "status", "status is not a FHIR code"),
    (access.code, {"status": 3}, "status", "status is not a FHIR code"),
    (access.code, {"status": ""}, "status", "status is not a FHIR code"),
    (access.code, {"status": " final"}, "status", "status is not a FHIR code"),
    (access.string, {"text": 5}, "text", "text is not a FHIR string"),
    (access.boolean, {"deceasedBoolean": "true"}, "deceasedBoolean",
     "deceasedBoolean is not a FHIR boolean"),
    (access.integer, {"valueInteger": "2"}, "valueInteger", "valueInteger is not a FHIR integer"),
    (access.integer, {"valueInteger": True}, "valueInteger", "valueInteger is not a FHIR integer"),
    (access.integer, {"valueInteger": 2.5}, "valueInteger", "valueInteger is not a FHIR integer"),
    (access.period, {"period": "2024"}, "period", "period is not a FHIR Period"),
    (access.period, {"period": {"start": "soon"}}, "period", "period.start is not a FHIR dateTime"),
    (access.concept, {"code": ["x"]}, "code", "code is not a FHIR CodeableConcept"),
    (access.concept, {"code": {"coding": "x"}}, "code",
     "code.coding is not a FHIR array of Coding"),
    (access.concept, {"code": {"coding": ["x"]}}, "code", "code.coding[0] is not a FHIR Coding"),
    (access.concept, {"code": {"coding": [{"code": 7}]}}, "code",
     "code.coding[0].code is not a FHIR code"),
    (access.concept, {"code": {"coding": [{"system": ["s"]}]}}, "code",
     "code.coding[0].system is not a FHIR uri"),
    (access.concept, {"code": {"text": {"t": 1}}}, "code", "code.text is not a FHIR string"),
    (access.concepts, {"type": [{"text": "a"}, 4]}, "type",
     "type[1] is not a FHIR CodeableConcept"),
    (access.concepts, {"type": "a"}, "type", "type is not a FHIR array of CodeableConcept"),
    (access.coding, {"class": ["AMB"]}, "class", "class is not a FHIR Coding"),
    (access.reference, {"request": "MedicationRequest/1"}, "request",
     "request is not a FHIR Reference"),
    (access.reference, {"request": {"reference": 1}}, "request",
     "request.reference is not a FHIR string"),
    (access.references, {"basedOn": [{"reference": "A/1"}, []]}, "basedOn",
     "basedOn[1] is not a FHIR Reference"),
    (access.quantity, {"valueQuantity": {"value": "12"}}, "valueQuantity",
     "valueQuantity.value is not a FHIR decimal"),
    (access.objects, {"dosage": ["x"]}, "dosage", "dosage[0] is not a FHIR element"),
    (access.dates, {"event": ["2024-01-01", "later"]}, "event", "event[1] is not a FHIR dateTime"),
]  # fmt: skip


@pytest.mark.parametrize(("helper", "node", "name", "problem"), CASES)
def test_wrong_types_raise_one_error_naming_the_element(
    helper: Any, node: dict[str, Any], name: str, problem: str
) -> None:
    with pytest.raises(UnreadableElement) as caught:
        helper(node, name)
    assert caught.value.problem == problem
    with pytest.raises(UnreadableElement) as nested:
        helper(node, name, "dosageInstruction[2]")
    assert nested.value.problem == f"dosageInstruction[2].{problem}"


def test_right_types_come_back_as_they_are() -> None:
    concept = {"coding": [{"system": "http://loinc.org", "code": "89247-1"}], "text": "ECOG"}
    assert access.concept({"code": concept}, "code") is concept
    assert access.concepts({"type": concept}, "type") == [concept]  # a lone object: one item
    assert access.period({"period": {"start": "2024-01-02"}}, "period") == (date(2024, 1, 2), None)
    assert access.period({}, "period") == (None, None)
    assert access.integer({"valueInteger": 3.0}, "valueInteger") == 3
    assert access.code({"status": "entered-in-error"}, "status") == "entered-in-error"
    assert access.references({}, "basedOn") == []
    assert access.dates({"event": "2024-03-04"}, "event") == [date(2024, 3, 4)]
    assert access.profiles({"meta": {"profile": ["http://x/p"]}}) == ["http://x/p"]
    with pytest.raises(UnreadableElement, match=r"meta\.profile is not a FHIR array of string"):
        access.profiles({"meta": {"profile": [1]}})
