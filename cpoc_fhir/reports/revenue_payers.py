"""Who pays for each revenue line (issue 17 item 4): the patient's primary Coverage on the
line's day, the rule payment-model selection uses (engine/coverage.py ``primary_coverage``,
value-and-models §15), read as every record reader reads Coverages (fhir/read/coverages.py).

A ChargeItem names no payer, so the payer comes from the patient's Coverages: the one in force
on the line's start day with the lowest coordination-of-benefits rank. Its name for people:
the payor Organization's ``name`` (one name per payer, however each Coverage's display spells
it), else the payor's display, else the payer as the settings name it (its reference, or
"system|value"). A line whose patient has no Coverage in force
that day falls in the ``NO_COVERAGE`` bucket, so the buckets add up to the revenue.

Pure: the caller reads the Coverages (and the payor Organizations, for their names).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from cpoc_fhir.engine.coverage import by_rank, primary_coverage
from cpoc_fhir.engine.facts import CoverageFact
from cpoc_fhir.fhir.read.context import ReadContext, ReaderSettings
from cpoc_fhir.fhir.read.coverages import read_coverages
from cpoc_fhir.fhir.read.references import patient_key, reference_key, resource_key
from cpoc_fhir.fhir.read.resources import PatientResources
from cpoc_fhir.knowledge import Knowledge
from cpoc_fhir.reports.revenue import RevenueRow

NO_COVERAGE = "No coverage"
MAX_NAME = 120  # a payer's name in a filter list and a CSV cell


@dataclass(frozen=True)
class Payers:
    """Each patient's Coverages (primary first) and the payor Organizations' names."""

    coverages: Mapping[str, Sequence[CoverageFact]] = field(default_factory=dict)
    names: Mapping[str, str] = field(default_factory=dict)  # "Organization/x" → its name
    warnings: tuple[str, ...] = ()  # Coverages left out (no payor named …), ids only

    def payer_of(self, patient_ref: str, day: date) -> str:
        """The name of the patient's primary payer on ``day``; ``NO_COVERAGE`` for none."""
        primary = primary_coverage(self.coverages.get(patient_ref, ()), day, ranked=True)
        if primary is None:
            return NO_COVERAGE
        name = self.names.get(primary.payer) or primary.payer_display or primary.payer
        return name.strip()[:MAX_NAME] or primary.payer


def read_payers(
    coverages: Iterable[Mapping[str, Any]],
    organizations: Iterable[Mapping[str, Any]],
    knowledge: Knowledge,
) -> Payers:
    """The Coverages among ``coverages`` grouped by beneficiary and read as a record's are
    (status, period, first payor, order); ``organizations``: payors, for their names."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for resource in coverages:
        if resource.get("resourceType") != "Coverage":
            continue
        patient = patient_key(resource)
        if patient is not None:
            grouped.setdefault(patient, []).append(dict(resource))
    by_patient: dict[str, list[CoverageFact]] = {}
    warnings: list[str] = []
    for patient, found in sorted(grouped.items()):
        # the knowledge is unused by the Coverage reader; ReadContext wants one
        ctx = ReadContext(PatientResources(patient, found), knowledge, ReaderSettings())
        by_patient[patient] = by_rank(read_coverages(ctx))
        warnings.extend(ctx.warnings)
    names = {
        resource_key(o): name.strip()
        for o in organizations
        if o.get("resourceType") == "Organization"
        and isinstance(name := o.get("name"), str)
        and name.strip()
    }
    return Payers(by_patient, names, tuple(warnings))


def payor_organizations(payers: Payers) -> list[str]:
    """The ids of the payor Organizations the Coverages reference (their names are wanted)."""
    wanted = {
        c.payer.split("/", 1)[1]
        for facts in payers.coverages.values()
        for c in facts
        if c.payer.startswith("Organization/")
    }
    return sorted(wanted)


def with_payers(rows: Iterable[RevenueRow], payers: Payers) -> Iterator[RevenueRow]:
    """The rows, each with its payer on its day."""
    for row in rows:
        patient = reference_key(row.patient_ref) or row.patient_ref  # absolute URLs too
        yield replace(row, payer=payers.payer_of(patient, row.start))
