"""cpoc-patient-view: the current billing month's CPOC lines and their statuses."""

from __future__ import annotations

from cds_hooks.assess import current_month
from cds_hooks.cards import CardSource, fee_for_service_card, month_card, record_of
from cds_hooks.gather import gather
from cds_hooks.hook_request import HookRequest
from cds_hooks.services.base import HookResult, Runtime
from cpoc_fhir.engine.components import Component
from cpoc_fhir.fhir.read import patient_resources


def patient_view(rt: Runtime, request: HookRequest, source: CardSource) -> HookResult:
    today = rt.today()
    gathered = gather(request, rt.clients, rt.settings.max_bundle_entries)
    resources = patient_resources(gathered.resources, f"Patient/{request.patient_id}")
    timeline = rt.evaluator.timeline(resources, today)
    lines = list(current_month(timeline, today))
    start = lines[0].start if lines else today
    end = lines[0].end if lines else today
    lines += [
        line
        for line in timeline.lines
        if line.component is Component.NEW_PATIENT and start <= line.start <= end
    ]
    result = HookResult()
    if timeline.fee_for_service is not None:  # §14.3: the patient has no CPOC lines
        card = fee_for_service_card(source, timeline.fee_for_service)
        result.cards.append(card)
        result.audit_cards.append(record_of(card))
    if lines:
        card = month_card(source, lines)
        result.cards.append(card)
        result.audit_cards.append(record_of(card, ",".join(line.code for line in lines)))
    return result
