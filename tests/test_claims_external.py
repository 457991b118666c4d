"""Real public claims: Synthea's R4 Claims and ExplanationOfBenefits (CMS Blue Button 2.0
adjudication codes), read as the model reads them. Skipped when the data is absent."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import REPO

from cpoc_fhir.economics.charges import collect_charges
from cpoc_fhir.economics.claims import BB2_PROVIDER_PAYMENT
from cpoc_fhir.economics.codes import FfsKind
from cpoc_fhir.fhir.read import open_source

# ../shared from the repository root, or from a worktree one level further down.
CANDIDATES = [base / "shared/data/external/synthea_r4_transaction" for base in REPO.parents[:2]]
SYNTHEA = next((path for path in CANDIDATES if path.is_dir()), None)
pytestmark = pytest.mark.skipif(SYNTHEA is None, reason="external FHIR data is not present")


def bundles() -> list[Path]:
    assert SYNTHEA is not None
    return sorted(SYNTHEA.glob("*.json"))


@pytest.mark.parametrize("path", bundles() if SYNTHEA else [], ids=lambda p: p.name[:14])
def test_synthea_eob_paid_amounts_and_claims_counted_once(path: Path) -> None:
    bundle = json.loads(path.read_text())["entry"]
    eobs = [
        e["resource"] for e in bundle if e["resource"]["resourceType"] == "ExplanationOfBenefit"
    ]
    claim_urls = {e["fullUrl"] for e in bundle if e["resource"]["resourceType"] == "Claim"}
    # Expected, straight from the file: each EOB item's provider payment (BB2 line_prvdr_pmt_amt)
    expected_paid = sum(
        (
            Decimal(repr(a["amount"]["value"]))
            for e in eobs
            for item in e.get("item", [])
            for a in item.get("adjudication", [])
            if any(c["code"] == BB2_PROVIDER_PAYMENT for c in a["category"]["coding"])
        ),
        Decimal(0),
    )
    adjudicated = {e["claim"]["reference"] for e in eobs if "claim" in e} & claim_urls
    charges = collect_charges(open_source(path), None, date(1900, 1, 1), date(2030, 12, 31))
    lines = [line for patient in charges.by_patient.values() for line in patient]
    assert sum((line.amount or Decimal(0) for line in lines), Decimal(0)) == expected_paid
    assert charges.basis == {"paid": len(lines)}
    # Every Claim that an EOB of the Bundle adjudicates (urn:uuid references) is left out.
    skipped = charges.skipped["Claim adjudicated by an ExplanationOfBenefit of the input"]
    assert skipped == len(adjudicated) > 0
    # Synthea codes services in SNOMED CT and CVX, not CPT/HCPCS: nothing CPOC replaces.
    assert {line.kind for line in lines} <= {FfsKind.OTHER}
