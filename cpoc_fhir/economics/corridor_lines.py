"""Each patient's CPOC lines of a year with the replaced FFS recorded in them (§14.4).

The replaced-code charges (cpoc-rules §10; ``economics.codes``) are attributed to the line whose
period holds their date exactly as ``cpoc model`` attributes them (``engine.ffs``: the New
Patient day, else the billing month's line); not-billable lines are left out, provisional ones
count (as in the model). Each line is priced under the payer file by the day it is priced by
(``PayerSchedule.amount(code, on=start)``, cpoc-rules §1, value-and-models §13.3).

The baseline table (``baseline_table``): for each CPOC code, the baseline year's FFS revenue of
the codes CPOC replaces, attributed to its lines with the model's own code
(``economics.model.patient_economics``), divided by the number of its lines — every billable
line of the year counts, also one in whose period nothing was billed (it earned 0 under FFS).
Revenue in no line (before the New Patient day) is not part of it. The per-line figure is
rounded once to cents: it is a price per line, as a fee schedule's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from cpoc_fhir.economics.claims import ClaimLine
from cpoc_fhir.economics.codes import FfsKind
from cpoc_fhir.economics.corridor_payers import PayerOf
from cpoc_fhir.economics.corridors import CorridorLine
from cpoc_fhir.economics.model import ModelLine
from cpoc_fhir.economics.money import cents, money
from cpoc_fhir.engine.lines import LineStatus, PatientTimeline
from cpoc_fhir.packs.cpoc.ffs import FfsCharge, timeline_conflicts
from cpoc_fhir.packs.cpoc.payer import PayerSchedule

ZERO = Decimal(0)


def corridor_lines(
    timeline: PatientTimeline,
    charges: Sequence[ClaimLine],
    payer_of: PayerOf,
    schedule: PayerSchedule,
    start: date,
    end: date,
) -> list[CorridorLine]:
    """The patient's billable lines starting in [start, end], with their recorded FFS."""
    pid = timeline.patient_ref.removeprefix("Patient/")
    billable = [line for line in timeline.lines if line.status is not LineStatus.NOT_BILLABLE]
    amounts: dict[FfsCharge, Decimal] = {}
    for charge in charges:
        if charge.kind is FfsKind.REPLACED and charge.amount is not None:
            key = FfsCharge(charge.evidence, charge.code, charge.on)
            amounts[key] = amounts.get(key, ZERO) + charge.amount
    ffs: dict[int, Decimal] = {}
    count: dict[int, int] = {}
    for conflict in timeline_conflicts(amounts, timeline):
        at = id(conflict.line)
        ffs[at] = ffs.get(at, ZERO) + amounts[conflict.charge]
        count[at] = count.get(at, 0) + 1
    return [
        CorridorLine(
            pid,
            line.code,
            line.start,
            payer_of.on(line.start),
            schedule.amount(line.code, on=line.start),
            ffs.get(id(line), ZERO),
            count.get(id(line), 0),
        )
        for line in billable
        if start <= line.start <= end
    ]


@dataclass
class BaselineRow:
    code: str
    lines: int = 0
    ffs: Decimal = ZERO

    @property
    def per_line(self) -> Decimal:
        return cents(self.ffs / self.lines)


@dataclass
class Baseline:
    year: int
    rows: dict[str, BaselineRow] = field(default_factory=dict)
    patients: int = 0

    def add(self, lines: Iterable[ModelLine]) -> None:
        for line in lines:
            row = self.rows.setdefault(line.code, BaselineRow(line.code))
            row.lines += 1
            row.ffs += line.ffs

    def table(self) -> dict[str, Decimal]:
        """CPOC code → the baseline FFS revenue per line (cents)."""
        return {code: row.per_line for code, row in self.rows.items() if row.lines}

    def as_json(self) -> dict[str, object]:
        return {
            "year": self.year,
            "patients": self.patients,
            "byCode": [
                {
                    "code": row.code,
                    "lines": row.lines,
                    "ffsReplaced": money(row.ffs),
                    "perLine": money(row.per_line),
                }
                for _code, row in sorted(self.rows.items())
            ],
        }
