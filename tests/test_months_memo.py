"""billing_months with each anchor's months computed once and shared: the same months as
the former generator (kept below) whatever the order of the calls, memo growth and clearing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpoc_fhir.engine import months
from cpoc_fhir.engine.months import ONE_DAY, BillingMonth, billing_months, month_index, month_start


def former_billing_months(anchor: date, through: date) -> Iterator[BillingMonth]:
    if through < anchor:
        return
    last = month_index(anchor, through)
    start = anchor
    for k in range(1, last + 1):
        nxt = month_start(anchor, k + 1)
        yield BillingMonth(k, start, nxt - ONE_DAY)
        start = nxt


# anchors on ordinary days, the 29th-31st and the end of February (the month-end rule)
_anchors = st.dates(date(2019, 1, 1), date(2027, 12, 31)) | st.sampled_from(
    [date(2024, 2, 29), date(2025, 2, 28), date(2025, 1, 31), date(2025, 3, 30)]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_anchors, st.integers(-40, 1500)), min_size=1, max_size=6))
def test_same_months_as_the_former_generator(calls: list[tuple[date, int]]) -> None:
    for anchor, days in calls:  # the same anchor again, further or nearer: grown, sliced
        through = anchor + timedelta(days=days)
        assert list(billing_months(anchor, through)) == list(former_billing_months(anchor, through))


def test_the_memo_is_bounded_and_cleared_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(months, "MONTHS_MEMO_ANCHORS", 3)
    monkeypatch.setattr(months, "_MONTHS_OF", {})
    for day in range(1, 8):
        anchor = date(2025, 1, day)
        got = list(billing_months(anchor, date(2025, 6, 30)))
        assert got == list(former_billing_months(anchor, date(2025, 6, 30)))
        assert len(months._MONTHS_OF) <= 3


def test_by_hand() -> None:
    # Anchor 31 January 2025 (month-end rule): month 2 starts 28 February, month 3 on 31 March.
    got = list(billing_months(date(2025, 1, 31), date(2025, 3, 31)))
    assert [(m.index, m.start, m.end) for m in got] == [
        (1, date(2025, 1, 31), date(2025, 2, 27)),
        (2, date(2025, 2, 28), date(2025, 3, 30)),
        (3, date(2025, 3, 31), date(2025, 4, 29)),
    ]
    assert list(billing_months(date(2025, 1, 31), date(2025, 1, 30))) == []
