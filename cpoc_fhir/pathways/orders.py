"""An on-pathway regimen as draft FHIR R4 MedicationRequests, for a card's suggestion.

One MedicationRequest per dose line of the regimen (``Regimen.dosing`` in the catalog):
medication (RxNorm ingredient), route (SNOMED CT), dose (UCUM quantity, or the dose in words
when it is not a quantity, e.g. carboplatin AUC 5), timing (cycle length, infusion duration),
the full instruction as text, the cancer as reason, the pathway as ``instantiatesCanonical``,
and one ``groupIdentifier`` for the regimen's orders. The EHR shows them as orders to sign;
doses per m² are for the EHR's dose calculation (height and weight are not ours to read).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from cpoc_fhir.knowledge.regimens import Dose, Regimen, RegimenCatalog
from cpoc_fhir.pathways.model import Pathway

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
GROUP_SYSTEM = "https://cpoc-fhir.example.org/NamingSystem/pathway-regimen-order"
# SNOMED CT route of administration (FHIR R4 value set route-codes).
ROUTES = {
    "intravenous": ("47625008", "Intravenous route"),
    "oral": ("26643006", "Oral route"),
    "subcutaneous": ("34206005", "Subcutaneous route"),
    "intramuscular": ("78421000", "Intramuscular route"),
}

Resource = dict[str, Any]


def regimen_orders(
    regimen: Regimen,
    catalog: RegimenCatalog,
    pathway: Pathway,
    patient_id: str,
    authored_on: date,
    reason_ref: str | None = None,
    encounter_id: str | None = None,
) -> list[Resource]:
    """The draft MedicationRequests that order ``regimen`` (one cycle's worth)."""
    if not regimen.dosing:
        raise ValueError(f"regimen {regimen.id!r} has no dosing in the catalog")
    group = {"system": GROUP_SYSTEM, "value": str(uuid.uuid4())}
    orders = []
    for dose in regimen.dosing:
        drug = catalog.drug(dose.drug)
        if drug is None:
            raise ValueError(f"regimen {regimen.id!r}: unknown drug {dose.drug!r}")
        request: Resource = {
            "resourceType": "MedicationRequest",
            "id": str(uuid.uuid4()),
            "status": "draft",
            "intent": "order",
            "groupIdentifier": group,
            "instantiatesCanonical": [f"{pathway.url}|{pathway.version}"],
            "medicationCodeableConcept": {
                "coding": [{"system": RXNORM, "code": drug.rxcui, "display": drug.name}],
                "text": drug.name,
            },
            "subject": {"reference": f"Patient/{patient_id}"},
            "authoredOn": authored_on.isoformat(),
            "note": [
                {
                    "text": f"{regimen.name}, on pathway: {pathway.title} "
                    f"({pathway.id} {pathway.version})."
                }
            ],
            "dosageInstruction": [_dosage(dose)],
        }
        if encounter_id:
            request["encounter"] = {"reference": f"Encounter/{encounter_id}"}
        if reason_ref:
            request["reasonReference"] = [{"reference": reason_ref}]
        orders.append(request)
    return orders


def _dosage(dose: Dose) -> Resource:
    code, display = ROUTES[dose.route]
    dosage: Resource = {
        "text": dose.text,
        "timing": {"repeat": _repeat(dose)},
        "route": {"coding": [{"system": SNOMED, "code": code, "display": display}]},
    }
    if dose.amount is not None and dose.unit:
        dosage["doseAndRate"] = [
            {
                "doseQuantity": {
                    "value": float(dose.amount),
                    "unit": dose.unit,
                    "system": UCUM,
                    "code": dose.unit,
                }
            }
        ]
    elif dose.dose_text:  # not a quantity (carboplatin "AUC 5"): the EHR computes it
        dosage["additionalInstruction"] = [{"text": f"Dose: {dose.dose_text}"}]
    return dosage


def _repeat(dose: Dose) -> Resource:
    if dose.cycle_days is None:  # continuous daily dosing
        repeat: Resource = {"frequency": dose.times_per_day, "period": 1, "periodUnit": "d"}
    elif dose.route == "oral" and len(dose.days) > 1:
        # Daily on the cycle's days on (capecitabine days 1-14 of 21): one cycle's course.
        repeat = {
            "frequency": dose.times_per_day,
            "period": 1,
            "periodUnit": "d",
            "boundsDuration": {"value": len(dose.days), "unit": "d", "system": UCUM, "code": "d"},
        }
    else:
        # Given on len(days) days of every cycle_days-day cycle (day 1 of 14; days 1, 8, 15 of 28).
        repeat = {"frequency": len(dose.days) or 1, "period": dose.cycle_days, "periodUnit": "d"}
    if dose.minutes:
        repeat["duration"] = dose.minutes
        repeat["durationUnit"] = "min"
    return repeat
