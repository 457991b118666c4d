"""The engine's entry point: one patient's record → month-by-month CPOC lines.

``evaluate`` is pure: the clock (``as_of``), settings, payer and knowledge are arguments.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Collection, Iterable
from datetime import date

from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.facts import CancerRole, EpisodeKind, MedicationExposure, PatientRecord
from cpoc_fhir.engine.lines import BillingLine, LineStatus, PatientTimeline, Score
from cpoc_fhir.engine.months import BillingMonth, billing_months, month_index
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.knowledge import Knowledge
from cpoc_fhir.packs.cpoc.administration import administration
from cpoc_fhir.packs.cpoc.cancer_types import apply_cancer_types
from cpoc_fhir.packs.cpoc.context import Context, known_on
from cpoc_fhir.packs.cpoc.day_regimens import distinct, month_days
from cpoc_fhir.packs.cpoc.draft import LineDraft
from cpoc_fhir.packs.cpoc.monitoring import monitoring_line
from cpoc_fhir.packs.cpoc.payer import PayerSchedule
from cpoc_fhir.packs.cpoc.scoring import comorbidity, performance, toxicity
from cpoc_fhir.packs.cpoc.tables import treatment_level
from cpoc_fhir.packs.cpoc.transitions import transition_line
from cpoc_fhir.packs.cpoc.treatment import (
    MonthTreatment,
    add_exposure,
    anchor_day,
    build_lines,
    counted_exposures,
)


def evaluate(
    record: PatientRecord,
    knowledge: Knowledge,
    settings: RuleSettings,
    payer: PayerSchedule,
    as_of: date,
    months: Collection[date] | None = None,
) -> PatientTimeline:
    """Every CPOC line of one patient from the first visit through the month of ``as_of``;
    none, with a notice, for a patient not of a CPOC cancer type (§14.3).

    ``months``: bill only the billing months starting on these days (and the New Patient
    line), for a caller that reads no other month (an order hook's baseline). A month's lines
    depend on the whole record (anchor, lines of therapy, treatment days, statuses) but never
    on another month's lines, so they are the same as in the full timeline
    (tests/test_timeline_months.py); the warnings are then those of the months billed. The
    cancer-type notice is unaffected: the New Patient line is always there when any is."""
    record = known_on(record, as_of)
    timeline = _evaluate(record, knowledge, settings, payer, as_of, months)
    return apply_cancer_types(timeline, record, settings)


def _evaluate(
    record: PatientRecord,
    knowledge: Knowledge,
    settings: RuleSettings,
    payer: PayerSchedule,
    as_of: date,
    only: Collection[date] | None = None,
) -> PatientTimeline:
    exposures = counted_exposures(record)
    lines, line_of = build_lines(exposures, knowledge.regimens, settings)
    starts = [anchor_day(e) for e in exposures] + [t.on for t in record.transplants]
    first_treatment = min(starts, default=None)
    new_patient, np_warnings = _new_patient_visit(record, settings, bool(starts))
    anchor = first_treatment or (new_patient.start if new_patient else None)
    warnings = list(record.warnings) + np_warnings
    for line in lines:
        warnings.extend(w for w in line.warnings if w not in warnings)
    if anchor is None:
        drafts = [new_patient] if new_patient else []
        return _timeline(record, as_of, drafts, payer, warnings)

    last_day = _last_billable_day(record, as_of)
    months = list(billing_months(anchor, last_day))
    ctx = Context(
        record=record,
        knowledge=knowledge,
        settings=settings,
        payer=payer,
        as_of=as_of,
        anchor=anchor,
        months=months,
        treatment=_treatment_by_month(record, exposures, anchor, months),
        lines=lines,
        line_of=line_of,
        treatment_days=sorted({d for e in exposures for d in e.days()}),
        first_treatment=first_treatment,
        last_day=last_day,
        warnings=warnings,
    )
    drafts = []
    if new_patient is not None:
        new_patient.month = _index_or_none(anchor, new_patient.start)
        drafts.append(new_patient)
    elif first_treatment is not None:
        missing = _missing_new_patient_visit(first_treatment, anchor)
        # §11: the line rests on the first treatment (the visit it needs is not on record).
        missing.cite(*(e.ref for e in exposures if anchor_day(e) == first_treatment))
        missing.cite(*(t.ref for t in record.transplants if t.on == first_treatment))
        drafts.append(missing)
    for month in months:
        if only is None or month.start in only:
            drafts.extend(_month_lines(ctx, month))
    return _timeline(record, as_of, drafts, payer, ctx.warnings)


def _timeline(
    record: PatientRecord,
    as_of: date,
    drafts: Iterable[LineDraft],
    payer: PayerSchedule,
    warnings: list[str],
) -> PatientTimeline:
    lines = sorted((d.finish(payer) for d in drafts), key=BillingLine.sort_key)
    unique = list(dict.fromkeys(warnings))
    return PatientTimeline(record.patient_ref, as_of, tuple(lines), tuple(unique))


def _last_billable_day(record: PatientRecord, as_of: date) -> date:
    """§9: no line for a month that starts after death or the transfer of care."""
    last = as_of
    if record.death is not None:
        last = min(last, record.death)
    oncology = [e for e in record.episodes if e.kind is EpisodeKind.ONCOLOGY]
    if oncology and all(e.end is not None for e in oncology):
        transfer = max(e.end for e in oncology if e.end is not None)
        last = min(last, transfer)
    return last


def _treatment_by_month(
    record: PatientRecord,
    exposures: Iterable[MedicationExposure],
    anchor: date,
    months: list[BillingMonth],
) -> dict[int, MonthTreatment]:
    """Bucket each treatment day into its billing month."""
    by_month: dict[int, MonthTreatment] = {}
    if not months:
        return by_month
    last_k = months[-1].index
    # Month k of a day by bisection over the months' starts (k of them start on or before
    # it): month_index's k for days in months 1..last_k; before the anchor 0 (month_index
    # ≤ 0), after the last month last_k (month_index more) — the same once clamped to
    # [1, last_k], except an exposure starting after the last month: none of its days count.
    starts = [month.start.toordinal() for month in months]
    last_end = months[-1].end.toordinal()
    for exposure in exposures:
        first = exposure.start.toordinal()
        if first > last_end:
            continue
        first_k = max(1, bisect_right(starts, first))
        end_k = min(last_k, bisect_right(starts, exposure.end.toordinal()))
        for k in range(first_k, end_k + 1):
            month = months[k - 1]
            treatment = by_month.setdefault(k, MonthTreatment())
            add_exposure(treatment, exposure, month.start.toordinal(), month.end.toordinal())
    for transplant in record.transplants:
        k = month_index(anchor, transplant.on)
        if 1 <= k <= last_k:
            treatment = by_month.setdefault(k, MonthTreatment())
            day = transplant.on.toordinal()
            treatment.days.add(day)
            treatment.confirmed_days.add(day)
            treatment.transplant_days[day] = transplant.ref
            treatment.evidence.append(transplant.ref)
    return by_month


def _month_lines(ctx: Context, month: BillingMonth) -> list[LineDraft]:
    """The month's Treatment or Monitoring line, then its Transition and Clinical Trial."""
    k = month.index
    after_hospice = ctx.hospice_start is not None and month.start > ctx.hospice_start
    base: LineDraft | None
    if ctx.treated(k):
        if after_hospice and not ctx.settings.hospice_physician_is_practice_oncologist:
            return []  # §3: only when a practice oncologist is the hospice physician
        base = _treatment_month(ctx, month)
    else:
        if after_hospice:
            return []  # §9: monitoring stops after the start of hospice care
        base = monitoring_line(ctx, k)
    if base is None:
        return []
    drafts = [base]
    noted = len(ctx.warnings)
    transition = transition_line(ctx, k)
    # A regimen change assessed in this month (e.g. a class change with no reason on record)
    # bears on the month's own line too: the clinician sees it where the level is shown.
    for warning in ctx.warnings[noted:]:
        base.warn(warning)
    if transition is not None:
        drafts.append(transition)
    trial = _clinical_trial(ctx, month, base)
    if trial is not None:
        drafts.append(trial)
    if ctx.payer.enhanced_opt_in and base.component is Component.TREATMENT_MONTH:
        drafts.append(_enhanced_care(month, base))
    return drafts


def _enhanced_care(month: BillingMonth, base: LineDraft) -> LineDraft:
    """value-and-models §13.1: the supplement, once per Treatment Month of an opted-in payer,
    resting on the month's Treatment line (its status follows it, as the trial line's does)."""
    draft = LineDraft(Component.ENHANCED_CARE, None, month.index, month.start, month.end)
    draft.cite(*base.evidence)
    draft.explanation.append(
        f"Supplemental Payment for Enhanced Patient-Centered Care: Treatment Month "
        f"{month.index} with a payer the practice is opted in with (II-B.2)"
    )
    if base.status is LineStatus.NOT_BILLABLE:
        draft.failures.append("the month's treatment-month line is not billable")
    elif base.status is LineStatus.PROVISIONAL:
        draft.pending.append("follows the month's provisional treatment-month line")
    return draft


def _treatment_month(ctx: Context, month: BillingMonth) -> LineDraft:
    """§5: one line per treatment month, level from C + P + T + D."""
    treatment = ctx.treatment[month.index]
    active = sorted({ctx.line_of[e] for e in treatment.evidence if e in ctx.line_of})
    month_lines = [ctx.lines[i] for i in active]
    days = month_days(
        treatment,
        ctx.lines,
        ctx.line_of,
        ctx.knowledge.regimens,
        ctx.settings.regimen_window_days,
        ctx.day_memo,
    )
    c = comorbidity(ctx.record, month, ctx.knowledge, ctx.settings, ctx.comorbidity_memo)
    p = performance(ctx.record, month, ctx.settings)
    t, regimen_id = toxicity(days)
    d = administration(treatment, days, month, ctx.knowledge)
    score = Score(c.points, p.points, t.points, d.points, regimen_id, len(treatment.days))
    level = treatment_level(score.total)
    draft = LineDraft(Component.TREATMENT_MONTH, level, month.index, month.start, month.end)
    draft.score = score
    # §5: the regimens actually given this month (each day's), with the line each belongs to.
    given = "; ".join(r.label for r in distinct(days)) or "supportive drugs"
    draft.explanation.append(
        f"Treatment Month {month.index}: treatment on {len(treatment.days)} day(s) ({given}); "
        f"score {c.points}+{p.points}+{t.points}+{d.points} = {score.total} → level {level} "
        "(III-B)"
    )
    for factor in (c, p, t, d):
        draft.explanation.append(factor.explanation)
        draft.cite(*factor.evidence)
        draft.warn(factor.warning)
    draft.cite(*treatment.evidence)
    for line in month_lines:
        for warning in line.warnings:
            draft.warn(warning)
    for _, _, day in days:
        for warning in day.warnings:
            draft.warn(warning)
    planned = treatment.planned_only_days
    if planned:
        first = min(planned)
        draft.pending.append(
            f"{len(planned)} treatment day(s) only ordered, not yet recorded as given "
            f"(first {date.fromordinal(first).isoformat()})"
        )
    if month.is_open(ctx.as_of):
        draft.pending.append(f"the month is open until {month.end.isoformat()}")
    return draft


def _clinical_trial(ctx: Context, month: BillingMonth, base: LineDraft) -> LineDraft | None:
    """§8: on top of a Treatment or Monitoring line while on study on any day of the month."""
    trials = [t for t in ctx.record.trials if t.on_study_during(month.start, month.end)]
    if not trials:
        return None
    draft = LineDraft(Component.CLINICAL_TRIAL, None, month.index, month.start, month.end)
    draft.cite(*(t.ref for t in trials))
    draft.explanation.append(
        f"Clinical Trial: on study during the month ({trials[0].ref}) alongside the "
        f"{base.component.value} line (III-E)"
    )
    if base.status is LineStatus.NOT_BILLABLE:
        draft.failures.append(f"the month's {base.component.value} line is not billable")
    elif base.status is LineStatus.PROVISIONAL:
        draft.pending.append(f"follows the month's provisional {base.component.value} line")
    return draft


def _new_patient_visit(
    record: PatientRecord, settings: RuleSettings, has_treatment: bool
) -> tuple[LineDraft | None, list[str]]:
    """§4: xx100 once, at the first face-to-face visit with the practice's medical oncology,
    when the practice manages the patient's care (a treatment or an oncology episode)."""
    visits = sorted((v for v in record.visits if v.face_to_face), key=lambda v: v.on)
    chosen = next((v for v in visits if v.oncology), None)
    how = "first face-to-face medical oncology visit"
    if chosen is None and settings.new_patient_visit_after_diagnosis:
        onsets = [
            d.onset
            for d in record.diagnoses
            if d.cancer_role is not CancerRole.NONE and d.onset is not None
        ]
        if onsets:
            first_dx = min(onsets)
            chosen = next((v for v in visits if v.on >= first_dx), None)
            how = (
                "first face-to-face visit on or after the cancer diagnosis "
                "(no visit is marked as oncology)"
            )
    if chosen is None:
        return None, []
    episodes = [e for e in record.episodes if e.kind is EpisodeKind.ONCOLOGY]
    if not has_treatment and not episodes:
        return None, [
            f"{chosen.ref}: a visit but no treatment ordered and no oncology episode of care: "
            "a consultation or second opinion (fee-for-service), no New Patient line (III-A)"
        ]
    draft = LineDraft(Component.NEW_PATIENT, None, None, chosen.on, chosen.on)
    draft.cite(chosen.ref, *(e.ref for e in episodes[:1]))
    managed = "treatment ordered by the practice" if has_treatment else "oncology episode of care"
    draft.explanation.append(
        f"New Patient (III-A): {how} on {chosen.on.isoformat()}; the practice manages the "
        f"patient's care ({managed})"
    )
    return draft, []


def _missing_new_patient_visit(first_treatment: date, anchor: date) -> LineDraft:
    draft = LineDraft(
        Component.NEW_PATIENT,
        None,
        _index_or_none(anchor, first_treatment),
        first_treatment,
        first_treatment,
    )
    draft.explanation.append(
        f"New Patient (III-A): treatment began on {first_treatment.isoformat()}"
    )
    draft.failures.append("no face-to-face visit with a medical oncologist on record (III-A)")
    return draft


def _index_or_none(anchor: date, day: date) -> int | None:
    k = month_index(anchor, day)
    return k if k >= 1 else None
