"""``cpoc report corridors``: Option 2, risk corridors, per quarter and payer (§14.4).

    cpoc report corridors --year YYYY [INPUT | --fhir-base URL [--group ID]] [--ffs CHARGES]
        [--baseline BASELINE_CHARGES --baseline-year Y0] [--fee-schedule FILE] [--payer FILE]
        [--corridors FILE] [--participation-year N] [--format table|json|html] [--out FILE]
        [--charge-items DIR]

Exit codes as for every command: 0; 2 bad usage or input (a file named with the problem).
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path
from typing import Any

from cpoc_fhir.economics.output import write_report
from cpoc_fhir.errors import InputError
from cpoc_fhir.reports.options import positive, year
from cpoc_fhir.reports.sources import (
    add_record_source,
    add_server_options,
    check_record_source,
    report_evaluator,
)

FORMATS = ("table", "json", "html")


def add_parser(reports: Any) -> None:
    p = reports.add_parser(
        "corridors",
        help="Option 2, risk corridors: CPOC payments against what FFS would have paid, per "
        "quarter and payer, and the supplement or recovery (value-and-models §14.4)",
    )
    add_record_source(p, "the practice's records", "read records and charges from this server")
    p.add_argument("--year", type=year, required=True, metavar="YYYY", help="the corridor year")
    p.add_argument(
        "--ffs",
        type=Path,
        metavar="CHARGES",
        help="the year's FFS charges recorded in parallel (default: in INPUT or the server)",
    )
    p.add_argument(
        "--baseline",
        type=Path,
        metavar="BASELINE_CHARGES",
        help="the baseline year's FFS charges (default: in INPUT or the server)",
    )
    p.add_argument("--baseline-year", type=year, metavar="Y0", help="the baseline year")
    p.add_argument("--fee-schedule", type=Path, metavar="FILE", help="prices items with none")
    p.add_argument("--payer", type=Path, metavar="FILE", help="prices P (default: the settings')")
    p.add_argument("--corridors", type=Path, metavar="FILE", help="corridor per participation year")
    p.add_argument("--participation-year", type=positive, default=1, metavar="N", help="default 1")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--out", type=Path, metavar="FILE", help="write the report here, not stdout")
    p.add_argument(
        "--wide", action="store_true", help="table: one line a row (default: fit 80 columns)"
    )
    p.add_argument(
        "--charge-items",
        type=Path,
        metavar="DIR",
        help="write a ChargeItem per supplement and a PaymentReconciliation per recovery",
    )
    add_server_options(p)


def run(args: argparse.Namespace, today: date | None = None) -> int:
    from cpoc_fhir.config import load_config, load_payer
    from cpoc_fhir.economics.corridor_rates import load_corridors
    from cpoc_fhir.economics.corridors_fhir import write_settlements
    from cpoc_fhir.economics.corridors_run import CorridorOptions, run_corridors
    from cpoc_fhir.economics.fee_schedule import load_fee_schedule
    from cpoc_fhir.economics.server_source import open_records
    from cpoc_fhir.fhir.read import open_source

    check_record_source(args)
    if (args.baseline is not None) and args.baseline_year is None:
        raise InputError("--baseline", "needs --baseline-year Y0")
    if args.baseline_year is not None and args.baseline_year >= args.year:
        raise InputError("--baseline-year", f"{args.baseline_year} is not before --year")
    config = load_config(args.config)
    locality = config.payer_locality
    evaluator = report_evaluator(config)
    payer = load_payer(args.payer or config.payer_file, locality)
    options = CorridorOptions(
        year=args.year,
        participation_year=args.participation_year,
        corridors=load_corridors(args.corridors),
        payer=payer,
        fee_schedule=None if args.fee_schedule is None else load_fee_schedule(args.fee_schedule),
        baseline_year=args.baseline_year,
    )
    records = open_records(args)
    ffs = None if args.ffs is None else _other(args.ffs, args.input, open_source)
    baseline = None if args.baseline is None else _other(args.baseline, args.input, open_source)
    result = run_corridors(evaluator, records, options, ffs, baseline)
    data = result.as_json()
    if args.charge_items is not None:
        patients = {(q.payer, q.quarter): q.patients for q in result.quarters}
        written = write_settlements(
            data, patients, config.publish, args.charge_items, today or date.today()
        )
        data["settlementFiles"] = [p.name for p in written]
    text = _render(data, args.format, getattr(args, "wide", False))
    write_report(args.out, text)
    return 0


def _other(path: Path, records: Path | None, open_source: Any) -> Any:
    """The source at ``path``; None when it is the records themselves (read once)."""
    if records is not None and path.resolve() == records.resolve():
        return None
    return open_source(path)


def _render(data: dict[str, Any], fmt: str, wide: bool = False) -> str:
    if fmt == "json":
        return json.dumps(data, indent=1) + "\n"
    if fmt == "html":
        from cpoc_fhir.economics.corridors_html import corridors_html

        return corridors_html(data)
    from cpoc_fhir.economics.corridors_table import corridors_table
    from cpoc_fhir.terminal import line_width

    return corridors_table(data, line_width(wide)) + "\n"
