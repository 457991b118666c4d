"""CPOC against fee-for-service for one practice's patients over a period (§14.1; V-A).

Per patient: the CPOC lines whose billing month starts in [from, to] (the timeline as of
``to``; not-billable lines left out), their relative-value sum, and the FFS charges of the
period by class (replaced, drug, other). Each replaced-code charge is attributed to the CPOC
line whose period holds its date (cpoc-rules §10, ``engine.ffs.ffs_conflicts``: the New
Patient day, else the month's line), so variance can be shown per component and level.

The practice's figures:

- neutralBase = ffsReplacedRevenue / (Σ rv / 100), rounded once to cents: the New Patient
  base (conversion factor) at which CPOC pays what FFS paid for the replaced codes;
- the base for a margin m: ffsReplacedRevenue × (1 + m) / (Σ rv / 100);
- the scenario that variance and the payer's side use: the ``--payer`` file when given, else
  the margin's base when given, else the neutral base. A line's amount is
  base × rv/100 × gpci × (1 + vba), rounded half up to cents per line (cpoc-rules §1).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from cpoc_fhir.economics.claims import ClaimLine
from cpoc_fhir.economics.codes import FfsKind
from cpoc_fhir.economics.money import cents
from cpoc_fhir.economics.relative_values import RelativeValues
from cpoc_fhir.engine.facts import CancerRole, PatientRecord
from cpoc_fhir.engine.lines import BillingLine, LineStatus, PatientTimeline
from cpoc_fhir.packs.cpoc.codes import CODES
from cpoc_fhir.packs.cpoc.ffs import FfsCharge, ffs_conflicts
from cpoc_fhir.packs.cpoc.payer import PayerSchedule

ZERO = Decimal(0)


@dataclass(frozen=True)
class ModelOptions:
    start: date
    end: date
    relative_values: RelativeValues = field(default_factory=RelativeValues)
    margin: Decimal | None = None  # 0.05 = CPOC revenue 5 % above FFS replaced revenue
    payer: PayerSchedule | None = None  # the --payer file, when given
    reduction: Decimal = Decimal("0.03")  # assumed reduction of other spending (§14.2)


@dataclass(frozen=True, slots=True)
class ModelLine:
    """A CPOC line of the period, with the replaced FFS revenue of its days."""

    code: str
    start: date
    month: int | None
    status: str
    rv: Decimal
    ffs: Decimal


@dataclass
class PatientEconomics:
    patient_id: str
    cancer: str
    lines: list[ModelLine] = field(default_factory=list)
    replaced: Decimal = ZERO
    drug: Decimal = ZERO
    other: Decimal = ZERO
    unattributed: Decimal = ZERO  # replaced-code revenue in no CPOC line of the period
    replaced_by_month: dict[str, Decimal] = field(default_factory=dict)
    replaced_codes: Counter[str] = field(default_factory=Counter)

    @property
    def rv_sum(self) -> Decimal:
        return sum((line.rv for line in self.lines), ZERO)


def patient_economics(
    timeline: PatientTimeline,
    record: PatientRecord,
    charges: Sequence[ClaimLine],
    options: ModelOptions,
) -> PatientEconomics:
    """One patient's lines of the period and FFS charges, attributed."""
    pid = timeline.patient_ref.removeprefix("Patient/")
    billable = [line for line in timeline.lines if line.status is not LineStatus.NOT_BILLABLE]
    # The enhanced-care supplement (xx600, §13.1) has no relative value: no part of Σ rv.
    in_period = [
        line
        for line in billable
        if options.start <= line.start <= options.end and line.code in CODES
    ]
    out = PatientEconomics(pid, cancer_type(record))
    replaced: dict[FfsCharge, Decimal] = {}
    for charge in charges:
        amount = charge.amount if charge.amount is not None else ZERO
        kind = charge.kind
        if kind is FfsKind.DRUG:
            out.drug += amount
        elif kind is FfsKind.OTHER:
            out.other += amount
        else:
            out.replaced += amount
            month = charge.on.strftime("%Y-%m")
            out.replaced_by_month[month] = out.replaced_by_month.get(month, ZERO) + amount
            out.replaced_codes[charge.code] += 1
            key = FfsCharge(charge.evidence, charge.code, charge.on)
            replaced[key] = replaced.get(key, ZERO) + amount
    attributed: dict[int, Decimal] = {}
    wanted = {id(line) for line in in_period}
    for conflict in ffs_conflicts(replaced, billable):
        if id(conflict.line) in wanted:
            attributed[id(conflict.line)] = (
                attributed.get(id(conflict.line), ZERO) + replaced[conflict.charge]
            )
    out.unattributed = out.replaced - sum(attributed.values(), ZERO)
    rv = options.relative_values
    out.lines = [
        _model_line(line, rv[line.code], attributed.get(id(line), ZERO)) for line in in_period
    ]
    return out


def _model_line(line: BillingLine, rv: Decimal, ffs: Decimal) -> ModelLine:
    return ModelLine(line.code, line.start, line.month, line.status.value, rv, ffs)


def cancer_type(record: PatientRecord) -> str:
    """The type of the most recent primary cancer (as the engine's horizons use it)."""
    primaries = [
        d for d in record.diagnoses if d.cancer_role is CancerRole.PRIMARY and d.cancer_type
    ]
    latest = max(primaries, key=lambda d: d.onset or date.min, default=None)
    return latest.cancer_type if latest is not None and latest.cancer_type else "unknown"


@dataclass(frozen=True)
class Scenario:
    """The base and factors a CPOC line is paid at; ``basis``: payer, margin or neutral."""

    basis: str
    base: Decimal
    gpci: Decimal = Decimal(1)
    vba: Decimal = ZERO
    payer_id: str | None = None
    illustrative: bool = False

    def amount(self, rv: Decimal) -> Decimal:
        """cpoc-rules §1, as ``engine.payer.PayerSchedule.amount`` computes it, for any rv."""
        raw = self.base * rv / 100 * self.gpci * (1 + self.vba)
        return cents(raw)


def neutral_base(replaced: Decimal, rv_sum: Decimal, margin: Decimal = ZERO) -> Decimal | None:
    """ffs replaced revenue × (1 + margin) / (Σ rv / 100), rounded once to cents."""
    if rv_sum == 0:
        return None
    return cents(replaced * (1 + margin) * 100 / rv_sum)


def scenario(
    options: ModelOptions, neutral: Decimal | None, margin_base: Decimal | None
) -> Scenario | None:
    """The ``--payer`` file, else the margin's base, else the neutral base (None: no lines)."""
    payer = options.payer
    if payer is not None:
        # a per-year payer file: the figures of the period's first day (§13.3)
        at = payer.for_date(options.start)
        return Scenario("payer", at.base, at.gpci, at.vba, payer.id, payer.illustrative)
    if margin_base is not None:
        return Scenario("margin", margin_base)
    if neutral is not None:
        return Scenario("neutral", neutral)
    return None


def sum_of(values: Iterable[Decimal]) -> Decimal:
    return sum(values, ZERO)
