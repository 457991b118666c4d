"""Option values of ``cpoc report …`` subcommands: dates, years, counts, percentiles, zones.

Shared by ``reports.cli`` and the report modules it registers (``economics.*_cli`` and others),
so that those modules need not import ``reports.cli``, which imports them.
"""

from __future__ import annotations

import argparse
from datetime import date, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cpoc_fhir.errors import InputError


def iso_date(text: str) -> date:
    """A YYYY-MM-DD option value."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def year(text: str) -> int:
    """A YYYY option value."""
    if text.isdigit() and len(text) == 4:
        return int(text)
    raise argparse.ArgumentTypeError(f"not a year (YYYY): {text!r}")


def positive(text: str) -> int:
    """A whole number ≥ 1."""
    if text.isdigit() and int(text) >= 1:
        return int(text)
    raise argparse.ArgumentTypeError(f"not a whole number ≥ 1: {text!r}")


def percentile(text: str) -> int:
    """A whole percentile 0-100."""
    if text.isdigit() and 0 <= int(text) <= 100:
        return int(text)
    raise argparse.ArgumentTypeError(f"not a percentile 0-100: {text!r}")


def zone(name: str | None) -> tuple[tzinfo | None, str]:
    """The time zone named (an IANA name), else this host's (None) with words for it."""
    if not name:
        local = datetime.now().astimezone()
        return None, f"this host's time zone ({local.tzname()})"
    try:
        return ZoneInfo(name), name
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError("--tz", f"not a known time zone: {name!r}") from None
