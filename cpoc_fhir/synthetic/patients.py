"""A patient's cancer, treatment plan and core resources (Patient, Conditions, the oncology
EpisodeOfCare, medication orders and administrations, the TNM stage group).

The plan draws from the practice's main random stream in the order the timeline benchmark's
original generator did, so the same seed gives the same cancers, regimens and visit days; every
choice added since (stage, address, death, emergency visits …) comes from the patient's own
stream (``extra``), which leaves the main stream untouched.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from cpoc_fhir.synthetic import codes as c

Resource = dict[str, Any]
EARTH_RADIUS_KM = 6371.0  # mean Earth radius (IUGG), for the great-circle distances


@dataclass
class Plan:
    """The main-stream choices for one patient (the original generator's draws)."""

    n: int
    pid: str
    start: date
    icd: str
    drugs: list[tuple[str, str, str]]
    every: int
    supply: int
    birth_year: int
    comorbidities: list[str]
    visit_days: list[date]
    ecog_values: list[int]
    status_code: str
    months: int
    death: date | None = None
    ids: list[int] = field(default_factory=lambda: [0])

    def rid(self, kind: str) -> str:
        self.ids[0] += 1
        return f"{self.pid}-{kind}-{self.ids[0] - 1}"

    @property
    def subject(self) -> Resource:
        return {"reference": f"Patient/{self.pid}"}

    @property
    def oral(self) -> bool:
        return all(route == "oral" for _, _, route in self.drugs)

    @property
    def solid(self) -> bool:
        return not self.icd.startswith(c.LIQUID_PREFIXES)

    @property
    def hormonal_only(self) -> bool:
        return all(name in c.HORMONAL for _, name, _ in self.drugs)

    def infusion_days(self) -> list[date]:
        """Administration days of the IV drugs (before death)."""
        if self.oral:
            return []
        days = [
            self.start + timedelta(days=k * self.every)
            for k in range(self.months * 30 // self.every)
        ]
        return [d for d in days if self.alive(d)]

    def treatment_days(self) -> list[date]:
        """Days an anti-cancer drug is given: IV days, or each day an oral supply covers."""
        if not self.oral:
            return self.infusion_days()
        days = [self.start + timedelta(days=k) for k in range(self.months * self.supply)]
        return [d for d in days if self.alive(d)]

    def alive(self, day: date) -> bool:
        return self.death is None or day < self.death


def draw_plan(rng: random.Random, n: int, year: int) -> Plan:
    """The original generator's draws, in its order (do not reorder: seeds would change)."""
    start = date(year - 1, 1, 1) + timedelta(days=rng.randrange(0, 540))
    icd, drugs, every, supply = rng.choice(c.REGIMENS)
    birth_year = rng.randrange(1935, 1985)
    comorbidities = rng.sample(c.COMORBIDITIES, rng.randrange(0, 4))
    visit_days = [start - timedelta(days=10)] + [
        start + timedelta(days=30 * k + rng.randrange(0, 20)) for k in range(rng.randrange(3, 9))
    ]
    ecog_values = [rng.choice([0, 0, 1, 1, 2, 3]) for _ in visit_days]
    status_code = rng.choice(c.DISEASE_STATUS_VALUES)
    months = rng.randrange(2, 9)
    return Plan(
        n,
        f"bench-{n:06d}",
        start,
        icd,
        drugs,
        every,
        supply,
        birth_year,
        comorbidities,
        visit_days,
        ecog_values,
        status_code,
        months,
    )


def patient_resource(plan: Plan, address: Resource | None) -> Resource:
    patient: Resource = {
        "resourceType": "Patient",
        "id": plan.pid,
        "gender": "unknown",
        "birthDate": f"{plan.birth_year}-01-01",
    }
    if address is not None:
        patient["address"] = [address]
    if plan.death is not None:
        patient["deceasedDateTime"] = plan.death.isoformat()
    return patient


def address(extra: random.Random, home: tuple[float, float]) -> tuple[Resource, float | None]:
    """An address, with the FHIR geolocation extension for about 80 % of patients; the
    great-circle distance to the practice is computed from the coordinates as written."""
    entry: Resource = {"use": "home", "city": "Springfield", "country": "US"}
    if extra.random() >= 0.8:
        return entry, None
    # away from 25/50/100 km so that a band boundary never rests on rounding
    km = extra.choice([(1, 22), (28, 47), (53, 95), (105, 240)])
    lat, lon = destination(home, extra.uniform(*km), extra.uniform(0, 360))
    lat, lon = round(lat, 6), round(lon, 6)
    entry["extension"] = [
        {
            "url": c.GEOLOCATION,
            "extension": [
                {"url": "latitude", "valueDecimal": lat},
                {"url": "longitude", "valueDecimal": lon},
            ],
        }
    ]
    return entry, great_circle_km(home, (lat, lon))


def destination(origin: tuple[float, float], km: float, bearing: float) -> tuple[float, float]:
    """The point ``km`` from ``origin`` on the great circle of initial ``bearing`` (degrees)."""
    lat1, lon1 = math.radians(origin[0]), math.radians(origin[1])
    d, b = km / EARTH_RADIUS_KM, math.radians(bearing)
    lat2 = math.asin(math.sin(lat1) * math.cos(d) + math.cos(lat1) * math.sin(d) * math.cos(b))
    lon2 = lon1 + math.atan2(
        math.sin(b) * math.sin(d) * math.cos(lat1), math.cos(d) - math.sin(lat1) * math.sin(lat2)
    )
    return math.degrees(lat2), math.degrees(lon2)


def great_circle_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Haversine distance on a sphere of the mean Earth radius."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def conditions(plan: Plan) -> tuple[str, list[Resource]]:
    """The cancer Condition (its id first) and the comorbidities."""
    cancer_id = plan.rid("c")
    out = [
        {
            "resourceType": "Condition",
            "id": cancer_id,
            "subject": plan.subject,
            "clinicalStatus": {"coding": [{"code": "active"}]},
            "code": {"coding": [{"system": c.ICD, "code": plan.icd}]},
            "onsetDateTime": (plan.start - timedelta(days=20)).isoformat(),
        }
    ]
    for code in plan.comorbidities:
        out.append(
            {
                "resourceType": "Condition",
                "id": plan.rid("c"),
                "subject": plan.subject,
                "code": {"coding": [{"system": c.ICD, "code": code}]},
                "onsetDateTime": "2019-05-01",
            }
        )
    return cancer_id, out


def oncology_episode(plan: Plan, cancer_id: str) -> Resource:
    return {
        "resourceType": "EpisodeOfCare",
        "id": plan.rid("eoc"),
        "status": "active",
        "patient": plan.subject,
        "period": {"start": (plan.start - timedelta(days=10)).isoformat()},
        "diagnosis": [{"condition": {"reference": f"Condition/{cancer_id}"}}],
    }


def medications(plan: Plan) -> list[Resource]:
    """Oral drugs as one MedicationRequest with refills; IV drugs as an administration per
    cycle day (none on or after the day of death)."""
    out: list[Resource] = []
    for rxcui, name, route in plan.drugs:
        coding = {"coding": [{"system": c.RX, "code": rxcui, "display": name}]}
        if route == "oral":
            out.append(
                {
                    "resourceType": "MedicationRequest",
                    "id": plan.rid("mr"),
                    "status": "active",
                    "intent": "order",
                    "subject": plan.subject,
                    "medicationCodeableConcept": coding,
                    "authoredOn": plan.start.isoformat(),
                    "dispenseRequest": {
                        "numberOfRepeatsAllowed": plan.months - 1,
                        "expectedSupplyDuration": {"value": plan.supply, "code": "d"},
                    },
                }
            )
            continue
        for day in plan.infusion_days():
            out.append(
                {
                    "resourceType": "MedicationAdministration",
                    "id": plan.rid("ma"),
                    "status": "completed",
                    "subject": plan.subject,
                    "medicationCodeableConcept": coding,
                    "effectiveDateTime": f"{day.isoformat()}T10:00:00-05:00",
                }
            )
    return out


def stage_group(plan: Plan, extra: random.Random) -> tuple[date | None, list[Resource]]:
    """Solid tumours: an mCODE (STU2) clinical TNM stage group before the first treatment
    (60 %), 20-60 days after it (20 %) or none (20 %). Liquid tumours: none."""
    if not plan.solid:
        return None, []
    roll = extra.random()
    stage = extra.choice(c.STAGES)
    if roll < 0.6:
        day = plan.start - timedelta(days=extra.randint(0, 15))
    elif roll < 0.8:
        day = plan.start + timedelta(days=extra.randint(20, 60))
    else:
        return None, []
    if not plan.alive(day):
        return None, []
    return day, [
        {
            "resourceType": "Observation",
            "id": plan.rid("o"),
            "meta": {"profile": [c.MCODE_STAGE]},
            "status": "final",
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": "survey",
                        }
                    ]
                }
            ],
            "code": {"coding": [{"system": c.LOINC, "code": c.STAGE_GROUP}]},
            "subject": plan.subject,
            "effectiveDateTime": day.isoformat(),
            "valueCodeableConcept": {"coding": [{"system": c.AJCC, "code": stage}]},
        }
    ]
