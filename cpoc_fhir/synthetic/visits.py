"""Face-to-face oncology visits and what is recorded at them: ECOG performance status, pain
scores (LOINC 72514-3), PHQ-2 / PHQ-9 screens (55757-9 / 44261-6) and the disease status.

Every visit is an Encounter of class AMB for the cancer, typed with the E&M code its claim
bills (the first visit a new-patient code). ECOG is recorded at every visit except, for about
a quarter of the patients, in the 30 days up to the first dose (value-and-models §12.2 Q1).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from cpoc_fhir.synthetic import codes as c
from cpoc_fhir.synthetic.patients import Plan
from cpoc_fhir.synthetic.truth import VisitTruth

Resource = dict[str, Any]


@dataclass
class VisitRecord:
    visits: list[VisitTruth]
    ecog_days: list[date]
    phq_days: list[date]
    resources: list[Resource]


def observation(plan: Plan, code: str, day: date, value: Resource) -> Resource:
    return {
        "resourceType": "Observation",
        "id": plan.rid("o"),
        "status": "final",
        "code": {"coding": [{"system": c.LOINC, "code": code}]},
        "subject": plan.subject,
        "effectiveDateTime": day.isoformat(),
        **value,
    }


def visits(plan: Plan, extra: random.Random, cancer_id: str) -> VisitRecord:
    ecog_before_start = extra.random() < 0.75
    screened = extra.random() < 0.65
    out = VisitRecord([], [], [], [])
    alive = [
        (day, ecog)
        for day, ecog in zip(plan.visit_days, plan.ecog_values, strict=True)
        if plan.alive(day)
    ]
    phq_visit = extra.randrange(len(alive)) if alive and screened else None
    for n, (day, ecog) in enumerate(alive):
        em = extra.choice(c.EM_NEW if n == 0 else c.EM_ESTABLISHED)
        encounter_id = plan.rid("e")
        out.resources.append(
            {
                "resourceType": "Encounter",
                "id": encounter_id,
                "status": "finished",
                "class": {"system": c.ACT, "code": "AMB"},
                "type": [{"coding": [{"system": c.CPT, "code": em}]}],
                "subject": plan.subject,
                "period": {"start": f"{day.isoformat()}T09:00:00-05:00"},
                "reasonReference": [{"reference": f"Condition/{cancer_id}"}],
            }
        )
        if ecog_before_start or not (plan.start - timedelta(days=30) <= day <= plan.start):
            out.resources.append(observation(plan, c.ECOG, day, {"valueInteger": ecog}))
            out.ecog_days.append(day)
        pain = extra.random() < 0.6
        if pain:
            score = extra.randint(0, 8)
            out.resources.append(
                observation(
                    plan,
                    c.PAIN,
                    day,
                    {
                        "valueInteger": score,
                        "encounter": {"reference": f"Encounter/{encounter_id}"},
                    },
                )
            )
        if n == phq_visit:
            code = extra.choice([c.PHQ2, c.PHQ9])
            out.resources.append(
                observation(plan, code, day, {"valueInteger": extra.randint(0, 6)})
            )
            out.phq_days.append(day)
        out.visits.append(VisitTruth(encounter_id, day, pain, em))
    if alive:
        out.resources.append(
            observation(
                plan,
                c.DISEASE_STATUS,
                alive[-1][0],
                {"valueCodeableConcept": {"coding": [{"system": c.SCT, "code": plan.status_code}]}},
            )
        )
    return out
