"""The patient page for billing staff, as plain data (issue 17 item 1): who the patient is, one
row per computed line or server item, and the patient's totals per year.

Pure: no I/O, no Flask. ``pages.patient_page`` builds these from the Patient resource, the
record's Coverages (value-and-models §15: the primary Coverage's payer) and the comparison of
lines and ChargeItems (compare.py). Name, birth date and MRN are shown only on the page behind
the SMART session; nothing here logs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from cds_hooks.review.compare import ON_HOLD, Comparison, Match, ServerItem
from cpoc_fhir.engine.coverage import primary_coverage
from cpoc_fhir.engine.facts import CoverageFact
from cpoc_fhir.engine.lines import LineStatus

# HL7 v2 table 0203 identifier type "MR" (medical record number), as US Core uses it.
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
ANCHOR = re.compile(r"[A-Za-z0-9\-]{1,100}")
_SEX = {"male": "Male", "female": "Female", "other": "Other", "unknown": "Unknown"}


@dataclass(frozen=True)
class PatientHeader:
    """What billing staff need to know whose chart this is."""

    name: str
    birth_date: str  # as recorded (YYYY, YYYY-MM or YYYY-MM-DD); "" when absent
    sex: str  # Patient.gender, capitalised; "" when absent
    mrn: str  # Patient.identifier of type MR; "" when none
    payer: str  # the primary Coverage's payer on the page's day; "" when none


def patient_header(
    patient: Mapping[str, Any], coverages: Sequence[CoverageFact], on: date, fallback: str
) -> PatientHeader:
    """The header of ``patient`` (``fallback``: the name shown when it has none)."""
    gender = patient.get("gender")
    primary = primary_coverage(coverages, on)
    payer = (primary.payer_display or primary.payer) if primary is not None else ""
    return PatientHeader(
        name=patient_name(patient) or fallback,
        birth_date=str(patient.get("birthDate") or ""),
        sex=_SEX.get(gender, "") if isinstance(gender, str) else "",
        mrn=medical_record_number(patient),
        payer=payer,
    )


def patient_name(patient: Mapping[str, Any]) -> str:
    """The official (else first) HumanName as text."""
    names = [n for n in patient.get("name") or [] if isinstance(n, Mapping)]
    best = next((n for n in names if n.get("use") == "official"), names[0] if names else None)
    if not best:
        return ""
    if best.get("text"):
        return str(best["text"])
    return " ".join(
        [*(str(g) for g in best.get("given") or []), str(best.get("family", ""))]
    ).strip()


def medical_record_number(patient: Mapping[str, Any]) -> str:
    """The value of the first identifier typed MR (v2-0203; the code alone is accepted)."""
    for identifier in patient.get("identifier") or []:
        if not isinstance(identifier, Mapping) or not identifier.get("value"):
            continue
        codings = (identifier.get("type") or {}).get("coding") or []
        if any(
            isinstance(c, Mapping) and c.get("code") == "MR" and c.get("system") in (V2_0203, None)
            for c in codings
        ):
            return str(identifier["value"])
    return ""


@dataclass(frozen=True)
class MonthRow:
    """One row of the month table: a computed line and/or the server's item."""

    anchor: str  # the row's id, the fragment an action returns to
    month: str  # "Month 3", "Before month 1", "On the server only"
    comparison: Comparison
    needs_action: bool  # a planned or held item to review, or a difference to look at

    @property
    def item(self) -> ServerItem | None:
        return self.comparison.item

    @property
    def wants_action(self) -> bool:
        """Shown first in the default order (``wants_action``)."""
        return wants_action(self)

    @property
    def server_status(self) -> str:
        """The item's review status, or "not sent" when the server has none."""
        return self.item.review_status if self.item is not None else "not sent"

    @property
    def difference(self) -> str:
        """The comparison in words billing staff use (no "differs: 2 / missing: 21")."""
        match = self.comparison.match
        if match is Match.MATCHED:
            return "Same as computed"
        if match is Match.DIFFERS:
            return "Different " + ", ".join(self.comparison.differences)
        if match is Match.MISSING:
            return "Not on the server yet"
        return "Only on the server"


