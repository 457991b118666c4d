"""``cpoc report corridors``: the passes over the practice's records (§14.4).

The corridor year: each patient's timeline as of 31 December, its billable lines starting in
the year, the replaced-code charges of the year (``--ffs``) attributed to them, its payer per
line from its Coverages. The baseline year (``--baseline``, optional): the same records as
of the baseline year's 31 December beside the baseline year's charges, through the model's
own attribution (``economics.model.patient_economics``): FFS revenue per CPOC line per code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from cpoc_fhir.economics.charges import ChargeCollector, collect_charges
from cpoc_fhir.economics.corridor_lines import Baseline, corridor_lines
from cpoc_fhir.economics.corridor_payers import PayerOf
from cpoc_fhir.economics.corridor_rates import Corridors
from cpoc_fhir.economics.corridors import CorridorLine, PayerQuarter, payer_quarters
from cpoc_fhir.economics.fee_schedule import FeeSchedule
from cpoc_fhir.economics.model import ModelOptions, patient_economics
from cpoc_fhir.economics.money import money
from cpoc_fhir.fhir.read import RecordSource
from cpoc_fhir.fhir.read.references import patient_id
from cpoc_fhir.packs.cpoc.payer import PayerSchedule
from cpoc_fhir.service import Evaluator

ZERO = Decimal(0)
EXAMPLES = 5


@dataclass(frozen=True)
class CorridorOptions:
    year: int
    participation_year: int
    corridors: Corridors
    payer: PayerSchedule  # prices P
    fee_schedule: FeeSchedule | None = None
    baseline_year: int | None = None


@dataclass
class CorridorResult:
    options: CorridorOptions
    quarters: list[PayerQuarter]
    baseline: Baseline | None
    warnings: list[str]

    @property
    def corridor(self) -> Decimal | None:
        return self.options.corridors.rate(self.options.participation_year)

    def as_json(self) -> dict[str, Any]:
        options, corridor = self.options, self.corridor
        quarters = [q.as_json(corridor) for q in self.quarters]
        total = {
            key: money(sum((Decimal(str(q[key])) for q in quarters), ZERO))
            for key in ("cpoc", "ffs", "ffsRecorded", "ffsEstimated", "supplement", "recovery")
        }
        return {
            "year": options.year,
            "participationYear": options.participation_year,
            "corridor": None if corridor is None else str(corridor),
            "corridors": options.corridors.header(),
            "payerFile": {"id": options.payer.id, "illustrative": options.payer.illustrative},
            "feeSchedule": None if options.fee_schedule is None else options.fee_schedule.header(),
            "baseline": None if self.baseline is None else self.baseline.as_json(),
            "quarters": quarters,
            "totals": total,
            "warnings": self.warnings,
        }


def run_corridors(
    evaluator: Evaluator,
    records: RecordSource,
    options: CorridorOptions,
    ffs: RecordSource | None = None,
    baseline: RecordSource | None = None,
) -> CorridorResult:
    """The settlement of every payer-quarter of ``options.year``. ``ffs`` / ``baseline``:
    where the charges are (None or ``records``: in the records themselves)."""
    start, end = date(options.year, 1, 1), date(options.year, 12, 31)
    warnings: list[str] = []
    table = None
    base = None
    if options.baseline_year is not None:
        base = _baseline(evaluator, records, options, baseline, warnings)
        table = base.table()
    collector = ChargeCollector(options.fee_schedule, start, end, keep=False)
    charges = (
        None
        if ffs is None or ffs is records
        else collect_charges(ffs, options.fee_schedule, start, end)
    )
    lines: list[CorridorLine] = []
    seen: set[str] = set()
    for resources in records.patients():
        if resources.patient is None:
            continue
        pid = patient_id(resources.patient_ref)
        seen.add(pid)
        own = collector.add(resources) if charges is None else charges.by_patient.get(pid, [])
        timeline = evaluator.evaluate(evaluator.record(resources), end)
        payer_of = PayerOf(resources.resources, options.payer.id)
        warnings.extend(payer_of.warnings)
        lines.extend(corridor_lines(timeline, own, payer_of, options.payer, start, end))
    read = collector.charges if charges is None else charges
    warnings[:0] = list(records.warnings) + read.warnings + read.unpriced_warnings()
    unmatched = sorted(read.patients - seen)
    if unmatched:
        examples = ", ".join(f"Patient/{p}" for p in unmatched[:EXAMPLES])
        warnings.append(
            f"{len(unmatched)} patient(s) have FFS charges but no Patient record in the input; "
            f"their charges are left out (e.g. {examples})"
        )
    quarters = payer_quarters(lines, table)
    warnings.extend(_quarter_warnings(quarters, options))
    return CorridorResult(options, quarters, base, warnings)


def _baseline(
    evaluator: Evaluator,
    records: RecordSource,
    options: CorridorOptions,
    source: RecordSource | None,
    warnings: list[str],
) -> Baseline:
    year = options.baseline_year
    assert year is not None
    model = ModelOptions(date(year, 1, 1), date(year, 12, 31))
    collector = ChargeCollector(options.fee_schedule, model.start, model.end, keep=False)
    charges = (
        None
        if source is None or source is records
        else collect_charges(source, options.fee_schedule, model.start, model.end)
    )
    out = Baseline(year)
    for resources in records.patients():
        if resources.patient is None:
            continue
        pid = patient_id(resources.patient_ref)
        own = collector.add(resources) if charges is None else charges.by_patient.get(pid, [])
        record = evaluator.record(resources)
        patient = patient_economics(evaluator.evaluate(record, model.end), record, own, model)
        if patient.lines:
            out.patients += 1
            out.add(patient.lines)
    read = collector.charges if charges is None else charges
    warnings.extend(f"baseline {year}: {w}" for w in read.warnings + read.unpriced_warnings())
    if not read.patients:
        warnings.append(
            f"baseline {year}: no priced FFS charge in the year; no line can be estimated"
        )
    return out


def _quarter_warnings(quarters: list[PayerQuarter], options: CorridorOptions) -> list[str]:
    out = []
    missing = sum(q.lines_without_ffs for q in quarters)
    if missing:
        where = (
            "no baseline was given (--baseline, --baseline-year)"
            if options.baseline_year is None
            else f"the baseline year {options.baseline_year} has no line of their code"
        )
        out.append(
            f"{missing} CPOC line(s) have no FFS figure: no replaced-code charge was recorded "
            f"for their patient in the quarter and {where}; they are left out of both P and F"
        )
    if options.corridors.rate(options.participation_year) is None:
        out.append(
            f"participation year {options.participation_year} has no corridor in "
            f"{options.corridors.id}: nothing is added or recovered"
        )
    return out
