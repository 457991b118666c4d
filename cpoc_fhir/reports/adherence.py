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

Ratings — the proposal's section IV-A.2 table (seed 002, "How Payment Should Support the
Implementation and Use of Care Pathways"), quoted:

    Availability of Care   How an Oncology Practice Uses Pathways        PHASE 1       PHASE 2
    Pathway(s)
    No Pathway exists for                                                "Appropriate" "Appropriate"
    a particular type of
    cancer
    One or more Care       The practice does not use any available       "Low"         "Low"
    Pathways exist for a   pathway
    particular type of     The practice uses a pathway and reports on    "Appropriate" N/A
    cancer                 its adherence and reasons for deviation.
                           The practice uses a pathway and its           "Appropriate" "Low"
                           adherence rate is more than one standard
                           deviation below average
                           The practice uses a pathway and its           "Appropriate" "Appropriate"
                           adherence rate is less than one standard
                           deviation below average
                           The practice uses a pathway and its           "Appropriate" "High"
                           adherence rate is at or above the minimum
                           expected level

How this implementation reads it (per pathway, and overall):

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

Benchmark file (TOML, or JSON with the same structure), prior-year figures as **fractions
0-1** (0.8, not 80)::

    available = ["nsclc-stage4-pdl1-high", "breast-early-her2-pos"]
    [overall]
    mean = 0.80
    sd = 0.08
    minimum_expected = 0.85
    [pathways."nsclc-stage4-pdl1-high"]
    mean = 0.78
    sd = 0.10
    minimum_expected = 0.85

``--deviations OUT``: ``OUT.csv`` → one row per off-pathway signed order (internal: it has
Patient ids); ``OUT.json`` → a FHIR R4 Bundle (collection) of de-identified GuidanceResponses
for pathway developers (no subject, no ids, month precision, no free-text comment), each
validated with ``fhir.resources.R4B``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import tomllib
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cpoc_fhir.errors import InputError
from cpoc_fhir.store import DEFAULT_URL, open_ledger
from cpoc_fhir.store.pathways import PathwayLog, StoredDecision

EXIT_OK = 0
PHASES = ("1", "2", "both")
FORMATS = ("table", "json", "csv")
HIGH, APPROPRIATE, LOW, NOT_RATED = "High", "Appropriate", "Low", "not rated"
NO_REASON = "no reason given"
UNKNOWN_CANCER = "(cancer not known)"
NO_PATHWAY_ID = "(no single pathway: a fact missing)"
TOP_REASONS = 3
_BENCH_KEYS = ("mean", "sd", "minimum_expected")


# --- benchmarks -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Benchmark:
    """Prior-year adherence of a pathway (or overall): fractions 0-1, exact decimals."""

    mean: Decimal
    sd: Decimal
    minimum_expected: Decimal

    @property
    def low_below(self) -> Fraction:
        """A rate below this (mean − sd) is "more than one standard deviation below average"."""
        return Fraction(self.mean) - Fraction(self.sd)

    def as_json(self) -> dict[str, float]:
        return {
            "mean": float(self.mean),
            "sd": float(self.sd),
            "minimumExpected": float(self.minimum_expected),
        }


@dataclass(frozen=True)
class Benchmarks:
    source: str
    overall: Benchmark | None = None
    pathways: Mapping[str, Benchmark] = field(default_factory=dict)
    available: tuple[str, ...] = ()

    def for_pathway(self, pathway_id: str) -> tuple[Benchmark | None, str | None]:
        """The pathway's benchmark and where it came from ("pathway", "overall" or None)."""
        if pathway_id in self.pathways:
            return self.pathways[pathway_id], "pathway"
        if self.overall is not None:
            return self.overall, "overall"
        return None, None


