"""What an order means under CPOC: the same evaluation as everywhere, with the drafts added.

The record is read once with the draft orders counted; the engine runs twice, with and
without the exposures the drafts produced, so the cards can say what *this order* changes:
the Treatment Month it falls in (and its level before), and the Transition, New Patient or
Clinical Trial lines it brings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date

from cds_hooks.record_cache import RecordCache
from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.facts import PatientRecord
from cpoc_fhir.engine.lines import BillingLine, PatientTimeline
from cpoc_fhir.fhir.read import PatientResources
from cpoc_fhir.packs.cpoc.draft import draft_evidence
from cpoc_fhir.service import Evaluator


@dataclass(frozen=True)
class MonthImpact:
    """One billing month an order falls in: its lines now, and what they were without it."""

    start: date
    end: date
    index: int | None
    lines: tuple[BillingLine, ...]  # every line of the month, with the order
    before: tuple[BillingLine, ...]  # the same month's lines without the order

    @property
    def treatment(self) -> BillingLine | None:
        return _first(self.lines, Component.TREATMENT_MONTH)

    def previous(self, line: BillingLine) -> BillingLine | None:
        """The line of the same component without the order (same month start)."""
        return next(
            (b for b in self.before if b.component is line.component and b.start == line.start),
            None,
        )

    def base_before(self) -> BillingLine | None:
        """The month's Treatment or Monitoring line without the order."""
        return _first(self.before, Component.TREATMENT_MONTH) or _first(
            self.before, Component.ACTIVE_MONITORING
        )


@dataclass(frozen=True)
class OrderAssessment:
    record: PatientRecord
    timeline: PatientTimeline  # with the drafts
    # without them: the order's months and New Patient only (other months may be missing)
    baseline: PatientTimeline
    order_refs: tuple[str, ...]  # selected drafts the reader counted as treatment
    ignored_orders: tuple[str, ...]  # selected drafts that bring no treatment day
    months: tuple[MonthImpact, ...]
    new_patient: BillingLine | None  # the New Patient line, when the order brings or changes it

    def order_warnings(self) -> list[str]:
        """Reader warnings about the selected drafts themselves (drug not identified…)."""
        refs = self.order_refs + self.ignored_orders
        return [w for w in self.timeline.warnings if any(w.startswith(r) for r in refs)]


def assess_orders(
    evaluator: Evaluator,
    resources: PatientResources,
    selected: Iterable[str],
    as_of: date,
    draft_refs: Iterable[str] = (),
    cache: RecordCache | None = None,
    key: bytes | None = None,
) -> OrderAssessment:
    """The lines the selected draft orders produce, as known on ``as_of``. ``draft_refs`` (every
    draft's "Type/id") are cited in the lines' evidence as drafts (cpoc-rules §11).

    ``cache`` with ``key`` (record_cache.record_key of exactly the input ``resources`` were
    built from) reuses the record and raw timelines an earlier call computed on it."""
    chosen = set(selected)
    local = frozenset(draft_refs) | chosen
    memo = cache if cache is not None else RecordCache(size=0)
    record = memo.record(key, lambda: evaluator.record(resources, include_drafts=True))
    drafts = {e for e in record.exposures if _source(e.order_ref, e.ref) in chosen}
    without = replace(record, exposures=tuple(e for e in record.exposures if e not in drafts))
    # Drafts may be dated after today (a cycle planned next week): see as far as they reach.
    horizon = max([as_of, *(e.start for e in drafts)])
    removed = frozenset(_source(e.order_ref, e.ref) for e in drafts)
    raw = memo.timeline(key, (horizon, frozenset()), lambda: evaluator.evaluate(record, horizon))
    days = sorted({e.start for e in drafts})
    # The baseline is read only in the order's months and for New Patient (MonthImpact.before,
    # _changed_new_patient; pack_impact reads other packs' lines, which the months do not
    # restrict): so only those months are billed in it (Evaluator.evaluate ``months``).
    starts = frozenset(m.start for m in _treatment_months(raw, days))
    raw_base = (
        raw
        if not drafts
        else memo.timeline(
            key,
            (horizon, removed, starts),
            lambda: evaluator.evaluate(without, horizon, starts),
        )
    )
    timeline = _drafts_marked(raw, local)
    baseline = _drafts_marked(raw_base, local)
    order_refs = tuple(sorted({_source(e.order_ref, e.ref) for e in drafts}))
    months = _months(timeline, baseline, days)
    return OrderAssessment(
        record=record,
        timeline=timeline,
        baseline=baseline,
        order_refs=order_refs,
        ignored_orders=tuple(sorted(chosen - set(order_refs))),
        months=months,
        new_patient=_changed_new_patient(timeline, baseline),
    )


def current_month(timeline: PatientTimeline, today: date) -> tuple[BillingLine, ...]:
    """The lines of the billing month containing ``today`` (patient-view)."""
    return tuple(
        line
        for line in timeline.lines
        if line.component is not Component.NEW_PATIENT and line.start <= today <= line.end
    )


def _drafts_marked(timeline: PatientTimeline, drafts: frozenset[str]) -> PatientTimeline:
    """The timeline with its lines' draft evidence marked (cpoc_fhir.packs.cpoc.draft)."""

    def marked(line: BillingLine) -> BillingLine:
        if not any(ref in drafts for ref in line.evidence):
            return line
        evidence = tuple(draft_evidence(r) if r in drafts else r for r in line.evidence)
        return replace(line, evidence=evidence)

    return replace(timeline, lines=tuple(marked(line) for line in timeline.lines))


def _source(order_ref: str | None, ref: str) -> str:
    return order_ref or ref


def _treatment_months(timeline: PatientTimeline, days: list[date]) -> list[BillingLine]:
    """The Treatment Month line each day falls in (days in none are skipped), once each."""
    found: dict[date, BillingLine] = {}
    for day in days:
        base = next(
            (
                line
                for line in timeline.lines
                if line.component is Component.TREATMENT_MONTH and line.start <= day <= line.end
            ),
            None,
        )
        if base is not None:
            found.setdefault(base.start, base)
    return list(found.values())


def _months(
    timeline: PatientTimeline, baseline: PatientTimeline, days: list[date]
) -> tuple[MonthImpact, ...]:
    found: dict[date, MonthImpact] = {}
    for base in _treatment_months(timeline, days):
        found[base.start] = MonthImpact(
            start=base.start,
            end=base.end,
            index=base.month,
            lines=_in_month(timeline.lines, base),
            before=_in_month(baseline.lines, base),
        )
    return tuple(found[k] for k in sorted(found))


def _in_month(lines: Iterable[BillingLine], base: BillingLine) -> tuple[BillingLine, ...]:
    return tuple(
        line
        for line in lines
        if line.component is not Component.NEW_PATIENT
        and line.start == base.start
        and line.end == base.end
    )


def _changed_new_patient(
    timeline: PatientTimeline, baseline: PatientTimeline
) -> BillingLine | None:
    now = _first(timeline.lines, Component.NEW_PATIENT)
    before = _first(baseline.lines, Component.NEW_PATIENT)
    if now is None:
        return None
    if before is not None and (before.status, before.start) == (now.status, now.start):
        return None
    return now


def _first(lines: Iterable[BillingLine], component: Component) -> BillingLine | None:
    return next((line for line in lines if line.component is component), None)
