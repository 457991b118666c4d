"""``cpoc report eom-services``: EOM's enhanced services per episode (value-and-models §15.2).

cpoc report eom-services [INPUT | --fhir-base URL [--group ID]] [--as-of YYYY-MM-DD]
    [--format table|csv|json]
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

from cpoc_fhir.errors import InputError
from cpoc_fhir.reports.options import iso_date


def add_parser(reports: Any) -> None:
    from cpoc_fhir.capture.cli import add_auth_options

    p = reports.add_parser(
        "eom-services",
        help="EOM episodes: HRSN screening and ePRO on record within each episode (§15.2)",
    )
    p.add_argument(
        "input", nargs="?", type=Path, metavar="INPUT", help="the practice's FHIR records"
    )
    p.add_argument("--fhir-base", metavar="URL", help="read the records from this FHIR server")
    p.add_argument("--group", metavar="ID", help="with --fhir-base: the Group's members only")
    p.add_argument("--as-of", type=iso_date, metavar="YYYY-MM-DD", help="default: today")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS")
    p.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="settings file")
    add_auth_options(p, "system/*.rs")
    p.set_defaults(report_run=run)


def run(args: argparse.Namespace) -> int:
    from cpoc_fhir.config import load_config, load_payer
    from cpoc_fhir.economics.server_source import open_records
    from cpoc_fhir.knowledge.loader import load_knowledge
    from cpoc_fhir.packs.eom.pack import load_data
    from cpoc_fhir.reports import eom_services
    from cpoc_fhir.service import Evaluator

    if (args.input is None) == (args.fhir_base is None):
        raise InputError("INPUT", "give the records as INPUT or --fhir-base URL (one of them)")
    if args.group is not None and args.fhir_base is None:
        raise InputError("--group", "reads a Group on a FHIR server: give --fhir-base URL too")
    config = load_config(getattr(args, "config", None))
    evaluator = Evaluator(load_knowledge(), config.rules, load_payer(None), models=config.models)
    data = load_data(config.models.data_files.get("eom"))
    as_of = args.as_of or date.today()
    rows: list[dict[str, Any]] = []
    for resources in open_records(args).patients():
        if resources.patient is None:
            continue
        record = evaluator.record(resources)
        timeline = evaluator.evaluate(record, as_of)
        rows += eom_services.episode_rows(record, timeline.episodes, data.epro_questionnaires)
    result = eom_services.report(rows, as_of.isoformat())
    if args.format == "json":
        sys.stdout.write(json.dumps(result, indent=1) + "\n")
    elif args.format == "csv":
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(eom_services.csv_rows(result))
        sys.stdout.write(buffer.getvalue())
    else:
        sys.stdout.write(eom_services.table(result))
    return 0
