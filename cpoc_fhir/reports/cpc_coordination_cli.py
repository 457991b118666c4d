"""``cpoc report cpc-coordination``: oncology patients attributed to a CPC+ practice and the
months both pay care management (value-and-models §15.3; proposal II-G)."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from cpoc_fhir.reports.options import iso_date


def add_parser(reports: Any) -> None:
    from cpoc_fhir.capture.cli_options import add_auth_options

    p = reports.add_parser(
        "cpc-coordination",
        help="oncology patients attributed to a CPC+ practice: the months both models pay "
        "care management (§15.3, proposal II-G)",
    )
    p.add_argument(
        "input",
        nargs="?",
        type=Path,
        metavar="INPUT",
        help="Bundle JSON, folder of resource JSON files, or Bulk FHIR NDJSON",
    )
    p.add_argument("--fhir-base", metavar="URL", help="read the patients from this FHIR server")
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
        "--timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="wait at most this long for each FHIR answer (default 60)",
    )
    p.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="settings file")
    add_auth_options(p, "system/*.rs")
    p.set_defaults(report_run=run)


def _patients(args: argparse.Namespace) -> Iterator[Any]:
    if args.fhir_base is None:
        from cpoc_fhir.fhir.read import open_source

        yield from open_source(args.input).patients()
        return
    from cpoc_fhir.capture.cli import fhir_client
    from cpoc_fhir.capture.server import ServerStore
    from cpoc_fhir.fhir.write import charge_item_changed

    client = fhir_client(args)
    store = ServerStore(client, "", charge_item_changed)  # reading only
    try:
        for patient_id in store.patients_with_episodes():
            yield store.patient_resources(patient_id)
    finally:
        client.close()


def run(args: argparse.Namespace) -> int:
    from cpoc_fhir.config import load_config, load_payer
    from cpoc_fhir.engine.lines import ModelSpan
    from cpoc_fhir.errors import InputError
    from cpoc_fhir.knowledge.loader import load_knowledge
    from cpoc_fhir.packs.cpcplus.attribution import of_patient, on_day
    from cpoc_fhir.packs.cpcplus.pack import bind_with
    from cpoc_fhir.reports import cpc_coordination as cc
    from cpoc_fhir.service import Evaluator

    if (args.input is None) == (args.fhir_base is None):
        raise InputError("cpoc report cpc-coordination", "give an INPUT or --fhir-base URL")
    if args.start and args.end and args.end < args.start:
        raise InputError("--to", "is before --from")
    config = load_config(getattr(args, "config", None))
    # CPOC lines are priced with the practice's payer file (``[billing] payer_file``).
    payer = load_payer(config.payer_file, config.payer_locality)
    evaluator = Evaluator(load_knowledge(), config.rules, payer, models=config.models)
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
    if args.format == "json":
        sys.stdout.write(json.dumps(result, indent=1) + "\n")
    elif args.format == "csv":
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(cc.csv_rows(result))
        sys.stdout.write(buffer.getvalue())
    else:
        sys.stdout.write(cc.table(result))
    return 0
