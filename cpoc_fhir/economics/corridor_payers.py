"""Which payer a CPOC line belongs to for the corridors (value-and-models §14.4: per payer).

The patient's payer on a day is the ``payor`` of a FHIR R4 Coverage of the patient
(https://hl7.org/fhir/R4/coverage.html) that is in force that day: status not cancelled,
draft or entered-in-error, and ``period`` (when given) holding the day. A line goes to the
payer of the day it is priced by (its billing month's start; a New Patient line's visit
day), so a patient who changes payer within a quarter has the quarter's lines split between
them by date. When two Coverages are in force on one day, the one with the lowest ``order``
(the coordination-of-benefits rank; none = last) wins, then the lowest id — the rule the
payment-model selection uses too (engine/coverage.py ``primary_coverage``). With no Coverage
in force, the payer file's id stands for the payer.

A payer is named by its reference ("Organization/x"), else its identifier's value, else its
display. Only the first ``payor`` of a Coverage counts (R4: the issuer of the policy).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from cpoc_fhir.engine.coverage import by_rank, primary_coverage
from cpoc_fhir.engine.facts import CoverageFact
from cpoc_fhir.fhir.read import access
from cpoc_fhir.fhir.read.access import UnreadableElement
from cpoc_fhir.fhir.read.coverages import OUT_OF_FORCE, payer_name


class PayerOf:
    """The payer of one patient on each day (the module docstring says how)."""

    def __init__(self, resources: Iterable[Mapping[str, Any]], default: str) -> None:
        self.default = default
        self.warnings: list[str] = []
        self.spans = by_rank(coverage_facts(resources, self.warnings))

    def on(self, day: date) -> str:
        primary = primary_coverage(self.spans, day, ranked=True)
        return primary.payer if primary is not None else self.default


def coverage_facts(
    resources: Iterable[Mapping[str, Any]], warnings: list[str] | None = None
) -> list[CoverageFact]:
    """The Coverages in force among ``resources`` (any types), as facts; a Coverage that
    cannot be read, or names no payor, is left out with a warning in ``warnings``."""
    out = []
    for resource in resources:
        fact = _coverage(resource, warnings if warnings is not None else [])
        if fact is not None:
            out.append(fact)
    return out


def _coverage(resource: Mapping[str, Any], warnings: list[str]) -> CoverageFact | None:
    if resource.get("resourceType") != "Coverage":
        return None
    rid = str(resource.get("id", "?"))
    try:
        if access.code(resource, "status") in OUT_OF_FORCE:
            return None
        start, end = access.period(resource, "period")
        payors = access.references(resource, "payor")
        order = access.integer(resource, "order")
    except UnreadableElement as exc:
        warnings.append(f"Coverage/{rid}: {exc.problem}; its payer is not used")
        return None
    payer = payer_name(payors[0]) if payors else None
    if payer is None:
        warnings.append(f"Coverage/{rid}: no payor named; its payer is not used")
        return None
    order = order if order is not None else 1 << 30
    return CoverageFact(f"Coverage/{rid}", payer, start, end, order)
