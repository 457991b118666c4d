"""``cpoc report episodes``: episode prices from the practice's CPOC history (§14.5).

cpoc report episodes INPUT [--from YYYY-MM-DD] [--to YYYY-MM-DD]
    [--period six-months|line] [--treatment-only] [--as-of YYYY-MM-DD] [--payer FILE]
    [--format table|json|html] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path
from typing import Any

from cpoc_fhir.economics.output import write_report
from cpoc_fhir.errors import InputError
from cpoc_fhir.progress import add_no_progress
from cpoc_fhir.reports.options import iso_date
from cpoc_fhir.terminal import WIDTH, line_width, wrapped

FORMATS = ("table", "json", "html")
PERIODS = ("six-months", "line")  # economics.episodes says what each is


def add_parser(reports: Any) -> None:

    p = reports.add_parser(
        "episodes",
        help="episode prices: mean CPOC amount per episode by cancer type, stage, line (§14.5)",
    )
    p.add_argument("input", type=Path, metavar="INPUT", help="the practice's FHIR records")
    p.add_argument(
        "--from",
        dest="start",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="episodes starting on or after this day",
    )
    p.add_argument(
        "--to",
        dest="end",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="episodes starting on or before this day",
    )
    p.add_argument(
        "--period",
        choices=PERIODS,
        default="six-months",
        help="6 months from the first treatment (default), or a line of therapy",
    )
    p.add_argument(
        "--treatment-only",
        action="store_true",
        help="New Patient and Active Monitoring lines outside the episode",
    )
    p.add_argument(
        "--as-of",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="the history as known on this day (default: today)",
    )
    p.add_argument(
        "--payer",
        type=Path,
        metavar="FILE",
        help="price the lines with this payer file (default: the settings')",
    )
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--out", type=Path, metavar="FILE", help="write the report here, not stdout")
    p.add_argument(
        "--wide", action="store_true", help="table: amounts 12 wide (default: fit 80 columns)"
    )
    p.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="settings file")
    add_no_progress(p)
    p.set_defaults(report_run=run)


def run(args: argparse.Namespace) -> int:
    # Imported here: every ``cpoc`` command builds this parser, few run it.
    from cpoc_fhir.config import load_config, load_payer
    from cpoc_fhir.economics.episodes import Episode, episodes_report, patient_episodes
    from cpoc_fhir.fhir.read import open_source
    from cpoc_fhir.fhir.read.counted import counted
    from cpoc_fhir.knowledge.loader import load_knowledge
    from cpoc_fhir.service import Evaluator

    if args.start is not None and args.end is not None and args.start > args.end:
        raise InputError("--from", f"{args.start} is after --to {args.end}")
    config = load_config(getattr(args, "config", None))
    payer = load_payer(args.payer or config.payer_file, config.payer_locality)
    evaluator = Evaluator(load_knowledge(), config.rules, payer, models=config.models)
    as_of = args.as_of or date.today()
    source = counted(open_source(args.input), args)
    episodes: list[Episode] = []
    for resources in source.patients():
        if resources.patient is None:
            continue
        record = evaluator.record(resources)
        timeline = evaluator.evaluate(record, as_of)
        episodes += patient_episodes(
            record,
            timeline,
            evaluator.knowledge.regimens,
            config.rules,
            args.period,
            args.treatment_only,
            as_of,
        )
    report = episodes_report(
        episodes,
        period=args.period,
        treatment_only=args.treatment_only,
        start=args.start,
        end=args.end,
        as_of=as_of,
        warnings=source.warnings,
    )
    report["payer"] = {"id": payer.id, "illustrative": payer.illustrative}
    _write(args, report)
    return 0


def _write(args: argparse.Namespace, report: dict[str, Any]) -> None:
    if args.format == "json":
        text = json.dumps(report, indent=1) + "\n"
    elif args.format == "html":
        from cpoc_fhir.economics.episodes_html import episodes_html

        text = episodes_html(report)
    else:
        text = episodes_table(report, line_width(getattr(args, "wide", False))) + "\n"
    write_report(args.out, text)


def episodes_table(report: dict[str, Any], width: int | None = WIDTH) -> str:
    """The prices for people: 80 columns by default (the four amounts 10 wide, prose wrapped;
    issue 17 item 6), ``width`` None (``--wide``) the 12-wide amounts on one line each."""
    what = (
        "6 months from the first treatment"
        if report["period"] == "six-months"
        else ("a line of therapy")
    )
    scope = "treatment only" if report["treatmentOnly"] else "all CPOC lines"
    money = 12 if width is None else 10  # "1234567.89" keeps a space before it

    def row(cancer: str, stage: str, line: Any, count: Any, g: dict[str, Any]) -> str:
        amounts = "".join(f"{_m(g[k]):>{money}}" for k in ("mean", "sd", "min", "max"))
        return f"{cancer[:17]:<18}{stage[:7]:<8}{line:>5}{count:>6}{amounts}"

    lines = [
        *wrapped(f"Episode prices (value-and-models §14.5): {what}, {scope}", width, "", "  "),
        f"history as of {report['asOf']}",
        f"complete episodes {report['episodes']}, incomplete (left out) {report['incomplete']}",
        "",
        f"{'cancer':<18}{'stage':<8}{'line':>5}{'n':>6}"
        + "".join(f"{h:>{money}}" for h in ("mean", "sd", "min", "max")),
    ]
    for g in report["groups"]:
        lines.append(row(g["cancer"], g["stage"], g["line"], g["count"], g))
    lines.append("")
    for g in report["byCancer"]:
        lines.append(row(g["cancer"], "all", "all", g["count"], g))
    o = report["overall"]
    lines.append(row("all", "all", "all", o["count"], o))
    for warning in report["warnings"]:
        lines += wrapped(warning, width, "warning: ", "  ")
    return "\n".join(lines)


def _m(value: str | None) -> str:
    return "—" if value is None else value
