"""Option 2, risk corridors: the quarter's settlement per payer (value-and-models §14.4; V-B.2).

Per calendar quarter and payer, ``F`` is what FFS would have paid for the CPOC lines of the
quarter and ``P`` what CPOC paid for them. With the participation year's corridor ``c``:

- ``P < F × (1 − c)``: the payer adds ``F × (1 − c) − P`` (the supplement);
- ``P > F × (1 + c)``: the payer recovers ``P − F × (1 + c)`` (the recovery);
- otherwise, and in a year with no corridor, nothing either way.

The comparisons are exact; the supplement or recovery is rounded once, half up, to cents.

What a patient's lines count for F (per patient, payer and quarter, ``PatientQuarter``):

- **recorded** when at least one charge of a code CPOC replaces (cpoc-rules §10), recorded in
  parallel, falls in one of those lines (attributed as ``cpoc model`` does, ``engine.ffs``):
  F is the revenue of the charges attributed to those lines. A line without a charge then
  counts 0 — a month with no visit earns nothing under FFS — so the unit is the
  patient-quarter, not the line;
- **estimated** otherwise: F is the sum, over the lines, of the baseline year's FFS revenue per
  CPOC line of the same code (component and level; ``corridor_baseline``);
- a line with neither (no recorded charge and no baseline line of its code) is left out of
  both P and F, counted and warned about: comparing P with an F that lacks it would be a
  recovery that nothing justifies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from cpoc_fhir.economics.money import cents, money

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class CorridorLine:
    """A CPOC line of the year: its payer, CPOC amount and the replaced FFS attributed to it."""

    patient_id: str
    code: str
    start: date
    payer: str
    amount: Decimal  # P: under the payer file, by the line's date
    ffs: Decimal  # the replaced-code revenue recorded in the line's period
    charges: int  # how many replaced-code charges that is

    @property
    def quarter(self) -> str:
        return quarter_of(self.start)


def quarter_of(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def quarter_period(quarter: str) -> tuple[date, date]:
    year, q = int(quarter[:4]), int(quarter[-1])
    start = date(year, 3 * q - 2, 1)
    end = date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)
    return start, date.fromordinal(end.toordinal() - 1)


@dataclass(frozen=True)
class Settlement:
    outcome: str  # supplement | recovery | inside | no-corridor
    lower: Decimal | None
    upper: Decimal | None
    supplement: Decimal = ZERO
    recovery: Decimal = ZERO


def settle(ffs: Decimal, cpoc: Decimal, corridor: Decimal | None) -> Settlement:
    """§14.4 for one payer-quarter (module docstring)."""
    if corridor is None:
        return Settlement("no-corridor", None, None)
    lower, upper = ffs * (1 - corridor), ffs * (1 + corridor)
    if cpoc < lower:
        return Settlement("supplement", lower, upper, supplement=cents(lower - cpoc))
    if cpoc > upper:
        return Settlement("recovery", lower, upper, recovery=cents(cpoc - upper))
    return Settlement("inside", lower, upper)


@dataclass
class PayerQuarter:
    payer: str
    quarter: str
    cpoc: Decimal = ZERO
    ffs_recorded: Decimal = ZERO
    ffs_estimated: Decimal = ZERO
    lines: int = 0
    lines_without_ffs: int = 0
    cpoc_without_ffs: Decimal = ZERO
    recorded: set[str] = field(default_factory=set)  # patients whose F was recorded
    estimated: set[str] = field(default_factory=set)  # patients whose F was estimated

    @property
    def ffs(self) -> Decimal:
        return self.ffs_recorded + self.ffs_estimated

    @property
    def patients(self) -> list[str]:
        return sorted(self.recorded | self.estimated)

    def add_patient(
        self, patient: str, lines: list[CorridorLine], baseline: Mapping[str, Decimal] | None
    ) -> None:
        """One patient's lines of this payer and quarter (the module docstring's rules)."""
        if any(line.charges for line in lines):
            self.recorded.add(patient)
            self.ffs_recorded += sum((line.ffs for line in lines), ZERO)
            self.cpoc += sum((line.amount for line in lines), ZERO)
            self.lines += len(lines)
            return
        for line in lines:
            estimate = None if baseline is None else baseline.get(line.code)
            if estimate is None:
                self.lines_without_ffs += 1
                self.cpoc_without_ffs += line.amount
                continue
            self.estimated.add(patient)
            self.ffs_estimated += estimate
            self.cpoc += line.amount
            self.lines += 1

    def as_json(self, corridor: Decimal | None) -> dict[str, object]:
        result = settle(self.ffs, self.cpoc, corridor)
        start, end = quarter_period(self.quarter)
        return {
            "quarter": self.quarter,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "payer": self.payer,
            "patients": len(self.patients),
            "patientsRecorded": len(self.recorded),
            "patientsEstimated": len(self.estimated),
            "lines": self.lines,
            "cpoc": money(self.cpoc),
            "ffs": money(self.ffs),
            "ffsRecorded": money(self.ffs_recorded),
            "ffsEstimated": money(self.ffs_estimated),
            "lower": None if result.lower is None else money(result.lower),
            "upper": None if result.upper is None else money(result.upper),
            "outcome": result.outcome,
            "supplement": money(result.supplement),
            "recovery": money(result.recovery),
            "linesWithoutFfs": self.lines_without_ffs,
            "cpocWithoutFfs": money(self.cpoc_without_ffs),
        }


def payer_quarters(
    lines: Iterable[CorridorLine], baseline: Mapping[str, Decimal] | None
) -> list[PayerQuarter]:
    """The lines grouped per payer and quarter, each patient's share decided on its own."""
    groups: dict[tuple[str, str], dict[str, list[CorridorLine]]] = {}
    for line in lines:
        groups.setdefault((line.payer, line.quarter), {}).setdefault(line.patient_id, []).append(
            line
        )
    out = []
    for (payer, quarter), patients in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        group = PayerQuarter(payer, quarter)
        for patient, own in patients.items():
            group.add_patient(patient, own, baseline)
        out.append(group)
    return out
