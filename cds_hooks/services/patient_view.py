"""cpoc-patient-view: the current billing month's lines and their statuses, under each pack.

CPOC's lines get the month card (cards.month_card); another pack's (OCM/EOM MEOS,
value-and-models §15) the pack's own (pack_cards.pack_month_card), and an EOM episode with no
enhanced service on record yet one info card (pack_services.py).
"""

from __future__ import annotations

from cds_hooks.assess import current_month
from cds_hooks.cards import Card, CardSource, fee_for_service_card, month_card, record_of
from cds_hooks.gather import gather
from cds_hooks.hook_request import HookRequest
from cds_hooks.pack_cards import pack_month_card
from cds_hooks.pack_services import enhanced_services_cards
from cds_hooks.services.base import HookResult, Runtime
from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.lines import DEFAULT_MODEL, BillingLine
from cpoc_fhir.fhir.read import patient_resources


def patient_view(rt: Runtime, request: HookRequest, source: CardSource) -> HookResult:
    today = rt.today()
    gathered = gather(request, rt.clients, rt.settings.max_bundle_entries)
    resources = patient_resources(gathered.resources, f"Patient/{request.patient_id}")
    record = rt.evaluator.record(resources)
    timeline = rt.evaluator.evaluate(record, today)
    current = list(current_month(timeline, today))
    cpoc = [line for line in current if line.model == DEFAULT_MODEL]
    start = cpoc[0].start if cpoc else today
    end = cpoc[0].end if cpoc else today
    cpoc += [
        line
        for line in timeline.lines
        if line.component is Component.NEW_PATIENT
        and line.model == DEFAULT_MODEL
        and start <= line.start <= end
    ]
    result = HookResult()
    if timeline.fee_for_service is not None:  # §14.3: the patient has no CPOC lines
        _add(result, fee_for_service_card(source, timeline.fee_for_service), [])
    if cpoc:
        _add(result, month_card(source, cpoc), cpoc)
    evaluation = rt.evaluator.model_evaluation
    currency = rt.evaluator.payer.currency
    others: dict[str, list[BillingLine]] = {}
    for line in current:
        if line.model != DEFAULT_MODEL:
            others.setdefault(line.model, []).append(line)
    for model, lines in others.items():
        _add(result, pack_month_card(source, evaluation.pack(model), lines, currency), lines)
    for card in enhanced_services_cards(source, evaluation, record, timeline, today):
        _add(result, card, [])
    return result


def _add(result: HookResult, card: Card, lines: list[BillingLine]) -> None:
    result.cards.append(card)
    result.audit_cards.append(record_of(card, ",".join(line.code for line in lines) or None))
