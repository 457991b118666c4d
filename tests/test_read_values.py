"""Datatype helpers: dates as written, references to "Type/id", durations; the slow path."""

from __future__ import annotations

import copy
from datetime import date

import pytest
from test_read_support import FAKE_KNOWLEDGE, load_patient

from cpoc_fhir.fhir.read import ReaderSettings, patient_resources, read_record
from cpoc_fhir.fhir.read.context import ReadContext
from cpoc_fhir.fhir.read.references import patient_key, reference_key
from cpoc_fhir.fhir.read.validation import problems
from cpoc_fhir.fhir.read.values import codings, duration_days, fhir_date


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2024-03-05", date(2024, 3, 5)),
        ("2024-03-05T23:30:00-08:00", date(2024, 3, 5)),  # no time-zone conversion
        ("2024-03-05T01:00:00+14:00", date(2024, 3, 5)),
        ("2024-03", date(2024, 3, 1)),
        ("2024", date(2024, 1, 1)),
        ("2024-02-30", None),
        ("2024-13", None),
        ("05/03/2024", None),
        ("", None),
        (20240305, None),
        (None, None),
    ],
)
def test_fhir_date(written: object, expected: date | None) -> None:
    assert fhir_date(written) == expected


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("Patient/1", "Patient/1"),
        ("Patient/1/_history/2", "Patient/1"),
        ("https://ehr.example.org/fhir/R4/Patient/abc-1", "Patient/abc-1"),
        ("https://ehr.example.org/fhir/Patient/abc/_history/7", "Patient/abc"),
        ("urn:uuid:5e4c", None),  # only a Bundle's fullUrls resolve it
        ("#med1", None),  # contained
        ("Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999974592", None),
        ("patient/1", None),
        ("", None),
        (None, None),
    ],
)
def test_reference_key(reference: object, expected: str | None) -> None:
    assert reference_key(reference) == expected


def test_reference_key_uses_bundle_aliases() -> None:
    assert reference_key("urn:uuid:5e4c", {"urn:uuid:5e4c": "Condition/c"}) == "Condition/c"


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ({"resourceType": "Patient", "id": "p"}, "Patient/p"),
        ({"resourceType": "Condition", "subject": {"reference": "Patient/p"}}, "Patient/p"),
        ({"resourceType": "Flag", "patient": {"reference": "Patient/p"}}, "Patient/p"),
        ({"resourceType": "ResearchSubject", "individual": {"reference": "Patient/p"}},
         "Patient/p"),
        ({"resourceType": "Coverage", "beneficiary": {"reference": "Patient/p"}}, "Patient/p"),
        ({"resourceType": "Observation", "subject": {"reference": "Group/g"}}, None),
        ({"resourceType": "Observation", "subject": {"reference": "urn:uuid:m", "type": "Patient"}},
         "Patient/m"),
        ({"resourceType": "Observation", "subject": {"reference": "urn:uuid:m"}}, None),
        ({"resourceType": "Condition", "patient": {"display": "a name"}}, None),
        ({"resourceType": "Medication", "id": "m"}, None),
    ],
)  # fmt: skip
def test_patient_key(resource: dict[str, object], expected: str | None) -> None:
    assert patient_key(resource) == expected


@pytest.mark.parametrize(
    ("quantity", "days"),
    [
        ({"value": 21, "code": "d"}, 21),
        ({"value": 2, "unit": "weeks"}, 14),
        ({"value": 3, "code": "mo"}, 90),
        ({"value": 1, "code": "a"}, 365),
        ({"value": 30}, 30),  # no unit: days
        ({"value": 0, "code": "d"}, None),
        ({"value": 5, "code": "h"}, None),
        ({"value": "7", "code": "d"}, None),
        ({"value": True, "code": "d"}, None),
        ("30 days", None),
    ],
)
def test_duration_days(quantity: object, days: int | None) -> None:
    assert duration_days(quantity) == days


def test_codings_tolerate_malformed_concepts() -> None:
    assert codings({"coding": "oops"}) == []
    assert codings({"coding": [{"code": 5, "system": "s"}, "x"]}) == [("s", None, None)]
    assert codings({"system": "s", "code": "c"}) == [("s", "c", None)]  # a lone Coding
    assert codings({"text": "only text"}) == []


def test_problems_name_the_element_never_the_value() -> None:
    found = problems(
        {
            "resourceType": "Observation",
            "id": "o",
            "status": "final",
            "code": {"coding": "SECRET-VALUE"},
            "effectiveDateTime": "2024-99-99",
        }
    )
    assert found == [
        "code.coding: Input should be a valid list",
        "effectiveDateTime: DateTime value string does not match spec regex.",
    ]
    assert problems({"resourceType": "Observation", "id": "o", "status": "final",
                     "code": {"text": "x"}}) == []  # fmt: skip
    assert problems({"resourceType": "NoSuchType"}) == ["resourceType: unknown type 'NoSuchType'"]


def test_a_reader_failure_becomes_a_precise_warning() -> None:
    bad = {"resourceType": "Observation", "id": "bad", "status": "final", "valueInteger": "two"}
    ctx = ReadContext(patient_resources([bad], "p"), FAKE_KNOWLEDGE, ReaderSettings())
    with ctx.reading(bad):
        raise TypeError("what a reader meets in malformed JSON")
    assert ctx.warnings == [
        "Observation/bad: could not be read: code: Field required; "
        "valueInteger: Input should be a valid integer, unable to parse string as an integer; "
        "ignored"
    ]
    with pytest.raises(ZeroDivisionError), ctx.reading(bad):  # a bug is not swallowed
        raise ZeroDivisionError


def test_validate_setting_checks_every_resource_read() -> None:
    ecog = {
        "resourceType": "Observation",
        "id": "ecog",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "89247-1"}]},
        "subject": {"reference": "Patient/p"},
        "effectiveDateTime": "2024-01-02",
        "valueInteger": 1,
        "performer": {"reference": "Practitioner/x"},  # must be a list
    }
    resources = patient_resources([{"resourceType": "Patient", "id": "p"}, ecog])
    assert read_record(resources, FAKE_KNOWLEDGE).warnings == ()
    record = read_record(resources, FAKE_KNOWLEDGE, ReaderSettings(validate=True))
    assert record.warnings == (
        "Observation/ecog: not valid FHIR R4: performer: Input should be a valid list",
    )
    assert [p.ecog for p in record.performance] == [1]  # still read


@pytest.mark.parametrize(
    "name", ["conditions", "encounters", "medications", "observations", "trials_procedures"]
)
def test_reading_never_changes_the_resources(name: str) -> None:
    patient = load_patient(f"records/{name}.json")
    before = copy.deepcopy(patient.resources)
    settings = ReaderSettings(practice_organizations=frozenset({"practice"}), validate=True)
    first = read_record(patient, FAKE_KNOWLEDGE, settings)
    assert patient.resources == before
    assert read_record(patient, FAKE_KNOWLEDGE, settings) == first
