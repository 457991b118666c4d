"""Pathway adherence report (``cpoc report adherence``): rates per pathway, IV-A ratings.

What is counted (from the ``pathway_decisions`` store, ``cpoc_fhir.store.pathways``):

- only **signed** orders (order-sign decisions) dated in the period, by their local date;
  orders seen at order-select but never signed are counted apart ("not signed");
- per pathway: orders assessed (on + off pathway), on, off, adherence rate = on / (on + off),
  deviations with a reason (the card overridden with a coded reason or a comment) and
  without, suggestions accepted at order time (accepted feedback on the order's card);
- overall: total on / total assessed over all pathways;
- orders with no pathway or an undetermined one, per cancer with their top reasons, never in
  a rate.

Ratings: the IV-A table (``cpoc_fhir.value.pathway_rating``, which quotes it). How this
implementation reads it (per pathway, and overall):

- Phase 1: a pathway listed ``available`` in the benchmark file with no signed order assessed
  against it in the period is **Low (not used)**; a pathway with assessed orders (the practice
  uses it and this report is its adherence and reasons for deviation) is **Appropriate**.
  Overall: Low when any available pathway is not used, else Appropriate (orders for which no
  pathway exists are Appropriate, table row 1).
- Phase 2: not used → **Low (not used)**; otherwise rate < mean − sd → **Low**; else
  rate ≥ minimum_expected → **High**; else **Appropriate**. Gaps and overlaps: a rate exactly
  at mean − sd is not "more than one SD below" → Appropriate (or High); when minimum_expected
  is below mean − sd, a rate between the two is Low (Low wins); a rate above the mean but below
  minimum_expected is Appropriate. Comparisons are exact (rationals, not floats).
- Benchmark of a pathway: its own ``[pathways."<id>"]`` entry, else ``[overall]``, else "not
  rated (no benchmark)". Overall uses ``[overall]`` only. Without a benchmark file nothing is
  rated: "not rated (no benchmark file)".

Renderings and the command: ``cpoc_fhir.reports.adherence_output``. Benchmark file:
``cpoc_fhir.reports.benchmarks`` (``available``, ``[overall]``,
``[pathways."<id>"]``; prior-year figures as fractions 0-1). ``--deviations``:
``cpoc_fhir.reports.deviations``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from fractions import Fraction
from typing import Any

from cpoc_fhir.reports import deviations as deviations_export
from cpoc_fhir.reports.benchmarks import Benchmark, Benchmarks, load_benchmarks
from cpoc_fhir.store.pathways import StoredDecision
from cpoc_fhir.value.pathway_rating import (
    APPROPRIATE,
    NO_PATHWAY,
    NOT_RATED,
    UNRATED,
    phase2,
    used,
)
from cpoc_fhir.value.pathway_rating import PathwayRating as Rating
from cpoc_fhir.value.pathway_rating import not_used as _not_used_rating

__all__ = [
    "AdherenceReport",
    "Benchmark",
    "Benchmarks",
    "build_report",
    "deviations_bundle",
    "deviations_csv",
    "load_benchmarks",
]

EXIT_OK = 0
UNKNOWN_CANCER = "(cancer not known)"
NO_PATHWAY_ID = "(no single pathway: a fact missing)"
TOP_REASONS = 3


@dataclass
class PathwayRow:
    """One pathway's figures (or the overall ones: ``pathway_id`` None)."""

    pathway_id: str | None
    title: str | None = None
    cancer: str | None = None
    versions: set[str] = field(default_factory=set)
    on: int = 0
    off: int = 0
    with_reason: int = 0
    without_reason: int = 0
    accepted: int = 0
    available: bool = False
    benchmark: Benchmark | None = None
    benchmark_source: str | None = None
    phase1: Rating = field(default_factory=lambda: UNRATED)
    phase2: Rating = field(default_factory=lambda: UNRATED)
    _last_seen: datetime | None = None

    @property
    def assessed(self) -> int:
        return self.on + self.off

    @property
    def rate(self) -> Fraction | None:
        return Fraction(self.on, self.assessed) if self.assessed else None

    def add(self, decision: StoredDecision) -> None:
        if decision.status == "off-pathway" and decision.accepted:
            # The oncologist took an on-pathway suggestion on the order-sign card: the drafts
            # were replaced, so this order was never given. Counted as a switch, outside the
            # rate; the replacement orders count when they are signed.
            self.accepted += 1
        elif decision.status == "on-pathway":
            self.on += 1
            self.accepted += decision.accepted
        else:
            self.off += 1
            if decision.override_reason:
                self.with_reason += 1
            else:
                self.without_reason += 1
        if decision.pathway_version:
            self.versions.add(decision.pathway_version)
        if self._last_seen is None or decision.decided_at >= self._last_seen:
            self._last_seen = decision.decided_at
            self.title = decision.pathway_title or self.title
            self.cancer = decision.cancer or self.cancer


@dataclass
class CancerRow:
    """Orders of one cancer for which no pathway exists, or it could not be determined."""

    cancer: str
    no_pathway: int = 0
    undetermined: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    @property
    def top_reasons(self) -> list[tuple[str, int]]:
        ranked = sorted(self.reasons.items(), key=lambda item: (-item[1], item[0]))
        return ranked[:TOP_REASONS]

    @property
    def rating(self) -> Rating:
        if self.no_pathway:
            return NO_PATHWAY
        return Rating(NOT_RATED, "the pathway could not be determined", "undetermined")


