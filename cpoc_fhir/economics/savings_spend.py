"""One year's spending of the practice's patients by service category, and its exposure
(value-and-models §13.2, risk-adjusted like §12.3).

- **Exposure**: the patient-months of §12.3 — Treatment and Active Monitoring lines, final or
  provisional, whose billing month starts in the year — taken from the ER module's own
  collector (``value.er.ErCollector``), so both reports count the same months.
- **Risk weight of a month**: the product of §12.3's indirect-standardisation factors,
  ``factor(C) × factor(P) × factor(T) × factor(distance band)``, from the benchmarks file's
  ER tables, with the C/P/T points the ER module gives the month. The reference rate is left
  out: it cancels in the ratio the expected spending uses. Without benchmarks every month
  weighs 1 (no risk adjustment; the report says so).
- **Spending**: each claim item (``economics.claims``) dated inside one of those months, priced
  as paid, or at the price table's standardised price × units when one is given (an item the
  table does not list keeps its paid amount, counted apart), placed in a category by
  ``economics.categories``. Items outside every such month are counted apart: the expected
  spending is per patient-month, so spending outside CPOC months is neither.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from cpoc_fhir.economics.categories import ItemContext, ServiceCategories, item_contexts
from cpoc_fhir.economics.claims import ClaimLine, read_claims
from cpoc_fhir.economics.fee_schedule import FeeSchedule
from cpoc_fhir.fhir.read import PatientResources, RecordSource
from cpoc_fhir.fhir.read.references import patient_id
from cpoc_fhir.service import Evaluator
from cpoc_fhir.value.er import ErCollector, factor
from cpoc_fhir.value.model import ErBenchmarks, PatientYear, Position
from cpoc_fhir.value.settings import ValueSettings

ZERO = Decimal(0)
EXAMPLES = 5


@dataclass
class Item:
    """A claim item with its context, before it is priced and placed."""

    line: ClaimLine
    context: ItemContext


@dataclass
class PatientSpend:
    patient: str
    months: int
    risk_units: Decimal
    by_category: dict[str, Decimal] = field(default_factory=dict)


@dataclass
class YearSpend:
    """A year's exposure and spending; money unrounded (rounded once where it is shown)."""

    year: int
    risk_adjusted: bool
    months: int = 0
    treatment_months: int = 0
    risk_units: Decimal = ZERO  # Σ of the months' risk weights
    by_category: dict[str, Decimal] = field(default_factory=dict)
    items: Counter[str] = field(default_factory=Counter)  # by category
    outside_items: int = 0
    outside_amount: Decimal = ZERO
    outside_by_category: dict[str, Decimal] = field(default_factory=dict)
    unpriced: Counter[str] = field(default_factory=Counter)  # by code
    basis: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    patients: list[PatientSpend] = field(default_factory=list)
    without_record: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)

    def add(self, category: str, amount: Decimal) -> None:
        self.by_category[category] = self.by_category.get(category, ZERO) + amount
        self.items[category] += 1


@dataclass(frozen=True)
class SpendInputs:
    evaluator: Evaluator
    value: ValueSettings
    categories: ServiceCategories
    benchmarks: ErBenchmarks | None
    prices: FeeSchedule | None
    position: Position | None


def year_spend(
    inputs: SpendInputs,
    records: RecordSource,
    claims: RecordSource | None,
    year: int,
    as_of: date | None = None,
) -> YearSpend:
    """The year's spend over ``records``' patients; claims from ``claims``, or from the
    records themselves when it is None (one pass over a Bulk export holding both)."""
    as_of = as_of or date(year, 12, 31)
    out = YearSpend(year, inputs.benchmarks is not None)
    elsewhere = None if claims is None else _claims_by_patient(claims, out)
    collector = ErCollector(
        inputs.value,
        inputs.benchmarks,
        knowledge=inputs.evaluator.knowledge,
        rules=inputs.evaluator.rules,
        year=year,
    )
    seen: set[str] = set()
    for resources in records.patients():
        pid = patient_id(resources.patient_ref)
        items = _items(resources, out) if elsewhere is None else elsewhere.get(pid, [])
        if resources.patient is None:
            if items:
                out.without_record.add(pid)
            continue
        seen.add(pid)
        record = inputs.evaluator.record(resources)
        timeline = inputs.evaluator.evaluate(record, as_of)
        py = PatientYear(pid, resources, record, timeline, year, as_of, inputs.position)
        collector.add(py)
        _patient(inputs, out, pid, collector.patients.get(pid), items)
    if elsewhere is not None:
        out.without_record.update(p for p in elsewhere if p not in seen)
    out.warnings[:0] = list(records.warnings) + collector.warnings
    _warn(out)
    return out


