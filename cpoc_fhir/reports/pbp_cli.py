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
import csv
import io
import json
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

from cpoc_fhir.errors import InputError
from cpoc_fhir.reports.options import iso_date

FORMATS = ("table", "json", "csv", "html")
MODELS = ("ocm", "eom")
EXAMPLE_FILE = Path(__file__).resolve().parents[1] / "packs" / "pbp_data" / "pbp.example.toml"


def add_parser(reports: Any) -> None:
    from cpoc_fhir.capture.cli_options import add_auth_options

    p = reports.add_parser(
        "pbp",
        help="OCM / EOM performance-based payment of a semi-annual period: target price "
        "against actual spend per episode, quality multiplier, risk arrangement (§15.1, §15.2)",
    )
    p.add_argument("input", nargs="?", type=Path, metavar="INPUT", help="records and claims")
    p.add_argument("--fhir-base", metavar="URL", help="read records and claims from this server")
    p.add_argument("--group", metavar="ID", help="with --fhir-base: the Group's members only")
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
    p.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS")
    p.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="settings file")
    add_auth_options(p, "system/*.rs")
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
    from cpoc_fhir.config import load_config, load_payer
    from cpoc_fhir.economics.output import write_report
    from cpoc_fhir.economics.server_source import open_records
    from cpoc_fhir.fhir.read import open_source
    from cpoc_fhir.knowledge.loader import load_knowledge
    from cpoc_fhir.packs.performance_data import parse_period
    from cpoc_fhir.reports import pbp
    from cpoc_fhir.service import Evaluator

    if (args.input is None) == (args.fhir_base is None):
        raise InputError("INPUT", "give the records as INPUT or --fhir-base URL (one of them)")
    period = parse_period(args.period)
    payer_file = load_pbp_file(args.payer_file)
    model = payer_file.model(args.model)
    data = model.period(period.name, f"{payer_file.where}: --period")
    config = load_config(getattr(args, "config", None))
    evaluator = Evaluator(
        load_knowledge(),
        config.rules,
        load_payer(config.payer_file, config.payer_locality),
        models=config.models,
        forced_model=args.model if args.all_patients else None,
    )
    as_of = args.as_of or date.today()
    claims = None
    if args.claims is not None and (
        args.input is None or args.claims.resolve() != args.input.resolve()
    ):
        claims = open_source(args.claims)
    gathered = pbp.gather(evaluator, open_records(args), model, data, as_of, claims)
    result = pbp.report(payer_file, model, data, gathered, as_of)
    if args.format == "json":
        text = json.dumps(result, indent=1) + "\n"
    elif args.format == "csv":
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(pbp.csv_rows(result))
        text = buffer.getvalue()
    elif args.format == "html":
        from cpoc_fhir.reports.pbp_html import pbp_html

        text = pbp_html(result)
    else:
        text = pbp.table(result)
    write_report(args.out, text)
    return 0
