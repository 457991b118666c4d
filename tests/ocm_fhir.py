"""FHIR R4 JSON builders for the OCM and model-episodes tests: a patient's cancer Condition,
an infused drug's MedicationAdministration, an oral drug's MedicationDispense, a Coverage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

Resource = dict[str, Any]
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
OXALIPLATIN = "32592"
TAMOXIFEN = "10324"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"


def patient(pid: str, icd10: str, onset: str, deceased: str | None = None) -> list[Resource]:
    """A Patient with one active Condition ``icd10`` (dotted) from ``onset``."""
    person: Resource = {"resourceType": "Patient", "id": pid, "birthDate": "1948-05-01"}
    if deceased:
        person["deceasedDateTime"] = deceased
    return [
        person,
        {
            "resourceType": "Condition",
            "id": f"{pid}-dx",
            "subject": {"reference": f"Patient/{pid}"},
            "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active"}]},
            "code": {"coding": [{"system": ICD10, "code": icd10}]},
            "onsetDateTime": onset,
        },
    ]


def administration(pid: str, rid: str, rxcui: str, on: str) -> Resource:
    return {
        "resourceType": "MedicationAdministration",
        "id": rid,
        "status": "completed",
        "subject": {"reference": f"Patient/{pid}"},
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": rxcui}]},
        "effectiveDateTime": on,
    }


def dispense(pid: str, rid: str, rxcui: str, handed: str, days: int) -> Resource:
    return {
        "resourceType": "MedicationDispense",
        "id": rid,
        "status": "completed",
        "subject": {"reference": f"Patient/{pid}"},
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": rxcui}]},
        "whenHandedOver": handed,
        "daysSupply": {
            "value": days,
            "unit": "days",
            "system": "http://unitsofmeasure.org",
            "code": "d",
        },
    }


def coverage(pid: str, rid: str, payer: str, start: str | None, end: str | None) -> Resource:
    period = {k: v for k, v in (("start", start), ("end", end)) if v}
    return {
        "resourceType": "Coverage",
        "id": rid,
        "status": "active",
        "beneficiary": {"reference": f"Patient/{pid}"},
        "payor": [{"reference": payer}],
        "order": 1,
        "period": period,
    }


def write_bundle(path: Path, resources: list[Resource]) -> Path:
    entries = [{"resource": r} for r in resources]
    path.write_text(
        json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}),
        encoding="utf-8",
    )
    return path
