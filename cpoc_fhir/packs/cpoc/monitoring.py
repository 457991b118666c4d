"""Active Monitoring Months, xx301-xx303 (proposal III-C; cpoc-rules §6)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.facts import EpisodeKind
from cpoc_fhir.engine.fast_init import fast_init
from cpoc_fhir.engine.months import BillingMonth
from cpoc_fhir.packs.cpoc.context import Context, Disease
from cpoc_fhir.packs.cpoc.draft import LineDraft

# Level 2 and 3 lines in the first 6 months after treatment need a visit in those months.
POST_TREATMENT_VISIT_MONTHS = 6
# Cancer disease status: LOINC 97509-4, and mCODE STU1's 88040-1 (cpoc-rules §6).
DISEASE_STATUS_CODES = "http://loinc.org|97509-4,http://loinc.org|88040-1"


@fast_init  # faster __init__, same dataclass (engine/fast_init.py)
@dataclass(frozen=True)
class MonitoringPosition:
    """Where a month without treatment stands relative to treatment."""

    m: int  # months since the end of treatment (1 = the first month after it)
    last_treated: int  # index of the last treatment month (or the New Patient month)
    pause: bool | None  # True: a pause within treatment; None: cannot be known yet


def position(ctx: Context, k: int) -> MonitoringPosition | None:
    """§6: m, and whether month k is a pause (treatment the month before and after)."""
    last = ctx.last_treated_before(k)
    if last is None:
        if ctx.first_treatment is not None:
            return None  # before treatment began: the New Patient payment covers it
        last = 1  # never treated: the month after the New Patient month is m = 1
        return MonitoringPosition(m=k - last, last_treated=last, pause=False)
    pause: bool | None = False
    if last == k - 1:
        pause = ctx.treatment_known(k + 1)
    return MonitoringPosition(m=k - last, last_treated=last, pause=pause)


def monitoring_line(ctx: Context, k: int) -> LineDraft | None:
    """The Active Monitoring line of month k (no treatment in it), or None when none is due."""
    month = ctx.month(k)
    where = position(ctx, k)
    if where is None or where.m < 1:
        return None
    if where.pause is True:
        return _pause(ctx, month)

    disease, disease_refs = ctx.disease(month)
    level, reason = _level(ctx, month, where.m, disease)
    if level is None:
        return None
    draft = _draft(month, level)
    draft.cite(*disease_refs)
    draft.explanation.append(f"Active Monitoring level {level}: {reason}")
    if where.m == 1:
        _cite_end_of_treatment(ctx, month, draft)  # the treatment that just ended
    if where.pause is None:
        draft.pending.append(
            f"a pause if treatment resumes in month {k + 1}, else the first month after "
            "treatment; known once that month is"
        )
    if disease is Disease.UNKNOWN:
        # §11: the status that is neither NED nor metastatic, else the search that found none.
        latest = ctx.latest_status(month.end)
        if latest is not None:
            draft.cite(latest.ref)
        else:
            draft.cite(disease_status_search(ctx.record.patient_ref, month.end))
        draft.pending.append("disease status not documented: billed at the NED level")
        draft.warn(
            "no metastatic condition, stage IV or cancer disease status (LOINC 97509-4) "
            "on record: monitoring billed at the NED level"
        )
    _visit_requirement(ctx, month, where, level, draft)
    if not draft.evidence:
        _cite_end_of_treatment(ctx, month, draft)  # §11: m still rests on the treatment's end
    _open_month(ctx, month, draft)
    return draft


def _pause(ctx: Context, month: BillingMonth) -> LineDraft:
    """§6 (a) level 3; §11: the line cites the treatment before and after the pause."""
    draft = _draft(month, 3)
    before = ctx.last_treatment_day_before(month.start)
    after = ctx.first_treatment_day_after(month.end)
    around = [f"on {d.isoformat()}" for d in (before, after) if d is not None]
    draft.explanation.append(
        "Active Monitoring level 3 (III-C (a)): a pause within treatment — treatment in the "
        f"month before and the month after ({' and '.join(around)})"
    )
    for day in (before, after):
        if day is not None:
            draft.cite(*ctx.treatment_refs_on(day))
    _open_month(ctx, month, draft)
    return draft


def _cite_end_of_treatment(ctx: Context, month: BillingMonth, draft: LineDraft) -> None:
    """§11: m counts from the last treatment, or for a patient never treated from the New
    Patient month (the oncology episode of care and the first visit are cited). One resource of
    the last treatment day names it (the full list of that day is on the last Treatment Month's
    line): cited in the first month after treatment, and in any later month that has nothing
    else to cite."""
    last = ctx.last_treatment_day_before(month.start)
    if last is not None:
        draft.cite(*ctx.treatment_refs_on(last)[:1])
        return
    draft.cite(*(e.ref for e in ctx.record.episodes if e.kind is EpisodeKind.ONCOLOGY))
    if ctx.f2f_visits:
        draft.cite(ctx.f2f_visits[0].ref)


def disease_status_search(patient_ref: str, until: date) -> str:
    """The relative FHIR search for the cancer disease status Observations looked for (§6)."""
    return (
        f"Observation?subject={patient_ref}&code={DISEASE_STATUS_CODES}&date=le{until.isoformat()}"
    )


def _draft(month: BillingMonth, level: int) -> LineDraft:
    return LineDraft(Component.ACTIVE_MONITORING, level, month.index, month.start, month.end)


def _level(ctx: Context, month: BillingMonth, m: int, disease: Disease) -> tuple[int | None, str]:
    if disease is Disease.METASTATIC:
        return 3, f"metastatic disease, month {m} after treatment (III-C (c))"
    state = "NED" if disease is Disease.NED else "NED assumed"
    if m <= 3:
        return 3, f"month {m} after treatment, {state} (III-C (b))"
    if m <= POST_TREATMENT_VISIT_MONTHS:
        return 2, f"month {m} after treatment, {state} (III-C level 2 (a))"
    late = [
        d for d in ctx.record.diagnoses if d.late_effect and d.active_during(month.start, month.end)
    ]
    if late:
        return 2, (
            f"month {m} after treatment, chronic problem from treatment toxicity: "
            f"{late[0].display or late[0].ref} (III-C level 2 (b))"
        )
    horizon = ctx.settings.horizon_for(ctx.cancer_type())
    if m <= horizon:
        return 1, f"month {m} after treatment, {state}, surveillance to month {horizon} (III-C)"
    return None, "after the surveillance horizon: visits are fee-for-service again (§9)"


def _visit_requirement(
    ctx: Context, month: BillingMonth, where: MonitoringPosition, level: int, draft: LineDraft
) -> None:
    """III-C: a visit in the 6 months after treatment for levels 2-3 in those months; a visit
    each year for level 1."""
    if level >= 2 and where.m <= POST_TREATMENT_VISIT_MONTHS:
        first = ctx.month(where.last_treated + 1)
        last = ctx.month(where.last_treated + POST_TREATMENT_VISIT_MONTHS)
        visits = ctx.visits_between(first.start, last.end)
        if visits:
            draft.cite(visits[0].ref)
            draft.explanation.append(
                f"Face-to-face visit on {visits[0].on.isoformat()} within the 6 months after "
                "treatment (III-C)"
            )
        elif ctx.as_of > last.end:
            draft.failures.append(
                f"no face-to-face visit from {first.start.isoformat()} to "
                f"{last.end.isoformat()}, the 6 months after treatment (III-C)"
            )
        else:
            draft.pending.append(f"needs a face-to-face visit by {last.end.isoformat()} (III-C)")
    elif level == 1:
        since = _year_before(month.end)
        visits = ctx.visits_between(since, month.end)
        if visits:
            draft.cite(visits[-1].ref)
            draft.explanation.append(
                f"Face-to-face visit on {visits[-1].on.isoformat()} in the 12 months up to "
                f"{month.end.isoformat()} (III-C)"
            )
        elif month.is_open(ctx.as_of):
            draft.pending.append(f"needs a face-to-face visit by {month.end.isoformat()} (III-C)")
        else:
            draft.failures.append(
                f"no face-to-face visit in the 12 months up to {month.end.isoformat()} (III-C)"
            )


def _year_before(day: date) -> date:
    """The first day of the 12 months that end on ``day``."""
    try:
        return day.replace(year=day.year - 1) + timedelta(days=1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28) + timedelta(days=1)


def _open_month(ctx: Context, month: BillingMonth, draft: LineDraft) -> None:
    if month.is_open(ctx.as_of):
        draft.pending.append(f"the month is open until {month.end.isoformat()}")
