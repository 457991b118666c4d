"""The bundled synthetic patients: valid FHIR R4, each a person with a name, birth date, sex and
an MRN (US Core style), clearly synthetic, and exactly what scripts/make_examples.py writes."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.patient import Patient

from cds_hooks.review.pages import patient_name
from cpoc_fhir.cli import bundled_examples

REPO = Path(__file__).resolve().parents[1]
MR = ("http://terminology.hl7.org/CodeSystem/v2-0203", "MR")
PRACTICE_MRN = "http://example.org/fhir/sid/example-oncology-practice-mrn"
# id → (name shown, MRN, gender, birth date); the birth dates and sexes are those the
# Appendix A/B goldens were computed with (unchanged), the names and MRNs new.
EXPECTED = {
    "appendix-a-folfox": ("Alma Synthetic", "SYN-100001", "female", "1961-05-14"),
    "appendix-b-nsclc": ("Bruno Synthetic", "SYN-100002", "male", "1953-09-02"),
    "oral-capecitabine-trial": ("Carla Synthetic", "SYN-100003", "female", "1958-01-22"),
    "declined-treatment": ("Dario Synthetic", "SYN-100004", "male", "1941-11-30"),
}


def bundles() -> dict[str, dict[str, Any]]:
    return {
        path.stem: json.loads(path.read_text("utf-8"))
        for path in sorted(bundled_examples().glob("*.json"))
    }


def patient_of(bundle: dict[str, Any]) -> dict[str, Any]:
    [patient] = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    ]
    return patient


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_example_patient_is_a_synthetic_person_with_an_mrn(name: str) -> None:
    bundle = bundles()[name]
    Bundle.model_validate(bundle)  # the whole Bundle is valid R4
    patient = patient_of(bundle)
    Patient.model_validate(patient)
    shown, mrn, gender, birth = EXPECTED[name]
    assert patient_name(patient) == shown
    assert (patient["gender"], patient["birthDate"]) == (gender, birth)
    [identifier] = patient["identifier"]
    coding = identifier["type"]["coding"][0]
    assert (coding["system"], coding["code"]) == MR
    assert (identifier["system"], identifier["value"]) == (PRACTICE_MRN, mrn)
    # Clearly synthetic: the family name and the HL7 "test health data" security label.
    assert patient["name"][0]["family"] == "Synthetic"
    assert {
        "system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
        "code": "HTEST",
        "display": "test health data",
    } in patient["meta"]["security"]


def test_the_shipped_examples_are_what_the_generator_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = importlib.util.spec_from_file_location(
        "make_examples", REPO / "scripts" / "make_examples.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "OUT", tmp_path)
    for build in (module.appendix_a, module.appendix_b, module.oral_trial, module.no_treatment):
        build()
    written = {p.name: p.read_text("utf-8") for p in tmp_path.glob("*.json")}
    shipped = {p.name: p.read_text("utf-8") for p in bundled_examples().glob("*.json")}
    assert written == shipped
