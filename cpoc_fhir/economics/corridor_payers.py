"""Which payer a CPOC line belongs to for the corridors (value-and-models §14.4: per payer).

The patient's payer on a day is the ``payor`` of a FHIR R4 Coverage of the patient
(https://hl7.org/fhir/R4/coverage.html) that is in force that day: status not cancelled,
draft or entered-in-error, and ``period`` (when given) holding the day. A line goes to the
payer of the day it is priced by (its billing month's start; a New Patient line's visit
day), so a patient who changes payer within a quarter has the quarter's lines split between
them by date. When two Coverages are in force on one day, the one with the lowest ``order``
(the coordination-of-benefits rank; none = last) wins, then the lowest id. With no Coverage in
force, the payer file's id stands for the payer.

A payer is named by its reference ("Organization/x"), else its identifier's value, else its
display. Only the first ``payor`` of a Coverage counts (R4: the issuer of the policy).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from cpoc_fhir.fhir.read import access
from cpoc_fhir.fhir.read.access import UnreadableElement
from cpoc_fhir.fhir.read.coverages import OUT_OF_FORCE, payer_name


@dataclass(frozen=True, slots=True)
class CoverageSpan:
    payer: str
    start: date | None
    end: date | None
    order: int
    id: str

    def holds(self, day: date) -> bool:
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)


class PayerOf:
    """The payer of one patient on each day (the module docstring says how)."""

    def __init__(self, resources: Iterable[Mapping[str, Any]], default: str) -> None:
        self.default = default
        self.warnings: list[str] = []
        self.spans = sorted(
            (s for r in resources if (s := self._span(r)) is not None),
            key=lambda s: (s.order, s.id),
        )

    def on(self, day: date) -> str:
        return next((s.payer for s in self.spans if s.holds(day)), self.default)

    def _span(self, resource: Mapping[str, Any]) -> CoverageSpan | None:
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
            self.warnings.append(f"Coverage/{rid}: {exc.problem}; its payer is not used")
            return None
        payer = payer_name(payors[0]) if payors else None
        if payer is None:
            self.warnings.append(f"Coverage/{rid}: no payor named; its payer is not used")
            return None
        return CoverageSpan(payer, start, end, order if order is not None else 1 << 30, rid)
