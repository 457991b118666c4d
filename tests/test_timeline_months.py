"""Billing only some months (issue 16 item 4: an order hook's baseline) bills them exactly as
the full timeline does.

``Evaluator.evaluate(record, as_of, months)`` may leave out every month not starting on one of
``months``; what it bills must be the full timeline's lines of those months and its New
Patient line, unchanged. The reference is the full evaluation itself (the path every other
caller keeps), on a generated practice (seed 7, 2025, payer mix: CPOC-only and multi-pack
patients) and, when the external data is there, on the Synthea patients (the heaviest has
~50 treatment months).
"""

from __future__ import annotations

import os
import random
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mixed_support import MIX, evaluator

from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.facts import PatientRecord
from cpoc_fhir.engine.lines import BillingLine, PatientTimeline
from cpoc_fhir.fhir.read import open_source
from cpoc_fhir.service import Evaluator
from cpoc_fhir.synthetic import generate_practice

AS_OF = date(2026, 6, 30)
EXTERNAL = Path(
    os.environ.get("CPOC_EXTERNAL_DATA")
    or Path(__file__).parents[1].parent / "shared" / "data" / "external"
)
SYNTHEA = EXTERNAL / "synthea_bulk_10pt_subset"


def _kept(full: PatientTimeline, starts: set[date]) -> list[BillingLine]:
    """What billing only ``starts`` must give: those months' lines and New Patient."""
    return [
        line
        for line in full.lines
        if line.component is Component.NEW_PATIENT or line.start in starts
    ]


def _starts(timeline: PatientTimeline) -> list[date]:
    return sorted({line.start for line in timeline.lines if line.month is not None})


@pytest.fixture(scope="module")
def practice(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    folder = tmp_path_factory.mktemp("months")
    truth = generate_practice(folder, 80, seed=7, year=2025, claims=False, payer_mix=MIX)
    return folder, truth.payers


@pytest.fixture(scope="module")
def records(practice: tuple[Path, dict[str, str]]) -> list[PatientRecord]:
    reader = evaluator()
    return [reader.record(resources) for resources in open_source(practice[0]).patients()]


@pytest.fixture(scope="module")
def cpoc() -> Evaluator:
    return evaluator()  # no payer mapping: CPOC holds every patient on every day


@pytest.fixture(scope="module")
def full(records: list[PatientRecord], cpoc: Evaluator) -> list[PatientTimeline]:
    return [cpoc.evaluate(r, AS_OF) for r in records]


def test_each_month_alone_bills_as_in_the_full_timeline(
    records: list[PatientRecord], cpoc: Evaluator, full: list[PatientTimeline]
) -> None:
    months = 0
    for record, timeline in zip(records, full, strict=True):
        for start in _starts(timeline):
            alone = cpoc.evaluate(record, AS_OF, {start})
            assert list(alone.lines) == _kept(timeline, {start}), (record.patient_ref, start)
            assert alone.fee_for_service == timeline.fee_for_service
            months += 1
    # The practice must exercise the point: many months, of every kind of line.
    assert months > 500
    kinds = {line.component for t in full for line in t.lines}
    assert {Component.TREATMENT_MONTH, Component.ACTIVE_MONITORING, Component.TRANSITION} <= kinds


def test_no_month_bills_only_new_patient(
    records: list[PatientRecord], cpoc: Evaluator, full: list[PatientTimeline]
) -> None:
    for record, timeline in zip(records, full, strict=True):
        assert list(cpoc.evaluate(record, AS_OF, ()).lines) == _kept(timeline, set())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_set_of_days_bills_the_months_starting_on_them(
    data: st.DataObject,
    records: list[PatientRecord],
    cpoc: Evaluator,
    full: list[PatientTimeline],
) -> None:
    i = data.draw(st.integers(0, len(records) - 1))
    starts = _starts(full[i])
    # month starts of the timeline and arbitrary days (a day no month starts on bills nothing)
    day = st.dates(date(2023, 1, 1), date(2026, 12, 31))
    chosen = set(data.draw(st.lists(st.sampled_from(starts) if starts else day, max_size=6)))
    chosen |= set(data.draw(st.lists(day, max_size=3)))
    horizon = data.draw(st.sampled_from([AS_OF, date(2025, 9, 15), date(2027, 1, 31)]))
    reference = full[i] if horizon == AS_OF else cpoc.evaluate(records[i], horizon)
    assert list(cpoc.evaluate(records[i], horizon, chosen).lines) == _kept(reference, chosen)


def test_several_packs_ignore_the_months(
    practice: tuple[Path, dict[str, str]], records: list[PatientRecord]
) -> None:
    """A patient several packs hold is evaluated in full (other packs bill all their months)."""
    mixed = evaluator(practice[1])
    several = 0
    rng = random.Random(7)
    for record in records:
        timeline = mixed.evaluate(record, AS_OF)
        if len({span.model for span in timeline.models}) < 2:
            continue
        several += 1
        starts = _starts(timeline)
        chosen = set(rng.sample(starts, min(2, len(starts))))
        assert mixed.evaluate(record, AS_OF, chosen) == timeline
    assert several >= 3


@pytest.mark.skipif(not SYNTHEA.is_dir(), reason="no external Synthea data")
def test_synthea_patients_month_by_month() -> None:
    cpoc = evaluator()
    checked = 0
    for resources in open_source(SYNTHEA).patients():
        record = cpoc.record(resources)
        timeline = cpoc.evaluate(record, AS_OF)
        for start in _starts(timeline):
            window = {start, start + timedelta(days=40)}  # this month, maybe the next
            assert list(cpoc.evaluate(record, AS_OF, window).lines) == _kept(timeline, window)
            checked += 1
    assert checked > 50
