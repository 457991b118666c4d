"""The primary Coverage in force on a day: the one rule the payment-model selection
(packs/selection.py, value-and-models §15) and the corridors' payer split
(economics/corridor_payers.py, §14.4) share.

Of the Coverages in force on the day (``CoverageFact.holds``), the primary is the one with the
lowest ``order`` (the coordination-of-benefits rank; none = last), then the lowest reference.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from cpoc_fhir.engine.facts import CoverageFact


def by_rank(coverages: Iterable[CoverageFact]) -> list[CoverageFact]:
    """The Coverages, primary first: by ``order``, then reference."""
    return sorted(coverages, key=lambda c: (c.order, c.ref))


def primary_coverage(
    coverages: Sequence[CoverageFact], day: date, ranked: bool = False
) -> CoverageFact | None:
    """The primary Coverage in force on ``day`` (None: none in force). ``ranked``: the
    Coverages are already ``by_rank`` (a caller asking for many days sorts once)."""
    ordered = coverages if ranked else by_rank(coverages)
    return next((c for c in ordered if c.holds(day)), None)
