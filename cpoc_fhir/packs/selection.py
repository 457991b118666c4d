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
    coverages = sorted(record.coverages, key=_rank)
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


# Coverage.type systems of the PHDSC Source of Payment Typology (the OID and the HL7-endorsed
# URI, HL7 THO CodeSystem SOPT): codes starting "1" are Medicare, "2" Medicaid.
_SOPT_SYSTEMS = ("urn:oid:2.16.840.1.113883.3.221.5", "https://nahdo.org/sopt")
_NO_ORDER = CoverageFact("", "").order  # the rank of a Coverage without ``order``
ORDER_WARNING = "Coverage order missing; Medicare ranked before Medicaid"


def _sopt(coverage: CoverageFact, first: str) -> bool:
    return any(
        code.startswith(f"{system}|{first}")
        for code in coverage.type_codes
        for system in _SOPT_SYSTEMS
    )


def _rank(coverage: CoverageFact) -> tuple[int, bool, str]:
    """The sort key of the primary-Coverage choice: ``order``, then — among Coverages without
    one — a Medicaid Coverage (SOPT 2x) after the others (Medicaid is the payer of last
    resort, so Medicare is primary to it), then the id."""
    last_resort = coverage.order == _NO_ORDER and _sopt(coverage, "2")
    return (coverage.order, last_resort, coverage.ref)


def coverage_order_warnings(record: PatientRecord) -> tuple[str, ...]:
    """The timeline warning when a Medicare and a Medicaid Coverage, both without ``order``,
    hold on a common day (``_rank`` then decides which is primary)."""
    unordered = [c for c in record.coverages if c.order == _NO_ORDER]
    medicare = [c for c in unordered if _sopt(c, "1")]
    medicaid = [c for c in unordered if _sopt(c, "2")]
    for a, b in itertools.product(medicare, medicaid):
        if (a.start or date.min) <= (b.end or date.max) and (b.start or date.min) <= (
            a.end or date.max
        ):
            return (f"{ORDER_WARNING} ({a.ref} before {b.ref})",)
    return ()


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
