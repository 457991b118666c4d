"""The payer's side of CPOC against FFS (§14.2; proposal V-A steps 3–4).

Total spending = practice payments + other oncology spending from the claims. Under
continued FFS the practice is paid the codes CPOC replaces; under CPOC it is paid the CPOC
lines, and the other spending (drugs, laboratory, imaging, everything else in the claims) is
assumed to fall by ``reduction`` (default 3 %, the proposal's example in V-A: "if use of
pathways and better symptom management could reduce the remaining spending by 3%").
The break-even reduction is the one at which both totals are equal:
``(cpoc − ffs practice payments) / other spending``; negative when CPOC pays the practice less
(the payer saves even with no reduction).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from cpoc_fhir.economics.money import money

RATE = Decimal("0.0001")
DEFAULT_REDUCTION = Decimal("0.03")


@dataclass(frozen=True)
class PayerSide:
    practice_ffs: Decimal  # exact sums; rounded once, in ``as_json``
    practice_cpoc: Decimal
    other: Decimal
    reduction: Decimal

    @property
    def total_ffs(self) -> Decimal:
        return self.practice_ffs + self.other

    @property
    def other_cpoc(self) -> Decimal:
        return self.other * (1 - self.reduction)

    @property
    def total_cpoc(self) -> Decimal:
        return self.practice_cpoc + self.other_cpoc

    @property
    def savings(self) -> Decimal:
        """What the payer spends less under CPOC (negative: more)."""
        return self.total_ffs - self.total_cpoc

    @property
    def break_even(self) -> Decimal | None:
        if self.other == 0:
            return None
        return (self.practice_cpoc - self.practice_ffs) / self.other

    def as_json(self) -> dict[str, Any]:
        total_ffs = self.total_ffs
        return {
            "reduction": _rate(self.reduction),
            "ffs": {
                "practicePayments": money(self.practice_ffs),
                "otherSpending": money(self.other),
                "total": money(total_ffs),
            },
            "cpoc": {
                "practicePayments": money(self.practice_cpoc),
                "otherSpending": money(self.other_cpoc),
                "total": money(self.total_cpoc),
            },
            "savings": money(self.savings),
            "savingsRate": None if total_ffs == 0 else _rate(self.savings / total_ffs),
            "budgetNeutral": self.total_cpoc <= total_ffs,
            "breakEvenReduction": None if self.break_even is None else _rate(self.break_even),
        }


def _rate(value: Decimal) -> str:
    return str(value.quantize(RATE, rounding=ROUND_HALF_UP))
