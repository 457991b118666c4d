"""FHIR R4 JSON builders for the episode-model tests (OCM, EOM, PBP, model-episodes,
eom-services, cpc-coordination): a Patient and a cancer Condition, an infused drug's
MedicationAdministration, an oral drug's MedicationDispense, a Coverage, an oncology
EpisodeOfCare (how a FHIR server's capture search finds the patient), a Bundle file."""

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


def person(pid: str, birth_date: str | None = "1948-05-01", **extra: Any) -> Resource:
    """A Patient (born ``birth_date``; None: no birthDate) with ``extra`` elements."""
    out: Resource = {"resourceType": "Patient", "id": pid, **extra}
    if birth_date is not None:
        out["birthDate"] = birth_date
    return out


def condition(pid: str, rid: str, icd10: str, onset: str) -> Resource:
    """An active Condition ``icd10`` (dotted) from ``onset``."""
    return {
        "resourceType": "Condition",
        "id": rid,
        "subject": {"reference": f"Patient/{pid}"},
        "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active"}]},
        "code": {"coding": [{"system": ICD10, "code": icd10}]},
        "onsetDateTime": onset,
    }


def patient(pid: str, icd10: str, onset: str, deceased: str | None = None) -> list[Resource]:
    """A Patient with one active Condition ``icd10`` (dotted) from ``onset`` (id ``pid-dx``)."""
    extra = {"deceasedDateTime": deceased} if deceased else {}
    return [person(pid, **extra), condition(pid, f"{pid}-dx", icd10, onset)]


def colon_patient(
    pid: str,
    cancer: str | None,
    oxaliplatin: str | None,
    birth_date: str | None = "1950-01-01",
    **extra: Any,
) -> list[Resource]:
    """A Patient with colon cancer (C18.0, Condition ``pid-crc``) from ``cancer`` and
    oxaliplatin given on ``oxaliplatin`` (MedicationAdministration ``pid-ox``); None: no such
    resource."""
    out = [person(pid, birth_date, **extra)]
    if cancer is not None:
        out.append(condition(pid, f"{pid}-crc", "C18.0", cancer))
    if oxaliplatin is not None:
        out.append(administration(pid, f"{pid}-ox", OXALIPLATIN, oxaliplatin))
    return out


def episode_of_care(pid: str, start: str, condition_id: str | None = None) -> Resource:
    """An active oncology EpisodeOfCare from ``start`` for the Condition (default ``pid-dx``)."""
    return {
        "resourceType": "EpisodeOfCare",
        "id": f"{pid}-eoc",
        "status": "active",
        "patient": {"reference": f"Patient/{pid}"},
        "diagnosis": [{"condition": {"reference": f"Condition/{condition_id or pid + '-dx'}"}}],
        "period": {"start": start},
    }


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


def coverage(
    pid: str, rid: str, payer: str, start: str | None, end: str | None, order: int | None = 1
) -> Resource:
    """An active Coverage of ``payer`` (None ``order``: no Coverage.order)."""
    period = {k: v for k, v in (("start", start), ("end", end)) if v}
    out: Resource = {
        "resourceType": "Coverage",
        "id": rid,
        "status": "active",
        "beneficiary": {"reference": f"Patient/{pid}"},
        "payor": [{"reference": payer}],
        "order": order,
        "period": period,
    }
    if order is None:
        del out["order"]
    return out


def write_bundle(path: Path, resources: list[Resource]) -> Path:
    entries = [{"resource": r} for r in resources]
    path.write_text(
        json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}),
        encoding="utf-8",
    )
    return path
