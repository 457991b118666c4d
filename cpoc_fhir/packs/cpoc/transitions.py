"""Transition of Treatment, xx401 / xx402 (proposal III-D; cpoc-rules §7).

At most one a month, on top of the month's Treatment or Active Monitoring line, and only with
a face-to-face visit in the month.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.facts import CancerRole, DiseaseState
from cpoc_fhir.engine.fast_init import fast_init
from cpoc_fhir.engine.months import BillingMonth
from cpoc_fhir.packs.cpoc.context import Context, Disease
from cpoc_fhir.packs.cpoc.draft import LineDraft
from cpoc_fhir.packs.cpoc.monitoring import position


@fast_init  # faster __init__, same dataclass (engine/fast_init.py)
@dataclass(frozen=True)
class Reason:
    level: int
    text: str
    refs: tuple[str, ...] = ()
    pending: str | None = None  # set when the reason itself is not yet certain


def transition_line(ctx: Context, k: int) -> LineDraft | None:
    """Month k's Transition line, if any reason applies (both levels → level 2)."""
    month = ctx.month(k)
    reasons = _events(ctx, month) + _class_changes(ctx, month) + _completion(ctx, k)
    if not reasons:
        return None
    level = max(r.level for r in reasons)
    draft = LineDraft(Component.TRANSITION, level, k, month.start, month.end)
    for reason in sorted(reasons, key=lambda r: -r.level):
        draft.explanation.append(f"Transition level {reason.level}: {reason.text}")
        draft.cite(*reason.refs)
    certain = [r for r in reasons if r.level == level and r.pending is None]
    if not certain:
        draft.pending.extend(r.pending for r in reasons if r.pending)
    visits = ctx.visits_between(month.start, month.end)
    if visits:
        draft.cite(visits[0].ref)
        draft.explanation.append(f"Face-to-face visit on {visits[0].on.isoformat()} (III-D)")
    elif month.is_open(ctx.as_of):
        draft.pending.append(f"needs a face-to-face visit by {month.end.isoformat()} (III-D)")
    else:
        draft.failures.append("no face-to-face visit in the month (III-D)")
    return draft


def _events(ctx: Context, month: BillingMonth) -> list[Reason]:
    """Results and diagnoses dated in the month: progression (level 1 (a)); recurrence, a new
    primary or a delayed complication more than 6 months after treatment ended with NED
    (level 2)."""
    reasons = []
    first_primary = ctx.first_primary_onset
    statuses, diagnoses = ctx.dated_in(month.index)
    for status in statuses:
        if status.state is DiseaseState.WORSENED:
            reasons.append(
                _late_or(
                    ctx,
                    status.on,
                    "recurrence documented by a result",
                    "progression documented by a result (271299001 worsened)",
                    status.ref,
                )
            )
    for d in diagnoses:
        if d.onset is None:  # never: dated_in holds diagnoses by their onset
            continue
        name = d.display or d.ref
        if d.cancer_role is CancerRole.SECONDARY:
            if ctx.first_treatment is not None and d.onset < ctx.first_treatment:
                continue  # already present before the first treatment: not a progression
            reasons.append(
                _late_or(
                    ctx,
                    d.onset,
                    f"recurrence: {name}",
                    f"progression: new metastatic condition {name}",
                    d.ref,
                )
            )
        elif d.cancer_role is CancerRole.PRIMARY and (
            d.recurrence or (first_primary is not None and d.onset > first_primary)
        ):
            kind = "recurrence" if d.recurrence else "new primary cancer"
            late = _delayed_with_ned(ctx, d.onset)
            if late:
                reasons.append(Reason(2, f"{kind}: {name}, {late}", (d.ref,)))
        elif d.toxicity or d.late_effect:
            late = _delayed_with_ned(ctx, d.onset)
            if late:
                reasons.append(
                    Reason(2, f"delayed complication of treatment: {name}, {late}", (d.ref,))
                )
    return reasons


def _late_or(ctx: Context, on: date, late_text: str, text: str, ref: str) -> Reason:
    late = _delayed_with_ned(ctx, on)
    if late:
        return Reason(2, f"{late_text}, {late}", (ref,))
    return Reason(1, text, (ref,))


def _delayed_with_ned(ctx: Context, on: date) -> str | None:
    """Level 2's condition: more than 6 months after treatment ended with NED."""
    last = ctx.last_treatment_day_before(on)
    if last is None:
        return None
    months = ctx.settings.delayed_event_months
    if on <= _add_months(last, months):
        return None
    status = ctx.latest_status(on - timedelta(days=1), after=last)
    if status is None or status.state is not DiseaseState.NED:
        return None
    return (
        f"more than {months} months after treatment ended on {last.isoformat()} with no "
        f"evidence of disease ({status.ref})"
    )


def _add_months(day: date, months: int) -> date:
    total = day.month - 1 + months
    year, month = day.year + total // 12, total % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _class_changes(ctx: Context, month: BillingMonth) -> list[Reason]:
    """Level 1 (b): a new regimen sharing no drug class with the previous one, because of
    progression or toxicity on record within the window before it."""
    reasons: list[Reason] = []
    lines = ctx.lines
    if len(lines) < 2:
        return reasons  # one line of therapy or none: no change (asked of every month)
    window = timedelta(days=ctx.settings.transition_reason_window_days)
    for line in lines[1:]:
        if not month.start <= line.start <= month.end:  # month.contains, inline
            continue
        previous = lines[line.index - 1]
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


def _change_reasons(ctx: Context, since: date, until: date) -> list[tuple[str, str]]:
    record = ctx.record
    found = [
        (s.ref, f"progression on {s.on.isoformat()}")
        for s in record.disease_status
        if s.state is DiseaseState.WORSENED and since <= s.on <= until
    ]
    found += [
        (d.ref, f"toxicity: {d.display or d.ref}")
        for d in record.diagnoses
        if d.toxicity and d.onset is not None and since <= d.onset <= until
    ]
    found += [
        (s.ref, f"stopped for {s.reason.value}")
        for s in record.order_stops
        if since <= s.on <= until
    ]
    return found


def _completion(ctx: Context, k: int) -> list[Reason]:
    """Level 1 (c): treatment completed with NED, billed in the first month after it."""
    if ctx.treated(k) or ctx.last_treated_before(k) != k - 1:
        return []
    where = position(ctx, k)
    if where is None or where.pause is True:
        return []
    disease, refs = ctx.disease(ctx.month(k))
    if disease is Disease.METASTATIC:
        return []
    pending = None
    if where.pause is None:
        pending = f"treatment must not resume in month {k + 1}"
    if disease is Disease.UNKNOWN:
        # A status documented since the last treatment month that is not NED (stable,
        # "not in complete remission" …) is no completion with NED (cpoc-rules §6, §7 (c)).
        since = ctx.month(k - 1).start - timedelta(days=1)
        if ctx.latest_status(ctx.month(k).end, after=since) is not None:
            return []
        pending = "disease status not documented: NED assumed"
    # §11: the completed treatment is cited (a resource of its last day), with the disease
    # status if any.
    last = ctx.last_treatment_day_before(ctx.month(k).start)
    if last is not None:
        refs = (*ctx.treatment_refs_on(last)[:1], *refs)
    return [Reason(1, "treatment completed with no evidence of disease (III-D (c))", refs, pending)]
