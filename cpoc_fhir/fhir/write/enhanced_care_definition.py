"""The ``xx600`` concept and ChargeItemDefinition of an opted-in payer (value-and-models
§13.1): published by ``cpoc fhir-resources`` beside the 11 codes' only when the payer file's
``[enhanced_care] opted_in`` is true, so a payer not opted in publishes what it always did.

The price is the payer file's, not a relative value: one ``base`` price component of factor 1
and amount ``s``; each quarter with a reconciled amount (``[enhanced_care.quarters]``) gets a
property group of its own, selected by the quarter its line's billing month starts in (R4
``propertyGroup.applicability``, FHIRPath on the ChargeItem), before the group of ``s``.
"""

from __future__ import annotations

from fhir.resources.R4B.chargeitemdefinition import ChargeItemDefinition

from cpoc_fhir.fhir.write.publish import (
    PublishSettings,
    Resource,
    compact,
    cpoc_codings,
    validated,
)
from cpoc_fhir.packs.cpoc.codes import DISPLAY, ENHANCED_CARE_CODE, Component
from cpoc_fhir.packs.cpoc.enhanced_care import EnhancedCare
from cpoc_fhir.packs.cpoc.payer import PayerSchedule

EARNS = (
    "A Treatment Month of a patient whose payer the practice is opted in with for the "
    "supplemental payment for enhanced patient-centred care, in return for services that "
    "reduce avoidable oncology-related emergency visits (II-B.2). Interpretation: the "
    "proposal names no code. Amount: agreed with the payer (payer file), reconciled each "
    "quarter against the target rate; no relative value."
)
_LINE_START = "occurrence.ofType(Period).start"


def enhanced_care_concept() -> Resource:
    return {
        "code": ENHANCED_CARE_CODE,
        "display": DISPLAY[ENHANCED_CARE_CODE],
        "definition": EARNS,
        "property": [{"code": "component", "valueCode": Component.ENHANCED_CARE.value}],
    }


def enhanced_care_definition(payer: PayerSchedule, settings: PublishSettings) -> Resource:
    care = payer.enhanced_care
    if care is None or not care.opted_in:
        raise ValueError(f"payer {payer.id} is not opted in to {ENHANCED_CARE_CODE}")
    groups = [
        {
            "applicability": [_in_quarter(quarter)],
            "priceComponent": [_base(amount, payer.currency, settings)],
        }
        for quarter, amount in sorted(care.quarters.items())
    ]
    groups.append({"priceComponent": [_base(care.amount_on(None), payer.currency, settings)]})
    resource = {
        "resourceType": "ChargeItemDefinition",
        "id": f"cpoc-{ENHANCED_CARE_CODE}",
        "meta": {"tag": [settings.product_tag]},
        "url": settings.definition_url(ENHANCED_CARE_CODE),
        "version": settings.version,
        "title": f"CPOC {ENHANCED_CARE_CODE} {DISPLAY[ENHANCED_CARE_CODE]}: {payer.name}",
        "status": "active",
        "experimental": True if payer.illustrative else None,
        "description": _description(care, payer),
        "code": {"coding": cpoc_codings(ENHANCED_CARE_CODE, payer, settings)},
        "propertyGroup": groups,
    }
    return validated(
        compact(resource), ChargeItemDefinition, f"ChargeItemDefinition {ENHANCED_CARE_CODE}"
    )


def _base(amount: object, currency: str, settings: PublishSettings) -> Resource:
    return {
        "type": "base",
        "code": {
            "coding": [
                {
                    "system": settings.price_component_system,
                    "code": "enhanced-care-amount",
                    "display": "Agreed monthly supplement (reconciled per quarter)",
                }
            ]
        },
        "factor": 1,
        "amount": {"value": amount, "currency": currency},
    }


def _in_quarter(quarter: str) -> Resource:
    year, n = int(quarter[:4]), int(quarter[-1])
    start = f"{year}-{3 * n - 2:02d}-01"
    end = f"{year + 1}-01-01" if n == 4 else f"{year}-{3 * n + 1:02d}-01"
    return {
        "description": f"Lines whose billing month starts in {quarter} bill the quarter's "
        "reconciled amount.",
        "language": "text/fhirpath",
        "expression": f"{_LINE_START} >= @{start} and {_LINE_START} < @{end}",
    }


def _description(care: EnhancedCare, payer: PayerSchedule) -> str:
    text = (
        f"Supplemental payment for enhanced patient-centred care under {payer.name} (payer "
        f"file '{payer.id}', version {payer.version}): {care.amount_on(None)} "
        f"{payer.currency} per Treatment Month (value-and-models §13.1)"
    )
    if care.quarters:
        listed = ", ".join(f"{q} {a}" for q, a in sorted(care.quarters.items()))
        text += f"; reconciled quarterly amounts: {listed}"
    if care.target is not None:
        text += f"; target rate {care.target} avoidable ER visits per 100 patient-months"
        if care.target_set_in is not None:
            text += f", set in {care.target_set_in}"
    if care.source:
        text += f". Source: {care.source}"
    return text + "."
