"""``cpoc report pbp``: an episode model's performance-based payment of one semi-annual
performance period (value-and-models §15.1 OCM, §15.2 EOM's risk arrangements).

    cpoc report pbp [INPUT | --fhir-base URL [--group ID]] [--claims CLAIMS]
        --model ocm|eom --period 2019H1 --payer-file FILE [--as-of YYYY-MM-DD] [--all-patients]
        [--format table|json|csv|html] [--out FILE]

INPUT holds the patients' records and their claims (Claim / ExplanationOfBenefit /
ChargeItem), or the claims come from CLAIMS (a Bundle, folder or Bulk export).
Exit codes as for every command: 0; 2 bad usage or input.
"""

from __future__ import annotations

import argparse
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

from cpoc_fhir.errors import InputError
from cpoc_fhir.reports.options import iso_date
from cpoc_fhir.reports.render import report_text
from cpoc_fhir.reports.sources import (
    add_record_source,
    add_server_options,
    check_record_source,
    report_evaluator,
)

FORMATS = ("table", "json", "csv", "html")
MODELS = ("ocm", "eom")
EXAMPLE_FILE = Path(__file__).resolve().parents[1] / "packs" / "pbp_data" / "pbp.example.toml"


def add_parser(reports: Any) -> None:
    p = reports.add_parser(
        "pbp",
        help="OCM / EOM performance-based payment of a semi-annual period: target price "
        "against actual spend per episode, quality multiplier, risk arrangement (§15.1, §15.2)",
    )
    add_record_source(p, "records and claims", "read records and claims from this server")
    p.add_argument(
        "--claims",
        type=Path,
        metavar="CLAIMS",
        help="the claims (ExplanationOfBenefit / Claim / ChargeItem), when not in INPUT",
    )
    p.add_argument("--model", choices=MODELS, required=True, help="the episode model")
    p.add_argument(
        "--period", required=True, metavar="YYYYH1|YYYYH2", help="episodes starting in it"
    )
    p.add_argument(
        "--payer-file",
        type=Path,
        metavar="FILE",
        help="baselines, trend, quality, arrangements "
        f"(default: the illustrative {EXAMPLE_FILE.name})",
    )
    p.add_argument("--as-of", type=iso_date, metavar="YYYY-MM-DD", help="default: today")
    p.add_argument(
        "--all-patients",
        action="store_true",
        help="evaluate every patient under --model (default: the [models] settings choose)",
    )
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--out", type=Path, metavar="FILE", help="write the report here, not stdout")
    p.add_argument(
        "--wide", action="store_true", help="table: every column (default: fit 80 columns)"
    )
    add_server_options(p)
    p.set_defaults(report_run=run)


def load_pbp_file(path: Path | None) -> Any:
    """The payer file (TOML), parsed; ``InputError`` naming the file and key."""
    from cpoc_fhir.packs.performance_data import parse

    where = path or EXAMPLE_FILE
    try:
        raw = tomllib.loads(where.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(str(where), f"cannot read the payer file: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(str(where), f"not TOML: {exc}") from None
    return parse(raw, str(where))


def run(args: argparse.Namespace) -> int:
    from cpoc_fhir.config import load_config
    from cpoc_fhir.economics.output import write_report
    from cpoc_fhir.economics.server_source import open_records
    from cpoc_fhir.fhir.read import open_source
    from cpoc_fhir.packs.performance_data import parse_period
    from cpoc_fhir.reports import pbp

    check_record_source(args)
    period = parse_period(args.period)
    payer_file = load_pbp_file(args.payer_file)
    model = payer_file.model(args.model)
    data = model.period(period.name, f"{payer_file.where}: --period")
    config = load_config(getattr(args, "config", None))
    evaluator = report_evaluator(config, args.model if args.all_patients else None)
    as_of = args.as_of or date.today()
    claims = None
    if args.claims is not None and (
        args.input is None or args.claims.resolve() != args.input.resolve()
    ):
        claims = open_source(args.claims)
    gathered = pbp.gather(evaluator, open_records(args), model, data, as_of, claims)
    result = pbp.report(payer_file, model, data, gathered, as_of)
    if args.format == "html":
        from cpoc_fhir.reports.pbp_html import pbp_html

        text = pbp_html(result)
    else:
        from cpoc_fhir.terminal import line_width

        width = line_width(getattr(args, "wide", False))
        text = report_text(result, args.format, pbp.csv_rows, lambda r: pbp.table(r, width))
    write_report(args.out, text)
    return 0