def _claims_by_patient(source: RecordSource, out: YearSpend) -> dict[str, list[Item]]:
    found: dict[str, list[Item]] = {}
    for resources in source.patients():
        out.warnings.extend(resources.warnings)
        items = _items(resources, out)
        if items:
            found.setdefault(patient_id(resources.patient_ref), []).extend(items)
    out.warnings[:0] = source.warnings
    return found


def _items(resources: PatientResources, out: YearSpend) -> list[Item]:
    pid = patient_id(resources.patient_ref)
    read = read_claims(pid, resources.resources, resources.key)
    out.skipped.update(read.skipped)
    out.warnings.extend(read.warnings)
    if not read.lines:
        return []
    contexts = item_contexts(resources.resources)
    return [Item(line, contexts.get(line.evidence, ItemContext())) for line in read.lines]


def _patient(
    inputs: SpendInputs,
    out: YearSpend,
    pid: str,
    exposure: dict[str, Any] | None,
    items: list[Item],
) -> None:
    months = [] if exposure is None else exposure["months"]
    distance = Decimal(exposure["distanceFactor"] or 1) if exposure is not None else Decimal(1)
    spans = [(date.fromisoformat(m["start"]), date.fromisoformat(m["end"])) for m in months]
    units = sum((_weight(inputs.benchmarks, m["points"], distance) for m in months), ZERO)
    mine = PatientSpend(pid, len(months), units)
    out.months += len(months)
    out.treatment_months += sum(1 for m in months if m["component"] == "treatment-month")
    out.risk_units += units
    for item in items:
        line = item.line
        amount, basis = _price(line, inputs.prices)
        category = inputs.categories.place(line, item.context)
        if not any(start <= line.on <= end for start, end in spans):
            # Outside every CPOC month of the year: not in the per-patient-month figures.
            out.outside_items += 1
            out.outside_amount += amount or ZERO
            outside = out.outside_by_category
            outside[category] = outside.get(category, ZERO) + (amount or ZERO)
            continue
        if amount is None:
            out.unpriced[line.code] += 1
            continue
        out.basis[basis] += 1
        out.add(category, amount)
        mine.by_category[category] = mine.by_category.get(category, ZERO) + amount
    if months or mine.by_category:
        out.patients.append(mine)


def _weight(benchmarks: ErBenchmarks | None, points: dict[str, int], distance: Decimal) -> Decimal:
    """§12.3's factors of one patient-month (the reference rate left out: it cancels)."""
    if benchmarks is None:
        return Decimal(1)
    return (
        factor(benchmarks.comorbidity, points["comorbidity"])
        * factor(benchmarks.performance, points["performance"])
        * factor(benchmarks.toxicity, points["toxicity"])
        * distance
    )


def _price(line: ClaimLine, prices: FeeSchedule | None) -> tuple[Decimal | None, str]:
    """Standardised price × units when the table lists the code; else the paid amount."""
    if prices is not None:
        standard = prices.price(line.system, line.code, line.units)
        if standard is not None:
            return standard, "standardised"
        return line.amount, "paid (not in the price table)"
    return line.amount, str(line.basis)


def _warn(out: YearSpend) -> None:
    if out.without_record:
        examples = ", ".join(f"Patient/{p}" for p in sorted(out.without_record)[:EXAMPLES])
        out.warnings.append(
            f"{out.year}: {len(out.without_record)} patient(s) have claims but no Patient record; "
            f"their claims are left out (e.g. {examples})"
        )
    for code, count in sorted(out.unpriced.items()):
        out.warnings.append(
            f"{out.year}: {count} item(s) of code {code} have no amount and no price; left out"
        )
    if out.basis.get("paid (not in the price table)"):
        out.warnings.append(
            f"{out.year}: {out.basis['paid (not in the price table)']} item(s) are not in the "
            "price table and count at their paid amount"
        )
    if not out.months:
        out.warnings.append(f"{out.year}: no CPOC Treatment or Active Monitoring month")
