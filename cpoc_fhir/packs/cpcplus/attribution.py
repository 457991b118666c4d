"""CPC+ attribution rows (value-and-models §15.3): which CPC+ practice a patient is attributed
to, on which track, from when to when, with the payer's tier when it gives one.

Pure: pack.py reads the file (CSV with a header row) and passes its rows here. The attribution
methodology itself is the payer's; the product only takes its result from the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from cpoc_fhir.engine.facts import PatientRecord
from cpoc_fhir.packs.cpcplus.data_model import CpcPlusData

COLUMNS = ("patient", "practice_id", "practice_name", "track", "from", "to", "tier")
REQUIRED = ("patient", "practice_id", "track", "from")


class AttributionError(ValueError):
    """A bad row: ``row`` is its line in the file (the header is line 1). The problem never
    repeats the patient column (an identifier is PHI)."""

    def __init__(self, row: int, problem: str) -> None:
        super().__init__(f"row {row}: {problem}")
        self.row = row
        self.problem = problem


@dataclass(frozen=True)
class Attribution:
    patient: str  # "Patient/x", or an identifier "system|value" (e.g. the Medicare MBI)
    practice_id: str
    practice_name: str
    track: int  # 1 | 2
    start: date
    end: date | None  # inclusive; None: still attributed
    tier: int | None  # the payer's tier; None: the Charlson proxy decides
    row: int

    def holds(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)

    def names(self, record: PatientRecord) -> bool:
        """The row names this patient: by reference or by one of its identifiers."""
        return self.patient == record.patient_ref or self.patient in record.identifiers


def check_header(header: Sequence[str]) -> None:
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise AttributionError(1, f"missing column(s) {', '.join(missing)} (have: {COLUMNS})")


def parse_rows(
    rows: Iterable[tuple[int, Mapping[str, str | None]]], data: CpcPlusData
) -> tuple[Attribution, ...]:
    """(line, row) pairs → attributions; AttributionError naming the line of a bad row."""
    return tuple(_row(line, row, data) for line, row in rows)


def _row(line: int, row: Mapping[str, str | None], data: CpcPlusData) -> Attribution:
    def text(name: str) -> str:
        value = row.get(name)
        return value.strip() if isinstance(value, str) else ""

    for name in REQUIRED:
        if not text(name):
            raise AttributionError(line, f"{name} is empty")
    patient = text("patient")
    if patient.startswith("Patient/") and len(patient) == len("Patient/"):
        raise AttributionError(line, "patient names no Patient id")
    track_text = text("track")
    if track_text not in ("1", "2"):
        raise AttributionError(line, f"track must be 1 or 2, got {track_text!r}")
    track = int(track_text)
    start = _day(line, "from", text("from"))
    end = _day(line, "to", text("to")) if text("to") else None
    if end is not None and end < start:
        raise AttributionError(line, "to is before from")
    tier: int | None = None
    if text("tier"):
        tiers = data.tiers(track)
        if not text("tier").isdigit() or int(text("tier")) not in tiers:
            raise AttributionError(
                line, f"tier must be one of {list(tiers)} on track {track}, got {text('tier')!r}"
            )
        tier = int(text("tier"))
    return Attribution(
        patient=patient,
        practice_id=text("practice_id"),
        practice_name=text("practice_name") or text("practice_id"),
        track=track,
        start=start,
        end=end,
        tier=tier,
        row=line,
    )


def _day(line: int, name: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise AttributionError(line, f"{name} is not a date (YYYY-MM-DD)") from None


def of_patient(record: PatientRecord, rows: Iterable[Attribution]) -> tuple[Attribution, ...]:
    return tuple(a for a in rows if a.names(record))


def on_day(rows: Sequence[Attribution], day: date) -> Attribution | None:
    """The row in force on ``day``: of overlapping rows the latest-starting one (a new
    attribution supersedes the old), then the later row of the file."""
    holding = [a for a in rows if a.holds(day)]
    return max(holding, key=lambda a: (a.start, a.row)) if holding else None
