"""The target rate and the quarterly reconciliation of the enhanced-care supplement
(value-and-models §13.1; proposal II-B.2).

**Target.** §13.1: ``target = baseline − 100 × s / cost_per_avoidable_visit`` "visits per 100
treatment months", while ``baseline`` (§12.3's risk-adjusted rate, ``er.riskAdjustedRate``) and
the quarterly rates ``r`` are per 100 Treatment + Active Monitoring months. **Interpretation
(a rule needing a decision):** the reduction is converted to the rate's basis with the baseline
year's share of Treatment Months, ``share = er.treatmentMonths / er.patientMonths``:

    target = baseline − 100 × s / cost × share

so the target is on the scale ``r`` is measured on (the formula compares them) and the savings
still pay for the supplement: the supplement is paid on T months (``s × T``); a rate lower by
``d`` per 100 patient-months saves ``d / 100 × (T + M) × cost``; equal when ``d = 100 × s × T /
((T + M) × cost)``. With no Active Monitoring months (share 1) it is §13.1's formula as written.
Rounded once to 4 places, as the rates are.

**Amounts.** The latest complete quarter's ``r`` sets the next quarter's monthly amount
``s × (1 + (target − r) / target)``, floored at 0 and capped at ``cap × s`` (default 2),
rounded once to cents. A quarter is complete when it ended on or before the value report's
as-of date; a quarter with no rate (no months, or no benchmarks) changes nothing: the next
quarter is paid ``s``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from cpoc_fhir.economics.money import cents
from cpoc_fhir.errors import InputError

RATE = Decimal("0.0001")
TARGET_YEARS = 3  # §13.1: the target is fixed for at least 3 years


@dataclass(frozen=True)
class Target:
    value: Decimal  # avoidable ER visits per 100 Treatment + Active Monitoring months
    how: str  # "computed", "given", "payer file"
    set_in: int | None = None
    baseline: Decimal | None = None
    baseline_year: int | None = None
    treatment_share: Decimal | None = None  # baseline year's treatmentMonths / patientMonths
    reduction: Decimal | None = None  # baseline − target

    def as_json(self) -> dict[str, Any]:
        return {
            "value": str(self.value),
            "how": self.how,
            "setIn": self.set_in,
            "baseline": _text(self.baseline),
            "baselineYear": self.baseline_year,
            "treatmentShare": _text(self.treatment_share),
            "reduction": _text(self.reduction),
        }


def compute_target(
    baseline: Decimal,
    treatment_months: int,
    patient_months: int,
    amount: Decimal,
    cost_per_visit: Decimal,
    baseline_year: int | None = None,
    set_in: int | None = None,
) -> Target:
    """§13.1's target on the §12.3 rate's basis (module docstring)."""
    if patient_months <= 0:
        raise ValueError("the baseline year has no Treatment or Active Monitoring months")
    share = Decimal(treatment_months) / Decimal(patient_months)
    reduction = Decimal(100) * amount / cost_per_visit * share
    value = (baseline - reduction).quantize(RATE, rounding=ROUND_HALF_UP)
    return Target(
        value,
        "computed",
        set_in,
        baseline,
        baseline_year,
        share.quantize(RATE, rounding=ROUND_HALF_UP),
        baseline - value,
    )


def quarter_amount(amount: Decimal, target: Decimal, rate: Decimal, cap: Decimal) -> Decimal:
    """s × (1 + (target − r) / target), floored at 0, capped at cap × s, to cents."""
    if target <= 0:
        raise ValueError(f"the target rate must be positive, got {target}")
    raw = amount * (1 + (target - rate) / target)
    return cents(min(max(raw, Decimal(0)), cap * amount))


@dataclass(frozen=True)
class QuarterRow:
    quarter: str  # "YYYY-Qn", the quarter measured
    rate: Decimal | None  # its risk-adjusted rate r
    patient_months: int
    complete: bool
    sets: str  # the quarter whose monthly amount it sets
    amount: Decimal | None  # that quarter's amount (None: the quarter is not complete)
    note: str

    def as_json(self) -> dict[str, Any]:
        return {
            "quarter": self.quarter,
            "riskAdjustedRate": _text(self.rate),
            "patientMonths": self.patient_months,
            "complete": self.complete,
            "sets": self.sets,
            "amount": _text(self.amount),
            "note": self.note,
        }


def next_quarter(quarter: str) -> str:
    year, n = int(quarter[:4]), int(quarter[-1])
    return f"{year + 1}-Q1" if n == 4 else f"{year}-Q{n + 1}"


def quarter_end(quarter: str) -> date:
    """The quarter's last day."""
    year, n = int(quarter[:4]), int(quarter[-1])
    return date(year, 12, 31) if n == 4 else date(year, 3 * n + 1, 1) - timedelta(days=1)


def reconcile(
    quarters: Sequence[Mapping[str, Any]],
    as_of: date,
    amount: Decimal,
    target: Decimal,
    cap: Decimal,
    where: str = "value report",
) -> list[QuarterRow]:
    """One row per quarter of ``er.quarters``: its rate and the next quarter's amount."""
    rows = []
    for i, entry in enumerate(quarters):
        at = f"er.quarters[{i}]"
        quarter = entry.get("quarter")
        if not isinstance(quarter, str) or len(quarter) != 7 or quarter[4:6] != "-Q":
            raise InputError(where, f"{at}.quarter is not YYYY-Qn: {quarter!r}")
        rate = _rate(entry.get("riskAdjustedRate"), f"{at}.riskAdjustedRate", where)
        months = entry.get("patientMonths", 0)
        complete = quarter_end(quarter) <= as_of
        sets = next_quarter(quarter)
        if not complete:
            rows.append(QuarterRow(quarter, rate, months, False, sets, None, "not complete"))
        elif rate is None:
            note = "no rate (no months or no benchmarks): the amount stays s"
            rows.append(QuarterRow(quarter, None, months, True, sets, cents(amount), note))
        else:
            paid = quarter_amount(amount, target, rate, cap)
            note = _note(paid, amount, cap)
            rows.append(QuarterRow(quarter, rate, months, True, sets, paid, note))
    return rows


def _note(paid: Decimal, amount: Decimal, cap: Decimal) -> str:
    if paid == 0:
        return "floored at 0"
    if paid == cents(cap * amount):
        return f"capped at {cap} × s"
    return ""


def _rate(value: Any, name: str, where: str) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        raise InputError(where, f"{name} is not a decimal: {value!r}") from None


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
