"""ChargeItems built in the test for the revenue report and the dashboard (the shape capture
writes: fhir/write/charge_item.py)."""

from __future__ import annotations

from typing import Any

CODESYSTEM = "http://example.org/fhir/CodeSystem/cpoc"  # PublishSettings' default
HCPCS = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
HOLD = "https://cpoc-fhir.example.org/fhir/StructureDefinition/review-hold"


def charge(
    item_id: str,
    patient: str,
    start: str,
    code: str,
    status: str,
    amount: str,
    hold: str | None = None,
    note: str = "",
    system: str = CODESYSTEM,
    performer: str = "Practitioner/dr-a",
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "resourceType": "ChargeItem",
        "id": item_id,
        "status": status,
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": {"reference": f"Patient/{patient}"},
        "occurrencePeriod": {"start": start, "end": start},
        "performer": [{"actor": {"reference": performer}}],
        "priceOverride": {"value": float(amount), "currency": "USD"},
        "note": [{"text": note or f"{code} line"}],
    }
    if hold is not None:
        item["extension"] = [{"url": HOLD, "valueString": hold}]
    return item


def practice_items() -> list[dict[str, Any]]:
    """March-May 2025 at one practice (the goldens in the tests are worked from these):

    c1 a 2025-03-03 xx204 billable      800.00  billed, Treatment Month level 4
    c2 a 2025-04-02 xx203 planned       600.00  provisional, level 3, waiting for ECOG
    c3 b 2025-03-10 xx100 planned+hold 1000.00  held: "referral letter missing"
    c4 b 2025-04-09 xx301 not-billable   20.00  counted, not revenue
    c5 b 2025-04-09 xx302 entered-in-error     left out
    c6 c 2025-05-01 xx204 billable      800.00  May (outside --to 2025-04), dr-b
    c7 d 2025-04-01 M0010 billable       70.00  EOM's MEOS (HCPCS), billed
    c8 d 2025-03-20 xx202 planned       430.00  provisional, level 2, waiting for ECOG
    """
    ecog = "Treatment Month 2: a score\nWarning: ECOG not documented in the month"
    return [
        charge("c1", "a", "2025-03-03", "xx204", "billable", "800.00"),
        charge("c2", "a", "2025-04-02", "xx203", "planned", "600.00", note=ecog),
        charge(
            "c3", "b", "2025-03-10", "xx100", "planned", "1000.00", hold="referral letter missing"
        ),
        charge("c4", "b", "2025-04-09", "xx301", "not-billable", "20.00"),
        charge("c5", "b", "2025-04-09", "xx302", "entered-in-error", "100.00"),
        charge(
            "c6", "c", "2025-05-01", "xx204", "billable", "800.00", performer="Practitioner/dr-b"
        ),
        charge("c7", "d", "2025-04-01", "M0010", "billable", "70.00", system=HCPCS),
        charge("c8", "d", "2025-03-20", "xx202", "planned", "430.00", note=ecog),
    ]


def coverage(
    cov_id: str,
    patient: str,
    payor: dict[str, Any],
    start: str | None = None,
    end: str | None = None,
    **more: Any,
) -> dict[str, Any]:
    """A Coverage of ``patient`` paid by ``payor`` (a Reference) over start…end."""
    period = {k: v for k, v in (("start", start), ("end", end)) if v}
    item: dict[str, Any] = {
        "resourceType": "Coverage",
        "id": cov_id,
        "status": more.pop("status", "active"),
        "beneficiary": {"reference": f"Patient/{patient}"},
        "payor": [payor],
        **more,
    }
    if period:
        item["period"] = period
    return item


def organization(org_id: str, name: str) -> dict[str, Any]:
    return {"resourceType": "Organization", "id": org_id, "name": name}


def practice_coverages() -> list[dict[str, Any]]:
    """Who pays for practice_items()' patients (the payer goldens are worked from these):

    a: Acme (Organization/acme, no display) to 2025-03-31, then Medicare from 2025-04-01
       (display "CMS": the Organization's name "Medicare Part B" names it)
    b: Medicare (order 1) and Acme (order 2) both in force: Medicare is primary;
       a cancelled Acme Coverage is out of force
    c: none
    d: Acme from 2025-04-01 only (nothing before)
    """
    acme = {"reference": "Organization/acme"}
    medicare = {"reference": "Organization/medicare", "display": "CMS"}
    return [
        organization("acme", "Acme Health"),
        organization("medicare", "Medicare Part B"),
        coverage("cov-a1", "a", acme, "2025-01-01", "2025-03-31"),
        coverage("cov-a2", "a", medicare, "2025-04-01"),
        coverage("cov-b1", "b", medicare, "2024-01-01", order=1),
        coverage("cov-b2", "b", acme, "2024-01-01", order=2),
        coverage("cov-b3", "b", acme, status="cancelled", order=0),
        coverage("cov-d", "d", acme, "2025-04-01"),
    ]