@dataclass
class AdherenceReport:
    start: date
    end: date
    timezone: str
    benchmark_file: str | None
    pathways: list[PathwayRow]
    overall: PathwayRow
    not_signed: int
    not_signed_accepted: int
    cancers: list[CancerRow]
    deviations: list[StoredDecision]


def build_report(
    decisions: Iterable[StoredDecision],
    start: date,
    end: date,
    benchmarks: Benchmarks | None,
    timezone: str = "UTC",
) -> AdherenceReport:
    """Count and rate the decisions of a period (they are assumed to be in it)."""
    rows: dict[str, PathwayRow] = {}
    cancers: dict[str, CancerRow] = {}
    deviations: list[StoredDecision] = []
    not_signed = not_signed_accepted = 0
    for decision in decisions:
        if not decision.signed:
            not_signed += 1
            not_signed_accepted += decision.accepted
            continue
        if decision.status in ("on-pathway", "off-pathway"):
            pid = decision.pathway_id or NO_PATHWAY_ID
            rows.setdefault(pid, PathwayRow(pid)).add(decision)
            if decision.status == "off-pathway" and not decision.accepted:
                deviations.append(decision)
            continue
        cancer = decision.cancer or UNKNOWN_CANCER
        counts = cancers.setdefault(cancer, CancerRow(cancer))
        if decision.status == "no-pathway":
            counts.no_pathway += 1
        else:
            counts.undetermined += 1
        counts.reasons.update(decision.reasons or ("no reason recorded",))
    if benchmarks is not None:
        for pid in benchmarks.available:
            rows.setdefault(pid, PathwayRow(pid)).available = True
    overall = PathwayRow(None)
    for row in rows.values():
        overall.on += row.on
        overall.off += row.off
        overall.with_reason += row.with_reason
        overall.without_reason += row.without_reason
        overall.accepted += row.accepted
    ordered = sorted(rows.values(), key=lambda r: r.pathway_id or "")
    if benchmarks is not None:
        for row in ordered:
            _rate_pathway(row, benchmarks)
        no_pathway = any(c.no_pathway for c in cancers.values())
        _rate_overall(overall, ordered, no_pathway, benchmarks)
    return AdherenceReport(
        start=start,
        end=end,
        timezone=timezone,
        benchmark_file=benchmarks.where if benchmarks else None,
        pathways=ordered,
        overall=overall,
        not_signed=not_signed,
        not_signed_accepted=not_signed_accepted,
        cancers=sorted(cancers.values(), key=lambda c: c.cancer),
        deviations=deviations,
    )


def _not_used(where: str) -> Rating:
    return _not_used_rating(
        f"listed as available in {where} but no signed order was assessed against it in the period"
    )


def _rate_pathway(row: PathwayRow, benchmarks: Benchmarks) -> None:
    row.benchmark, row.benchmark_source = benchmarks.for_pathway(row.pathway_id or "")
    if row.assessed == 0:
        row.phase1 = row.phase2 = _not_used(benchmarks.where)
        return
    row.phase1 = used(
        f"{row.assessed} orders assessed, {row.off} deviations ({row.with_reason} with a reason)"
    )
    if row.benchmark is None:
        row.phase2 = Rating(
            NOT_RATED, "no benchmark for this pathway and no overall one", "no benchmark"
        )
    else:
        row.phase2 = _phase2(row, row.benchmark, row.benchmark_source or "")


def _rate_overall(
    overall: PathwayRow, rows: Sequence[PathwayRow], no_pathway: bool, benchmarks: Benchmarks
) -> None:
    unused = [r.pathway_id or "" for r in rows if r.assessed == 0]
    overall.benchmark = benchmarks.overall
    overall.benchmark_source = "overall" if benchmarks.overall else None
    if unused:
        overall.phase1 = overall.phase2 = _not_used_rating(
            f"available pathway(s) not used in the period ({', '.join(unused)}; listed in "
            f"{benchmarks.where})"
        )
        return
    if overall.assessed == 0:
        if no_pathway:
            rating = Rating(
                APPROPRIATE, "no pathway exists for the orders of the period", "no pathway exists"
            )
        else:
            rating = Rating(NOT_RATED, "no signed order assessed in the period", "no orders")
        overall.phase1 = overall.phase2 = rating
        return
    overall.phase1 = Rating(
        APPROPRIATE,
        f"uses pathways and reports adherence: {overall.assessed} orders assessed, "
        f"{overall.off} deviations ({overall.with_reason} with a reason)",
    )
    if benchmarks.overall is None:
        overall.phase2 = Rating(NOT_RATED, "no [overall] benchmark", "no benchmark")
    else:
        overall.phase2 = _phase2(overall, benchmarks.overall, "overall")


def _phase2(row: PathwayRow, bench: Benchmark, source: str) -> Rating:
    rate = row.rate
    assert rate is not None
    return phase2(rate, bench, source)


# --- deviations ------------------------------------------------------------------------------
def deviations_csv(report: AdherenceReport, tz: tzinfo | None) -> str:
    """One row per off-pathway signed order (it names Patient resource ids: internal use)."""
    return deviations_export.deviations_csv(report.deviations, tz)


def deviations_bundle(report: AdherenceReport, tz: tzinfo | None) -> dict[str, Any]:
    """A Bundle (collection) of de-identified GuidanceResponses, one per off-pathway order."""
    return deviations_export.deviations_bundle(report.deviations, tz)
