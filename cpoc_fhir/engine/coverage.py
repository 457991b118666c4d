"""The primary Coverage in force on a day: the one rule the payment-model selection
(packs/selection.py, value-and-models §15) and the corridors' payer split
(economics/corridor_payers.py, §14.4) share.

Of the Coverages in force on the day (``CoverageFact.holds``), the primary is the one with the
lowest ``order`` (the coordination-of-benefits rank; none = last); among Coverages without an
``order``, a Medicaid one (SOPT 2x) ranks after the others (Medicaid is the payer of last
resort, so Medicare is primary to it); then the lowest reference.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from datetime import date

from cpoc_fhir.engine.facts import CoverageFact, PatientRecord

# Coverage.type systems of the PHDSC Source of Payment Typology (the OID and the HL7-endorsed
# URI, HL7 THO CodeSystem SOPT): codes starting "1" are Medicare, "2" Medicaid.
SOPT_SYSTEMS = ("urn:oid:2.16.840.1.113883.3.221.5", "https://nahdo.org/sopt")
_NO_ORDER = CoverageFact("", "").order  # the rank of a Coverage without ``order``
ORDER_WARNING = "Coverage order missing; Medicare ranked before Medicaid"


def _sopt(coverage: CoverageFact, first: str) -> bool:
    return any(
        code.startswith(f"{system}|{first}")
        for code in coverage.type_codes
        for system in SOPT_SYSTEMS
    )


def _rank(coverage: CoverageFact) -> tuple[int, bool, str]:
    last_resort = coverage.order == _NO_ORDER and _sopt(coverage, "2")
    return (coverage.order, last_resort, coverage.ref)


def by_rank(coverages: Iterable[CoverageFact]) -> list[CoverageFact]:
    """The Coverages, primary first: by ``order``, Medicaid last among those without one,
    then reference."""
    return sorted(coverages, key=_rank)


def coverage_order_warnings(record: PatientRecord) -> tuple[str, ...]:
    """The timeline warning when a Medicare and a Medicaid Coverage, both without ``order``,
    hold on a common day (``by_rank`` then decides which is primary)."""
    unordered = [c for c in record.coverages if c.order == _NO_ORDER]
    medicare = [c for c in unordered if _sopt(c, "1")]
    medicaid = [c for c in unordered if _sopt(c, "2")]
    for a, b in itertools.product(medicare, medicaid):
        if (a.start or date.min) <= (b.end or date.max) and (b.start or date.min) <= (
            a.end or date.max
        ):
            return (f"{ORDER_WARNING} ({a.ref} before {b.ref})",)
    return ()


def primary_coverage(
    coverages: Sequence[CoverageFact], day: date, ranked: bool = False
) -> CoverageFact | None:
    """The primary Coverage in force on ``day`` (None: none in force). ``ranked``: the
    Coverages are already ``by_rank`` (a caller asking for many days sorts once)."""
    ordered = coverages if ranked else by_rank(coverages)
    return next((c for c in ordered if c.holds(day)), None)
