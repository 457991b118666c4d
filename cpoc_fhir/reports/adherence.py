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

Benchmark file: ``cpoc_fhir.reports.benchmarks`` (``available``, ``[overall]``,
``[pathways."<id>"]``; prior-year figures as fractions 0-1). ``--deviations``:
``cpoc_fhir.reports.deviations``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from fractions import Fraction
from pathlib import Path
from typing import Any

from cpoc_fhir.errors import InputError
from cpoc_fhir.reports import deviations as deviations_export
from cpoc_fhir.reports.benchmarks import Benchmark, Benchmarks, load_benchmarks
from cpoc_fhir.reports.render import aligned, csv_text, pct, rate_json, write_text
from cpoc_fhir.store import DEFAULT_URL, open_ledger
from cpoc_fhir.store.pathways import PathwayLog, StoredDecision
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
    "report_csv",
    "report_json",
    "report_table",
]

EXIT_OK = 0
PHASES = ("1", "2", "both")
FORMATS = ("table", "json", "csv")
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


# --- output ---------------------------------------------------------------------------------
def wanted_phases(phase: str) -> tuple[int, ...]:
    return {"1": (1,), "2": (2,), "both": (1, 2)}[phase]


def report_table(report: AdherenceReport, phases: Sequence[int] = (1, 2)) -> str:
    bench = report.benchmark_file or "none (rates only, nothing rated)"
    out = [
        f"Pathway adherence {report.start.isoformat()} to {report.end.isoformat()} "
        f"(dates in {report.timezone}); benchmarks: {bench}",
        "Signed orders assessed against a care pathway; rate = on / (on + off).",
        "",
    ]
    header = ["pathway", "cancer", "assessed", "on", "off", "rate", "dev+reason", "dev-reason"]
    header += ["accepted", "benchmark mean/sd/min"] + [f"phase {p}" for p in phases]
    table = [header]
    for row in [*report.pathways, report.overall]:
        table.append(_table_cells(row, phases))
    out.extend(aligned(table, right={2, 3, 4, 5, 6, 7, 8}))
    out.append("")
    out.append(
        "dev+reason / dev-reason: off-pathway orders overridden with a reason / without one; "
        "accepted: a suggestion of the pathway card accepted at order time."
    )
    if report.benchmark_file is None:
        out.append("")
        out.append("Not rated: no benchmark file (--benchmarks FILE) — rates only.")
    else:
        rated = [*report.pathways, report.overall]
        out.append("")
        out.append("Ratings (proposal IV-A):")
        for row in rated:
            for p in phases:
                rating = row.phase1 if p == 1 else row.phase2
                name = row.pathway_id or "overall"
                out.append(f"  {name}, phase {p}: {rating.label} — {rating.why}")
    out.append("")
    accepted = (
        f" ({report.not_signed_accepted} with a suggestion accepted: the order was replaced)"
        if report.not_signed_accepted
        else ""
    )
    out.append(
        f"Not signed (order-select only, not signed as of this report): "
        f"{report.not_signed} orders{accepted}"
    )
    out.append("")
    if report.cancers:
        out.append("Orders with no pathway or an undetermined one (never in a rate):")
        cancer_table = [["cancer", "no pathway", "undetermined", "rating", "top reasons"]]
        for c in report.cancers:
            reasons = "; ".join(f"{reason} ({n})" for reason, n in c.top_reasons)
            cancer_table.append(
                [c.cancer, str(c.no_pathway), str(c.undetermined), c.rating.label, reasons]
            )
        out.extend(aligned(cancer_table, right={1, 2}))
    else:
        out.append("Orders with no pathway or an undetermined one: none")
    return "\n".join(out)


def _table_cells(row: PathwayRow, phases: Sequence[int]) -> list[str]:
    bench = "—"
    if row.benchmark is not None:
        b = row.benchmark
        bench = f"{pct(b.mean)}/{pct(b.sd)}/{pct(b.minimum_expected)}"
        if row.pathway_id is not None and row.benchmark_source == "overall":
            bench += " (overall)"
    cells = [
        row.pathway_id or "overall",
        row.cancer or ("" if row.pathway_id is None else "—"),
        str(row.assessed),
        str(row.on),
        str(row.off),
        pct(row.rate),
        str(row.with_reason),
        str(row.without_reason),
        str(row.accepted),
        bench,
    ]
    cells += [(row.phase1 if p == 1 else row.phase2).label for p in phases]
    return cells


def report_json(report: AdherenceReport, phases: Sequence[int] = (1, 2)) -> dict[str, Any]:
    return {
        "report": "pathway-adherence",
        "period": {
            "from": report.start.isoformat(),
            "to": report.end.isoformat(),
            "timezone": report.timezone,
        },
        "benchmarkFile": report.benchmark_file,
        "phases": list(phases),
        "pathways": [_row_json(row, phases) for row in report.pathways],
        "overall": _row_json(report.overall, phases),
        "notSigned": {
            "orders": report.not_signed,
            "suggestionAccepted": report.not_signed_accepted,
        },
        "noPathway": [
            {
                "cancer": c.cancer,
                "noPathway": c.no_pathway,
                "undetermined": c.undetermined,
                "rating": c.rating.as_json(),
                "topReasons": [{"reason": r, "orders": n} for r, n in c.top_reasons],
            }
            for c in report.cancers
        ],
    }


