"""The corridor settlement as FHIR R4 the billing office can send (§14.4).

- A **supplement** (the payer adds): one ChargeItem per payer-quarter
  (https://hl7.org/fhir/R4/chargeitem.html). ``code``: the product CodeSystem's
  ``corridor-supplement``; ``subject``: a contained Group of the quarter's patients (a
  settlement is no single patient's charge; R4 ChargeItem.subject allows a Group);
  ``occurrencePeriod``: the quarter; ``quantity`` 1 and ``priceOverride`` the supplement;
  ``identifier``: ``<practice_identifier_system>|corridor-<quarter>-<payer>``, the same every
  run (so sending it twice is caught); ``note``: F, P, the corridor and the band.
- A **recovery** (the payer takes back): a PaymentReconciliation ready to fill in
  (https://hl7.org/fhir/R4/paymentreconciliation.html), status ``draft`` — the payer's
  remittance carries the actual payment: ``paymentIssuer`` the payer (when it is a
  reference), ``period`` the quarter, ``created`` and ``paymentDate`` the day it was made,
  ``paymentAmount`` minus the recovery (money the practice owes), one ``detail`` of type
  ``payment-type|adjustment`` with the product's ``corridor-recovery`` code beside it,
  ``amount`` minus the recovery, ``date`` the quarter's last day; ``disposition`` in words.

Both are validated with ``fhir.resources.R4B`` before they are written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from fhir.resources.R4B.chargeitem import ChargeItem
from fhir.resources.R4B.paymentreconciliation import PaymentReconciliation

from cpoc_fhir.fhir.write.definitions import SETTLEMENT_CODES
from cpoc_fhir.fhir.write.publish import PublishSettings, compact, to_json, validated

Resource = dict[str, Any]
PAYMENT_TYPE = "http://terminology.hl7.org/CodeSystem/payment-type"
SUPPLEMENT, RECOVERY = "corridor-supplement", "corridor-recovery"


def settlement_id(quarter: Mapping[str, Any]) -> str:
    """A FHIR id (``[A-Za-z0-9.-]{1,64}``) for the payer-quarter."""
    payer = re.sub(r"[^A-Za-z0-9.-]+", "-", str(quarter["payer"])).strip("-")
    return f"corridor-{quarter['quarter']}-{payer}"[:64]


def _coding(settings: PublishSettings, code: str) -> Resource:
    return {"system": settings.codesystem_url, "code": code, "display": SETTLEMENT_CODES[code][0]}


def _note(quarter: Mapping[str, Any], corridor: str | None) -> str:
    return (
        f"Risk corridor {quarter['quarter']}, payer {quarter['payer']}: CPOC payments P "
        f"{quarter['cpoc']}, what FFS would have paid F {quarter['ffs']} (recorded "
        f"{quarter['ffsRecorded']}, estimated {quarter['ffsEstimated']}), corridor {corridor}, "
        f"band {quarter['lower']} to {quarter['upper']} (value-and-models §14.4)."
    )


def _payer_reference(payer: str) -> Resource:
    if re.fullmatch(r"[A-Z][A-Za-z]+/[A-Za-z0-9.-]{1,64}", payer):
        return {"reference": payer}
    return {"display": payer}


def supplement_charge_item(
    quarter: Mapping[str, Any],
    patients: list[str],
    corridor: str | None,
    settings: PublishSettings,
) -> Resource:
    start, end = quarter["start"], quarter["end"]
    group = {
        "resourceType": "Group",
        "id": "patients",
        "type": "person",
        "actual": True,
        "quantity": len(patients),
        "name": f"Patients of {quarter['payer']} with CPOC lines in {quarter['quarter']}",
        "member": [{"entity": {"reference": f"Patient/{p}"}} for p in patients],
    }
    resource = {
        "resourceType": "ChargeItem",
        "id": settlement_id(quarter),
        "meta": {"tag": [settings.product_tag]},
        "contained": [group],
        "identifier": [
            {"system": settings.practice_identifier_system, "value": settlement_id(quarter)}
        ],
        "status": "billable",
        "code": {
            "coding": [_coding(settings, SUPPLEMENT)],
            "text": SETTLEMENT_CODES[SUPPLEMENT][0],
        },
        "subject": {"reference": "#patients"},
        "occurrencePeriod": {"start": start, "end": end},
        "performingOrganization": (
            {"reference": settings.performing_organization}
            if settings.performing_organization
            else None
        ),
        "quantity": {"value": 1},
        "priceOverride": {"value": Decimal(quarter["supplement"]), "currency": "USD"},
        "note": [{"text": _note(quarter, corridor)}],
    }
    return validated(compact(resource), ChargeItem, f"ChargeItem {resource['id']}")


def recovery_reconciliation(
    quarter: Mapping[str, Any], corridor: str | None, settings: PublishSettings, today: date
) -> Resource:
    amount = -Decimal(quarter["recovery"])
    issuer = _payer_reference(str(quarter["payer"]))
    resource = {
        "resourceType": "PaymentReconciliation",
        "id": settlement_id(quarter),
        "meta": {"tag": [settings.product_tag]},
        "identifier": [
            {"system": settings.practice_identifier_system, "value": settlement_id(quarter)}
        ],
        "status": "draft",
        "period": {"start": quarter["start"], "end": quarter["end"]},
        "created": today.isoformat(),
        "paymentIssuer": issuer if "reference" in issuer else None,
        "requestor": (
            {"reference": settings.performing_organization}
            if settings.performing_organization
            else None
        ),
        "outcome": "complete",
        "disposition": _note(quarter, corridor) + f" The payer recovers {quarter['recovery']}.",
        "paymentDate": today.isoformat(),
        "paymentAmount": {"value": amount, "currency": "USD"},
        "detail": [
            {
                "type": {
                    "coding": [
                        {"system": PAYMENT_TYPE, "code": "adjustment", "display": "Adjustment"},
                        _coding(settings, RECOVERY),
                    ]
                },
                "date": quarter["end"],
                "amount": {"value": amount, "currency": "USD"},
            }
        ],
    }
    return validated(
        compact(resource), PaymentReconciliation, f"PaymentReconciliation {resource['id']}"
    )


def write_settlements(
    data: Mapping[str, Any],
    patients: Mapping[tuple[str, str], list[str]],
    settings: PublishSettings,
    out: Path,
    today: date,
) -> list[Path]:
    """One file per payer-quarter with a supplement or a recovery; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for quarter in data["quarters"]:
        if Decimal(quarter["supplement"]) > 0:
            members = patients.get((quarter["payer"], quarter["quarter"]), [])
            resource = supplement_charge_item(quarter, members, data["corridor"], settings)
        elif Decimal(quarter["recovery"]) > 0:
            resource = recovery_reconciliation(quarter, data["corridor"], settings, today)
        else:
            continue
        path = out / f"{resource['resourceType']}-{resource['id']}.json"
        path.write_text(to_json(resource, indent=2) + "\n", encoding="utf-8")
        paths.append(path)
    return paths
