"""Emergency visits of a synthetic practice (value-and-models §12.3) against the generator's
own choices (``PracticeTruth``): categories, weights, which visits count, distances.

The CPOC months are the engine's (its own tests cover them); everything else is derived from
``truth``: a visit counts when the generator gave it an OP-35 category and its day falls in a
billable Treatment or Active Monitoring month that starts in the year; its weight is 1.0
exactly when the generator placed it 0-30 days after a treatment day.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cpoc_fhir.config import load_payer
from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.lines import LineStatus
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.fhir.read.record import read_record
from cpoc_fhir.fhir.read.references import patient_id
from cpoc_fhir.fhir.read.sources import NdjsonSource
from cpoc_fhir.knowledge.loader import load_knowledge
from cpoc_fhir.packs.cpoc.timeline import evaluate
from cpoc_fhir.synthetic import PracticeTruth, generate_practice
from cpoc_fhir.value.er import ErCollector
from cpoc_fhir.value.model import DistanceBand, ErBenchmarks, PatientYear, Position
from cpoc_fhir.value.settings import ValueSettings

YEAR = 2025
AS_OF = date(2025, 12, 31)
BANDS = (
    DistanceBand(Decimal(25), Decimal("1.0")),
    DistanceBand(Decimal(50), Decimal("1.1")),
    DistanceBand(Decimal(100), Decimal("1.2")),
    DistanceBand(None, Decimal("1.3")),
)
BENCH = ErBenchmarks(Decimal(6), Decimal("1.5"), Decimal(6), distance=BANDS)


@pytest.fixture(scope="module")
def practice(tmp_path_factory: pytest.TempPathFactory) -> tuple[PracticeTruth, list[PatientYear]]:
    out: Path = tmp_path_factory.mktemp("practice")
    truth = generate_practice(out, patients=80, seed=13, year=YEAR, claims=False)
    source = NdjsonSource(out)
    location = source.shared[f"Location/{truth.location_id}"]["position"]
    where = Position(location["latitude"], location["longitude"])
    knowledge, payer = load_knowledge(), load_payer(None)
    years = []
    for resources in source.patients():
        record = read_record(resources, knowledge)
        timeline = evaluate(record, knowledge, RuleSettings(), payer, AS_OF)
        pid = patient_id(resources.patient_ref)
        years.append(PatientYear(pid, resources, record, timeline, YEAR, AS_OF, where))
    return truth, years


def result(years: list[PatientYear]) -> dict[str, Any]:
    collector = ErCollector(ValueSettings(), BENCH)
    for py in years:
        collector.add(py)
    return collector.result().as_json()


def test_counted_visits_follow_the_generators_choices(
    practice: tuple[PracticeTruth, list[PatientYear]],
) -> None:
    truth, years = practice
    er = result(years)
    expected_rows: dict[str, tuple[str, str, bool]] = {}
    for py in years:
        months = [
            line
            for line in py.timeline.lines
            if line.component in (Component.TREATMENT_MONTH, Component.ACTIVE_MONITORING)
            and line.status in (LineStatus.FINAL, LineStatus.PROVISIONAL)
        ]
        for visit in truth.patients[py.patient_id].er_visits:
            month = next((m for m in months if m.start <= visit.day <= m.end), None)
            if visit.op35_category is None or month is None or month.start.year != YEAR:
                continue
            expected_rows[f"Encounter/{visit.encounter_id}"] = (
                visit.op35_category,
                "1.0" if visit.near_treatment else "0.5",
                visit.near_treatment,
            )
    counted = {
        row["encounter"]: (row["category"], row["weight"], row["nearTreatment"])
        for p in er["patients"].values()
        for row in p["visits"]
    }
    assert counted == expected_rows
    assert len(counted) >= 10  # the practice is big enough to mean something
    assert {w for _, w, _ in counted.values()} == {"1.0", "0.5"}
    assert er["visits"] == len(counted)
    assert Decimal(er["weightedVisits"]) == sum(Decimal(w) for _, w, _ in counted.values())
    non_op35 = sum(
        1 for p in truth.patients.values() for v in p.er_visits if v.op35_category is None
    )
    assert non_op35 > 0
    assert er["excluded"]["notOncologyRelated"] <= non_op35


def test_distances_follow_the_generators_choices(
    practice: tuple[PracticeTruth, list[PatientYear]],
) -> None:
    truth, years = practice
    er = result(years)
    known = unknown = 0
    for pid, row in er["patients"].items():
        chosen = truth.patients[pid].distance_km
        if not row["months"]:
            continue
        if chosen is None:
            unknown += 1
            assert row["distanceKm"] is None and row["distanceFactor"] == "1"
            continue
        known += 1
        assert abs(Decimal(row["distanceKm"]) - Decimal(repr(chosen))) <= Decimal("0.05")
        # The generator keeps away from 25/50/100 km: the band follows from its distance.
        band = next(i for i, b in enumerate(BANDS) if b.max_km is None or chosen <= b.max_km)
        assert row["distanceBand"] == band
        assert row["distanceFactor"] == str(BANDS[band].factor)
    assert er["distance"] == {"known": known, "unknown": unknown}
    assert known > 0 and unknown > 0