def load_benchmarks(path: Path) -> Benchmarks:
    """Read and check a benchmark file (``.json``: JSON, anything else: TOML)."""
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(where, "no such benchmark file") from None
    except IsADirectoryError:
        raise InputError(where, "is a folder, not a benchmark file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(where, f"cannot read benchmark file: {_os_reason(exc)}") from None
    data: Any
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise InputError(where, f"not valid JSON: {exc}") from None
    else:
        try:
            data = tomllib.loads(text, parse_float=Decimal)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(where, f"not valid TOML: {exc}") from None
    return _benchmarks(data, where)


def _benchmarks(data: Any, where: str) -> Benchmarks:
    if not isinstance(data, dict):
        raise InputError(where, "a benchmark file is a table/object at the top level")
    unknown = sorted(set(data) - {"overall", "pathways", "available"})
    if unknown:
        raise InputError(
            where, f"unknown key {unknown[0]!r} (expected overall, pathways, available)"
        )
    overall = _benchmark(data["overall"], "overall", where) if "overall" in data else None
    pathways_data = data.get("pathways", {})
    if not isinstance(pathways_data, dict):
        raise InputError(where, "pathways: must be a table of pathway ids")
    pathways = {
        str(pid): _benchmark(value, f'pathways."{pid}"', where)
        for pid, value in pathways_data.items()
    }
    available_data = data.get("available", [])
    if not isinstance(available_data, list) or not all(
        isinstance(a, str) and a.strip() for a in available_data
    ):
        raise InputError(where, "available: must be a list of pathway ids (strings)")
    if overall is None and not pathways and not available_data:
        raise InputError(where, "no overall, pathways or available: nothing to rate against")
    available = tuple(dict.fromkeys(a.strip() for a in available_data))
    return Benchmarks(where, overall, pathways, available)


def _benchmark(value: Any, key: str, where: str) -> Benchmark:
    if not isinstance(value, dict):
        raise InputError(where, f"{key}: must be a table with mean, sd and minimum_expected")
    unknown = sorted(set(value) - set(_BENCH_KEYS))
    if unknown:
        raise InputError(
            where, f"{key}.{unknown[0]}: unknown key (expected mean, sd, minimum_expected)"
        )
    numbers = {}
    for name in _BENCH_KEYS:
        if name not in value:
            raise InputError(where, f"{key}.{name}: missing")
        numbers[name] = _fraction_value(value[name], f"{key}.{name}", where)
    return Benchmark(**numbers)


def _fraction_value(value: Any, key: str, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise InputError(where, f"{key}: not a number: {value!r}")
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite() or number < 0:
        raise InputError(where, f"{key}: must be a fraction between 0 and 1, got {value}")
    if number > 1:
        raise InputError(
            where,
            f"{key}: must be a fraction between 0 and 1 (write {number / 100}, not {value})",
        )
    return number


# --- the report -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Rating:
    rating: str  # High | Appropriate | Low | not rated
    why: str
    note: str | None = None  # "not used", "no benchmark file", …

    @property
    def label(self) -> str:
        return f"{self.rating} ({self.note})" if self.note else self.rating

    def as_json(self) -> dict[str, Any]:
        return {"rating": self.rating, "note": self.note, "why": self.why}


UNRATED = Rating(
    NOT_RATED, "no benchmark file given (--benchmarks): rates only", "no benchmark file"
)


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
            return Rating(
                APPROPRIATE,
                "no pathway exists for these orders (IV-A table, first row; both phases)",
                "no pathway exists",
            )
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
        benchmark_file=benchmarks.source if benchmarks else None,
        pathways=ordered,
        overall=overall,
        not_signed=not_signed,
        not_signed_accepted=not_signed_accepted,
        cancers=sorted(cancers.values(), key=lambda c: c.cancer),
        deviations=deviations,
    )


def _not_used(source: str) -> Rating:
    return Rating(
        LOW,
        f"listed as available in {source} but no signed order was assessed against it in the "
        "period: the practice does not use an available pathway",
        "not used",
    )


def _rate_pathway(row: PathwayRow, benchmarks: Benchmarks) -> None:
    row.benchmark, row.benchmark_source = benchmarks.for_pathway(row.pathway_id or "")
    if row.assessed == 0:
        row.phase1 = row.phase2 = _not_used(benchmarks.source)
        return
    row.phase1 = Rating(
        APPROPRIATE,
        f"uses the pathway and reports adherence: {row.assessed} orders assessed, "
        f"{row.off} deviations ({row.with_reason} with a reason)",
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
        why = (
            f"available pathway(s) not used in the period ({', '.join(unused)}; listed in "
            f"{benchmarks.source}): the practice does not use an available pathway"
        )
        overall.phase1 = overall.phase2 = Rating(LOW, why, "not used")
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
    low = bench.low_below
    minimum = Fraction(bench.minimum_expected)
    figures = (
        f"rate {_pct(rate)}; {source} benchmark mean {_pct(bench.mean)}, sd {_pct(bench.sd)}, "
        f"minimum expected {_pct(bench.minimum_expected)}"
    )
    if rate < low:
        return Rating(LOW, f"{figures}: more than one SD below the mean (< {_pct(low)})")
    if rate >= minimum:
        return Rating(HIGH, f"{figures}: at or above the minimum expected level")
    return Rating(
        APPROPRIATE,
        f"{figures}: not more than one SD below the mean, below the minimum expected level",
    )


def _pct(value: Fraction | Decimal | None) -> str:
    if value is None:
        return "—"
    return f"{float(Fraction(value)) * 100:.1f}%"


def _rate_json(value: Fraction | None) -> float | None:
    return None if value is None else round(float(value), 4)


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
    out.extend(_aligned(table, right={2, 3, 4, 5, 6, 7, 8}))
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
        out.extend(_aligned(cancer_table, right={1, 2}))
    else:
        out.append("Orders with no pathway or an undetermined one: none")
    return "\n".join(out)


def _table_cells(row: PathwayRow, phases: Sequence[int]) -> list[str]:
    bench = "—"
    if row.benchmark is not None:
        b = row.benchmark
        bench = f"{_pct(b.mean)}/{_pct(b.sd)}/{_pct(b.minimum_expected)}"
        if row.pathway_id is not None and row.benchmark_source == "overall":
            bench += " (overall)"
    cells = [
        row.pathway_id or "overall",
        row.cancer or ("" if row.pathway_id is None else "—"),
        str(row.assessed),
        str(row.on),
        str(row.off),
        _pct(row.rate),
        str(row.with_reason),
        str(row.without_reason),
        str(row.accepted),
        bench,
    ]
    cells += [(row.phase1 if p == 1 else row.phase2).label for p in phases]
    return cells


def _aligned(rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(r)
        ]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


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
        adherenceRate=_rate_json(row.rate),
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
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
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
    writer.writerow(header)
    for row in [*report.pathways, report.overall]:
        b = row.benchmark
        rate = _rate_json(row.rate)
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
        writer.writerow(cells)
    return buffer.getvalue()


# --- deviations ------------------------------------------------------------------------------
DEVIATION_COLUMNS = (
    "date",
    "patient_id",
    "pathway_id",
    "pathway_title",
    "pathway_version",
    "cancer",
    "regimen_id",
    "regimen_name",
    "line_of_therapy",
    "feedback",
    "reason_system",
    "reason_code",
    "reason_display",
    "comment",
    "alternatives_offered",
)


def deviations_csv(report: AdherenceReport, tz: tzinfo | None) -> str:
    """One row per off-pathway signed order (it names Patient resource ids: internal use)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(DEVIATION_COLUMNS)
    for d in report.deviations:
        fb = d.feedback if d.feedback and d.feedback.outcome == "overridden" else None
        given = fb is not None and bool(fb.reason_code or fb.reason_display or fb.comment)
        writer.writerow(
            [
                _local_date(d.decided_at, tz).isoformat(),
                d.patient_id,
                d.pathway_id or "",
                d.pathway_title or "",
                d.pathway_version or "",
                d.cancer or "",
                d.regimen_id or "",
                d.regimen_name or "",
                "" if d.line_of_therapy is None else d.line_of_therapy,
                d.feedback.outcome if d.feedback else "",
                (fb.reason_system or "") if fb else "",
                (fb.reason_code or "") if fb else "",
                (fb.reason_display or "") if given and fb else NO_REASON,
                (fb.comment or "") if fb else "",
                " ".join(d.alternatives),
            ]
        )
    return buffer.getvalue()


def deviations_bundle(report: AdherenceReport, tz: tzinfo | None) -> dict[str, Any]:
    """A Bundle (collection) of de-identified GuidanceResponses, one per off-pathway order.

    No subject, no Patient or order ids, no hookInstance, no free-text comment; the date is
    the month only, and entries are sorted by month, pathway and regimen (not by time).
    """
    from fhir.resources.R4B.bundle import Bundle
    from fhir.resources.R4B.guidanceresponse import GuidanceResponse

    from cpoc_fhir.fhir.write.publish import validated

    resources = []
    for d in report.deviations:
        month = _local_date(d.decided_at, tz).strftime("%Y-%m")
        resource = _guidance_response(d, month)
        resources.append(
            validated(resource, GuidanceResponse, f"GuidanceResponse ({d.pathway_id})")
        )
    resources.sort(
        key=lambda r: (
            r["occurrenceDateTime"],
            json.dumps(r.get("moduleCanonical") or r.get("moduleCodeableConcept")),
            json.dumps(r["note"]),
        )
    )
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "collection"}
    if resources:
        bundle["entry"] = [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources]
    return validated(bundle, Bundle, "deviations Bundle")


def _guidance_response(d: StoredDecision, month: str) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "GuidanceResponse",
        "id": str(uuid.uuid4()),
        "status": "success",
        "occurrenceDateTime": month,
    }
    if d.pathway_url:
        version = f"|{d.pathway_version}" if d.pathway_version else ""
        resource["moduleCanonical"] = f"{d.pathway_url}{version}"
    else:
        version = f" version {d.pathway_version}" if d.pathway_version else ""
        resource["moduleCodeableConcept"] = {
            "text": f"care pathway {d.pathway_id or 'unknown'}{version}"
            + (f" ({d.pathway_title})" if d.pathway_title else "")
        }
    resource["reasonCode"] = [_override_reason(d)]
    regimen = (
        f"{d.regimen_name} ({d.regimen_id})"
        if d.regimen_name and d.regimen_id
        else d.regimen_name or d.regimen_id or "not identified in the regimen catalog"
    )
    line = "unknown" if d.line_of_therapy is None else str(d.line_of_therapy)
    offered = ", ".join(d.alternatives) if d.alternatives else "none offered"
    notes = [f"Regimen given: {regimen}", f"Line of therapy: {line}"]
    notes.append(f"On-pathway alternatives offered: {offered}")
    if d.cancer:
        notes.append(f"Cancer: {d.cancer}")
    resource["note"] = [{"text": text} for text in notes]
    return resource


def _override_reason(d: StoredDecision) -> dict[str, Any]:
    """The override reason as a CodeableConcept; a free-text comment is never shared."""
    fb = d.feedback if d.feedback and d.feedback.outcome == "overridden" else None
    if fb is None or not (fb.reason_code or fb.reason_display or fb.comment):
        return {"text": NO_REASON}
    reason: dict[str, Any] = {}
    if fb.reason_code:
        coding = {"system": fb.reason_system, "code": fb.reason_code}
        coding["display"] = fb.reason_display
        reason["coding"] = [{k: v for k, v in coding.items() if v}]
    reason["text"] = (
        fb.reason_display or fb.reason_code or "overridden with a free-text comment (not shared)"
    )
    return reason


def _local_date(moment: datetime, tz: tzinfo | None) -> date:
    return moment.astimezone(tz).date()


# --- command line -----------------------------------------------------------------------------
def add_parser(sub: Any) -> None:
    """``cpoc report adherence`` (``sub``: the ``report`` command's subparsers)."""
    p = sub.add_parser(
        "adherence",
        help="care pathway adherence per pathway and overall, rated per proposal IV-A",
    )
    p.add_argument("--from", dest="start", type=_iso_date, required=True, metavar="YYYY-MM-DD")
    p.add_argument("--to", dest="end", type=_iso_date, required=True, metavar="YYYY-MM-DD")
    p.add_argument(
        "--benchmarks",
        type=Path,
        metavar="FILE",
        help="prior-year mean, sd, minimum_expected (TOML or JSON, fractions 0-1)",
    )
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument(
        "--deviations",
        type=Path,
        metavar="OUT",
        help="off-pathway orders: OUT.csv (with Patient ids) or OUT.json (de-identified FHIR "
        "Bundle of GuidanceResponses)",
    )
    p.add_argument("--phase", choices=PHASES, default="both")
    p.add_argument(
        "--tz",
        metavar="ZONE",
        help="time zone of the dates (IANA name, e.g. America/New_York; default CPOC_TIMEZONE, "
        "the practice zone the CDS service uses, else this host's)",
    )
    p.add_argument(
        "--store",
        metavar="URL",
        help=f"store (SQLAlchemy URL; env CPOC_STORE_URL; default {DEFAULT_URL})",
    )


def run(args: argparse.Namespace) -> int:
    if args.start > args.end:
        raise InputError("--from", f"{args.start.isoformat()} is after --to {args.end.isoformat()}")
    # The practice's zone, as the CDS service dates its orders (CPOC_TIMEZONE), unless given.
    tz, tz_name = _zone(args.tz or os.environ.get("CPOC_TIMEZONE"))
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
        _write(args.deviations, text)
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


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _zone(name: str | None) -> tuple[tzinfo | None, str]:
    if not name:
        local = datetime.now().astimezone()
        return None, f"this host's time zone ({local.tzname()})"
    try:
        return ZoneInfo(name), name
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError("--tz", f"not a known time zone: {name!r}") from None


def _deviations_kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix == ".json":
        return "fhir"
    raise InputError(
        str(path), "--deviations must end in .csv (rows with Patient ids) or .json (FHIR Bundle)"
    )


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(str(path), f"cannot write: {_os_reason(exc)}") from None


def _os_reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc)
