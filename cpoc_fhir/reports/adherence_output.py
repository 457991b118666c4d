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
