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
