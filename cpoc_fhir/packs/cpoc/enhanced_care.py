"""The supplemental payment for enhanced patient-centred care: the payer file's
``[enhanced_care]`` table and the ``xx600`` line (value-and-models §13.1; proposal II-B.2).

``[enhanced_care]`` (TOML or JSON, with the payer file's other tables):

- ``opted_in`` (bool, default false): the practice takes the supplement with this payer; only
  then does the timeline add an xx600 line to each Treatment Month.
- ``amount``: ``s``, the agreed monthly supplement (decimal string; required when opted in).
- ``cost_per_avoidable_visit``: what one avoidable emergency visit costs the payer (for the
  target; optional until a target is computed).
- ``target``: the target rate, visits per 100 Treatment + Active Monitoring months (the
  §12.3 rate's basis, see economics/enhanced_care.py); ``target_set_in``: the year it was set
  (§13.1: fixed for at least 3 years); ``baseline_year``: the year it rests on.
- ``cap``: the most the reconciled amount may reach, as a multiple of ``s`` (default 2).
- ``source``: where the figures come from (an agreement, or "ILLUSTRATIVE").
- ``[enhanced_care.quarters]``: ``"YYYY-Qn" = "amount"``, the reconciled monthly amount of a
  calendar quarter (``cpoc report enhanced-care --write-payer``).

A line's amount is the quarterly amount of the calendar quarter its billing month starts in,
else ``s``. **Interpretation:** the amount is the agreed figure as is — no GPCI and no
value-based adjustment (§13.1 says "amount s agreed with the payer"; §12.4's adjustment applies
to the 11 codes' amounts).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from cpoc_fhir.errors import KnowledgeError

CENT = Decimal("0.01")
DEFAULT_CAP = Decimal(2)
_QUARTER = re.compile(r"(\d{4})-Q([1-4])")


def quarter_of(day: date) -> str:
    """The calendar quarter of a day, as "YYYY-Qn"."""
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


@dataclass(frozen=True)
class EnhancedCare:
    opted_in: bool
    amount: Decimal  # s, the agreed monthly supplement
    cost_per_avoidable_visit: Decimal | None = None
    target: Decimal | None = None
    target_set_in: int | None = None
    baseline_year: int | None = None
    cap: Decimal = DEFAULT_CAP
    source: str = ""
    quarters: Mapping[str, Decimal] = field(default_factory=dict)

    def amount_on(self, on: date | None) -> Decimal:
        """The monthly amount of a line whose billing month starts on ``on``."""
        if on is not None:
            hit = self.quarters.get(quarter_of(on))
            if hit is not None:
                return hit
        return self.amount.quantize(CENT, rounding=ROUND_HALF_UP)

    @classmethod
    def from_data(cls, table: Any, where: str) -> EnhancedCare:
        if not isinstance(table, Mapping):
            raise KnowledgeError(f"{where}: [enhanced_care] must be a table")
        opted = table.get("opted_in", False)
        if not isinstance(opted, bool):
            raise KnowledgeError(f"{where}: enhanced_care.opted_in must be true or false")
        if "amount" not in table and not opted:
            amount = Decimal(0)
        else:
            amount = _money(table.get("amount"), "amount", where)
        cost = table.get("cost_per_avoidable_visit")
        target = table.get("target")
        cap = _number(table.get("cap", DEFAULT_CAP), "cap", where)
        if cap < 1:
            raise KnowledgeError(f"{where}: enhanced_care.cap is a multiple of amount, ≥ 1")
        source = table.get("source", "")
        if not isinstance(source, str):
            raise KnowledgeError(f"{where}: enhanced_care.source must be text")
        cost_value = None if cost is None else _money(cost, "cost_per_avoidable_visit", where)
        return cls(
            opted_in=opted,
            amount=amount,
            cost_per_avoidable_visit=cost_value,
            target=None if target is None else _number(target, "target", where),
            target_set_in=_year(table.get("target_set_in"), "target_set_in", where),
            baseline_year=_year(table.get("baseline_year"), "baseline_year", where),
            cap=cap,
            source=source,
            quarters=_quarters(table.get("quarters", {}), where),
        )  # fmt: skip


def _quarters(table: Any, where: str) -> dict[str, Decimal]:
    if not isinstance(table, Mapping):
        raise KnowledgeError(f"{where}: enhanced_care.quarters must be a table YYYY-Qn = amount")
    out: dict[str, Decimal] = {}
    for key, value in table.items():
        if not _QUARTER.fullmatch(str(key)):
            raise KnowledgeError(f"{where}: enhanced_care.quarters.{key} is not a quarter YYYY-Qn")
        amount = _number(value, f"quarters.{key}", where)
        if amount < 0:
            raise KnowledgeError(f"{where}: enhanced_care.quarters.{key} must be ≥ 0")
        out[str(key)] = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    return out


def _year(value: Any, name: str, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1900 < value < 3000:
        raise KnowledgeError(f"{where}: enhanced_care.{name} must be a year (YYYY)")
    return value


def _money(value: Any, name: str, where: str) -> Decimal:
    number = _number(value, name, where)
    if number <= 0:
        raise KnowledgeError(f"{where}: enhanced_care.{name} must be a positive amount")
    return number


def _number(value: Any, name: str, where: str) -> Decimal:
    if isinstance(value, float):  # JSON floats: the written digits
        value = repr(value)
    try:
        if value is None or isinstance(value, bool):
            raise TypeError(value)
        number = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise KnowledgeError(f"{where}: enhanced_care.{name} is not a number: {value!r}") from None
    if not number.is_finite():
        raise KnowledgeError(f"{where}: enhanced_care.{name} is not a finite number")
    return number
