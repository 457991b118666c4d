"""The dates of a hook's draft orders must be plausible: not before the patient's birth, not
far from today (mutated drafts created billing months in 1899-1904).

A draft is being authored now; its dates (authoredOn, timing events, period starts…) lie near
today. Beyond the window (``CPOC_CDS_DRAFT_DAYS_BACK`` / ``_AHEAD``, 366 days each by default)
the call is refused with the element's JSON path, not billed. The end of a period is only held
to the birth date: an oral course may be planned for years.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from typing import Any

from cds_hooks.hook_request import RequestError, member

# Elements of the draft resources (MedicationRequest, ServiceRequest, MedicationAdministration…)
# that hold a date or dateTime; ``start``/``end`` are those of a Period.
START_KEYS = frozenset(
    {"authoredOn", "event", "start", "occurrenceDateTime", "effectiveDateTime", "recorded"}
)
END_KEYS = frozenset({"end"})
_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


def check_draft_dates(
    drafts: Sequence[dict[str, Any]],
    birth: date | None,
    today: date,
    days_back: int,
    days_ahead: int,
) -> None:
    """RequestError naming the first implausible date of ``drafts`` (in entry order)."""
    earliest, latest = today - timedelta(days=days_back), today + timedelta(days=days_ahead)
    for i, resource in enumerate(drafts):
        base = f"$.context.draftOrders.entry[{i}].resource"
        for where, key, day in _dates(resource, base, ""):
            if birth is not None and day < birth:
                raise RequestError(where, "is before the patient's birth date")
            if key in END_KEYS:
                continue
            if day < earliest:
                raise RequestError(where, f"is more than {days_back} days before today")
            if day > latest:
                raise RequestError(where, f"is more than {days_ahead} days after today")


def fhir_day(value: Any) -> date | None:
    """The first day a FHIR date/dateTime stands for (``2025`` → 2025-01-01), or None."""
    match = _DATE.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    year, month, day = (int(part) if part else 1 for part in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None  # not a date: the reader warns about it


def _dates(value: Any, where: str, key: str) -> Iterator[tuple[str, str, date]]:
    if isinstance(value, dict):
        for name, item in value.items():
            yield from _dates(item, member(where, name), name)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _dates(item, f"{where}[{i}]", key)
    elif key in START_KEYS or key in END_KEYS:
        day = fhir_day(value)
        if day is not None:
            yield where, key, day
