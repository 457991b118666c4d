"""Writes the bundled example patients (FHIR R4 collection Bundles) to cpoc_fhir/examples/.

The examples follow the proposal's Appendix A (adjuvant FOLFOX, stage III colon cancer) and
Appendix B (stage IV NSCLC: cisplatin + gemcitabine, then docetaxel, then palliative care),
plus two cases the appendices do not cover: oral capecitabine on a clinical trial with a pause,
and a patient who decides against treatment. Each patient has a name, a birth date, a sex and
an MRN, all synthetic (family name "Synthetic", MRNs SYN-1000nn, security label HTEST), so EHR
banners and review pages show a person. Run: python scripts/make_examples.py
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "cpoc_fhir" / "examples"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition/"
US_CORE_PATIENT = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"  # identifier types: MR
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"  # HTEST: test data
# The fictional practice's MRN system (the same as the Organization the episodes name).
MRN_SYSTEM = "http://example.org/fhir/sid/example-oncology-practice-mrn"

DRUGS = {  # id → (RxNorm ingredient, display, route SNOMED code, route display)
    "oxaliplatin": ("32592", "oxaliplatin", "47625008", "Intravenous route"),
    "leucovorin": ("6313", "leucovorin", "47625008", "Intravenous route"),
    "fluorouracil": ("4492", "fluorouracil", "47625008", "Intravenous route"),
    "ondansetron": ("26225", "ondansetron", "47625008", "Intravenous route"),
    "cisplatin": ("2555", "cisplatin", "47625008", "Intravenous route"),
    "gemcitabine": ("12574", "gemcitabine", "47625008", "Intravenous route"),
    "docetaxel": ("72962", "docetaxel", "47625008", "Intravenous route"),
    "capecitabine": ("194000", "capecitabine", "26643006", "Oral route"),
}


class Builder:
    def __init__(self, patient_id: str) -> None:
        self.pid = patient_id
        self.entries: list[dict[str, Any]] = []
        self.counter = 0

    def add(self, resource: dict[str, Any]) -> str:
        self.counter += 1
        resource.setdefault("id", f"{self.pid}-{resource['resourceType'].lower()}-{self.counter}")
        self.entries.append(
            {
                "fullUrl": f"http://example.org/fhir/{resource['resourceType']}/{resource['id']}",
                "resource": resource,
            }
        )
        return f"{resource['resourceType']}/{resource['id']}"

    @property
    def subject(self) -> dict[str, str]:
        return {"reference": f"Patient/{self.pid}"}

    def patient(
        self, given: str, mrn: str, gender: str, birth: str, deceased: str | None = None
    ) -> None:
        """A synthetic patient as an EHR holds one (US Core Patient: identifier, name,
        gender, birthDate): the family name "Synthetic", an MRN of the fictional practice,
        and the security label HTEST (test health data) so no system mistakes it for a
        real person."""
        resource: dict[str, Any] = {
            "resourceType": "Patient",
            "id": self.pid,
            "meta": {
                "profile": [US_CORE_PATIENT],
                "security": [
                    {"system": ACT_REASON, "code": "HTEST", "display": "test health data"}
                ],
            },
            "identifier": [
                {
                    "use": "usual",
                    "type": {
                        "coding": [
                            {"system": V2_0203, "code": "MR", "display": "Medical record number"}
                        ],
                        "text": "MRN",
                    },
                    "system": MRN_SYSTEM,
                    "value": mrn,
                }
            ],
            "name": [
                {
                    "use": "official",
                    "text": f"{given} Synthetic",
                    "family": "Synthetic",
                    "given": [given],
                }
            ],
            "gender": gender,
            "birthDate": birth,
        }
        if deceased:
            resource["deceasedDateTime"] = deceased
        self.add(resource)

    def condition(
        self, icd: str, display: str, onset: str, profile: str | None = None, cid: str = ""
    ) -> str:
        resource: dict[str, Any] = {
            "resourceType": "Condition",
            "clinicalStatus": _cc(
                "http://terminology.hl7.org/CodeSystem/condition-clinical", "active"
            ),
            "verificationStatus": _cc(
                "http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed"
            ),
            "category": [
                _cc("http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item")
            ],
            "code": {
                "coding": [{"system": ICD10, "code": icd, "display": display}],
                "text": display,
            },
            "subject": self.subject,
            "onsetDateTime": onset,
        }
        if cid:
            resource["id"] = f"{self.pid}-{cid}"
        if profile:
            resource["meta"] = {"profile": [MCODE + profile]}
        return self.add(resource)

    def observation(
        self, loinc: str, display: str, on: str, value: dict[str, Any], profile: str | None = None
    ) -> str:
        resource: dict[str, Any] = {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": loinc, "display": display}]},
            "subject": self.subject,
            "effectiveDateTime": on,
            **value,
        }
        if profile:
            resource["meta"] = {"profile": [MCODE + profile]}
        return self.add(resource)

    def ecog(self, on: str, score: int) -> str:
        return self.observation(
            "89247-1",
            "ECOG Performance Status score",
            on,
            {"valueInteger": score},
            "mcode-ecog-performance-status",
        )

    def disease_status(self, on: str, code: str, display: str, focus: str) -> str:
        resource_value = {
            "valueCodeableConcept": {
                "coding": [{"system": SNOMED, "code": code, "display": display}]
            },
            "focus": [{"reference": focus}],
        }
        return self.observation(
            "97509-4", "Cancer disease status", on, resource_value, "mcode-cancer-disease-status"
        )

    def stage_group(self, on: str, stage: str, focus: str) -> str:
        value = {
            "valueCodeableConcept": {"text": f"Stage {stage}"},
            "focus": [{"reference": focus}],
        }
        return self.observation("21908-9", "Stage group.clinical Cancer", on, value)

    def visit(self, on: str, reason: str | None = None, text: str = "Office visit") -> str:
        resource: dict[str, Any] = {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "code": "AMB",
                "display": "ambulatory",
            },
            "type": [{"text": text}],
            "serviceType": {
                "coding": [{"system": SNOMED, "code": "394593009", "display": "Medical oncology"}]
            },
            "subject": self.subject,
            "period": {"start": f"{on}T09:00:00-05:00", "end": f"{on}T09:40:00-05:00"},
        }
        if reason:
            resource["reasonReference"] = [{"reference": reason}]
        return self.add(resource)

    def episode(self, start: str, diagnosis: str, end: str | None = None) -> str:
        period = {"start": start, **({"end": end} if end else {})}
        return self.add(
            {
                "resourceType": "EpisodeOfCare",
                "status": "finished" if end else "active",
                "type": [{"text": "Medical oncology care"}],
                "diagnosis": [{"condition": {"reference": diagnosis}}],
                "patient": self.subject,
                "managingOrganization": {"reference": "Organization/example-oncology-practice"},
                "period": period,
            }
        )

    def infusion(self, drug: str, on: str, reason: str) -> str:
        rxcui, display, route, route_display = DRUGS[drug]
        request = self.add(
            {
                "resourceType": "MedicationRequest",
                "status": "completed",
                "intent": "order",
                "medicationCodeableConcept": {
                    "coding": [{"system": RXNORM, "code": rxcui, "display": display}]
                },
                "subject": self.subject,
                "authoredOn": on,
                "reasonReference": [{"reference": reason}],
                "dosageInstruction": [
                    {
                        "route": {
                            "coding": [{"system": SNOMED, "code": route, "display": route_display}]
                        },
                        "timing": {"event": [on]},
                    }
                ],
            }
        )
        return self.add(
            {
                "resourceType": "MedicationAdministration",
                "status": "completed",
                "medicationCodeableConcept": {
                    "coding": [{"system": RXNORM, "code": rxcui, "display": display}]
                },
                "subject": self.subject,
                "effectiveDateTime": f"{on}T10:00:00-05:00",
                "request": {"reference": request},
                "dosage": {
                    "route": {
                        "coding": [{"system": SNOMED, "code": route, "display": route_display}]
                    }
                },
            }
        )

    def oral_order(self, drug: str, on: str, days: int, repeats: int, reason: str) -> str:
        rxcui, display, route, route_display = DRUGS[drug]
        return self.add(
            {
                "resourceType": "MedicationRequest",
                "status": "active",
                "intent": "order",
                "medicationCodeableConcept": {
                    "coding": [{"system": RXNORM, "code": rxcui, "display": display}]
                },
                "subject": self.subject,
                "authoredOn": on,
                "reasonReference": [{"reference": reason}],
                "dosageInstruction": [
                    {
                        "route": {
                            "coding": [{"system": SNOMED, "code": route, "display": route_display}]
                        }
                    }
                ],
                "dispenseRequest": {
                    "validityPeriod": {"start": on},
                    "numberOfRepeatsAllowed": repeats,
                    "expectedSupplyDuration": {
                        "value": days,
                        "unit": "days",
                        "system": "http://unitsofmeasure.org",
                        "code": "d",
                    },
                },
            }
        )

    def research(self, start: str, end: str | None = None) -> str:
        study = self.add(
            {
                "resourceType": "ResearchStudy",
                "status": "active",
                "title": "Example adjuvant colorectal study (fictional)",
            }
        )
        return self.add(
            {
                "resourceType": "ResearchSubject",
                "status": "on-study-intervention",
                "period": {"start": start, **({"end": end} if end else {})},
                "study": {"reference": study},
                "individual": self.subject,
            }
        )

    def write(self, name: str) -> None:
        bundle = {
            "resourceType": "Bundle",
            "id": self.pid,
            "type": "collection",
            "entry": self.entries,
        }
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / f"{name}.json").write_text(json.dumps(bundle, indent=1) + "\n", encoding="utf-8")


def _cc(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def _day(start: str, plus: int) -> str:
    return (date.fromisoformat(start) + timedelta(days=plus)).isoformat()


def appendix_a() -> None:
    """Appendix A: 12 two-day FOLFOX cycles on days 1-2 and 15-16 of months 1-6, then
    surveillance: a Transition in month 7 (completed with NED), monitoring after."""
    b = Builder("appendix-a-folfox")
    b.patient("Alma", "SYN-100001", "female", "1961-05-14")
    colon = b.condition(
        "C18.7",
        "Malignant neoplasm of sigmoid colon",
        "2025-02-10",
        "mcode-primary-cancer-condition",
        "colon",
    )
    b.condition("E11.9", "Type 2 diabetes mellitus without complications", "2015-06-01")
    b.condition("I10", "Essential (primary) hypertension", "2012-03-01")
    b.stage_group("2025-02-14", "IIIB", colon)
    b.visit("2025-02-18", colon, "New patient visit")
    b.ecog("2025-02-18", 1)
    b.episode("2025-02-18", colon)
    b.visit("2025-02-25", colon, "Follow-up: treatment plan")
    for month in range(6):  # cycles on the 3rd/4th and 17th/18th, March to August
        for day1 in (f"2025-{3 + month:02d}-03", f"2025-{3 + month:02d}-17"):
            for day in (day1, _day(day1, 1)):
                for drug in ("leucovorin", "oxaliplatin", "fluorouracil", "ondansetron"):
                    b.infusion(drug, day, colon)
        b.ecog(f"2025-{3 + month:02d}-03", 1)
    b.disease_status("2025-09-08", "260415000", "Not detected (qualifier value)", colon)
    b.visit("2025-09-10", colon, "Discuss results of treatment and surveillance")
    b.visit("2025-11-05", colon, "Surveillance visit, CEA review")
    b.disease_status("2025-11-05", "260415000", "Not detected (qualifier value)", colon)
    b.visit("2026-02-10", colon, "Surveillance visit, CEA review")
    b.write("appendix-a-folfox")


def appendix_b() -> None:
    """Appendix B: stage IV NSCLC; cisplatin + gemcitabine (2 cycles, no response), docetaxel
    (5 cycles), progression, palliative care; the patient dies in month 8."""
    b = Builder("appendix-b-nsclc")
    b.patient("Bruno", "SYN-100002", "male", "1953-09-02", deceased="2025-11-20T06:30:00-05:00")
    lung = b.condition(
        "C34.11",
        "Malignant neoplasm of upper lobe, right bronchus or lung",
        "2025-03-20",
        "mcode-primary-cancer-condition",
        "lung",
    )
    b.condition(
        "C79.51",
        "Secondary malignant neoplasm of bone",
        "2025-03-22",
        "mcode-secondary-cancer-condition",
        "bone-mets",
    )
    b.condition("J44.9", "Chronic obstructive pulmonary disease, unspecified", "2018-01-10")
    b.condition("I50.9", "Heart failure, unspecified", "2021-07-01")
    b.condition("N18.3", "Chronic kidney disease, stage 3", "2022-02-01")
    b.stage_group("2025-03-25", "IV", lung)
    b.visit("2025-03-28", lung, "New patient visit")
    b.ecog("2025-03-28", 1)
    b.episode("2025-03-28", lung)
    for day1 in ("2025-04-01", "2025-05-01"):  # 28-day cycles: cisplatin d1, gemcitabine d1, 8, 15
        for drug in ("cisplatin", "gemcitabine", "ondansetron"):
            b.infusion(drug, day1, lung)
        b.infusion("gemcitabine", _day(day1, 7), lung)
        b.infusion("gemcitabine", _day(day1, 14), lung)
    b.disease_status("2025-06-06", "271299001", "Patient's condition worsened (finding)", lung)
    b.visit("2025-06-08", lung, "Discuss lack of response; start second line")
    for on in ("2025-06-08", "2025-07-01", "2025-07-21", "2025-08-14", "2025-09-08"):
        b.infusion("docetaxel", on, lung)
    b.ecog("2025-07-01", 2)
    b.disease_status("2025-07-19", "359746009", "Patient's condition stable (finding)", lung)
    b.disease_status("2025-09-19", "271299001", "Patient's condition worsened (finding)", lung)
    b.visit("2025-09-21", lung, "Discuss lack of response; palliative care")
    b.visit("2025-10-15", lung, "Palliative care visit")
    b.write("appendix-b-nsclc")


def oral_trial() -> None:
    """Oral capecitabine (14 days on, 7 off) on a clinical trial, with a one-month pause."""
    b = Builder("oral-capecitabine-trial")
    b.patient("Carla", "SYN-100003", "female", "1958-01-22")
    rectum = b.condition(
        "C20",
        "Malignant neoplasm of rectum",
        "2025-04-02",
        "mcode-primary-cancer-condition",
        "rectum",
    )
    b.visit("2025-04-10", rectum, "New patient visit")
    b.ecog("2025-04-10", 0)
    b.episode("2025-04-10", rectum)
    b.research("2025-04-20")
    b.oral_order("capecitabine", "2025-04-21", 14, 2, rectum)  # 42 days: 04-21 .. 06-01
    # a month off, then 6 weeks more
    b.oral_order("capecitabine", "2025-07-25", 14, 2, rectum)  # 07-25 .. 09-04
    b.visit("2025-09-25", rectum, "End of treatment visit")
    b.disease_status("2025-09-25", "260415000", "Not detected (qualifier value)", rectum)
    b.write("oral-capecitabine-trial")


def no_treatment() -> None:
    """Metastatic pancreatic cancer; the patient decides against anti-cancer treatment (III-A)
    and is followed by the practice (III-C (c))."""
    b = Builder("declined-treatment")
    b.patient("Dario", "SYN-100004", "male", "1941-11-30")
    pancreas = b.condition(
        "C25.0",
        "Malignant neoplasm of head of pancreas",
        "2025-06-02",
        "mcode-primary-cancer-condition",
        "pancreas",
    )
    b.condition(
        "C78.7",
        "Secondary malignant neoplasm of liver",
        "2025-06-02",
        "mcode-secondary-cancer-condition",
        "liver-mets",
    )
    b.visit("2025-06-12", pancreas, "New patient visit: decides against treatment")
    b.episode("2025-06-12", pancreas)
    b.visit("2025-08-20", pancreas, "Follow-up")
    b.write("declined-treatment")


if __name__ == "__main__":
    appendix_a()
    appendix_b()
    oral_trial()
    no_treatment()
    print(f"wrote {len(list(OUT.glob('*.json')))} example bundles to {OUT}")
