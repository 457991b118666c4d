"""The adherence report's renderings (table, JSON, CSV) and the ``cpoc report adherence``
command; the counts and ratings are ``cpoc_fhir.reports.adherence``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import tzinfo
from pathlib import Path
from typing import Any

from cpoc_fhir.errors import InputError
from cpoc_fhir.reports.adherence import (
    EXIT_OK,
    AdherenceReport,
    PathwayRow,
    build_report,
    deviations_bundle,
    deviations_csv,
)
from cpoc_fhir.reports.benchmarks import load_benchmarks
from cpoc_fhir.reports.render import aligned, csv_text, pct, rate_json, write_text
from cpoc_fhir.store import DEFAULT_URL, open_ledger
from cpoc_fhir.store.pathways import PathwayLog
from cpoc_fhir.terminal import WIDTH, fit_table, line_width, wrapped


def wanted_phases(phase: str) -> tuple[int, ...]:
    return {"1": (1,), "2": (2,), "both": (1, 2)}[phase]


def report_table(
    report: AdherenceReport, phases: Sequence[int] = (1, 2), width: int | None = WIDTH
) -> str:
    """The report for people, fitted to ``width`` columns (None: ``--wide``, one line a row).

    Fitted, the pathway table is two: the counts, then each pathway's benchmark and ratings
    (the two together need some 170 columns); prose is wrapped (issue 17 item 6)."""
    bench = report.benchmark_file or "none (rates only, nothing rated)"
    out = _prose(
        f"Pathway adherence {report.start.isoformat()} to {report.end.isoformat()} "
        f"(dates in {report.timezone}); benchmarks: {bench}",
        width,
    )
    out += _prose("Signed orders assessed against a care pathway; rate = on / (on + off).", width)
    out.append("")
    rows = [_table_cells(row, phases) for row in [*report.pathways, report.overall]]
    header = [*_COUNTS, "benchmark mean/sd/min"] + [f"phase {p}" for p in phases]
    table = aligned([header, *rows], right=_RIGHT)
    if width is not None and max(len(line) for line in table) > width:
        table = _fitted(header, rows, width)
    out.extend(table)
    out.append("")
    out += _prose(
        "dev+reason (dev+r) / dev-reason (dev-r): off-pathway orders overridden with a "
        "reason / without one; "
        "accepted: a suggestion of the pathway card accepted at order time; benchmark: the "
        "prior year's mean / sd / minimum expected.",
        width,
    )
    if report.benchmark_file is None:
        out.append("")
        out.append("Not rated: no benchmark file (--benchmarks FILE) — rates only.")
    else:
        out.append("")
        out.append("Ratings (proposal IV-A):")
        for row in [*report.pathways, report.overall]:
            for p in phases:
                rating = row.phase1 if p == 1 else row.phase2
                name = row.pathway_id or "overall"
                out += wrapped(f"{name}, phase {p}: {rating.label} — {rating.why}", width, "  ",
                               "    ")  # fmt: skip
    out.append("")
    accepted = (
        f" ({report.not_signed_accepted} with a suggestion accepted: the order was replaced)"
        if report.not_signed_accepted
        else ""
    )
    out += _prose(
        f"Not signed (order-select only, not signed as of this report): "
        f"{report.not_signed} orders{accepted}",
        width,
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
        lines = aligned(cancer_table, right={1, 2})
        if width is not None and max(len(line) for line in lines) > width:
            cells = [tuple(row) for row in cancer_table]
            lines = ["  " + line for line in fit_table(cells, width - 2)]
        out.extend(lines)
    else:
        out.append("Orders with no pathway or an undetermined one: none")
    return "\n".join(out)


_COUNTS = ["pathway", "cancer", "assessed", "on", "off", "rate", "dev+reason", "dev-reason"]
_COUNTS.append("accepted")
_RIGHT = {2, 3, 4, 5, 6, 7, 8}


def _fitted(header: list[str], rows: list[list[str]], width: int) -> list[str]:
    """The pathway table in ``width`` columns: the counts (the reason columns as "dev+r" and
    "dev-r", said in the footnote), then each pathway's benchmark and ratings. The cancer
    column is left to ``--wide`` (and the JSON, CSV): the pathway's id names it, and with it
    the benchmark's figures would be cut across lines."""
    counted = len(_COUNTS)
    counts = [["pathway", "assessed", "on", "off", "rate", "dev+r", "dev-r", "accepted"]]
    counts += [[r[0], *r[2:counted]] for r in rows]
    out = aligned(counts, right={1, 2, 3, 4, 5, 6, 7})
    # "benchmark" alone: "benchmark mean/sd/min" would take the room the ratings' words need
    rated = [("pathway", "benchmark", *header[counted + 1 :])]
    # spaced, the three figures wrap between figures, never inside one
    rated += [(r[0], r[counted].replace("/", " / "), *r[counted + 1 :]) for r in rows]
    return [*out, "", *("  " + line for line in fit_table(rated, width - 2))]


def _prose(text: str, width: int | None) -> list[str]:
    return wrapped(text, width, "", "  ")


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
        width = line_width(getattr(args, "wide", False))
        out.write(report_table(report, phases, width) + "\n")
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
