"""Emergency visits (value-and-models §12.3): Encounters of class EMER (v3 ActCode).

Per patient 0-3 visits (about 55 % have none). Each is either 1-25 days after a treatment day
("near") or 40-240 days after the last one ("far"; also visits after treatment ended). The
diagnosis is an OP-35 category coded in ICD-10-CM (70 %) or SNOMED CT (15 %), or a fracture
outside OP-35 (15 %); carried in ``reasonCode`` or, for 40 %, as an encounter-diagnosis
Condition referenced from ``Encounter.diagnosis``. ``near_treatment`` is computed from the
treatment days (0-30 days after one), not assumed from the draw.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from cpoc_fhir.synthetic import codes as c
from cpoc_fhir.synthetic.patients import Plan
from cpoc_fhir.synthetic.truth import ErVisitTruth

Resource = dict[str, Any]
NEAR_DAYS = 30


def near_treatment(day: date, treatment_days: list[date]) -> bool:
    return any(0 <= (day - t).days <= NEAR_DAYS for t in treatment_days)


def emergency_visits(
    plan: Plan, extra: random.Random, year: int
) -> tuple[list[ErVisitTruth], list[Resource]]:
    days = plan.treatment_days()
    count = extra.choices([0, 1, 2, 3], weights=[55, 25, 12, 8])[0]
    if not days:
        return [], []
    truths: list[ErVisitTruth] = []
    out: list[Resource] = []
    last_possible = date(year, 12, 31)
    for _ in range(count):
        if extra.random() < 0.6:
            day = extra.choice(days) + timedelta(days=extra.randint(1, 25))
        else:
            day = days[-1] + timedelta(days=extra.randint(40, 240))
        if not plan.alive(day) or day > last_possible:
            continue
        roll = extra.random()
        category: str | None = None
        if roll < 0.85:
            category = extra.choice(sorted(c.OP35))
            icd, sct, display = c.OP35[category]
            system, code = (c.ICD, icd) if roll < 0.70 else (c.SCT, sct)
        else:
            category = None
            system, code, display = extra.choice(c.NON_OP35)
        encounter_id = plan.rid("er")
        concept = {"coding": [{"system": system, "code": code, "display": display}]}
        encounter: Resource = {
            "resourceType": "Encounter",
            "id": encounter_id,
            "status": "finished",
            "class": {"system": c.ACT, "code": "EMER"},
            "subject": plan.subject,
            "period": {
                "start": f"{day.isoformat()}T20:00:00-05:00",
                "end": f"{day.isoformat()}T23:30:00-05:00",
            },
        }
        via = "reasonCode" if extra.random() < 0.6 else "diagnosis"
        if via == "reasonCode":
            encounter["reasonCode"] = [concept]
        else:
            condition_id = plan.rid("c")
            out.append(
                {
                    "resourceType": "Condition",
                    "id": condition_id,
                    "subject": plan.subject,
                    "encounter": {"reference": f"Encounter/{encounter_id}"},
                    "category": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                                    "code": "encounter-diagnosis",
                                }
                            ]
                        }
                    ],
                    "clinicalStatus": {"coding": [{"code": "resolved"}]},
                    "code": concept,
                    "onsetDateTime": day.isoformat(),
                }
            )
            encounter["diagnosis"] = [{"condition": {"reference": f"Condition/{condition_id}"}}]
        out.append(encounter)
        truths.append(
            ErVisitTruth(encounter_id, day, category, near_treatment(day, days), code, system, via)
        )
    return truths, out
