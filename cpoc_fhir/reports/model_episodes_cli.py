"""``cpoc report model-episodes``: an episode model's episodes per patient (§15.1, §15.2).

    cpoc report model-episodes [INPUT | --fhir-base URL [--group ID]] --model PACK
        [--as-of YYYY-MM-DD] [--all-patients] [--format table|csv|json]

Each patient is billed as their Coverage selects (``[models]`` settings) and the episodes of
``--model`` are listed; ``--all-patients`` bills every patient under ``--model`` whatever
their Coverage says (as ``cpoc timeline --model``), for analysis. Exit codes as for every
command: 0; 2 bad usage or input.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import Any

from cpoc_fhir.engine.components import Component
from cpoc_fhir.errors import InputError
from cpoc_fhir.reports.options import iso_date
from cpoc_fhir.reports.render import report_text
from cpoc_fhir.reports.sources import (
    add_record_source,
    add_server_options,
    check_record_source,
    report_evaluator,
)


def add_parser(reports: Any) -> None:
    p = reports.add_parser(
        "model-episodes",
        help="an episode model's episodes per patient (OCM, EOM): days, trigger, cancer type, "
        "MEOS months billed and total, why an episode was cut short (§15.1, §15.2)",
    )
    add_record_source(p, "the practice's records", "read the records from this FHIR server")
    p.add_argument("--model", required=True, metavar="PACK", help="the episode pack: ocm, eom …")
    p.add_argument("--as-of", type=iso_date, metavar="YYYY-MM-DD", help="default: today")
    p.add_argument(
        "--all-patients",
        action="store_true",
        help="bill every patient under --model whatever their Coverage says (analysis)",
    )
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument(
        "--wide", action="store_true", help="table: a line an episode (default: fit 80 columns)"
    )
    add_server_options(p)
    p.set_defaults(report_run=run)


def run(args: argparse.Namespace) -> int:
    from cpoc_fhir.config import load_config
    from cpoc_fhir.economics.server_source import open_records
    from cpoc_fhir.packs.registry import load_pack
    from cpoc_fhir.reports import model_episodes

    check_record_source(args)
    config = load_config(getattr(args, "config", None))
    pack = load_pack(args.model, config.models)
    if not any(code.component is Component.MEOS for code in pack.codes.values()):
        raise InputError("--model", f"{args.model!r} is not an episode model (it bills no MEOS)")
    evaluator = report_evaluator(config, args.model if args.all_patients else None)
    as_of = args.as_of or date.today()
    source = open_records(args)
    rows: list[dict[str, Any]] = []
    for timeline in evaluator.timelines(source, as_of):
        rows += model_episodes.episode_rows(timeline, pack.id)
    result = model_episodes.report(rows, pack.id, pack.short_name, as_of)
    result["warnings"] = list(source.warnings)
    from cpoc_fhir.terminal import line_width

    width = line_width(getattr(args, "wide", False))
    sys.stdout.write(
        report_text(
            result, args.format, model_episodes.csv_rows, lambda r: model_episodes.table(r, width)
        )
    )
    if args.format == "table":
        from cpoc_fhir.terminal import wrapped

        for warning in source.warnings:
            sys.stdout.write("\n".join(wrapped(warning, width, "warning: ", "  ")) + "\n")
    return 0
