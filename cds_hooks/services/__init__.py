"""The registry of CDS services: it drives both discovery and dispatch."""

from __future__ import annotations

from cds_hooks.services.base import CdsService, HookResult, Runtime
from cds_hooks.services.orders import order_select, order_sign
from cds_hooks.services.patient_view import patient_view

_PREFETCH_NOTE = (
    "Reads the patient's record (prefetch, or the client's FHIR server with "
    "fhirAuthorization). Clients authenticate with a signed JWT (ES384/RS384)."
)

SERVICES: tuple[CdsService, ...] = (
    CdsService(
        id="cpoc-order-select",
        hook="order-select",
        title="CPOC code and level of this order",
        description=(
            "Shows the CPOC Treatment Month code and level the selected oncology orders "
            "produce in their billing month, with the score breakdown and its evidence, the "
            "Transition, New Patient or Clinical Trial lines they bring, and what "
            "documentation the level lacks. For a patient another payment model holds "
            "(OCM, EOM), the model's episode month, or the episode the order starts."
        ),
        handler=order_select,
        usage_requirements=_PREFETCH_NOTE,
    ),
    CdsService(
        id="cpoc-order-sign",
        hook="order-sign",
        title="CPOC charge capture at signing",
        description=(
            "At signing, shows the CPOC lines the orders produce and captures the month's "
            "charges as FHIR ChargeItems (proposed as systemActions and, when configured, "
            "written by the service itself, exactly once), under the patient's payment model."
        ),
        handler=order_sign,
        usage_requirements=_PREFETCH_NOTE,
    ),
    CdsService(
        id="cpoc-patient-view",
        hook="patient-view",
        title="CPOC lines of the current month",
        description=(
            "Shows the patient's CPOC lines for the current billing month and their status "
            "(final, provisional, not billable) with what they still need; under another "
            "payment model, its episode month and the enhanced services not yet on record."
        ),
        handler=patient_view,
        usage_requirements=_PREFETCH_NOTE,
    ),
)

BY_ID = {service.id: service for service in SERVICES}

__all__ = ["BY_ID", "SERVICES", "CdsService", "HookResult", "Runtime"]
