"""What an order means under the payment-model packs other than CPOC (value-and-models §15).

The assessment (assess.py) evaluates the record with and without the draft orders through the
shared Evaluator, whatever pack holds the patient. Here: which pack holds each order day, the
pack lines of the months the order falls in, and the episodes the order starts — an episode
of the evaluation with the drafts whose trigger is a draft, with no episode of the same model
starting that day without them (its trigger is a planned administration: the episode is
provisional, engine/episodes.py ``Trigger.confirmed``).

A month no order can change is left out: a line of no episode (a CPC+ care management fee,
§15.3, follows the attribution file, not orders) the same with and without the order. Its card
would say "unchanged by this order" on every order, and signing would propose the month's fee
as if the order caused it; patient-view shows the month instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from cds_hooks.assess import OrderAssessment
from cpoc_fhir.engine.episodes import Episode
from cpoc_fhir.engine.lines import DEFAULT_MODEL, BillingLine, PatientTimeline
from cpoc_fhir.packs.evaluate import ModelEvaluation


@dataclass(frozen=True)
class PackMonth:
    """A pack line of a month an order day falls in, and the same month without the order."""

    line: BillingLine
    before: BillingLine | None
    started: Episode | None  # the episode this order starts, when the line is its first month


@dataclass(frozen=True)
class PackImpact:
    days: tuple[date, ...]  # the days the selected drafts fall on
    models: tuple[str, ...]  # the pack holding each of those days (same order)
    months: tuple[PackMonth, ...]
    started: tuple[Episode, ...]

    def lines(self) -> list[BillingLine]:
        return [m.line for m in self.months]

    def any_held_by(self, evaluation: ModelEvaluation, replaces_ffs: bool) -> bool:
        """Whether some order day is held by a pack that does (not) replace fee-for-service."""
        return any(
            evaluation.pack(model).replaces_fee_for_service is replaces_ffs for model in self.models
        )


def model_on(timeline: PatientTimeline, day: date) -> str:
    """The pack holding the patient on ``day`` (CPOC when no span says otherwise)."""
    return next((s.model for s in timeline.models if s.holds(day)), DEFAULT_MODEL)


def pack_impact(assessment: OrderAssessment) -> PackImpact:
    chosen = set(assessment.order_refs)
    drafts = [e for e in assessment.record.exposures if (e.order_ref or e.ref) in chosen]
    draft_refs = {e.ref for e in drafts} | chosen
    days = tuple(sorted({e.start for e in drafts}))
    timeline, baseline = assessment.timeline, assessment.baseline
    started = tuple(
        episode
        for episode in timeline.episodes
        if episode.trigger in draft_refs
        and not any(
            b.model == episode.model and b.start == episode.start for b in baseline.episodes
        )
    )
    months: dict[tuple[str, date], PackMonth] = {}
    for line in timeline.lines:
        if line.model == DEFAULT_MODEL or (line.model, line.start) in months:
            continue
        if not any(line.start <= day <= line.end for day in days):
            continue
        before = next(
            (
                b
                for b in baseline.lines
                if (b.model, b.component, b.start) == (line.model, line.component, line.start)
            ),
            None,
        )
        first = next(
            (
                e
                for e in started
                if e.model == line.model and e.index == line.episode and line.month == 1
            ),
            None,
        )
        if line.episode is None and _same(line, before):
            continue  # not the order's: the month bills the same without it
        months[(line.model, line.start)] = PackMonth(line, before, first)
    return PackImpact(
        days=days,
        models=tuple(model_on(timeline, day) for day in days),
        months=tuple(months[k] for k in sorted(months, key=lambda k: (k[1], k[0]))),
        started=started,
    )


def _same(line: BillingLine, before: BillingLine | None) -> bool:
    return before is not None and (before.code, before.status, before.amount) == (
        line.code,
        line.status,
        line.amount,
    )
