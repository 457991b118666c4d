"""``cpoc report eom-services``: EOM's enhanced services per episode (value-and-models §15.2).

cpoc report eom-services [INPUT | --fhir-base URL [--group ID]] [--as-of YYYY-MM-DD]
    [--format table|csv|json]
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import Any

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
        "eom-services",
        help="EOM episodes: HRSN screening and ePRO on record within each episode (§15.2)",
    )
    add_record_source(p, "the practice's FHIR records", "read the records from this FHIR server")
    p.add_argument("--as-of", type=iso_date, metavar="YYYY-MM-DD", help="default: today")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    add_server_options(p)
    p.set_defaults(report_run=run)


def run(args: argparse.Namespace) -> int:
    from cpoc_fhir.config import load_config, load_payer
    from cpoc_fhir.economics.server_source import open_records
    from cpoc_fhir.packs.eom.pack import load_data
    from cpoc_fhir.reports import eom_services

    check_record_source(args)
    config = load_config(getattr(args, "config", None))
    evaluator = report_evaluator(config, payer=load_payer(None))
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
    sys.stdout.write(report_text(result, args.format, eom_services.csv_rows, eom_services.table))
    return 0
