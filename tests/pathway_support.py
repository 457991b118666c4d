"""Synthetic patients for the care-pathway tests: FHIR R4 resources, built by hand.

Drug codes come from the regimen catalog (the RxNorm ingredient the EHR would send); every
expected pathway answer in the tests is derived from the pathway files' criteria by hand.
"""

from __future__ import annotations

from typing import Any

from cds_support import RXNORM, medication_order

from cpoc_fhir.knowledge.loader import load_knowledge

Resource = dict[str, Any]
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
TODAY = "2025-11-10"


def drug_code(drug_id: str) -> tuple[str, str]:
    drug = load_knowledge().regimens.drug(drug_id)
    assert drug is not None, drug_id
    return drug.rxcui, drug.name


def _answer(code: str, display: str) -> Resource:
    """A LOINC answer (LA…) as a CodeableConcept."""
    return {"coding": [{"system": LOINC, "code": code, "display": display}]}


class Patient:
    """One synthetic patient; methods add resources and return self."""

    def __init__(self, pid: str) -> None:
        self.pid = pid
        self.resources: list[Resource] = [
            {"resourceType": "Patient", "id": pid, "gender": "female", "birthDate": "1960-01-01"}
        ]
        self._n = 0

    def _id(self, kind: str) -> str:
        self._n += 1
        return f"{self.pid}-{kind}-{self._n}"

    def _add(self, resource: Resource) -> Patient:
        resource.setdefault("id", self._id(resource["resourceType"].lower()))
        self.resources.append(resource)
        return self

    def condition(
        self, code: str, display: str, onset: str = "2025-01-15", system: str = ICD10, **extra: Any
    ) -> Patient:
        return self._add(
            {
                "resourceType": "Condition",
                "clinicalStatus": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                            "code": "active",
                        }
                    ]
                },
                "code": {
                    "coding": [{"system": system, "code": code, "display": display}],
                    "text": display,
                },
                "subject": {"reference": f"Patient/{self.pid}"},
                "onsetDateTime": onset,
                **extra,
            }
        )

    def observation(self, loinc: str, display: str, on: str, **value: Any) -> Patient:
        """A final Observation coded in LOINC, with its value[x] (and components) as given."""
        return self._add(
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": LOINC, "code": loinc, "display": display}]},
                "subject": {"reference": f"Patient/{self.pid}"},
                "effectiveDateTime": on,
                **value,
            }
        )

    def stage(self, stage: str, on: str = "2025-01-20") -> Patient:
        return self.observation(
            "21908-9",
            "Stage group.clinical Cancer",
            on,
            valueCodeableConcept={"text": f"Stage {stage}"},
        )

    def ecog(self, score: int = 1, on: str = "2025-11-03") -> Patient:
        return self.observation("89247-1", "ECOG Performance Status score", on, valueInteger=score)

    def gene(self, hgnc: str, gene: str, present: bool, on: str = "2025-01-25") -> Patient:
        """mCODE genomic variant (LOINC 69548-6) with Gene studied (48018-6)."""
        value = ("LA9633-4", "Present") if present else ("LA9634-2", "Absent")
        studied = {"system": "http://www.genenames.org", "code": hgnc, "display": gene}
        return self.observation(
            "69548-6",
            "Genetic variant assessment",
            on,
            valueCodeableConcept=_answer(*value),
            component=[
                {
                    "code": {"coding": [{"system": LOINC, "code": "48018-6"}]},
                    "valueCodeableConcept": {"coding": [studied]},
                }
            ],
        )

    def egfr(self, present: bool) -> Patient:
        return self.gene("HGNC:3236", "EGFR", present)

    def alk(self, present: bool) -> Patient:
        return self.gene("HGNC:427", "ALK", present)

    def pdl1(self, tps: float, on: str = "2025-01-26") -> Patient:
        percent = {"value": tps, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"}
        return self.observation(
            "85147-7",
            "PD-L1 by clone 22C3 in Tissue by Immune stain Report",
            on,
            valueQuantity=percent,
        )

    def marker(self, loinc: str, display: str, positive: bool, on: str = "2025-01-22") -> Patient:
        value = ("LA6576-8", "Positive") if positive else ("LA6577-6", "Negative")
        return self.observation(loinc, display, on, valueCodeableConcept=_answer(*value))

    def er(self, positive: bool) -> Patient:
        return self.marker(
            "85337-4",
            "Estrogen receptor Ag [Presence] in Breast cancer specimen by Immune stain",
            positive,
        )

    def pr(self, positive: bool) -> Patient:
        return self.marker(
            "85339-0",
            "Progesterone receptor Ag [Presence] in Breast cancer specimen by Immune stain",
            positive,
        )

    def her2(self, positive: bool) -> Patient:
        return self.marker("48676-1", "HER2 [Interpretation] in Tissue", positive)

    def given(self, drug_id: str, on: str, route: str = "intravenous") -> Patient:
        """A past order and its administration (a prior line of therapy)."""
        rxcui, name = drug_code(drug_id)
        request_id = self._id("medicationrequest")
        order = medication_order(request_id, self.pid, rxcui, name, on, route)
        order["status"] = "completed"
        self._add(order)
        if route == "oral":
            return self
        return self._add(
            {
                "resourceType": "MedicationAdministration",
                "status": "completed",
                "medicationCodeableConcept": {
                    "coding": [{"system": RXNORM, "code": rxcui, "display": name}]
                },
                "subject": {"reference": f"Patient/{self.pid}"},
                "effectiveDateTime": f"{on}T10:00:00-05:00",
                "request": {"reference": f"MedicationRequest/{request_id}"},
            }
        )

    def drafts(self, *drug_ids: str, on: str = TODAY) -> list[Resource]:
        """Draft orders for the drugs (oral ones by the catalog's route)."""
        catalog = load_knowledge().regimens
        out = []
        for i, drug_id in enumerate(drug_ids, start=1):
            rxcui, name = drug_code(drug_id)
            drug = catalog.drug(drug_id)
            route = "oral" if drug is not None and drug.route.value == "oral" else "intravenous"
            out.append(medication_order(f"draft-{drug_id}-{i}", self.pid, rxcui, name, on, route))
        return out


# ---- patients of each pathway branch ----------------------------------------------------


def colon(pid: str, stage: str = "IIIB") -> Patient:
    return (
        Patient(pid).condition("C18.7", "Malignant neoplasm of sigmoid colon").stage(stage).ecog()
    )


def metastatic_colon(pid: str) -> Patient:
    return (
        Patient(pid)
        .condition("C18.2", "Malignant neoplasm of ascending colon")
        .condition("C78.7", "Secondary malignant neoplasm of liver", onset="2025-02-01")
        .stage("IV", on="2025-02-01")
        .ecog()
    )


def nsclc(pid: str, histology: str = "Adenocarcinoma of right upper lobe of lung") -> Patient:
    return (
        Patient(pid)
        .condition("C34.11", histology)
        .condition("C79.51", "Secondary malignant neoplasm of bone", onset="2025-01-18")
        .stage("IVB", on="2025-01-20")
        .ecog()
    )


def early_breast(pid: str) -> Patient:
    return (
        Patient(pid)
        .condition("C50.411", "Malignant neoplasm of upper-outer quadrant of right female breast")
        .stage("IIA")
        .ecog()
    )


def metastatic_breast(pid: str) -> Patient:
    return (
        Patient(pid)
        .condition("C50.911", "Malignant neoplasm of right female breast")
        .condition("C78.7", "Secondary malignant neoplasm of liver", onset="2025-03-01")
        .ecog()
    )


def prostate(pid: str, status: str | None) -> Patient:
    patient = (
        Patient(pid)
        .condition("C61", "Malignant neoplasm of prostate")
        .condition("C79.51", "Secondary malignant neoplasm of bone", onset="2025-01-18")
        .ecog()
    )
    if status == "sensitive":
        patient.condition("Z19.1", "Hormone sensitive malignancy status", onset="2025-01-20")
    elif status == "resistant":
        patient.condition("Z19.2", "Hormone resistant malignancy status", onset="2025-06-20")
    return patient


def dlbcl(pid: str) -> Patient:
    return (
        Patient(pid)
        .condition("C83.38", "Diffuse large B-cell lymphoma, lymph nodes of multiple sites")
        .ecog()
    )
