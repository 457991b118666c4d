"""The FFS charges of a period, per patient: read, priced, filtered, with what was left out.

An item with no amount of its own and no fee-schedule price is counted and warned about,
never guessed (§14.1): its revenue is unknown, so the figures it would change say so.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from cpoc_fhir.economics.claims import ClaimLine, read_claims
from cpoc_fhir.economics.fee_schedule import FeeSchedule
from cpoc_fhir.fhir.read import PatientResources, RecordSource
from cpoc_fhir.fhir.read.gc_pass import relaxed_gc
from cpoc_fhir.fhir.read.references import patient_id

WARNING_EXAMPLES = 5  # unpriced items named per code in the warnings


@dataclass
class Charges:
    """Priced FFS lines of [start, end] by patient id, and what was left out."""

    by_patient: dict[str, list[ClaimLine]] = field(default_factory=dict)  # when kept
    patients: set[str] = field(default_factory=set)  # every patient with priced lines
    unpriced: list[ClaimLine] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    outside_period: int = 0
    warnings: list[str] = field(default_factory=list)
    basis: Counter[str] = field(default_factory=Counter)  # priced lines by where the amount came

    def unpriced_json(self) -> dict[str, object]:
        by_code = Counter(f"{line.code}" for line in self.unpriced)
        return {"items": len(self.unpriced), "byCode": dict(sorted(by_code.items()))}

    def unpriced_warnings(self) -> list[str]:
        examples: dict[str, list[str]] = {}
        for line in self.unpriced:
            examples.setdefault(line.code, []).append(line.evidence)
        return [
            f"{len(refs)} item(s) of code {code} have no amount and no fee-schedule price; "
            f"left out of the revenue (e.g. {', '.join(refs[:WARNING_EXAMPLES])})"
            for code, refs in sorted(examples.items())
        ]


class ChargeCollector:
    """Reads, prices and keeps the FFS lines of [start, end], one patient's resources at a
    time (so a source holding both records and claims is parsed once)."""

    def __init__(
        self, schedule: FeeSchedule | None, start: date, end: date, keep: bool = True
    ) -> None:
        self.schedule, self.start, self.end, self.keep = schedule, start, end, keep
        self.charges = Charges()

    def add(self, resources: PatientResources) -> list[ClaimLine]:
        """The patient's priced lines of the period (also kept in ``charges``)."""
        out = self.charges
        pid = patient_id(resources.patient_ref)
        read = read_claims(pid, resources.resources, resources.key)
        out.skipped.update(read.skipped)
        out.warnings.extend(read.warnings)
        kept = []
        for line in read.lines:
            if not self.start <= line.on <= self.end:
                out.outside_period += 1
                continue
            line = line.priced(self.schedule)
            if line.amount is None:
                out.unpriced.append(line)
                continue
            out.basis[str(line.basis)] += 1
            kept.append(line)
        if kept:
            out.patients.add(pid)
            if self.keep:
                out.by_patient.setdefault(pid, []).extend(kept)
        return kept


def collect_charges(
    source: RecordSource, schedule: FeeSchedule | None, start: date, end: date
) -> Charges:
    """Every patient's FFS lines with a service date in [start, end], priced."""
    collector = ChargeCollector(schedule, start, end)
    with relaxed_gc():  # one pass over thousands of patients (gc_pass: why)
        for resources in source.patients():
            collector.charges.warnings.extend(resources.warnings)
            collector.add(resources)
    collector.charges.warnings[:0] = source.warnings
    return collector.charges
