"""``cpoc model``: CPOC against fee-for-service for a practice's patients (§14.1, §14.2).

    cpoc model [INPUT | --fhir-base URL [--group ID]] [--ffs CHARGES] [--fee-schedule FILE]
               --from YYYY-MM-DD --to YYYY-MM-DD [--payer FILE] [--margin P]
               [--relative-values FILE] [--reduction P] [--format table|json|html]

Without ``--ffs`` the charges are read with the records (the same files, or the server's
ChargeItems, Claims and ExplanationOfBenefits: ``economics.server_source``).

Exit codes as for every command: 0; 2 bad usage or input (a file named with the problem).
"""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from cpoc_fhir.economics.payer_side import DEFAULT_REDUCTION
from cpoc_fhir.errors import InputError
from cpoc_fhir.progress import add_no_progress
from cpoc_fhir.reports.options import iso_date

# What a run needs is imported in run(): `cpoc model --help` builds the parser alone (issue 17
# item 6).


def add_parser(sub: Any) -> None:
    model = sub.add_parser(
        "model", help="CPOC against fee-for-service: neutral base, variance, payer's side"
    )
    from cpoc_fhir.capture.cli_options import add_auth_options

    model.add_argument(
        "input",
        nargs="?",
        type=Path,
        help="the practice's FHIR records (Bundle, folder, NDJSON)",
    )
    model.add_argument("--fhir-base", metavar="URL", help="read records and charges from a server")
    model.add_argument("--group", metavar="ID", help="with --fhir-base: the Group's members only")
    model.add_argument(
        "--ffs",
        type=Path,
        metavar="CHARGES",
        help="FFS charges: ChargeItem, Claim, ExplanationOfBenefit (Bundle, folder, NDJSON; "
        "default: with the records)",
    )
    model.add_argument("--fee-schedule", type=Path, metavar="FILE", help="prices items with none")
    model.add_argument(
        "--from",
        dest="start",
        type=iso_date,
        required=True,
        metavar="YYYY-MM-DD",
        help="first day: charges served and CPOC billing months starting from this day",
    )
    model.add_argument(
        "--to",
        dest="end",
        type=iso_date,
        required=True,
        metavar="YYYY-MM-DD",
        help="last day (inclusive); the timeline is evaluated as of this day",
    )
    model.add_argument("--payer", type=Path, metavar="FILE", help="CPOC revenue under this file")
    model.add_argument(
        "--margin", type=_rate, metavar="P", help="target margin over FFS: 5%% or 0.05"
    )
    model.add_argument(
        "--relative-values", type=Path, metavar="FILE", help="relative values to try (codes table)"
    )
    model.add_argument(
        "--reduction",
        type=_rate,
        default=DEFAULT_REDUCTION,
        metavar="P",
        help="assumed reduction of other spending under CPOC (default 3%%)",
    )
    model.add_argument("--format", choices=("table", "json", "html"), default="table")
    model.add_argument(
        "--wide", action="store_true", help="table: a line each (default: fit 80 columns)"
    )
    model.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS")
    add_no_progress(model)
    add_auth_options(model, "system/*.rs")


def run(args: argparse.Namespace) -> int:
    from cpoc_fhir.config import load_config, load_payer
    from cpoc_fhir.economics.fee_schedule import load_fee_schedule
    from cpoc_fhir.economics.model import ModelOptions
    from cpoc_fhir.economics.relative_values import RelativeValues, load_relative_values
    from cpoc_fhir.economics.run import run_model
    from cpoc_fhir.economics.server_source import open_records
    from cpoc_fhir.economics.table import model_table
    from cpoc_fhir.fhir.read import open_source
    from cpoc_fhir.knowledge.loader import load_knowledge
    from cpoc_fhir.reports.sources import check_record_source
    from cpoc_fhir.service import Evaluator

    check_record_source(args)
    if args.start > args.end:
        raise InputError("--from", f"{args.start} is after --to {args.end}")
    config = load_config(args.config)
    locality = config.payer_locality
    evaluator = Evaluator(
        load_knowledge(),
        config.rules,
        load_payer(config.payer_file, locality),
        models=config.models,
    )
    payer = None if args.payer is None else load_payer(args.payer, locality)
    options = ModelOptions(
        start=args.start,
        end=args.end,
        relative_values=RelativeValues()
        if args.relative_values is None
        else load_relative_values(args.relative_values),
        margin=args.margin,
        payer=payer,
        reduction=args.reduction,
    )
    schedule = None if args.fee_schedule is None else load_fee_schedule(args.fee_schedule)
    records = open_records(args)
    same = args.ffs is None or (
        args.input is not None and args.ffs.resolve() == args.input.resolve()
    )
    ffs = None if same else open_source(args.ffs)
    result = run_model(evaluator, records, options, schedule, ffs)
    data = result.as_json()
    if args.format == "json":
        sys.stdout.write(json.dumps(data, indent=1) + "\n")
    elif args.format == "html":
        from cpoc_fhir.economics.html import model_html  # the page kit loads Jinja2, vl-convert

        sys.stdout.write(model_html(data))
    else:
        from cpoc_fhir.terminal import line_width

        sys.stdout.write(model_table(data, line_width(getattr(args, "wide", False))) + "\n")
    return 0


def _rate(text: str) -> Decimal:
    """ "5%" → 0.05; "0.05" → 0.05; between -100 % and +100 % (exclusive)."""
    raw = text.strip()
    try:
        value = Decimal(raw[:-1]) / 100 if raw.endswith("%") else Decimal(raw)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a rate (5% or 0.05): {text!r}") from None
    if not value.is_finite() or not Decimal(-1) < value < Decimal(1):
        raise argparse.ArgumentTypeError(f"a rate between -100% and 100%, got {text!r}")
    return value