def _row_json(row: PathwayRow, phases: Sequence[int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if row.pathway_id is not None:
        out.update(
            pathwayId=row.pathway_id,
            title=row.title,
            cancer=row.cancer,
            versions=sorted(row.versions),
            available=row.available,
        )
    out.update(
        assessed=row.assessed,
        onPathway=row.on,
        offPathway=row.off,
        adherenceRate=rate_json(row.rate),
        deviationsWithReason=row.with_reason,
        deviationsWithoutReason=row.without_reason,
        suggestionsAccepted=row.accepted,
        benchmark=None
        if row.benchmark is None
        else {"source": row.benchmark_source, **row.benchmark.as_json()},
    )
    for p in phases:
        out[f"phase{p}"] = (row.phase1 if p == 1 else row.phase2).as_json()
    return out


def report_csv(report: AdherenceReport, phases: Sequence[int] = (1, 2)) -> str:
    header = [
        "scope",
        "pathway_id",
        "title",
        "cancer",
        "versions",
        "assessed",
        "on_pathway",
        "off_pathway",
        "adherence_rate",
        "deviations_with_reason",
        "deviations_without_reason",
        "suggestions_accepted",
        "benchmark_source",
        "benchmark_mean",
        "benchmark_sd",
        "benchmark_minimum_expected",
    ]
    for p in phases:
        header += [f"phase{p}_rating", f"phase{p}_note", f"phase{p}_why"]
    rows: list[list[Any]] = [header]
    for row in [*report.pathways, report.overall]:
        b = row.benchmark
        rate = rate_json(row.rate)
        cells: list[Any] = [
            "pathway" if row.pathway_id is not None else "overall",
            row.pathway_id or "",
            row.title or "",
            row.cancer or "",
            " ".join(sorted(row.versions)),
            row.assessed,
            row.on,
            row.off,
            "" if rate is None else f"{rate:.4f}",
            row.with_reason,
            row.without_reason,
            row.accepted,
            row.benchmark_source or "",
            "" if b is None else b.mean,
            "" if b is None else b.sd,
            "" if b is None else b.minimum_expected,
        ]
        for p in phases:
            rating = row.phase1 if p == 1 else row.phase2
            cells += [rating.rating, rating.note or "", rating.why]
        rows.append(cells)
    return csv_text(rows)


# --- deviations ------------------------------------------------------------------------------
def deviations_csv(report: AdherenceReport, tz: tzinfo | None) -> str:
    """One row per off-pathway signed order (it names Patient resource ids: internal use)."""
    return deviations_export.deviations_csv(report.deviations, tz)


def deviations_bundle(report: AdherenceReport, tz: tzinfo | None) -> dict[str, Any]:
    """A Bundle (collection) of de-identified GuidanceResponses, one per off-pathway order."""
    return deviations_export.deviations_bundle(report.deviations, tz)


# --- the command (its options: cpoc_fhir.reports.cli) ----------------------------------------
def run(args: argparse.Namespace, tz: tzinfo | None, tz_name: str) -> int:
    if args.start > args.end:
        raise InputError("--from", f"{args.start.isoformat()} is after --to {args.end.isoformat()}")
    benchmarks = load_benchmarks(args.benchmarks) if args.benchmarks else None
    out_kind = _deviations_kind(args.deviations) if args.deviations else None
    url = args.store or os.environ.get("CPOC_STORE_URL") or DEFAULT_URL
    with open_ledger(url) as ledger:
        decisions = PathwayLog(ledger).decisions(args.start, args.end, tz)
    report = build_report(decisions, args.start, args.end, benchmarks, tz_name)
    phases = wanted_phases(args.phase)
    if args.deviations:
        if out_kind == "csv":
            text = deviations_csv(report, tz)
        else:
            text = json.dumps(deviations_bundle(report, tz), indent=2, ensure_ascii=False) + "\n"
        write_text(args.deviations, text)
    out = sys.stdout
    if args.format == "json":
        out.write(json.dumps(report_json(report, phases), indent=1, ensure_ascii=False) + "\n")
    elif args.format == "csv":
        out.write(report_csv(report, phases))
    else:
        out.write(report_table(report, phases) + "\n")
        if args.deviations:
            out.write(f"\n{len(report.deviations)} deviations written to {args.deviations}\n")
    return EXIT_OK


def _deviations_kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix == ".json":
        return "fhir"
    raise InputError(
        str(path), "--deviations must end in .csv (rows with Patient ids) or .json (FHIR Bundle)"
    )
