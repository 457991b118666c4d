"""Billing months (proposal III-B; cpoc-rules §2).

Month k runs from S_k to the day before S_{k+1}; S_1 is the anchor A. S_k has A's day of month,
k-1 months later. If A is the 31st or 28/29 February, every later S_k is the last day of its
month (the proposal's rule); if A's day (29 or 30) does not exist in a month, that month's S_k
is its last day (cpoc-rules §2 Interpretation).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from cpoc_fhir.engine.fast_init import fast_init

ONE_DAY = timedelta(days=1)


@fast_init  # faster __init__, same dataclass (engine/fast_init.py)
@dataclass(frozen=True)
class BillingMonth:
    """Month ``index`` (1-based) of a patient's cadence, ``start``..``end`` inclusive."""

    index: int
    start: date
    end: date

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def is_open(self, as_of: date) -> bool:
        """Still open on ``as_of``: events may yet happen in it (cpoc-rules §11)."""
        return as_of <= self.end


_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _last_day(year: int, month: int) -> int:
    # calendar.monthrange also computes the weekday: this runs for every month of every patient
    return 29 if month == 2 and calendar.isleap(year) else _DAYS_IN_MONTH[month - 1]


def _anchors_to_month_end(anchor: date) -> bool:
    """The proposal's rule: A on the 31st, or on 28/29 February."""
    return anchor.day == 31 or (anchor.month == 2 and anchor.day in (28, 29))


def month_start(anchor: date, k: int) -> date:
    """S_k for an anchor A (k ≥ 1)."""
    if k < 1:
        raise ValueError(f"billing months start at 1, got {k}")
    if k == 1:
        return anchor
    months = anchor.month - 1 + (k - 1)
    year, month = anchor.year + months // 12, months % 12 + 1
    last = _last_day(year, month)
    if _anchors_to_month_end(anchor):
        return date(year, month, last)
    return date(year, month, min(anchor.day, last))


def billing_month(anchor: date, k: int) -> BillingMonth:
    return BillingMonth(k, month_start(anchor, k), month_start(anchor, k + 1) - ONE_DAY)


def month_index(anchor: date, day: date) -> int:
    """The k whose month contains ``day`` (0 or less for days before the anchor)."""
    k = (day.year - anchor.year) * 12 + day.month - anchor.month + 1
    if k < 1:
        return k if day < anchor else 1
    if day < month_start(anchor, k):
        k -= 1
    return k


def billing_months(anchor: date, through: date) -> Iterator[BillingMonth]:
    """Months 1, 2, … up to the one containing ``through`` (none if through < anchor)."""
    if through < anchor:
        return iter(())
    last = month_index(anchor, through)
    # A practice's patients share anchors (a few hundred days for thousands of patients) and
    # a month depends on its anchor and k alone: each anchor's months are computed once and
    # shared (BillingMonth is frozen). Bounded like the readers' memos: cleared when full.
    known = _MONTHS_OF.get(anchor)
    if known is None or len(known) < last:
        if len(_MONTHS_OF) >= MONTHS_MEMO_ANCHORS:
            _MONTHS_OF.clear()
        known = _MONTHS_OF[anchor] = _computed_months(anchor, last)
    return iter(known[:last])


def _computed_months(anchor: date, last: int) -> list[BillingMonth]:
    months = []
    start = anchor
    for k in range(1, last + 1):
        nxt = month_start(anchor, k + 1)
        months.append(BillingMonth(k, start, nxt - ONE_DAY))
        start = nxt
    return months


MONTHS_MEMO_ANCHORS = 20_000  # ~40 months each: a few MB at most
_MONTHS_OF: dict[date, list[BillingMonth]] = {}
