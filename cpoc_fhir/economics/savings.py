"""Shared savings (value-and-models §13.2; proposal II-B.3): expected against actual spending
by service category, the minimum savings rate and the practice's share.

- **Expected** per included category: the payer's figure (``--expected``), or from the
  baseline year: ``baseline spend × (this year's risk units / the baseline's risk units)``,
  where a year's risk units are the sum of its patient-months' §12.3 risk weights
  (``economics.savings_spend``). That is the baseline's spend per patient-month, times this
  year's patient-months, times the ratio of the years' mean risk weights (indirect
  standardisation); with every weight 1 it is spend per patient-month × patient-months.
- **Savings** = expected − actual over the included categories; the savings rate is savings /
  expected. **Payment** = share × savings when the rate is *above* the minimum savings rate
  (§13.2 "paid only above": a rate equal to it pays nothing), else 0; never negative (upside
  only). Interpretation: once above the rate, the share applies to the whole savings (first
  dollar, as CMS's shared-savings programme pays), not to the part above it.
- Money: every figure is kept unrounded and rounded once, half up, to cents where it is
  written; rates to 4 places.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from cpoc_fhir.economics.categories import UNCATEGORISED
from cpoc_fhir.economics.money import money
from cpoc_fhir.economics.savings_inputs import ExpectedSpending, SavingsSettings
from cpoc_fhir.economics.savings_spend import YearSpend

ZERO = Decimal(0)
RATE = Decimal("0.0001")


def rate(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(RATE, rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Outcome:
    """The arithmetic of §13.2 on unrounded figures."""

    expected: Decimal
    actual: Decimal
    minimum_savings_rate: Decimal
    share: Decimal

    @property
    def savings(self) -> Decimal:
        return self.expected - self.actual

    @property
    def savings_rate(self) -> Decimal | None:
        return self.savings / self.expected if self.expected > 0 else None

    @property
    def above_minimum(self) -> bool:
        found = self.savings_rate
        return found is not None and found > self.minimum_savings_rate

    @property
    def payment(self) -> Decimal:
        if not self.above_minimum or self.savings <= 0:
            return ZERO
        return self.share * self.savings

    def reason(self) -> str:
        found = self.savings_rate
        msr = f"{self.minimum_savings_rate * 100:.2f} %"
        if found is None:
            return "no expected spending: nothing to compare"
        if self.savings <= 0:
            return "actual spending is not below expected: no savings (upside only, no loss shared)"
        if not self.above_minimum:
            return f"the savings rate {found * 100:.2f} % is not above the minimum {msr}"
        return (
            f"the savings rate {found * 100:.2f} % is above the minimum {msr}: "
            f"{self.share * 100:.2f} % of the savings is paid"
        )


def baseline_expected(
    baseline: YearSpend, current: YearSpend, included: tuple[str, ...]
) -> dict[str, Decimal] | None:
    """Expected spending per category from the baseline (module docstring); None when the
    baseline has no risk units (no patient-month)."""
    if baseline.risk_units <= 0:
        return None
    ratio = current.risk_units / baseline.risk_units
    return {c: baseline.by_category.get(c, ZERO) * ratio for c in included}


def savings_report(
    settings: SavingsSettings,
    current: YearSpend,
    *,
    payer: ExpectedSpending | None = None,
    baseline: YearSpend | None = None,
    pricing: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The report's JSON (``cpoc report savings --format json``)."""
    included = settings.included
    warnings = list(current.warnings)
    if payer is not None:
        expected: dict[str, Decimal] | None = dict(payer.by_category)
        method = "payer"
    elif baseline is not None:
        warnings[:0] = baseline.warnings
        expected = baseline_expected(baseline, current, included)
        method = "baseline"
        if expected is None:
            warnings.append(
                f"the baseline year {baseline.year} has no CPOC month: no expected spending"
            )
        if not current.risk_adjusted:
            warnings.append(
                "no --benchmarks: the baseline is not risk-adjusted (every patient-month weighs 1)"
            )
    else:  # the command requires one of them
        raise ValueError("savings_report needs the payer's figure or a baseline")
    actual = {c: current.by_category.get(c, ZERO) for c in included}
    outcome = Outcome(
        expected=sum((expected or {}).values(), ZERO),
        actual=sum(actual.values(), ZERO),
        minimum_savings_rate=settings.minimum_savings_rate,
        share=settings.share,
    )
    return {
        "year": current.year,
        "method": method,
        "baselineYear": None if baseline is None else baseline.year,
        "expectedSource": None if payer is None else payer.header(),
        "settings": settings.as_json(),
        "pricing": dict(pricing or {"basis": "paid", "priceTable": None}),
        "riskAdjusted": method == "baseline" and current.risk_adjusted,
        "exposure": {
            "year": _exposure(current),
            "baseline": None if baseline is None else _exposure(baseline),
        },
        "categories": _categories(settings, current, expected, baseline),
        "expected": None if expected is None else money(outcome.expected),
        "actual": money(outcome.actual),
        "savings": None if expected is None else money(outcome.savings),
        "savingsRate": rate(outcome.savings_rate),
        "minimumSavingsRate": rate(settings.minimum_savings_rate),
        "share": rate(settings.share),
        "aboveMinimum": outcome.above_minimum,
        "payment": money(outcome.payment),
        "paymentReason": outcome.reason(),
        "uncategorised": {
            "items": current.items.get(UNCATEGORISED, 0),
            "amount": money(current.by_category.get(UNCATEGORISED, ZERO)),
        },
        "outsideMonths": {
            "items": current.outside_items,
            "amount": money(current.outside_amount),
        },
        "items": {
            "basis": dict(sorted(current.basis.items())),
            "unpriced": sum(current.unpriced.values()),
            "skipped": dict(sorted(current.skipped.items())),
        },
        "byPatient": [
            {
                "patient": f"Patient/{p.patient}",
                "patientMonths": p.months,
                "riskUnits": rate(p.risk_units),
                "actual": money(sum((p.by_category.get(c, ZERO) for c in included), ZERO)),
            }
            for p in sorted(current.patients, key=lambda p: p.patient)
        ],
        "warnings": warnings,
    }


def _exposure(spend: YearSpend) -> dict[str, Any]:
    return {
        "year": spend.year,
        "patients": sum(1 for p in spend.patients if p.months),
        "patientMonths": spend.months,
        "treatmentMonths": spend.treatment_months,
        "riskUnits": rate(spend.risk_units),
        "riskIndex": rate(spend.risk_units / spend.months) if spend.months else None,
    }


def _categories(
    settings: SavingsSettings,
    current: YearSpend,
    expected: Mapping[str, Decimal] | None,
    baseline: YearSpend | None,
) -> list[dict[str, Any]]:
    rows = []
    for category, label in settings.categories.labels.items():
        included = category in settings.included
        actual = current.by_category.get(category, ZERO)
        exp = expected.get(category) if expected is not None and included else None
        row: dict[str, Any] = {
            "category": category,
            "label": label,
            "included": included,
            "excludedBecause": settings.exclusions.get(category),
            "items": current.items.get(category, 0),
            "outsideMonths": money(current.outside_by_category.get(category, ZERO)),
            "expected": None if exp is None else money(exp),
            "actual": money(actual),
            "savings": None if exp is None else money(exp - actual),
        }
        if baseline is not None:
            spend = baseline.by_category.get(category, ZERO)
            row["baselineSpend"] = money(spend)
            row["baselinePerPatientMonth"] = (
                money(spend / baseline.months) if baseline.months else None
            )
        rows.append(row)
    return rows
