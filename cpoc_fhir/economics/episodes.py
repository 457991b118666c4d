"""Episode prices from the practice's CPOC history (value-and-models §14.5; proposal V-D).

An episode is a period of one patient's CPOC lines; its amount is the sum of the billable
(final or provisional) lines whose billing month starts inside it, at the amounts the timeline
priced them (the payer file's). Two periods:

- ``six-months``: six calendar months from the first treatment — the first Treatment Month's
  start (a billing month starts on a treatment day, cpoc-rules §2) to the day before the same
  day six months later; one per patient.
- ``line``: a whole line of therapy (``engine.treatment.build_lines``: the engine's own lines,
  with the practice's rule settings) — from the start of the billing month that holds its first
  day to the end of the one that holds its last treatment day; a billing month both lines touch
  (a switch inside a month) belongs to the later line, whose start it holds. One per line.

**Interpretations** (docs/economics.md repeats them):

- Without ``treatment_only`` the patient's New Patient line belongs to the first episode (the
  six months, or the first line of therapy) when it is dated on or before the episode's start:
  the proposal's episode bundles the months of care it covers, and the New Patient month is
  where that care begins. With ``treatment_only`` New Patient and Active Monitoring lines are
  left outside (§14.5); Treatment, Transition of Treatment and Clinical Trial lines stay in.
- Only **complete** episodes are priced: the six months ended by ``as_of``; a line of therapy
  followed by another line, or whose last treatment day is more than ``new_line_gap_days``
  (the engine's new-line gap) before ``as_of``, with its last billing month ended. The others
  are counted apart (an open episode would lower the mean).
- The cancer type is the most recent primary cancer (as ``cpoc model`` types it); the stage
  the latest stage group recorded on or before the episode's start, else the first one inside
  it, by its group (0, I-IV; "IIIB" and "3B" → "III"), else "unknown"; the line is the line of
  therapy's number (1, 2 …); a six-month episode takes the line it starts in (1 normally).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from cpoc_fhir.economics.model import cancer_type
from cpoc_fhir.economics.money import money
from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.facts import PatientRecord
from cpoc_fhir.engine.lines import BillingLine, LineStatus, PatientTimeline
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.knowledge.regimens import RegimenCatalog
from cpoc_fhir.packs.cpoc.treatment import TherapyLine, build_lines, counted_exposures

BILLABLE = frozenset({LineStatus.FINAL, LineStatus.PROVISIONAL})
OUTSIDE_TREATMENT = frozenset({Component.NEW_PATIENT, Component.ACTIVE_MONITORING})
_STAGE = re.compile(r"^\s*(?:stage\s*)?(IV|III|II|I|[0-4])(?![IV0-9])", re.IGNORECASE)
_ROMAN = {"0": "0", "1": "I", "2": "II", "3": "III", "4": "IV"}
ZERO = Decimal(0)


@dataclass(frozen=True)
class Episode:
    patient: str
    cancer: str
    stage: str
    line: int
    start: date
    end: date
    complete: bool
    lines: tuple[BillingLine, ...]

    @property
    def amount(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)

    @property
    def treatment_months(self) -> int:
        return sum(1 for line in self.lines if line.component is Component.TREATMENT_MONTH)

    def as_json(self) -> dict[str, Any]:
        return {
            "patient": self.patient,
            "cancer": self.cancer,
            "stage": self.stage,
            "line": self.line,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "complete": self.complete,
            "amount": money(self.amount),
            "treatmentMonths": self.treatment_months,
            "lines": [
                {"code": ln.code, "start": ln.start.isoformat(), "amount": money(ln.amount)}
                for ln in self.lines
            ],
        }


def add_months(day: date, months: int) -> date:
    """The same day ``months`` calendar months later (the month's last day when it is shorter)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def stage_group(text: str) -> str:
    """ "IIIB" and "3B" → "III", "Stage IVA" → "IV", "0" → "0"; anything else as written."""
    found = _STAGE.match(text)
    if found is None:
        return text.strip() or "unknown"
    group = found.group(1).upper()
    return _ROMAN.get(group, group)


def patient_episodes(
    record: PatientRecord,
    timeline: PatientTimeline,
    catalog: RegimenCatalog,
    rules: RuleSettings,
    period: str,
    treatment_only: bool,
    as_of: date,
) -> list[Episode]:
    """The patient's episodes of ``period`` (module docstring), complete or not."""
    billable = sorted(
        (line for line in timeline.lines if line.status in BILLABLE), key=BillingLine.sort_key
    )
    treatment = [line for line in billable if line.component is Component.TREATMENT_MONTH]
    if not treatment:
        return []
    therapy, _ = build_lines(counted_exposures(record), catalog, rules)
    cancer = cancer_type(record)
    pid = timeline.patient_ref
    if period == "six-months":
        start = treatment[0].start
        end = add_months(start, 6) - timedelta(days=1)
        line = _line_at(therapy, start)
        return [
            _episode(pid, record, cancer, line, start, end, end <= as_of, billable, treatment_only)
        ]
    out = []
    gap = timedelta(days=rules.new_line_gap_days)
    starts = [_month_of(treatment, line.start, start=True) for line in therapy]
    for index, therapy_line in enumerate(therapy):
        start = starts[index]
        end = _month_of(treatment, therapy_line.end, start=False)
        followed = index + 1 < len(therapy)
        if followed:  # a billing month belongs to one line: the latest begun by its start
            end = min(end, starts[index + 1] - timedelta(days=1))
        complete = end <= as_of and (followed or therapy_line.end + gap < as_of)
        out.append(
            _episode(
                pid,
                record,
                cancer,
                index + 1,
                start,
                end,
                complete,
                billable,
                treatment_only,
                with_new_patient=index == 0,
            )
        )
    return out


def _month_of(treatment: Sequence[BillingLine], day: date, start: bool) -> date:
    """The start (or end) of the Treatment Month holding ``day``; ``day`` when none does."""
    holding = next((m for m in treatment if m.start <= day <= m.end), None)
    if holding is None:
        return day
    return holding.start if start else holding.end


def _line_at(therapy: Sequence[TherapyLine], day: date) -> int:
    found = [i for i, line in enumerate(therapy) if line.start <= day]
    return found[-1] + 1 if found else 1


def _episode(
    pid: str,
    record: PatientRecord,
    cancer: str,
    line: int,
    start: date,
    end: date,
    complete: bool,
    billable: list[BillingLine],
    treatment_only: bool,
    with_new_patient: bool = True,
) -> Episode:
    inside = []
    for billing in billable:
        if treatment_only and billing.component in OUTSIDE_TREATMENT:
            continue
        if billing.component is Component.NEW_PATIENT:
            if with_new_patient and billing.start <= end:
                inside.append(billing)
            continue
        if start <= billing.start <= end:
            inside.append(billing)
    return Episode(
        pid, cancer, _stage(record, start, end), line, start, end, complete, tuple(inside)
    )


def _stage(record: PatientRecord, start: date, end: date) -> str:
    before = [s for s in record.stages if s.on <= start]
    if before:
        return stage_group(max(before, key=lambda s: s.on).stage)
    inside = [s for s in record.stages if start < s.on <= end]
    return stage_group(min(inside, key=lambda s: s.on).stage) if inside else "unknown"


# --- prices: the mean amount per group, with the count behind it ------------------------------
def price_row(episodes: Sequence[Episode]) -> dict[str, Any]:
    """count, mean, sample SD (n − 1; null below 2), min, max, total; money rounded once."""
    amounts = [e.amount for e in episodes]
    n = len(amounts)
    total = sum(amounts, ZERO)
    mean = total / n if n else None
    sd = None
    if n >= 2 and mean is not None:
        sd = (sum(((a - mean) ** 2 for a in amounts), ZERO) / (n - 1)).sqrt()
    months = sum(e.treatment_months for e in episodes)
    return {
        "count": n,
        "mean": None if mean is None else money(mean),
        "sd": None if sd is None else money(sd),
        "min": money(min(amounts)) if amounts else None,
        "max": money(max(amounts)) if amounts else None,
        "total": money(total),
        "meanTreatmentMonths": None
        if not n
        else str((Decimal(months) / n).quantize(Decimal("0.01"))),
    }


def group_prices(
    episodes: Iterable[Episode], key: Any, names: Sequence[str]
) -> list[dict[str, Any]]:
    groups: dict[tuple[Any, ...], list[Episode]] = {}
    for episode in episodes:
        groups.setdefault(key(episode), []).append(episode)
    return [
        {**dict(zip(names, k, strict=True)), **price_row(found)}
        for k, found in sorted(groups.items(), key=lambda kv: tuple(str(x) for x in kv[0]))
    ]


def episodes_report(
    episodes: Sequence[Episode],
    *,
    period: str,
    treatment_only: bool,
    start: date | None,
    end: date | None,
    as_of: date,
    warnings: Sequence[str] = (),
) -> dict[str, Any]:
    """The JSON of ``cpoc report episodes`` over the episodes that start in [start, end]."""
    chosen = [
        e
        for e in episodes
        if (start is None or e.start >= start) and (end is None or e.start <= end)
    ]
    complete = [e for e in chosen if e.complete]
    return {
        "period": period,
        "treatmentOnly": treatment_only,
        "from": None if start is None else start.isoformat(),
        "to": None if end is None else end.isoformat(),
        "asOf": as_of.isoformat(),
        "episodes": len(complete),
        "incomplete": len(chosen) - len(complete),
        "overall": price_row(complete),
        "byCancer": group_prices(complete, lambda e: (e.cancer,), ("cancer",)),
        "groups": group_prices(
            complete, lambda e: (e.cancer, e.stage, e.line), ("cancer", "stage", "line")
        ),
        "list": [e.as_json() for e in sorted(chosen, key=lambda e: (e.patient, e.start))],
        "warnings": list(warnings),
    }
