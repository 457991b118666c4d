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
import csv
import io
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from cpoc_fhir.engine.components import Component
from cpoc_fhir.errors import InputError
from cpoc_fhir.reports.options import iso_date


def add_parser(reports: Any) -> None:
    from cpoc_fhir.capture.cli_options import add_auth_options

    p = reports.add_parser(
        "model-episodes",
        help="an episode model's episodes per patient (OCM, EOM): days, trigger, cancer type, "
        "MEOS months billed and total, why an episode was cut short (§15.1, §15.2)",
    )
    p.add_argument("input", nargs="?", type=Path, metavar="INPUT", help="the practice's records")
    p.add_argument("--fhir-base", metavar="URL", help="read the records from this FHIR server")
    p.add_argument("--group", metavar="ID", help="with --fhir-base: the Group's members only")
    p.add_argument("--model", required=True, metavar="PACK", help="the episode pack: ocm, eom …")
    p.add_argument("--as-of", type=iso_date, metavar="YYYY-MM-DD", help="default: today")
    p.add_argument(
        "--all-patients",
        action="store_true",
        help="bill every patient under --model whatever their Coverage says (analysis)",
    )
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS")
    p.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="settings file")
    add_auth_options(p, "system/*.rs")
    p.set_defaults(report_run=run)


def run(args: argparse.Namespace) -> int:
    from cpoc_fhir.config import load_config, load_payer
    from cpoc_fhir.economics.server_source import open_records
    from cpoc_fhir.knowledge.loader import load_knowledge
    from cpoc_fhir.packs.registry import load_pack
    from cpoc_fhir.reports import model_episodes
    from cpoc_fhir.service import Evaluator

    if (args.input is None) == (args.fhir_base is None):
        raise InputError("INPUT", "give the records as INPUT or --fhir-base URL (one of them)")
    if args.group is not None and args.fhir_base is None:
        raise InputError("--group", "reads a Group on a FHIR server: give --fhir-base URL too")
    config = load_config(getattr(args, "config", None))
    pack = load_pack(args.model, config.models)
    if not any(code.component is Component.MEOS for code in pack.codes.values()):
        raise InputError("--model", f"{args.model!r} is not an episode model (it bills no MEOS)")
    evaluator = Evaluator(
        load_knowledge(),
        config.rules,
        load_payer(config.payer_file, config.payer_locality),
        models=config.models,
        forced_model=args.model if args.all_patients else None,
    )
    as_of = args.as_of or date.today()
    source = open_records(args)
    rows: list[dict[str, Any]] = []
    for timeline in evaluator.timelines(source, as_of):
        rows += model_episodes.episode_rows(timeline, pack.id)
    result = model_episodes.report(rows, pack.id, pack.short_name, as_of)
    result["warnings"] = list(source.warnings)
    if args.format == "json":
        sys.stdout.write(json.dumps(result, indent=1) + "\n")
    elif args.format == "csv":
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(model_episodes.csv_rows(result))
        sys.stdout.write(buffer.getvalue())
    else:
        sys.stdout.write(model_episodes.table(result))
        for warning in source.warnings:
            sys.stdout.write(f"warning: {warning}\n")
    return 0
