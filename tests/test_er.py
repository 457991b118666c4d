"""Avoidable emergency visits (value-and-models §12.3): hand-derived cases through the real
FHIR reader and engine.

The practice's patient ``er1`` (colon cancer C18.7) gets FOLFOX on 2025-01-10, 01-24, 02-07,
02-21 and 03-07, oncology visits monthly to September, ECOG 2 on 2025-03-20. The engine cuts
(checked in ``test_exposure_months``):

- Treatment Months 2025-01-10…02-09 and 02-10…03-09, score C 0, P 0, T 4;
- Active Monitoring months from 2025-03-10 to the month 2025-12-10…2026-01-09 (10 months),
  provisional (no disease status on record): P 1 for March-June (ECOG 2 on 03-20 is in the
  March month and within the 90-day lookback of April, May and June), P 0 after, C 0, T 0.

Exposure: 12 patient-months in 2025, three per quarter (by the month's first day).

Emergency Encounters (class EMER unless said):

| enc | day        | diagnosis                                   | month  | days after | weight |
|-----|------------|---------------------------------------------|--------|------------|--------|
| e0  | 2025-01-08 | R11.0 nausea (reasonCode)                   | none   | -          | out    |
| e1  | 2025-01-20 | SNOMED 422587007 nausea, diagnosis.condition| Jan 10 | 10         | 1.0    |
| e2  | 2025-02-15 | E86.0, only a Condition.encounter → e2      | Feb 10 | 8          | 1.0    |
| e3  | 2025-02-20 | S72.001A fracture (not OP-35)               | Feb 10 | -          | no     |
| e4  | 2025-02-21 | R52 pain; type SNOMED 4525004, class AMB    | Feb 10 | 0 (same)   | 1.0    |
| e5  | 2025-04-06 | R50.9 (with dot)                            | Mar 10 | 30         | 1.0    |
| e6  | 2025-04-07 | D701 (no dot)                               | Mar 10 | 31         | 0.5    |

Counted: e1, e2, e4, e5, e6 → 5 visits, weighted 1 + 1 + 1 + 1 + 0.5 = 4.5, all in Q1 (the
March month starts in Q1). Observed = 4.5 / 12 × 100 = 37.5 per 100 patient-months.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from cpoc_fhir.config import load_payer
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.fhir.read.record import read_record
from cpoc_fhir.fhir.read.resources import PatientResources
from cpoc_fhir.knowledge.loader import load_knowledge
from cpoc_fhir.packs.cpoc.timeline import evaluate
from cpoc_fhir.value.er import ErCollector, factor
from cpoc_fhir.value.er_distance import GEOLOCATION, band_of, distance_km, haversine_km
from cpoc_fhir.value.er_visits import OP35_CATEGORIES, Op35, emergency_visits
from cpoc_fhir.value.model import DistanceBand, ErBenchmarks, PatientYear, Position
from cpoc_fhir.value.settings import ValueSettings
from cpoc_fhir.value.valuesets import ICD10CM, value_set

KNOWLEDGE = load_knowledge()
PAYER = load_payer(None)
BOSTON = Position(42.3601, -71.0589)  # Boston City Hall area (WGS84)
PROVIDENCE = Position(41.8240, -71.4128)  # Providence, RI, downtown
ICD = ICD10CM
SCT = "http://snomed.info/sct"
V3 = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
FOLFOX = (("32592", "oxaliplatin"), ("4492", "fluorouracil"), ("6313", "leucovorin"))


def concept(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def patient(pid: str, home: Position | None) -> dict[str, Any]:
    out: dict[str, Any] = {"resourceType": "Patient", "id": pid, "birthDate": "1960-01-01"}
    if home is not None:
        geo = {
            "url": GEOLOCATION,
            "extension": [
                {"url": "latitude", "valueDecimal": home.latitude},
                {"url": "longitude", "valueDecimal": home.longitude},
            ],
        }
        out["address"] = [{"use": "home", "city": "Boston", "extension": [geo]}]
    return out


def emergency(pid: str, eid: str, day: str, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": eid,
        "status": "finished",
        "class": {"system": V3, "code": "EMER"},
        "subject": {"reference": f"Patient/{pid}"},
        "period": {"start": f"{day}T14:00:00-05:00"},
    }
    out.update(extra)
    return out


def condition(pid: str, cid: str, system: str, code: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": cid,
        "code": concept(system, code),
        "subject": {"reference": f"Patient/{pid}"},
        **extra,
    }


def treated_patient(
    pid: str, home: Position | None = BOSTON, days: tuple[str, ...] | None = None
) -> list[dict[str, Any]]:
    """The patient of the module docstring, without emergency visits."""
    s = {"reference": f"Patient/{pid}"}
    out = [
        patient(pid, home),
        condition(pid, f"{pid}-crc", ICD, "C18.7", onsetDateTime="2025-01-02"),
        {
            "resourceType": "EpisodeOfCare",
            "id": f"{pid}-ep",
            "status": "active",
            "patient": s,
            "diagnosis": [{"condition": {"reference": f"Condition/{pid}-crc"}}],
            "period": {"start": "2025-01-06"},
        },
        {
            "resourceType": "Observation",
            "id": f"{pid}-ecog",
            "status": "final",
            "code": concept("http://loinc.org", "89247-1"),
            "subject": s,
            "effectiveDateTime": "2025-03-20",
            "valueInteger": 2,
        },
    ]
    visits = ["2025-01-06", "2025-03-20", "2025-04-15", "2025-05-15", "2025-06-16"]
    visits += ["2025-07-15", "2025-08-15", "2025-09-15"]
    for n, day in enumerate(visits):
        out.append(
            {
                "resourceType": "Encounter",
                "id": f"{pid}-v{n}",
                "status": "finished",
                "class": {"system": V3, "code": "AMB"},
                "subject": s,
                "period": {"start": day},
                "reasonReference": [{"reference": f"Condition/{pid}-crc"}],
            }
        )
    n = 0
    for day in days or ("2025-01-10", "2025-01-24", "2025-02-07", "2025-02-21", "2025-03-07"):
        for rx, name in FOLFOX:
            n += 1
            drug = {"coding": [{"system": RXNORM, "code": rx, "display": name}]}
            out.append(
                {
                    "resourceType": "MedicationRequest",
                    "id": f"{pid}-rq{n}",
                    "status": "completed",
                    "intent": "order",
                    "medicationCodeableConcept": drug,
                    "subject": s,
                    "authoredOn": day,
                    "reasonReference": [{"reference": f"Condition/{pid}-crc"}],
                }
            )
            out.append(
                {
                    "resourceType": "MedicationAdministration",
                    "id": f"{pid}-ma{n}",
                    "status": "completed",
                    "medicationCodeableConcept": drug,
                    "subject": s,
                    "effectiveDateTime": day,
                    "request": {"reference": f"MedicationRequest/{pid}-rq{n}"},
                }
            )
    return out


def er1_visits(pid: str = "er1") -> list[dict[str, Any]]:
    """e0-e6 of the module docstring (and the Conditions they rest on)."""
    return [
        emergency(pid, "e0", "2025-01-08", reasonCode=[concept(ICD, "R11.0")]),
        condition(pid, "nausea", SCT, "422587007"),
        emergency(
            pid, "e1", "2025-01-20", diagnosis=[{"condition": {"reference": "Condition/nausea"}}]
        ),
        condition(pid, "dehyd", ICD, "E86.0", encounter={"reference": "Encounter/e2"}),
        emergency(pid, "e2", "2025-02-15"),
        emergency(pid, "e3", "2025-02-20", reasonCode=[concept(ICD, "S72.001A")]),
        emergency(
            pid,
            "e4",
            "2025-02-21",
            **{"class": {"system": V3, "code": "AMB"}},
            type=[concept(SCT, "4525004")],
            reasonCode=[concept(ICD, "R52")],
        ),
        emergency(pid, "e5", "2025-04-06", reasonCode=[concept(ICD, "R50.9")]),
        emergency(pid, "e6", "2025-04-07", reasonCode=[concept(ICD, "D701")]),
    ]


def patient_year(
    resources: list[dict[str, Any]],
    pid: str,
    as_of: date = date(2025, 12, 31),
    practice: Position | None = PROVIDENCE,
    year: int = 2025,
) -> PatientYear:
    bundle = PatientResources(f"Patient/{pid}", resources)
    record = read_record(bundle, KNOWLEDGE)
    timeline = evaluate(record, KNOWLEDGE, RuleSettings(), PAYER, as_of)
    return PatientYear(pid, bundle, record, timeline, year, as_of, practice)


BENCH = ErBenchmarks(
    mean=Decimal("6.0"),
    sd=Decimal("1.5"),
    reference_rate=Decimal("6.0"),
    comorbidity={0: Decimal("1.0"), 1: Decimal("1.15")},
    performance={0: Decimal("1.0"), 1: Decimal("1.2")},
    toxicity={0: Decimal("1.0"), 2: Decimal("1.1"), 4: Decimal("1.3")},
    distance=(
        DistanceBand(Decimal(25), Decimal("1.0")),
        DistanceBand(Decimal("66.4"), Decimal("1.1")),
        DistanceBand(None, Decimal("1.25")),
    ),
)


def collect(*years: PatientYear, benchmarks: ErBenchmarks | None = BENCH) -> dict[str, Any]:
    collector = ErCollector(ValueSettings(), benchmarks)
    for py in years:
        collector.add(py)
    out = collector.result().as_json()
    json.dumps(out)  # the report's JSON: serialisable as it is
    return out


@pytest.fixture(scope="module")
def er1() -> PatientYear:
    return patient_year(treated_patient("er1") + er1_visits(), "er1")


def test_exposure_months(er1: PatientYear) -> None:
    rows = collect(er1)["patients"]["er1"]["months"]
    assert [(m["start"], m["component"]) for m in rows][:3] == [
        ("2025-01-10", "treatment-month"),
        ("2025-02-10", "treatment-month"),
        ("2025-03-10", "active-monitoring"),
    ]
    assert len(rows) == 12 and rows[-1]["start"] == "2025-12-10" and rows[-1]["end"] == "2026-01-09"
    points = [tuple(m["points"].values()) for m in rows]
    assert points == [(0, 0, 4)] * 2 + [(0, 1, 0)] * 4 + [(0, 0, 0)] * 6
    assert [m["quarter"] for m in rows] == [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]


def test_visits_weights_and_edges(er1: PatientYear) -> None:
    er = collect(er1)
    visits = {v["encounter"]: v for v in er["patients"]["er1"]["visits"]}
    assert set(visits) == {
        "Encounter/e1",
        "Encounter/e2",
        "Encounter/e4",
        "Encounter/e5",
        "Encounter/e6",
    }
    # Day 0 (same day as an infusion) and day 30 weigh 1.0; day 31 weighs 0.5.
    assert (
        visits["Encounter/e4"]["weight"] == "1.0"
        and visits["Encounter/e4"]["lastTreatment"] == "2025-02-21"
    )
    assert visits["Encounter/e5"]["weight"] == "1.0" and visits["Encounter/e5"]["nearTreatment"]
    assert visits["Encounter/e6"]["weight"] == "0.5" and not visits["Encounter/e6"]["nearTreatment"]
    assert visits["Encounter/e6"]["lastTreatment"] == "2025-03-07"
    # ICD-10-CM with and without the dot; SNOMED through diagnosis.condition; a Condition
    # that only names the encounter.
    assert visits["Encounter/e5"]["category"] == "fever"
    assert visits["Encounter/e6"]["category"] == "neutropenia"
    assert visits["Encounter/e1"]["category"] == "nausea"
    assert visits["Encounter/e1"]["evidence"][:2] == ["Encounter/e1", "Condition/nausea"]
    assert visits["Encounter/e2"]["category"] == "dehydration"
    assert "Condition/dehyd" in visits["Encounter/e2"]["evidence"]
    assert visits["Encounter/e4"]["category"] == "pain"  # an emergency type, class AMB
    # The near-treatment evidence names the infusion that set the window.
    assert visits["Encounter/e1"]["evidence"][-1].startswith("MedicationAdministration/er1-ma")
    # e5, e6 fall in the month that starts 2025-03-10: its quarter is Q1.
    assert (
        visits["Encounter/e6"]["month"] == "2025-03-10" and visits["Encounter/e6"]["quarter"] == 1
    )
    assert er["visits"] == 5 and er["weightedVisits"] == "4.5"
    assert er["excluded"] == {"notOncologyRelated": 1, "outsideCpocMonths": 1}  # e3; e0


def test_hand_worked_rates(er1: PatientYear) -> None:
    """Boston → Providence 66.4 km: band "up to 66.4 km", factor 1.1.

    Expected visits = 6.0/100 × f(C) f(P) f(T) × 1.1 per month:
      Treatment months (0,0,4): 0.06 × 1.3 = 0.078, × 2          = 0.156
      Monitoring Mar-Jun (0,1,0): 0.06 × 1.2 = 0.072, × 4         = 0.288
      Monitoring Jul-Dec (0,0,0): 0.06, × 6                       = 0.360
      sum 0.804 × 1.1 = 0.8844 expected visits in 12 patient-months
    Observed  = 4.5 / 12 × 100      = 37.5
    Expected  = 0.8844 / 12 × 100   = 7.37
    Risk-adj. = 37.5 / 7.37 × 6.0   = 4.5 / 0.8844 × 6 = 30.52917… → 30.5292
    Q1 (Jan, Feb, Mar months; all five visits):
      expected (0.078 × 2 + 0.072) × 1.1 = 0.2508; observed 4.5/3×100 = 150.0;
      expected rate 8.36; risk-adjusted 4.5 / 0.2508 × 6 = 107.65550… → 107.6555
    Q2: 0 visits, expected 0.072 × 3 × 1.1 = 0.2376 → observed 0, risk-adjusted 0.
    """
    er = collect(er1)
    assert er["patientMonths"] == 12
    assert er["expectedVisits"] == "0.8844"
    assert er["observedRate"] == "37.5000"
    assert er["expectedRate"] == "7.3700"
    assert er["riskAdjustedRate"] == "30.5292"
    assert er["referenceRate"] == "6.0"
    q1, q2, q3, q4 = er["quarters"]
    assert q1 == {
        "quarter": "2025-Q1",
        "visits": 5,
        "weightedVisits": "4.5",
        "patientMonths": 3,
        "treatmentMonths": 2,
        "expectedVisits": "0.2508",
        "observedRate": "150.0000",
        "expectedRate": "8.3600",
        "riskAdjustedRate": "107.6555",
    }
    assert (q2["expectedVisits"], q2["observedRate"], q2["riskAdjustedRate"]) == (
        "0.2376",
        "0.0000",
        "0.0000",
    )
    assert [q["patientMonths"] for q in (q3, q4)] == [3, 3]
    assert er["distance"] == {"known": 1, "unknown": 0}
    p = er["patients"]["er1"]
    assert (p["patientMonths"], p["weightedVisits"], len(p["visits"])) == (12, "4.5", 5)
    assert (p["distanceKm"], p["distanceBand"], p["distanceFactor"]) == ("66.4", 1, "1.1")
    collector = ErCollector(ValueSettings(), BENCH)
    collector.add(er1)
    assert collector.result().risk_adjusted_rate == Decimal("30.5292")


def test_monitoring_months_take_the_engines_comorbidity_and_performance() -> None:
    """er1's record plus chronic kidney disease N18.4 (Charlson 2) and diabetes with renal
    complication E11.22 (Charlson 2): index 4 → C = 1 point (Table 1) in every month, the
    Active Monitoring months included (the engine's scoring of the month).

    Points: Treatment (1,0,4) × 2; Monitoring Mar-Jun (1,1,0) × 4; Jul-Dec (1,0,0) × 6.
    Expected = 0.06 × 1.15 × (1.3 × 2 + 1.2 × 4 + 1 × 6) × 1.1 = 0.069 × 13.4 × 1.1
             = 1.01706 → "1.0171"; risk-adjusted = 4.5 / 1.01706 × 6 = 26.54710… → 26.5471.
    """
    pid = "er1"
    extra = [
        condition(pid, "ckd", ICD, "N18.4", onsetDateTime="2023-05-01"),
        condition(pid, "dm", ICD, "E11.22", onsetDateTime="2020-05-01"),
    ]
    er = collect(patient_year(treated_patient(pid) + er1_visits() + extra, pid))
    points = [tuple(m["points"].values()) for m in er["patients"][pid]["months"]]
    assert points == [(1, 0, 4)] * 2 + [(1, 1, 0)] * 4 + [(1, 0, 0)] * 6
    assert er["expectedVisits"] == "1.0171"
    assert er["riskAdjustedRate"] == "26.5471"
    assert (er["patientMonths"], er["treatmentMonths"]) == (12, 2)


def test_without_benchmarks_observed_only(er1: PatientYear) -> None:
    er = collect(er1, benchmarks=None)
    assert er["observedRate"] == "37.5000"
    assert er["expectedRate"] is None and er["riskAdjustedRate"] is None
    assert er["expectedVisits"] is None and er["referenceRate"] is None
    assert all(q["riskAdjustedRate"] is None for q in er["quarters"])
    assert er["patients"]["er1"]["months"][0]["expected"] is None


def test_patient_without_geolocation_counts_as_unknown() -> None:
    """No geolocation: distance factor 1 (§12.3), counted as unknown. Same months as er1,
    expected 0.804 (no 1.1), no visits → observed 0, risk-adjusted 0."""
    py = patient_year(treated_patient("er2", home=None), "er2")
    er = collect(py)
    assert er["distance"] == {"known": 0, "unknown": 1}
    assert er["expectedVisits"] == "0.8040"
    assert er["patients"]["er2"]["distanceKm"] is None
    assert er["patients"]["er2"]["distanceFactor"] == "1"
    # No practice position either way: unknown.
    assert collect(patient_year(treated_patient("er3"), "er3", practice=None))["distance"] == {
        "known": 0,
        "unknown": 1,
    }


def test_two_patients_pool() -> None:
    """er1 (4.5 weighted, 0.8844 expected) + er2 (no visits, 0.804 expected, distance unknown):
    24 patient-months; observed 4.5/24×100 = 18.75; expected (0.8844+0.804)/24×100 = 7.035;
    risk-adjusted 4.5/1.6884 × 6 = 15.99147… → 15.9915."""
    er = collect(
        patient_year(treated_patient("er1") + er1_visits(), "er1"),
        patient_year(treated_patient("er2", home=None), "er2"),
    )
    assert (er["patientMonths"], er["observedRate"], er["expectedRate"]) == (
        24,
        "18.7500",
        "7.0350",
    )
    assert er["riskAdjustedRate"] == "15.9915"
    assert er["distance"] == {"known": 1, "unknown": 1}


def test_month_spanning_new_year_counts_in_its_first_year() -> None:
    """The month 2025-12-10…2026-01-09 is a 2025 month; a visit in it on 2026-01-05 counts in
    2025 (Q4), at 0.5 (last treatment 2025-03-07); the 2026-01-10 month is not 2025's."""
    resources = [
        *treated_patient("er4"),
        emergency("er4", "x1", "2026-01-05", reasonCode=[concept(ICD, "A41.9")]),
        emergency("er4", "x2", "2026-01-12", reasonCode=[concept(ICD, "A41.9")]),
    ]
    py = patient_year(resources, "er4", as_of=date(2026, 1, 31))
    er = collect(py)
    assert er["patientMonths"] == 12
    assert [v["encounter"] for v in er["patients"]["er4"]["visits"]] == ["Encounter/x1"]
    assert er["quarters"][3]["visits"] == 1 and er["quarters"][3]["weightedVisits"] == "0.5"
    # The 2026 report takes x2 and the 2026-01-10 month, not x1.
    er26 = collect(patient_year(resources, "er4", as_of=date(2026, 1, 31), year=2026))
    assert [v["encounter"] for v in er26["patients"]["er4"]["visits"]] == ["Encounter/x2"]
    assert er26["patientMonths"] == 1


def test_visits_after_as_of_and_cancelled_are_not_counted() -> None:
    resources = [
        *treated_patient("er5"),
        emergency("er5", "c1", "2025-01-20", status="cancelled", reasonCode=[concept(ICD, "R52")]),
        emergency("er5", "c2", "2025-01-21", reasonCode=[concept(ICD, "R52")]),
    ]
    er = collect(patient_year(resources, "er5", as_of=date(2025, 1, 20)))
    assert er["visits"] == 0
    er = collect(patient_year(resources, "er5", as_of=date(2025, 1, 31)))
    assert [v["encounter"] for v in er["patients"]["er5"]["visits"]] == ["Encounter/c2"]


def test_refuted_condition_and_part_of_and_contained() -> None:
    """A refuted diagnosis is none; an Encounter partOf another emergency one is the same
    visit; a contained Condition is read and cited through its Encounter."""
    pid = "er6"
    resources = [
        *treated_patient(pid),
        condition(
            pid,
            "ruled-out",
            ICD,
            "A41.9",
            encounter={"reference": "Encounter/r1"},
            verificationStatus=concept(
                "http://terminology.hl7.org/CodeSystem/condition-ver-status", "refuted"
            ),
        ),
        emergency(pid, "r1", "2025-01-20"),
        emergency(pid, "p0", "2025-01-22"),
        emergency(
            pid,
            "p1",
            "2025-01-22",
            partOf={"reference": "Encounter/p0"},
            reasonCode=[concept(SCT, "91302008")],
        ),
        emergency(
            pid,
            "k1",
            "2025-02-01",
            contained=[condition(pid, "dx", ICD, "J18.9")],
            diagnosis=[{"condition": {"reference": "#dx"}}],
        ),
    ]
    er = collect(patient_year(resources, pid))
    visits = {v["encounter"]: v for v in er["patients"][pid]["visits"]}
    assert set(visits) == {"Encounter/p0", "Encounter/k1"}
    assert visits["Encounter/p0"]["category"] == "sepsis"
    assert "Encounter/p1" in visits["Encounter/p0"]["evidence"]
    assert visits["Encounter/k1"]["category"] == "pneumonia"
    assert "Encounter/k1#dx" in visits["Encounter/k1"]["evidence"]
    assert er["excluded"]["notOncologyRelated"] == 1  # r1


def test_unreadable_encounter_is_a_warning_naming_it() -> None:
    resources = [
        *treated_patient("er7"),
        emergency("er7", "bad", "2025-01-20", reasonCode="R52"),
    ]
    collector = ErCollector(ValueSettings(), BENCH)
    collector.add(patient_year(resources, "er7"))
    result = collector.result()
    assert result.visits == 0
    assert any(w.startswith("Encounter/bad: reasonCode") for w in result.warnings)


# --- distance -------------------------------------------------------------------------------
def test_haversine_boston_providence_by_hand() -> None:
    """φ1 = 42.3601° = 0.739323 rad, φ2 = 41.8240° = 0.729967 rad,
    Δφ = −0.5361° = −0.00935671 rad, Δλ = −0.3539° = −0.00617672 rad.
    a = sin²(Δφ/2) + cos φ1 cos φ2 sin²(Δλ/2)
      = 2.18868e−5 + 0.738925 × 0.745197 × 9.53794e−6 = 2.713886e−5
    c = 2 asin(√a) = 0.0104190 rad;  d = 6371.0088 × c = 66.3798 km → 66.4 km."""
    assert haversine_km(BOSTON, PROVIDENCE) == pytest.approx(66.3798, abs=1e-4)
    assert distance_km(BOSTON, PROVIDENCE) == Decimal("66.4")
    assert distance_km(BOSTON, BOSTON) == Decimal("0.0")


def test_distance_band_boundaries() -> None:
    km = distance_km(BOSTON, PROVIDENCE)
    at_edge = (DistanceBand(Decimal(25), Decimal(1)), DistanceBand(km, Decimal("1.1")))
    assert band_of(at_edge, km) == (1, Decimal("1.1"))  # exactly max_km: that band
    below = (DistanceBand(Decimal("66.3"), Decimal("1.1")), DistanceBand(None, Decimal("1.25")))
    assert band_of(below, km) == (1, Decimal("1.25"))  # 0.1 km past the edge: the next band
    assert band_of(below[:1], km) == (0, Decimal("1.1"))  # past every band: the farthest
    assert band_of(below, None) == (None, Decimal(1))  # unknown
    assert band_of((), km) == (None, Decimal(1))


def test_factor_lookup_takes_the_highest_key_below() -> None:
    table = {0: Decimal("1.0"), 2: Decimal("1.1"), 4: Decimal("1.3")}
    assert [factor(table, p) for p in range(6)] == [
        Decimal("1.0"),
        Decimal("1.0"),
        Decimal("1.1"),
        Decimal("1.1"),
        Decimal("1.3"),
        Decimal("1.3"),
    ]
    assert factor({}, 3) == Decimal(1)


# --- value sets -----------------------------------------------------------------------------
def test_op35_value_sets_cover_ten_categories_in_both_systems() -> None:
    op35 = Op35.bundled()
    assert tuple(op35.categories) == OP35_CATEGORIES and len(OP35_CATEGORIES) == 10
    for category, vs in op35.categories.items():
        systems = {s for s, _ in vs.exact} | {s for s, _ in vs.prefixes}
        assert systems == {ICD, SCT}, category
        assert vs.source and vs.date
    assert value_set("er-encounter-types").contains("http://www.ama-assn.org/go/cpt", "99285")


@pytest.mark.parametrize(
    ("system", "code", "category"),
    [
        (ICD, "D70.1", "neutropenia"),
        (ICD, "d701", "neutropenia"),
        ("http://hl7.org/fhir/sid/icd-10", "R50.9", "fever"),  # WHO ICD-10 URI read as ICD-10-CM
        ("urn:oid:2.16.840.1.113883.6.90", "E86.0", "dehydration"),
        (ICD, "R11.10", "emesis"),
        (ICD, "R11.0", "nausea"),
        (ICD, "G89.3", "pain"),
        (ICD, "D64.81", "anemia"),
        (ICD, "R19.7", "diarrhea"),
        (ICD, "J18.9", "pneumonia"),
        (ICD, "A41.9", "sepsis"),
        (SCT, "409089005", "neutropenia"),
        ("urn:oid:2.16.840.1.113883.6.96", "62315008", "diarrhea"),
    ],
)
def test_codes_fall_in_their_category(system: str, code: str, category: str) -> None:
    assert Op35.bundled().categories_of([concept(system, code)]) == {category}


@pytest.mark.parametrize("code", ["S72.001A", "C18.7", "R07.9", "I50.9", "R1"])
def test_codes_outside_op35(code: str) -> None:
    assert Op35.bundled().categories_of([concept(ICD, code)]) == set()


@pytest.mark.parametrize(
    ("extra", "counted"),
    [
        ({"class": {"code": "EMER"}}, True),  # no system: read as v3 ActCode
        ({"class": {"system": "urn:oid:2.16.840.1.113883.5.4", "code": "EMER"}}, True),
        ({"class": {"system": "http://example.org/local-classes", "code": "EMER"}}, False),
        (
            {
                "class": {"system": V3, "code": "AMB"},
                "type": [concept("http://www.ama-assn.org/go/cpt", "99284")],
            },
            True,
        ),
        ({"class": {"system": V3, "code": "AMB"}, "serviceType": concept(SCT, "4525004")}, True),
        ({"class": {"system": V3, "code": "AMB"}, "type": [{"text": "Emergency"}]}, False),
        ({"status": "entered-in-error"}, False),
        ({"status": "planned"}, False),
    ],
)
def test_what_is_an_emergency_encounter(extra: dict[str, Any], counted: bool) -> None:
    encounter = emergency("er8", "z", "2025-01-20", reasonCode=[concept(ICD, "R52")])
    encounter.update(extra)
    bundle = PatientResources("Patient/er8", [patient("er8", None), encounter])
    found = emergency_visits(bundle, date(2025, 12, 31), [], Op35.bundled())
    assert [v.ref for v in found] == (["Encounter/z"] if counted else [])
