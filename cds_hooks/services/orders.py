"""cpoc-order-select and cpoc-order-sign: what the order produces under the patient's pack.

parse → gather the record → evaluate with and without the order → cards (→ charges on sign).
CPOC's cards (Treatment Month level and score, documentation gaps, care pathway, the §14.3
fee-for-service notice) come from CPOC lines or days a pack replacing fee-for-service holds;
another pack's lines (OCM/EOM MEOS, value-and-models §15) get the pack's cards
(pack_cards.py), and their ChargeItems go through the same exactly-once path (charges.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from cds_hooks.assess import MonthImpact, OrderAssessment, assess_orders
from cds_hooks.cards import (
    Card,
    CardSource,
    documentation_card,
    fee_for_service_card,
    record_of,
    treatment_card,
    triggered_card,
)
from cds_hooks.charges import ChargeOutcome, ChargeRequest, capture_charges
from cds_hooks.draft_dates import check_draft_dates, fhir_day
from cds_hooks.gather import gather
from cds_hooks.hook_request import DraftOrders, HookRequest, draft_orders
from cds_hooks.pack_cards import episode_start_card, pack_line_card
from cds_hooks.pack_orders import PackImpact, pack_impact
from cds_hooks.pathway_cards import pathway_card
from cds_hooks.record_cache import record_key
from cds_hooks.services.base import HookResult, Runtime
from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.lines import BillingLine
from cpoc_fhir.fhir.read import PatientResources, patient_resources
from cpoc_fhir.pathways.assess import assess_pathway
from cpoc_fhir.pathways.context import order_context
from cpoc_fhir.store.pathways import PathwayDecision


def order_select(rt: Runtime, request: HookRequest, source: CardSource) -> HookResult:
    return _orders(rt, request, source, sign=False)


def order_sign(rt: Runtime, request: HookRequest, source: CardSource) -> HookResult:
    return _orders(rt, request, source, sign=True)


def _orders(rt: Runtime, request: HookRequest, source: CardSource, sign: bool) -> HookResult:
    today = rt.today()
    # order-select names the orders just chosen; order-sign is about every draft.
    drafts = draft_orders(request, today.isoformat(), selections=not sign)
    gathered = gather(request, rt.clients, rt.settings.max_bundle_entries)
    settings = rt.settings
    birth = next(
        (
            fhir_day(r.get("birthDate"))
            for r in gathered.resources
            if r.get("resourceType") == "Patient" and r.get("id") == request.patient_id
        ),
        None,
    )
    check_draft_dates(
        drafts.resources, birth, today, settings.draft_days_back, settings.draft_days_ahead
    )
    patient_ref = f"Patient/{request.patient_id}"
    received = [*gathered.resources, *drafts.resources]
    resources = patient_resources(received, patient_ref)
    draft_refs = [f"{r['resourceType']}/{r['id']}" for r in drafts.resources]
    cache = rt.record_cache
    key = record_key(patient_ref, received) if cache is not None else None
    assessment = assess_orders(
        rt.evaluator, resources, drafts.selected, today, draft_refs, cache=cache, key=key
    )
    impact = pack_impact(assessment)
    evaluation = rt.evaluator.model_evaluation
    result = HookResult()
    notice = assessment.timeline.fee_for_service
    if notice is not None and assessment.order_refs:
        _add(result, fee_for_service_card(source, notice))  # §14.3: no lines, no charges
    charges = _charges(rt, assessment, impact) if sign else None
    for month in assessment.months:
        _month_cards(source, month, result, _charge_notes(charges, month.start))
    if assessment.new_patient is not None:
        _add(result, triggered_card(source, assessment.new_patient), assessment.new_patient)
    _pack_cards(rt, source, impact, result, charges)
    warnings = _warnings(assessment)
    if warnings:
        first = assessment.months[0].treatment if assessment.months else None
        label = "CPOC"
        if impact.models and not impact.any_held_by(evaluation, replaces_ffs=True):
            label = evaluation.pack(impact.models[0]).short_name  # only the order's own gaps
        _add(result, documentation_card(source, warnings, first, label))
    # The care pathway (proposal IV-A) is CPOC's: shown when a CPOC day holds the order.
    if not impact.models or impact.any_held_by(evaluation, replaces_ffs=True):
        _pathway(rt, request, source, assessment, resources, drafts, sign, result)
    if charges is not None:
        result.system_actions = list(charges.system_actions)
        result.writes = [
            {
                "chargeItem": f"ChargeItem/{w.chargeitem_id}" if w.chargeitem_id else None,
                "outcome": w.outcome,
            }
            for w in charges.writes
        ]
    return result


def _month_cards(
    source: CardSource, month: MonthImpact, result: HookResult, notes: list[str]
) -> None:
    line = month.treatment
    assert line is not None  # months are found by their Treatment line
    # The enhanced-care supplement (§13.1) goes with its Treatment Month: a line on its card,
    # never a card of its own.
    triggered = [
        o
        for o in month.lines
        if o is not line
        and o.component is not Component.ENHANCED_CARE
        and _changed(o, month.previous(o))
    ]
    others = [o for o in month.lines if o is not line and o not in triggered]
    _add(result, treatment_card(source, line, month.base_before(), others, notes), line)
    for other in triggered:
        _add(result, triggered_card(source, other), other)


def _pack_cards(
    rt: Runtime,
    source: CardSource,
    impact: PackImpact,
    result: HookResult,
    charges: ChargeOutcome | None,
) -> None:
    """The episodes the order starts and the pack lines of its months (value-and-models §15)."""
    evaluation = rt.evaluator.model_evaluation
    currency = rt.evaluator.payer.currency
    shown = set()
    for month in impact.months:
        pack = evaluation.pack(month.line.model)
        notes = _charge_notes(charges, month.line.start, month.line)
        if month.started is not None:
            shown.add((month.started.model, month.started.index))
            card = episode_start_card(source, pack, month.started, month.line, currency, notes)
        else:
            card = pack_line_card(source, pack, month.line, month.before, currency, notes)
        _add(result, card, month.line)
    for episode in impact.started:  # an episode whose first month bills no line
        if (episode.model, episode.index) not in shown:
            pack = evaluation.pack(episode.model)
            _add(result, episode_start_card(source, pack, episode, None, currency))


def _changed(line: BillingLine, before: BillingLine | None) -> bool:
    return before is None or (before.code, before.status) != (line.code, line.status)


def _add(result: HookResult, card: Card, line: BillingLine | None = None) -> None:
    result.cards.append(card)
    result.audit_cards.append(record_of(card, line.code if line else None))


def _warnings(assessment: OrderAssessment) -> list[str]:
    """What changes the level or its support, for the order's months and the order itself."""
    found: list[str] = []
    for month in assessment.months:
        for line in month.lines:
            found.extend(line.warnings)
    if assessment.new_patient is not None:
        found.extend(assessment.new_patient.warnings)
    found.extend(assessment.order_warnings())
    return list(dict.fromkeys(found))


