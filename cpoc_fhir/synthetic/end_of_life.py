"""Deaths in the performance year and hospice starts (value-and-models §12.2 Q4, Q5).

About 12 % of the patients die 1-13 days after a treatment day in the year (systemic therapy in
the last 14 days, NQF 0210; hormonal-only for tamoxifen patients), about 10 % die 20-120 days
after their last treatment day. Nothing is recorded on or after the day of death. Of those who
die, 60 % start hospice before death, 0-2 days (40 % of them) or 3-10 days: an EpisodeOfCare
typed SNOMED 385763009 "Hospice care" (half), an Encounter typed 305336008 "Admission to
hospice" (30 %), or both.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from cpoc_fhir.synthetic import codes as c
from cpoc_fhir.synthetic.patients import Plan

Resource = dict[str, Any]


def choose_death(plan: Plan, extra: random.Random, year: int) -> date | None:
    roll = extra.random()
    days = plan.treatment_days()  # no death yet: the whole plan
    end = date(year, 12, 31)
    if roll < 0.12:
        in_year = [d for d in days if d.year == year and d + timedelta(days=13) <= end]
        if not in_year:
            return None
        return extra.choice(in_year) + timedelta(days=extra.randint(1, 13))
    if roll < 0.22 and days:
        death = days[-1] + timedelta(days=extra.randint(20, 120))
        return death if death.year == year else None
    return None


def hospice(plan: Plan, extra: random.Random) -> tuple[date | None, str | None, list[Resource]]:
    if plan.death is None or extra.random() >= 0.6:
        return None, None, []
    # 0-2 days (a late referral: Q5's numerator misses it) for 40 %, 3-10 days otherwise
    before = extra.randint(0, 2) if extra.random() < 0.4 else extra.randint(3, 10)
    start = plan.death - timedelta(days=before)
    roll = extra.random()
    via = "EpisodeOfCare" if roll < 0.5 else "Encounter" if roll < 0.8 else "both"
    out: list[Resource] = []
    if via in ("EpisodeOfCare", "both"):
        out.append(
            {
                "resourceType": "EpisodeOfCare",
                "id": plan.rid("hospice"),
                "status": "finished",
                "type": [
                    {
                        "coding": [
                            {"system": c.SCT, "code": c.HOSPICE_CARE, "display": "Hospice care"}
                        ]
                    }
                ],
                "patient": plan.subject,
                "period": {"start": start.isoformat(), "end": plan.death.isoformat()},
            }
        )
    if via in ("Encounter", "both"):
        out.append(
            {
                "resourceType": "Encounter",
                "id": plan.rid("hospice"),
                "status": "finished",
                "class": {"system": c.ACT, "code": "HH"},
                "type": [
                    {
                        "coding": [
                            {
                                "system": c.SCT,
                                "code": c.HOSPICE_ADMISSION,
                                "display": "Admission to hospice",
                            }
                        ]
                    }
                ],
                "subject": plan.subject,
                "period": {"start": f"{start.isoformat()}T12:00:00-05:00"},
            }
        )
    return start, via, out
