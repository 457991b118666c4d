"""Catching up skipped month-ends: which months a capture run bills.

A run bills the lines whose billing month starts in its month and only finalises earlier
items, so a month whose run never happened (server down, a holiday) would never be billed.
A run therefore bills every month since the last *completed* run of its scope: the newest
finished run in the ledger of the same FHIR server (or NDJSON
export) that covered every patient (no ``--patient``/``--group``) and wrote (no
``--dry-run``). ``--since YYYY-MM`` names the first month instead. Either way at most
``max_months`` months (default 12) are billed by one run, and the summary says so: an older gap
is a decision for a person (``--since`` with a larger ``--max-catch-up``), not a loop.
The writes are the same exactly-once writes, so a month billed twice is billed once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cpoc_fhir.capture.run import CaptureMonth
from cpoc_fhir.errors import InputError
from cpoc_fhir.store.records import RunInfo

DEFAULT_MAX_MONTHS = 12


@dataclass(frozen=True)
class Window:
    """The months a run bills: ``first`` … ``last``, and why (empty when just ``last``)."""

    first: CaptureMonth
    last: CaptureMonth
    why: str = ""

    @property
    def months(self) -> int:
        return self.last.minus(self.first) + 1


def last_completed(runs: Iterable[RunInfo]) -> CaptureMonth | None:
    """The month of the newest finished full, writing run among ``runs``."""
    months = [
        CaptureMonth.parse(run.month)
        for run in runs
        if not run.settings.get("dry_run")
        and not run.settings.get("patients")
        and not run.settings.get("group")
    ]
    return max(months, key=lambda m: (m.year, m.month)) if months else None


def window(
    month: CaptureMonth,
    since: CaptureMonth | None,
    last: CaptureMonth | None,
    max_months: int = DEFAULT_MAX_MONTHS,
) -> Window:
    """The months to bill for a run of ``month``."""
    if max_months < 1:
        raise InputError("--max-catch-up", f"must be at least 1, not {max_months}")
    if since is not None:
        gap = month.minus(since) + 1
        if gap < 1:
            raise InputError("--since", f"{since} is after the run's month {month}")
        if gap > max_months:
            raise InputError(
                "--since",
                f"{since} … {month} is {gap} months; at most {max_months} (--max-catch-up)",
            )
        return Window(since, month, f"from {since} (--since)" if gap > 1 else "")
    if last is None or month.minus(last) <= 1:
        return Window(month, month)
    first = last.plus(1)
    skipped = month.minus(first)
    if skipped + 1 <= max_months:
        return Window(first, month, f"catching up from {first}: the last completed run was {last}")
    first = month.plus(-(max_months - 1))
    return Window(
        first,
        month,
        f"catching up from {first} (at most {max_months} months, --max-catch-up): the last "
        f"completed run was {last}; {last.plus(1)} … {first.plus(-1)} not billed (--since)",
    )


def month_option(option: str, text: str | None) -> CaptureMonth | None:
    """A ``YYYY-MM`` option's month (None when not given); a malformed one is an InputError
    naming the option (shared by the capture commands of both engines)."""
    if text is None:
        return None
    try:
        return CaptureMonth.parse(text)
    except ValueError as exc:
        raise InputError(option, str(exc)) from None