# --- care pathway (proposal IV-A) ----------------------------------------------------------


def _pathway(
    rt: Runtime,
    request: HookRequest,
    source: CardSource,
    assessment: OrderAssessment,
    resources: PatientResources,
    drafts: DraftOrders,
    sign: bool,
    result: HookResult,
) -> None:
    """The pathway card of the order's regimen, and the decision kept for the adherence
    report (one per order: the draft orders of the regimen name it)."""
    if rt.pathways is None or not assessment.order_refs:
        return
    catalog = rt.evaluator.knowledge.regimens
    found = order_context(
        assessment.record, resources, catalog, rt.evaluator.rules, assessment.order_refs,
        rt.today(),
    )  # fmt: skip
    if found is None:
        return
    context, regimen = found
    outcome = assess_pathway(rt.pathways, context, regimen)
    all_drafts = {f"{r['resourceType']}/{r['id']}" for r in drafts.resources}
    regimen_drafts = [ref for ref in regimen.order_refs if ref in all_drafts]
    encounter = request.context.get("encounterId")
    made = pathway_card(
        source, outcome, catalog, regimen_drafts, rt.today(),
        encounter if isinstance(encounter, str) else None,
    )  # fmt: skip
    _add(result, made.card)
    # Off every candidate with a fact missing: a single candidate is the pathway the order is
    # off; with several, no one pathway can be charged with the deviation (the report's
    # "no single pathway" row).
    single = outcome.candidates[0] if len(outcome.candidates) == 1 else None
    pathway = outcome.pathway or single
    result.pathway_decisions.append(
        PathwayDecision(
            order_key=f"Patient/{request.patient_id}|" + ",".join(sorted(regimen_drafts)),
            patient_id=request.patient_id,
            stage="signed" if sign else "selected",
            status=outcome.status.value,
            decided_at=rt.now(),
            hook_instance=request.hook_instance,
            card_uuid=made.card["uuid"],
            pathway_id=pathway.id if pathway else None,
            pathway_title=pathway.title if pathway else None,
            pathway_url=pathway.url if pathway else None,
            pathway_version=pathway.version if pathway else None,
            cancer=str(context.answer("cancer")) if context.answer("cancer") else None,
            regimen_id=_main_regimen(regimen.regimen_ids, pathway.backbone if pathway else ()),
            regimen_name=regimen.name,
            line_of_therapy=outcome.line,
            alternatives=tuple(o.regimen for o in outcome.alternatives),
            reasons=outcome.missing + outcome.reasons,
            suggestion_uuids=made.suggestions,
        )
    )


