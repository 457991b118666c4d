"""Engine functions changed for speed (transitions._class_changes, Context.dated_in,
day_regimens.month_days): the former definitions, kept below, patched back in give the same
timelines for a generated practice with the payer mix, at drawn as-of dates (hypothesis)."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise
from typing import Any

import pytest
from engine_strategies import Generated, records
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cpoc_fhir.config import load_payer
from cpoc_fhir.engine.facts import PatientRecord
from cpoc_fhir.engine.months import BillingMonth
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.fhir.read import open_source
from cpoc_fhir.knowledge import Knowledge
from cpoc_fhir.knowledge.loader import load_knowledge
from cpoc_fhir.knowledge.regimens import RegimenCatalog
from cpoc_fhir.packs.cpoc import context, timeline, transitions
from cpoc_fhir.packs.cpoc.context import Context
from cpoc_fhir.packs.cpoc.day_regimens import MonthDays, TreatmentDay, _identify_day
from cpoc_fhir.packs.cpoc.transitions import Reason, _change_reasons
from cpoc_fhir.packs.cpoc.treatment import MonthTreatment, TherapyLine
from cpoc_fhir.service import Evaluator
from cpoc_fhir.synthetic import generate_practice


def former_class_changes(ctx: Context, month: BillingMonth) -> list[Reason]:
    """Level 1 (b): a new regimen sharing no drug class with the previous one, because of
    progression or toxicity on record within the window before it."""
    reasons = []
    window = timedelta(days=ctx.settings.transition_reason_window_days)
    for line in ctx.lines[1:]:
        if not month.contains(line.start):
            continue
        previous = ctx.lines[line.index - 1]
        if not (line.fully_known and previous.fully_known):
            ctx.warnings.append(
                f"regimen change on {line.start.isoformat()} ({previous.name} → {line.name}) "
                "involves drugs outside the catalog: not assessed as a class change"
            )
            continue
        if previous.classes & line.classes:
            continue
        evidence = _change_reasons(ctx, line.start - window, line.start)
        change = f"{previous.name} → {line.name} on {line.start.isoformat()}"
        if evidence:
            refs = tuple(ref for ref, _ in evidence)
            why = "; ".join(text for _, text in evidence)
            reasons.append(Reason(1, f"change of drug class, {change}, because of {why}", refs))
        else:
            ctx.warnings.append(
                f"class change {change} with no progression or toxicity on record in the "
                f"{window.days} days before: no Transition (a planned sequence?)"
            )
    return reasons


def former_month_days(
    treatment: MonthTreatment,
    lines: tuple[TherapyLine, ...],
    line_of: dict[str, int],
    catalog: RegimenCatalog,
    window_days: int,
    memo: dict[Any, TreatmentDay] | None = None,
) -> MonthDays:
    """The month's medication days with their regimens, as runs of identical days.

    The days between two changes (an exposure starting or ending, a line's first window
    closing) are given the same drugs, so they are identified once: a 30-day oral supply is one
    run, not 30 days. ``memo`` (one per patient) shares identifications between runs that give
    the same drugs, by the same routes, in the same lines (each cycle of a regimen); the catalog
    memoises each drug set's regimens across patients.
    """
    spans = treatment.spans
    if not spans:
        return []
    window = timedelta(days=window_days)
    memo = {} if memo is None else memo
    limits = [(line.start + window).toordinal() for line in lines]
    first, last = min(s[0] for s in spans), max(s[1] for s in spans)
    cuts = {lo for lo, _, _ in spans} | {hi + 1 for _, hi, _ in spans}
    cuts.update(limit + 1 for limit in limits if first < limit + 1 <= last)
    points = sorted(cuts)
    out: MonthDays = []
    for start, stop in pairwise(points):
        exposures = [e for lo, hi, e in spans if lo <= start <= hi]
        if not exposures:
            continue
        key = tuple(
            (
                e.drug or e.drug_name,
                e.role,
                e.route,
                index := line_of.get(e.ref, -1),
                index >= 0 and start > limits[index],
            )
            for e in exposures
        )
        found = memo.get(key)
        if found is None:
            found = _identify_day(start, exposures, lines, line_of, catalog, window)
            memo[key] = found
        out.append((start, stop - 1, found))
    return out


def former_dated_in(self: Context, k: int) -> Any:
    return self._dated.get(k, ([], []))


@pytest.fixture(scope="module")
def practice(tmp_path_factory: pytest.TempPathFactory, knowledge: Knowledge) -> Any:
    folder = tmp_path_factory.mktemp("practice")
    generate_practice(folder, 80, seed=13, year=2025, claims=False)
    evaluator = Evaluator(knowledge, RuleSettings(), load_payer(None))
    records = [evaluator.record(r) for r in open_source(folder).patients(None)]
    return evaluator, records


def _timelines(evaluator: Evaluator, records: list[PatientRecord], as_of: date) -> list[Any]:
    return [evaluator.evaluate(record, as_of) for record in records]


FORMER = [
    (transitions, "_class_changes", former_class_changes),
    (context.Context, "dated_in", former_dated_in),
    (timeline, "month_days", former_month_days),
]


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.dates(date(2025, 2, 1), date(2027, 6, 30)))
def test_former_definitions_give_the_same_timelines(practice: Any, as_of: date) -> None:
    evaluator, records = practice
    now = _timelines(evaluator, records, as_of)
    with pytest.MonkeyPatch.context() as patch:
        for owner, name, former in FORMER:
            patch.setattr(owner, name, former)
        before = _timelines(evaluator, records, as_of)
    assert now == before
    codes = {line.code for t in now for line in t.lines}
    assert {"xx401", "xx301"} & codes  # transitions and monitoring were billed, not only NP


@settings(max_examples=120, deadline=None, derandomize=True)
@given(records())
def test_former_definitions_on_drawn_records(generated: Generated) -> None:
    """The engine's own strategies (tests/engine_strategies.py): several lines of therapy,
    regimen changes, pauses, statuses; the generated practice has no class change."""
    evaluator = Evaluator(KNOWLEDGE, RuleSettings(), load_payer(None))
    now = evaluator.evaluate(generated.record, generated.as_of)
    with pytest.MonkeyPatch.context() as patch:
        for owner, name, former in FORMER:
            patch.setattr(owner, name, former)
        before = evaluator.evaluate(generated.record, generated.as_of)
    assert now == before


KNOWLEDGE = load_knowledge()
