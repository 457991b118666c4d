"""A suggested regimen as draft FHIR R4 MedicationRequests, for a card's suggestion.

The regimen's doses for the patient's cancer (``Regimen.dosing_for``: docetaxel's prednisone
only in prostate cancer) and the pathway option's dose setting (abiraterone's prednisone once
daily in castration-sensitive disease, LATITUDE), then the supportive orders
(``pathways/supportive.py``) — all drafts in one ``groupIdentifier``, each with medication
(RxNorm ingredient), route (SNOMED CT), dose (UCUM quantity, or the dose in words when it is
not one, e.g. carboplatin AUC 5), timing, the instruction as text, and the pathway(s) as
``instantiatesCanonical``. Doses per m² are for the EHR's dose calculation.

Timing (R4 Timing has no "day d of a c-day cycle"; ``dayOfWeek`` names weekdays, not cycle
days, and one ``repeat`` cannot nest a daily course inside a cycle):

- a dose given once on a cycle day is one MedicationRequest per day offset, each
  ``repeat`` = once every ``cycle_days`` days with ``count`` = the number of cycles when fixed
  (``Dose.cycles``). Days 1, 8, 15 of 28 are three requests, each every 28 days — never four
  consecutive days. The day itself is carried by the HL7 ``timing-daysOfCycle`` extension
  (R4 core extension for exactly this), the text, and the shared group;
- an oral or several-times-a-day run of consecutive days (capecitabine days 1-14) is one
  cycle's course: ``frequency`` per day, ``boundsDuration`` = the run's length, and the cycles
  as ``dispenseRequest.numberOfRepeatsAllowed`` (one course per dispense) when fixed;
- a continuous daily dose (no cycle) repeats daily without bounds.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from cpoc_fhir.knowledge.regimens import Dose, Regimen, RegimenCatalog
from cpoc_fhir.knowledge.supportive import SupportiveCare
from cpoc_fhir.pathways.supportive import (
    SupportiveOrder,
    SupportivePlan,
    day_runs,
    days_words,
    supportive_plan,
)

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
DAYS_OF_CYCLE = "http://hl7.org/fhir/StructureDefinition/timing-daysOfCycle"
GROUP_SYSTEM = "https://cpoc-fhir.example.org/NamingSystem/pathway-regimen-order"
# SNOMED CT route of administration (FHIR R4 value set route-codes).
ROUTES = {
    "intravenous": ("47625008", "Intravenous route"),
    "oral": ("26643006", "Oral route"),
    "subcutaneous": ("34206005", "Subcutaneous route"),
    "intramuscular": ("78421000", "Intramuscular route"),
}
REASONS = {
    "antiemetic": "Prevention of chemotherapy-induced nausea and vomiting (ASCO 2020)",
    "premedication": "Premedication / supplementation required with the regimen (US label)",
    "gcsf": "Primary prophylaxis of febrile neutropenia (ASCO 2015)",
}

Resource = dict[str, Any]


@dataclass(frozen=True)
class OrderFrame:
    """Who and what the draft orders are for."""

    patient_id: str
    authored_on: date
    canonicals: tuple[str, ...]  # the pathway(s) the suggestion comes from, "url|version"
    note: str  # why these orders ("FOLFOX, on pathway: …")
    reason_ref: str | None = None  # the cancer Condition
    encounter_id: str | None = None


@dataclass(frozen=True)
class SuggestedOrders:
    anticancer: tuple[Resource, ...]  # the regimen's own orders (companions included)
    supportive: tuple[Resource, ...]  # antiemetics, premedication, vitamins, G-CSF
    plan: SupportivePlan | None  # what decided the supportive orders

    @property
    def all(self) -> tuple[Resource, ...]:
        return (*self.anticancer, *self.supportive)


def regimen_doses(regimen: Regimen, cancer: str | None, setting: str = "") -> tuple[Dose, ...]:
    """The doses for ``cancer`` and the option's ``setting``; when it names none, a drug dosed
    per setting takes the first setting the catalog lists for it."""
    doses = regimen.dosing_for(cancer)
    chosen: dict[str, str] = {}
    for dose in doses:
        if dose.setting is not None:
            chosen.setdefault(dose.drug, setting if setting else dose.setting)
    return tuple(d for d in doses if d.setting is None or chosen.get(d.drug) == d.setting)


def regimen_orders(
    regimen: Regimen,
    catalog: RegimenCatalog,
    frame: OrderFrame,
    cancer: str | None = None,
    setting: str = "",
    care: SupportiveCare | None = None,
) -> SuggestedOrders:
    """The draft MedicationRequests that order ``regimen``, supportive ones included when
    ``care`` is given."""
    doses = regimen_doses(regimen, cancer, setting)
    if not doses:
        raise ValueError(f"regimen {regimen.id!r} has no dosing in the catalog")
    group = {"system": GROUP_SYSTEM, "value": str(uuid.uuid4())}
    anticancer: list[Resource] = []
    for dose in doses:
        drug = catalog.drug(dose.drug)
        if drug is None:
            raise ValueError(f"regimen {regimen.id!r}: unknown drug {dose.drug!r}")
        concept = _medication(drug.rxcui, drug.name)
        anticancer += _requests(concept, dose, dose.text, frame, group, None)
    plan = supportive_plan(regimen, doses, catalog, care) if care is not None else None
    supportive: list[Resource] = []
    for order in plan.orders if plan else ():
        supportive += _supportive(order, frame, group)
    return SuggestedOrders(tuple(anticancer), tuple(supportive), plan)


def _supportive(order: SupportiveOrder, frame: OrderFrame, group: Resource) -> list[Resource]:
    concept = _medication(order.product.rxcui, order.product.name)
    return _requests(concept, order.dose, order.dose.text, frame, group, REASONS[order.kind])


def _medication(rxcui: str, name: str) -> Resource:
    return {"coding": [{"system": RXNORM, "code": rxcui, "display": name}], "text": name}


def _requests(
    medication: Resource,
    dose: Dose,
    text: str,
    frame: OrderFrame,
    group: Resource,
    reason: str | None,
) -> list[Resource]:
    out = []
    for timing, suffix, course in _timings(dose):
        request: Resource = {
            "resourceType": "MedicationRequest",
            "id": str(uuid.uuid4()),
            "status": "draft",
            "intent": "order",
            "groupIdentifier": group,
            "instantiatesCanonical": list(frame.canonicals),
            "medicationCodeableConcept": medication,
            "subject": {"reference": f"Patient/{frame.patient_id}"},
            "authoredOn": frame.authored_on.isoformat(),
            "note": [{"text": frame.note}],
            "dosageInstruction": [_dosage(dose, text + suffix, timing)],
        }
        if frame.encounter_id:
            request["encounter"] = {"reference": f"Encounter/{frame.encounter_id}"}
        if reason is not None:
            request["reasonCode"] = [{"text": reason}]
        elif frame.reason_ref:
            request["reasonReference"] = [{"reference": frame.reason_ref}]
        if course and dose.cycles:
            request["dispenseRequest"] = {"numberOfRepeatsAllowed": dose.cycles - 1}
        out.append(request)
    return out


def _dosage(dose: Dose, text: str, timing: Resource) -> Resource:
    code, display = ROUTES[dose.route]
    dosage: Resource = {
        "text": text,
        "timing": timing,
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


def _timings(dose: Dose) -> list[tuple[Resource, str, bool]]:
    """(Timing, text added to the order's instruction, is one cycle's course) per request."""
    if dose.cycle_days is None:  # continuous daily dosing
        repeat: Resource = {"frequency": dose.times_per_day, "period": 1, "periodUnit": "d"}
        return [({"repeat": _infusion(repeat, dose)}, "", False)]
    cycle = dose.cycle_days
    course_like = dose.route == "oral" or dose.times_per_day > 1
    pieces: list[tuple[tuple[int, ...], bool]] = []
    for run in day_runs(dose.days):
        if course_like and (len(run) > 1 or dose.times_per_day > 1):
            pieces.append((run, True))
        else:
            pieces.extend(((day,), False) for day in run)
    out = []
    for days, course in pieces:
        if course:
            repeat = {
                "frequency": dose.times_per_day,
                "period": 1,
                "periodUnit": "d",
                "boundsDuration": {"value": len(days), "unit": "d", "system": UCUM, "code": "d"},
            }
        else:
            repeat = {"frequency": 1, "period": cycle, "periodUnit": "d"}
            if dose.cycles:
                repeat["count"] = dose.cycles
        timing: Resource = {"repeat": _infusion(repeat, dose)}
        if days[0] >= 1:  # the extension's days start at 1 (day 0 is said in the text)
            timing["extension"] = [_days_of_cycle(days)]
        suffix = (
            f" [this order: {days_words(days)} of each {cycle}-day cycle]"
            if len(pieces) > 1
            else ""
        )
        out.append((timing, suffix, course))
    return out


def _infusion(repeat: Resource, dose: Dose) -> Resource:
    if dose.minutes:
        repeat["duration"] = dose.minutes
        repeat["durationUnit"] = "min"
    return repeat


def _days_of_cycle(days: Sequence[int]) -> Resource:
    return {"url": DAYS_OF_CYCLE, "extension": [{"url": "day", "valueInteger": d} for d in days]}
