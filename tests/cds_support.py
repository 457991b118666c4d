"""Shared pieces of the CDS Hooks tests: an app on a temporary store, hook request bodies."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import requests
from flask import Flask

from cds_hooks.app import create_app
from cds_hooks.settings import CdsSettings
from cpoc_fhir.cli import bundled_examples
from cpoc_fhir.fhir.record_queries import RECORD_QUERIES

Resource = dict[str, Any]
# A non-UTC practice zone: "today" must be the practice's date, not UTC's.
PRACTICE_TZ = timezone(timedelta(hours=-5))
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
MEDICATION_TYPES = ("MedicationRequest", "MedicationAdministration")


def clock_at(day: str, hour: int = 21) -> Any:
    """A clock frozen at 21:00 practice time (already the next day in UTC)."""
    moment = datetime.fromisoformat(day).replace(hour=hour, tzinfo=PRACTICE_TZ)
    return lambda: moment


def make_app(tmp_path: Path, today: str = "2025-11-10", **settings: Any) -> Flask:
    settings.setdefault("auth_enabled", False)
    settings.setdefault("store_url", f"sqlite:///{tmp_path}/cds-store.sqlite")
    config = {"CDS_SETTINGS": CdsSettings(**settings), "CLOCK": clock_at(today), "TESTING": True}
    return create_app(config)


def example_resources(name: str) -> list[Resource]:
    """A bundled example patient's resources (cpoc_fhir/examples/<name>.json)."""
    path = bundled_examples() / f"{name}.json"
    bundle = json.loads(path.read_text(encoding="utf-8"))
    return [entry["resource"] for entry in bundle["entry"]]


def record_on(name: str, day: str) -> list[Resource]:
    """The example's record as known at the end of ``day``, without its medication resources
    dated that day or later (the order being signed is the draft)."""
    limit = date.fromisoformat(day)
    kept = []
    for resource in example_resources(name):
        when = _date_of(resource)
        if when is not None and when > limit:
            continue
        if resource["resourceType"] in MEDICATION_TYPES and when is not None and when >= limit:
            continue
        kept.append(resource)
    return kept


def _date_of(resource: Resource) -> date | None:
    for key in ("effectiveDateTime", "authoredOn", "onsetDateTime", "recordedDate"):
        if resource.get(key):
            return date.fromisoformat(str(resource[key])[:10])
    period = resource.get("effectivePeriod") or resource.get("period") or {}
    return date.fromisoformat(period["start"][:10]) if period.get("start") else None


def searchset(resources: Iterable[Resource]) -> Resource:
    entries = [{"resource": r, "search": {"mode": "match"}} for r in resources]
    return {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}


def full_prefetch(resources: list[Resource], patient_id: str) -> dict[str, Any]:
    """Every prefetch key the services publish, answered from ``resources``."""
    prefetch: dict[str, Any] = {
        q.key: searchset(r for r in resources if r.get("resourceType") == q.resource_type)
        for q in RECORD_QUERIES
    }
    patient = [r for r in resources if r.get("resourceType") == "Patient"]
    prefetch["patient"] = patient[0] if patient else None
    assert patient_id
    return prefetch


def medication_order(
    order_id: str, patient_id: str, rxnorm: str, name: str, on: str, route: str = "intravenous"
) -> Resource:
    """A draft MedicationRequest as an EHR sends it in draftOrders."""
    return {
        "resourceType": "MedicationRequest",
        "id": order_id,
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": {
            "coding": [{"system": RXNORM, "code": rxnorm, "display": name}],
            "text": name,
        },
        "subject": {"reference": f"Patient/{patient_id}"},
        "authoredOn": on,
        "dosageInstruction": [{"route": {"text": route}, "timing": {"event": [on]}}],
    }


def hook_body(
    hook: str,
    patient_id: str,
    drafts: Iterable[Resource] = (),
    prefetch: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    context: dict[str, Any] = {"userId": "Practitioner/onc-1", "patientId": patient_id}
    if hook in ("order-select", "order-sign"):
        context["draftOrders"] = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": r} for r in drafts],
        }
    body: dict[str, Any] = {
        "hook": hook,
        "hookInstance": extra.pop("hook_instance", "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"),
        "context": context,
    }
    if prefetch is not None:
        body["prefetch"] = prefetch
    body.update(extra)
    return body


def folfiri_drafts(patient: str, day: str = "2025-11-12") -> list[Resource]:
    """The Appendix A patient's FOLFIRI order as hook drafts (irinotecan, leucovorin, 5-FU)."""
    return [
        medication_order("iri", patient, "51499", "irinotecan", day),
        medication_order("lv", patient, "6313", "leucovorin", day),
        medication_order("fu", patient, "4492", "fluorouracil", day),
    ]


def server_charge_items(base: str, patient: str) -> list[Resource]:
    """Every ChargeItem of ``patient`` on the FHIR server at ``base`` (one page of 200)."""
    bundle = requests.get(
        f"{base}/ChargeItem", params={"subject": f"Patient/{patient}", "_count": 200}, timeout=30
    ).json()
    return [e["resource"] for e in bundle.get("entry") or []]