def _main_regimen(regimen_ids: tuple[str, ...], backbone: tuple[str, ...]) -> str | None:
    main = [r for r in regimen_ids if r not in backbone] or list(regimen_ids)
    return main[0] if len(main) == 1 else None


# --- order-sign charges -------------------------------------------------------------------


def _charges(rt: Runtime, assessment: OrderAssessment, impact: PackImpact) -> ChargeOutcome | None:
    lines = [line for month in assessment.months for line in month.lines]
    lines += impact.lines()  # other packs' lines: the same exactly-once path
    if assessment.new_patient is not None:
        lines.append(assessment.new_patient)
    if not lines:
        return None
    settings = rt.settings
    request = ChargeRequest(
        record=assessment.record,
        timeline=assessment.timeline,
        lines=lines,
        month_first=min(line.start for line in lines),
        month_last=max(line.end for line in lines),
        entered=rt.now(),
    )
    return capture_charges(
        request,
        rt.evaluator.payer,
        rt.publish,
        propose=settings.system_actions,
        target=settings.write,
        client_for=rt.write_client,
    )


def _charge_notes(
    charges: ChargeOutcome | None, start: date, only: BillingLine | None = None
) -> list[str]:
    """What was written or proposed for the month starting ``start`` (``only``: that line's
    item alone, for a pack's card when a CPOC month starts the same day)."""
    if charges is None:
        return []
    notes = []
    tail = f".{only.component.value}.{start.isoformat()}" if only else f".{start.isoformat()}"
    in_month = [w for w in charges.writes if w.identifier.endswith(tail)]
    written = [w for w in in_month if w.outcome != "failed" and w.chargeitem_id]
    if written:
        notes.append(
            "Charge captured: "
            + ", ".join(f"`ChargeItem/{w.chargeitem_id}` ({w.outcome})" for w in written)
            + "."
        )
    failed = [w for w in in_month if w.outcome == "failed"]
    if failed or charges.write_error:
        notes.append(
            "Some ChargeItems could not be written now; the month-end capture run will write them."
        )
    proposed = [
        code for code in _codes(charges.system_actions, start) if only is None or code == only.code
    ]
    if proposed:
        notes.append(f"Proposed to the EHR as planned ChargeItems: {', '.join(proposed)}.")
    return notes


def _codes(actions: Sequence[dict[str, object]], start: date) -> list[str]:
    codes = []
    for action in actions:
        resource = action["resource"]
        assert isinstance(resource, dict)
        period = resource.get("occurrencePeriod") or {}
        if period.get("start") == start.isoformat():
            codes.append(str(resource["code"]["coding"][0]["code"]))
    return codes
