"""Billing-month anchoring, cpoc-rules §2 (III-B), including the 31st / Feb 28-29 rule."""

from datetime import date

import pytest

from cpoc_fhir.engine.months import billing_month, billing_months, month_index, month_start


@pytest.mark.parametrize(
    ("anchor", "expected"),
    [
        # cpoc-rules §2's own examples
        ("2025-01-31", ["2025-01-31", "2025-02-28", "2025-03-31", "2025-04-30"]),
        ("2025-02-28", ["2025-02-28", "2025-03-31", "2025-04-30"]),
        ("2025-01-30", ["2025-01-30", "2025-02-28", "2025-03-30"]),
        # 29 February (leap year) anchors to month ends too
        ("2024-02-29", ["2024-02-29", "2024-03-31", "2024-04-30", "2024-05-31"]),
        # 28 February in a leap year: the proposal's rule still applies as written
        ("2024-02-28", ["2024-02-28", "2024-03-31", "2024-04-30"]),
        # the 29th where February has 28 days: last day, then back to the 29th
        ("2025-01-29", ["2025-01-29", "2025-02-28", "2025-03-29"]),
        # an ordinary day keeps its day of month across the year end
        ("2025-11-15", ["2025-11-15", "2025-12-15", "2026-01-15", "2026-02-15"]),
    ],
)
def test_month_starts(anchor: str, expected: list[str]) -> None:
    a = date.fromisoformat(anchor)
    got = [month_start(a, k).isoformat() for k in range(1, len(expected) + 1)]
    assert got == expected


def test_a_month_ends_the_day_before_the_next_starts() -> None:
    month = billing_month(date(2025, 1, 31), 2)
    assert (month.start, month.end) == (date(2025, 2, 28), date(2025, 3, 30))


def test_thirteen_month_anchored_on_the_30th_wraps_the_year() -> None:
    a = date(2025, 1, 30)
    assert month_start(a, 13) == date(2026, 1, 30)
    assert month_start(a, 14) == date(2026, 2, 28)


@pytest.mark.parametrize(
    ("day", "k"),
    [
        ("2025-01-31", 1),
        ("2025-02-27", 1),
        ("2025-02-28", 2),
        ("2025-03-30", 2),
        ("2025-03-31", 3),
        ("2025-12-31", 12),
        ("2025-01-30", 0),
    ],
)
def test_month_index(day: str, k: int) -> None:
    assert month_index(date(2025, 1, 31), date.fromisoformat(day)) == k


def test_months_run_through_the_month_of_the_end_date() -> None:
    months = list(billing_months(date(2025, 1, 10), date(2025, 3, 10)))
    assert [(m.index, m.start.isoformat(), m.end.isoformat()) for m in months] == [
        (1, "2025-01-10", "2025-02-09"),
        (2, "2025-02-10", "2025-03-09"),
        (3, "2025-03-10", "2025-04-09"),
    ]
    assert list(billing_months(date(2025, 1, 10), date(2025, 1, 9))) == []


def test_month_zero_is_refused() -> None:
    with pytest.raises(ValueError, match="start at 1"):
        month_start(date(2025, 1, 1), 0)


def test_leap_day_anchor_reaches_the_next_february_end() -> None:
    assert month_start(date(2024, 2, 29), 13) == date(2025, 2, 28)
