"""Invariants of the avoidable-emergency-visit figures (value-and-models §12.3), on patient
years drawn at random: lines and facts built directly (no FHIR reading of treatment), emergency
visits as FHIR Encounters, so that the collector's own reading is exercised.

- with every factor 1, the risk-adjusted rate is the observed rate, whatever the reference rate
  (expected = months × ref/100, so observed / expected × ref = weighted × 100 / months);
- every weight is 1.0 or 0.5, and 1.0 exactly when a treatment day lies 0…30 days before;
- the counted visits are those with an OP-35 code inside a month that starts in the year;
- the four quarters add up to the year.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.facts import DrugRole, ExposureKind, MedicationExposure, PatientRecord, Route
from cpoc_fhir.engine.lines import BillingLine, LineStatus, PatientTimeline, Score
from cpoc_fhir.engine.months import billing_month
from cpoc_fhir.fhir.read.resources import PatientResources
from cpoc_fhir.value.er import ErCollector, Figures
from cpoc_fhir.value.model import DistanceBand, ErBenchmarks, PatientYear
from cpoc_fhir.value.settings import ValueSettings

YEAR = 2025
AS_OF = date(2026, 3, 31)
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
CODES = {"R50.9": True, "D70.1": True, "R11.0": True, "S72.001A": False, "I10": False}
DAYS = st.dates(min_value=date(2024, 11, 1), max_value=date(2026, 2, 28))


@st.composite
def patient_years(draw: st.DrawFn, n: int) -> PatientYear:
    pid = f"h{n}"
    anchor = draw(st.dates(min_value=date(2024, 10, 1), max_value=date(2025, 12, 31)))
    months = draw(st.integers(min_value=0, max_value=16))
    lines = []
    for k in range(1, months + 1):
        month = billing_month(anchor, k)
        kind = draw(st.sampled_from(["treatment", "monitoring", "not-billable"]))
        score = Score(*draw(st.tuples(*[st.integers(0, 4)] * 3)), 0, None, 1)
        component = (
            Component.TREATMENT_MONTH if kind == "treatment" else Component.ACTIVE_MONITORING
        )
        lines.append(
            BillingLine(
                code="xx201" if kind == "treatment" else "xx301",
                component=component,
                level=1,
                month=k,
                start=month.start,
                end=month.end,
                status=LineStatus.NOT_BILLABLE if kind == "not-billable" else LineStatus.FINAL,
                amount=Decimal("0.00"),
                explanation=(),
                evidence=(),
                score=score if kind == "treatment" else None,
            )
        )
    treatment_days = sorted(set(draw(st.lists(DAYS, max_size=8))))
    exposures = tuple(
        MedicationExposure(
            f"MedicationAdministration/{pid}-{i}",
            "oxaliplatin",
            "oxaliplatin",
            DrugRole.ANTICANCER,
            Route.PARENTERAL,
            ExposureKind.ADMINISTERED,
            day,
            day,
        )
        for i, day in enumerate(treatment_days)
    )
    visits = draw(st.lists(st.tuples(DAYS, st.sampled_from(sorted(CODES))), max_size=8))
    resources: list[dict[str, Any]] = [{"resourceType": "Patient", "id": pid}]
    for i, (day, code) in enumerate(visits):
        resources.append(
            {
                "resourceType": "Encounter",
                "id": f"{pid}-e{i}",
                "status": "finished",
                "class": {"code": "EMER"},
                "period": {"start": day.isoformat()},
                "reasonCode": [{"coding": [{"system": ICD, "code": code}]}],
            }
        )
    record = PatientRecord(f"Patient/{pid}", exposures=exposures)
    timeline = PatientTimeline(f"Patient/{pid}", AS_OF, tuple(lines), ())
    bundle = PatientResources(f"Patient/{pid}", resources)
    return PatientYear(pid, bundle, record, timeline, YEAR, AS_OF, None)


PRACTICES = st.integers(min_value=1, max_value=4).flatmap(
    lambda n: st.tuples(*[patient_years(i) for i in range(n)])
)
ONES = ErBenchmarks(
    mean=Decimal(6),
    sd=Decimal(1),
    reference_rate=Decimal(6),
    comorbidity={0: Decimal(1)},
    performance={0: Decimal(1)},
    toxicity={0: Decimal(1)},
    distance=(DistanceBand(Decimal(50), Decimal(1)), DistanceBand(None, Decimal(1))),
)


def run(years: tuple[PatientYear, ...], benchmarks: ErBenchmarks | None) -> dict[str, Any]:
    collector = ErCollector(ValueSettings(), benchmarks)
    for py in years:
        collector.add(py)
    return collector.result().as_json()


@settings(max_examples=60, deadline=None)
@given(PRACTICES, st.decimals(min_value="0.5", max_value="40", places=2))
def test_all_factors_one_gives_the_observed_rate(
    years: tuple[PatientYear, ...], reference: Decimal
) -> None:
    bench = ErBenchmarks(
        ONES.mean, ONES.sd, reference, ONES.comorbidity, ONES.performance, ONES.toxicity
    )
    er = run(years, bench)
    assert er["riskAdjustedRate"] == er["observedRate"]
    for quarter in er["quarters"]:
        assert quarter["riskAdjustedRate"] == quarter["observedRate"]


@settings(max_examples=80, deadline=None)
@given(PRACTICES)
def test_weights_counts_and_quarters(years: tuple[PatientYear, ...]) -> None:
    er = run(years, ONES)
    expected_visits = 0
    for py in years:
        counted = [
            line
            for line in py.timeline.lines
            if line.status is not LineStatus.NOT_BILLABLE and line.start.year == YEAR
        ]
        days = [e.start for e in py.record.exposures]
        for encounter in py.resources.of_type("Encounter"):
            day = date.fromisoformat(encounter["period"]["start"])
            code = encounter["reasonCode"][0]["coding"][0]["code"]
            inside = any(m.start <= day <= m.end for m in counted)
            if CODES[code] and inside and day <= py.as_of:
                expected_visits += 1
        rows = er["patients"].get(py.patient_id, {"visits": []})["visits"]
        for row in rows:
            assert row["weight"] in ("1.0", "0.5")
            day = date.fromisoformat(row["date"])
            near = any(timedelta(0) <= day - t <= timedelta(days=30) for t in days)
            assert row["nearTreatment"] is near
            assert row["weight"] == ("1.0" if near else "0.5")
    assert er["visits"] == expected_visits
    weighted = Decimal(er["weightedVisits"])
    assert Decimal(er["visits"]) / 2 <= weighted <= er["visits"]
    quarters = er["quarters"]
    assert [q["quarter"] for q in quarters] == [f"{YEAR}-Q{n}" for n in range(1, 5)]
    assert sum(q["visits"] for q in quarters) == er["visits"]
    assert sum(Decimal(q["weightedVisits"]) for q in quarters) == weighted
    assert sum(q["patientMonths"] for q in quarters) == er["patientMonths"]
    months = sum(
        1
        for py in years
        for line in py.timeline.lines
        if line.status is not LineStatus.NOT_BILLABLE and line.start.year == YEAR
    )
    assert er["patientMonths"] == months


def test_half_way_rate_rounds_the_same_observed_and_risk_adjusted() -> None:
    """0.5 weighted visits in 64 months: observed 0.5 × 100 / 64 = 0.78125 exactly, half way
    between 4-place values (half up → 0.7813). With unit factors and reference 0.06, expected =
    64 × 0.0006 = 0.0384 and risk-adjusted = 0.5 × 0.06 / 0.0384 = 0.78125: the same 0.7813
    (dividing first, 0.5 / 0.0384 × 0.06 = 0.78124999… in 28 digits, would give 0.7812)."""
    bench = ErBenchmarks(Decimal(3), Decimal(1), Decimal("0.06"))
    figures = Figures(visits=1, weighted=Decimal("0.5"), months=64, expected=Decimal("0.0384"))
    out = figures.as_json(bench)
    assert out["observedRate"] == out["riskAdjustedRate"] == "0.7813"
    assert out["expectedRate"] == "0.0600"
