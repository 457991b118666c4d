"""``cpoc report cpc-coordination``: oncology patients attributed to a CPC+ practice and the
months both pay care management (value-and-models §15.3; proposal II-G)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from cpoc_fhir.reports.options import iso_date
from cpoc_fhir.reports.render import report_text
from cpoc_fhir.reports.sources import (
    TIMEOUT_HELP,
    add_record_source,
    add_server_options,
    check_record_source,
    report_evaluator,
)


def add_parser(reports: Any) -> None:
    p = reports.add_parser(
        "cpc-coordination",
        help="oncology patients attributed to a CPC+ practice: the months both models pay "
        "care management (§15.3, proposal II-G)",
    )
    add_record_source(
        p,
        "Bundle JSON, folder of resource JSON files, or Bulk FHIR NDJSON",
        "read the patients from this FHIR server",
        group=False,
    )
    p.add_argument(
        "--attribution",
        type=Path,
        required=True,
        metavar="FILE",
        help="CPC+ attribution CSV: patient, practice_id, practice_name, track, from, to, tier",
    )
    p.add_argument("--from", dest="start", type=iso_date, metavar="YYYY-MM-DD")
    p.add_argument("--to", dest="end", type=iso_date, metavar="YYYY-MM-DD")
    p.add_argument("--as-of", type=iso_date, metavar="YYYY-MM-DD", help="default: --to, else today")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument(
        "--wide", action="store_true", help="table: one line per row (default: fit 80 columns)"
    )
    add_server_options(p, TIMEOUT_HELP)
    p.set_defaults(report_run=run)


def _patients(args: argparse.Namespace) -> Iterator[Any]:
    from cpoc_fhir.economics.server_source import open_records

    # A file source, or the capture run's reader with no searches beside the record's; both
    # under the reports' progress bar (fhir.read.counted).
    source = open_records(args, queries=())
    try:
        yield from source.patients()
    finally:
        client = getattr(source, "client", None)
        if client is not None:
            client.close()


def run(args: argparse.Namespace) -> int:
    from cpoc_fhir.config import load_config
    from cpoc_fhir.engine.lines import ModelSpan
    from cpoc_fhir.errors import InputError
    from cpoc_fhir.packs.cpcplus.attribution import of_patient, on_day
    from cpoc_fhir.packs.cpcplus.pack import bind_with
    from cpoc_fhir.reports import cpc_coordination as cc

    check_record_source(args, "cpoc report cpc-coordination", "give an INPUT or --fhir-base URL")
    if args.start and args.end and args.end < args.start:
        raise InputError("--to", "is before --from")
    config = load_config(getattr(args, "config", None))
    # CPOC lines are priced with the practice's payer file (``[billing] payer_file``).
    evaluator = report_evaluator(config)
    evaluation = evaluator.model_evaluation
    pack = evaluation.pack(cc.CMF_PACK)
    data_file = evaluation.settings.data_files.get(cc.CMF_PACK) or pack.default_data_file
    cpcplus = bind_with(
        dataclasses.replace(evaluation.environment, data_file=data_file), args.attribution
    )
    # CPC+ pays the primary care practice whichever oncology model holds the patient: its
    # months are not limited to days the payer selection gives it.
    always = (ModelSpan(cc.CMF_PACK, None, None, "CPC+ attribution file"),)
    as_of = args.as_of or args.end or date.today()
    patients: list[dict[str, Any]] = []
    months: list[dict[str, Any]] = []
    for resources in _patients(args):
        if resources.patient is None:
            continue
        record = evaluator.record(resources)
        rows = of_patient(record, cpcplus.attributions)
        if not rows:
            continue
        oncology = cc.oncology_lines(evaluator.evaluate(record, as_of).lines)
        cmf = []
        for line in cpcplus.evaluate(record, as_of, always).lines:
            row = on_day(rows, line.start)
            if row is not None:
                cmf.append((line, cc.Practice(row.practice_id, row.practice_name, row.track)))
        summary, overlap = cc.patient_rows(record.patient_ref, oncology, cmf, args.start, args.end)
        if summary is not None:
            patients.append(summary)
            months += overlap
    result = cc.report(patients, months, as_of, args.start, args.end)
    from cpoc_fhir.terminal import line_width

    width = line_width(getattr(args, "wide", False))
    sys.stdout.write(report_text(result, args.format, cc.csv_rows, lambda r: cc.table(r, width)))
    return 0