def month_rows(months: Iterable[tuple[str, Sequence[Comparison]]]) -> tuple[MonthRow, ...]:
    """The rows of ``months`` (label, comparisons), in order, each with its anchor."""
    rows, seen = [], set()
    for label, comparisons in months:
        for row in comparisons:
            anchor = row_anchor(row)
            while anchor in seen:  # two lines of one component and day: keep ids unique
                anchor += "-x"
            seen.add(anchor)
            rows.append(MonthRow(anchor, label, row, needs_action(row)))
    return tuple(rows)


def row_anchor(row: Comparison) -> str:
    """``row-<start>-<component>`` for a line (the same after a correction replaced its
    item), ``row-item-<id>`` for an item without a line."""
    if row.line is not None:
        return f"row-{row.line.start.isoformat()}-{row.line.component.value}"
    item_id = row.item.id if row.item is not None else ""
    return f"row-item-{item_id}" if ANCHOR.fullmatch(f"row-item-{item_id}") else "row-item"


def needs_action(row: Comparison) -> bool:
    """A planned (or held) item waits for review; a billable item that differs from the
    computed line may need a correction."""
    item = row.item
    if item is None:
        return False
    return item.status == "planned" or row.match is Match.DIFFERS


# The month table's orders (``?order=``): lines needing action first (the default), or plain
# chronological order ("By month").
ACTION_FIRST = "action"
BY_MONTH = "months"
ORDERS = (ACTION_FIRST, BY_MONTH)


def wants_action(row: MonthRow) -> bool:
    """What the default order puts first: a row to review (``needs_action``), a line not on
    the server yet, a provisional line, an item on hold."""
    line = row.comparison.line
    return (
        row.needs_action
        or row.comparison.match is Match.MISSING
        or (line is not None and line.status is LineStatus.PROVISIONAL)
        or row.server_status == ON_HOLD
    )


def ordered_rows(rows: Sequence[MonthRow], order: str) -> tuple[MonthRow, ...]:
    """``rows`` (in month order) as ``order`` shows them: ``ACTION_FIRST`` moves the rows
    needing action to the top, each group keeping month order (a stable sort)."""
    if order == BY_MONTH:
        return tuple(rows)
    return tuple(sorted(rows, key=lambda r: not wants_action(r)))


@dataclass(frozen=True)
class YearTotals:
    year: int
    currency: str
    billed: Decimal
    planned: Decimal
    on_hold: Decimal


def year_totals(items: Iterable[ServerItem]) -> tuple[YearTotals, ...]:
    """The server's live items summed per year of service and currency: billed (billable or
    billed), planned (waiting for review) and on hold. Items without an amount add nothing."""
    sums: dict[tuple[int, str], dict[str, Decimal]] = {}
    for item in items:
        if item.start is None or item.amount is None:
            continue
        status = item.review_status
        kind = {"billable": "billed", "billed": "billed", "planned": "planned"}.get(status)
        if status == ON_HOLD:
            kind = "on_hold"
        if kind is None:
            continue
        key = (item.start.year, item.currency or "")
        bucket = sums.setdefault(key, dict.fromkeys(("billed", "planned", "on_hold"), Decimal()))
        bucket[kind] += item.amount
    return tuple(
        YearTotals(year, currency, b["billed"], b["planned"], b["on_hold"])
        for (year, currency), b in sorted(sums.items())
    )


def summary_words(rows: Sequence[MonthRow]) -> tuple[str, ...]:
    """The rows counted in plain words, e.g. ("2 charges to review", "21 months not on the
    server yet (the month-end capture creates them)")."""
    out = []
    review = sum(1 for r in rows if r.needs_action)
    if review:
        out.append(f"{review} charge{'s' if review != 1 else ''} to review")
    counts = {m: sum(1 for r in rows if r.comparison.match is m) for m in Match}
    if counts[Match.DIFFERS]:
        out.append(f"{counts[Match.DIFFERS]} different from what the app computes")
    if counts[Match.MISSING]:
        out.append(
            f"{counts[Match.MISSING]} not on the server yet (the month-end capture creates them)"
        )
    if counts[Match.EXTRA]:
        out.append(f"{counts[Match.EXTRA]} on the server only")
    if counts[Match.MATCHED]:
        out.append(f"{counts[Match.MATCHED]} same as computed")
    return tuple(out)
