"""Which payment-model pack holds a patient on each day (value-and-models §15).

The patient's payer on a day is the ``payor`` of the primary Coverage in force that day: the
lowest ``order`` (coordination-of-benefits rank; none = last), then the lowest id
(engine/coverage.py ``primary_coverage``, which the corridors' payer split uses too). That
payer's pack in ``[models] payers`` holds the patient; a payer not listed, or no Coverage in
force, falls to ``[models] default``. A payer listed with dated entries (packs/settings.py)
holds the patient in the entry's pack on the entry's days, and in the pack "none" (no payment
model, fee-for-service) on its other days; the spans are cut at the entries' boundaries too.
A secondary Coverage never selects the model: the primary payer pays for the month. The days
are returned as maximal spans with one pack each, open-ended at both ends: adjacent days of
the same pack for different reasons (no Coverage, then an unmapped payer: CPOC both) are one
span whose reason joins theirs, each with its days.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import date, timedelta

from cpoc_fhir.engine.coverage import by_rank, primary_coverage
from cpoc_fhir.engine.facts import CoverageFact, PatientRecord
from cpoc_fhir.engine.lines import ModelSpan
from cpoc_fhir.packs.settings import NO_MODEL, ModelSettings

_DAY = timedelta(days=1)


def model_spans(
    record: PatientRecord, settings: ModelSettings, forced: str | None = None
) -> tuple[ModelSpan, ...]:
    """The patient's days, cut where the selected pack changes (``forced``: one pack for
    all time, as ``cpoc timeline --model`` asks)."""
    if forced is not None:
        return (ModelSpan(forced, None, None, "forced (--model)"),)
    coverages = by_rank(record.coverages)
    if not coverages:
        return (ModelSpan(settings.default, None, None, "default (no Coverage)"),)
    spans: list[ModelSpan] = []
    extra: set[date] = set()
    for coverage in coverages:
        extra |= settings.boundaries(coverage.payer)
    for start, end in _intervals(coverages, extra):
        day = start or end or date.min
        primary = primary_coverage(coverages, day, ranked=True)
        model, reason = _model_of(primary, settings, day)
        last = spans[-1] if spans else None
        if last is not None and last.model == model and last.reason == reason:
            spans[-1] = ModelSpan(model, last.start, end, reason)
        else:
            spans.append(ModelSpan(model, start, end, reason))
    return tuple(_merged(spans))


def _merged(spans: list[ModelSpan]) -> list[ModelSpan]:
    """Adjacent spans of one pack as one, their reasons joined with their days."""
    out: list[ModelSpan] = []
    for _, group in itertools.groupby(spans, key=lambda s: s.model):
        parts = list(group)
        if len(parts) == 1:
            out.append(parts[0])
            continue
        reason = "; ".join(f"{p.reason} {_days(p)}" for p in parts)
        out.append(ModelSpan(parts[0].model, parts[0].start, parts[-1].end, reason))
    return out


def _days(span: ModelSpan) -> str:
    if span.start is None:
        return f"to {span.end.isoformat()}" if span.end else "always"
    if span.end is None:
        return f"from {span.start.isoformat()}"
    return f"{span.start.isoformat()} to {span.end.isoformat()}"


def model_on(spans: Iterable[ModelSpan], day: date) -> str | None:
    return next((s.model for s in spans if s.holds(day)), None)


def _model_of(primary: CoverageFact | None, settings: ModelSettings, day: date) -> tuple[str, str]:
    if primary is None:
        return settings.default, "default (no Coverage in force)"
    entry = settings.payers.get(primary.payer)
    if entry is None:
        return settings.default, f"default ({primary.ref}: payer {primary.payer} not mapped)"
    if isinstance(entry, str):
        return entry, f"{primary.ref}: payer {primary.payer}"
    period = next((p for p in entry if p.holds(day)), None)
    if period is None:
        listed = "; ".join(p.describe() for p in entry)
        return NO_MODEL, (
            f"no payment model ({primary.ref}: payer {primary.payer} outside its entries {listed})"
        )
    return period.model, f"{primary.ref}: payer {primary.payer} ({period.describe()})"


def _intervals(
    coverages: list[CoverageFact], extra: set[date]
) -> list[tuple[date | None, date | None]]:
    """Consecutive [start, end] intervals (None = open) between every Coverage boundary and
    the ``extra`` first days (the payers' dated entries)."""
    cuts = sorted(
        {c.start for c in coverages if c.start is not None}
        | {c.end + _DAY for c in coverages if c.end is not None and c.end < date.max}
        | extra
    )
    bounds: list[date | None] = [None, *cuts, None]
    out: list[tuple[date | None, date | None]] = []
    for left, right in itertools.pairwise(bounds):
        out.append((left, right - _DAY if right is not None else None))
    return out
