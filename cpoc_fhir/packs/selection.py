"""Which payment-model pack holds a patient on each day (value-and-models §15).

The patient's payer on a day is the ``payor`` of the primary Coverage in force that day: the
lowest ``order`` (coordination-of-benefits rank; none = last), then the lowest id — as the
corridors count payers (economics/corridor_payers.py). That payer's pack in ``[models] payers``
holds the patient; a payer not listed, or no Coverage in force, falls to ``[models] default``.
A secondary Coverage never selects the model: the primary payer pays for the month. The days
are returned as maximal spans with one pack each, open-ended at both ends.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import date, timedelta

from cpoc_fhir.engine.facts import CoverageFact, PatientRecord
from cpoc_fhir.engine.lines import ModelSpan
from cpoc_fhir.packs.settings import ModelSettings

_DAY = timedelta(days=1)


def model_spans(
    record: PatientRecord, settings: ModelSettings, forced: str | None = None
) -> tuple[ModelSpan, ...]:
    """The patient's days, cut where the selected pack changes (``forced``: one pack for
    all time, as ``cpoc timeline --model`` asks)."""
    if forced is not None:
        return (ModelSpan(forced, None, None, "forced (--model)"),)
    coverages = sorted(record.coverages, key=lambda c: (c.order, c.ref))
    if not coverages:
        return (ModelSpan(settings.default, None, None, "default (no Coverage)"),)
    spans: list[ModelSpan] = []
    for start, end in _intervals(coverages):
        day = start or end or date.min
        primary = next((c for c in coverages if c.holds(day)), None)
        model, reason = _model_of(primary, settings)
        last = spans[-1] if spans else None
        if last is not None and last.model == model and last.reason == reason:
            spans[-1] = ModelSpan(model, last.start, end, reason)
        else:
            spans.append(ModelSpan(model, start, end, reason))
    return tuple(spans)


def model_on(spans: Iterable[ModelSpan], day: date) -> str | None:
    return next((s.model for s in spans if s.holds(day)), None)


def _model_of(primary: CoverageFact | None, settings: ModelSettings) -> tuple[str, str]:
    if primary is None:
        return settings.default, "default (no Coverage in force)"
    model = settings.payers.get(primary.payer)
    if model is None:
        return settings.default, f"default ({primary.ref}: payer {primary.payer} not mapped)"
    return model, f"{primary.ref}: payer {primary.payer}"


def _intervals(coverages: list[CoverageFact]) -> list[tuple[date | None, date | None]]:
    """Consecutive [start, end] intervals (None = open) between every Coverage boundary."""
    cuts = sorted(
        {c.start for c in coverages if c.start is not None}
        | {c.end + _DAY for c in coverages if c.end is not None and c.end < date.max}
    )
    bounds: list[date | None] = [None, *cuts, None]
    out: list[tuple[date | None, date | None]] = []
    for left, right in itertools.pairwise(bounds):
        out.append((left, right - _DAY if right is not None else None))
    return out
