"""``cpoc report savings``: shared savings of a year (value-and-models §13.2).

cpoc report savings --year YYYY INPUT --claims CLAIMS
    [--expected FILE | --baseline BASELINE --baseline-year Y0 [--benchmarks FILE]]
    [--prices FILE] [--settings FILE] [--location ID] [--as-of YYYY-MM-DD]
    [--format table|json|html] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path
from typing import Any

from cpoc_fhir.economics.output import write_report
from cpoc_fhir.errors import InputError
from cpoc_fhir.progress import add_no_progress
from cpoc_fhir.reports.options import iso_date, year
from cpoc_fhir.terminal import WIDTH, fit_lines, line_width

FORMATS = ("table", "json", "html")


def add_parser(reports: Any) -> None:

    p = reports.add_parser(
        "savings",
        help="shared savings: expected against actual spending by service category (§13.2)",
    )
    p.add_argument("input", type=Path, metavar="INPUT", help="the practice's FHIR records")
    p.add_argument("--year", type=year, required=True, metavar="YYYY", help="the savings year")
    p.add_argument(
        "--claims",
        type=Path,
        required=True,
        metavar="CLAIMS",
        help="the year's claims: ExplanationOfBenefit / Claim (may be INPUT itself)",
    )
    p.add_argument("--expected", type=Path, metavar="FILE", help="the payer's expected spending")
    p.add_argument(
        "--baseline",
        type=Path,
        metavar="BASELINE",
        help="the baseline year's records and claims (may be INPUT when it holds both years)",
    )
    p.add_argument("--baseline-year", type=year, metavar="Y0", help="the baseline year")
    p.add_argument(
        "--benchmarks",
        type=Path,
        metavar="FILE",
        help="benchmarks file whose ER factors risk-adjust the baseline (§12.3)",
    )
    p.add_argument(
        "--prices", type=Path, metavar="FILE", help="standardised prices (fee-schedule format)"
    )
    p.add_argument("--settings", type=Path, metavar="FILE", help="the arrangement: MSR, share …")
    p.add_argument("--location", metavar="ID", help="the practice Location (distance band)")
    p.add_argument(
        "--as-of", type=iso_date, metavar="YYYY-MM-DD", help="default: the year's last day"
    )
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--out", type=Path, metavar="FILE", help="write the report here, not stdout")
    p.add_argument("--wide", action="store_true", help="table: nothing wrapped (default: 80)")
    p.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="settings file")
    add_no_progress(p)
    p.set_defaults(report_run=run)


def run(args: argparse.Namespace) -> int:
    # Imported here: every ``cpoc`` command builds this parser, few run it.
    from cpoc_fhir.config import load_config, load_payer
    from cpoc_fhir.economics.fee_schedule import load_fee_schedule
    from cpoc_fhir.economics.savings import savings_report
    from cpoc_fhir.economics.savings_inputs import load_expected, load_settings
    from cpoc_fhir.economics.savings_spend import SpendInputs, year_spend
    from cpoc_fhir.fhir.read import open_source
    from cpoc_fhir.fhir.read.counted import counted
    from cpoc_fhir.knowledge.loader import load_knowledge
    from cpoc_fhir.reports.benchmarks import load_benchmarks
    from cpoc_fhir.service import Evaluator

    if (args.expected is None) == (args.baseline is None):
        raise InputError("cpoc report savings", "give --expected FILE or --baseline BASELINE")
    if args.baseline is not None and args.baseline_year is None:
        raise InputError("--baseline", "needs --baseline-year Y0")
    if args.baseline_year is not None and args.baseline_year >= args.year:
        raise InputError("--baseline-year", f"{args.baseline_year} is not before {args.year}")
    if args.benchmarks is not None and args.baseline is None:
        raise InputError("--benchmarks", "risk-adjusts a --baseline; the payer's figure is final")
    settings = load_settings(args.settings)
    config = load_config(getattr(args, "config", None))
    payer = load_payer(config.payer_file, config.payer_locality)
    evaluator = Evaluator(load_knowledge(), config.rules, payer, models=config.models)
    expected = None if args.expected is None else load_expected(args.expected, settings, args.year)
    benchmarks = None if args.benchmarks is None else load_benchmarks(args.benchmarks).er
    prices = None if args.prices is None else load_fee_schedule(args.prices)
    records = counted(open_source(args.input), args)
    # The distance band only matters when the baseline is risk-adjusted (§12.3).
    position, location_warnings = (None, []) if benchmarks is None else _position(records, args)
    inputs = SpendInputs(evaluator, config.value, settings.categories, benchmarks, prices, position)
    claims = None if args.claims.resolve() == args.input.resolve() else open_source(args.claims)
    as_of = args.as_of or date(args.year, 12, 31)
    current = year_spend(inputs, records, claims, args.year, as_of)
    current.warnings[:0] = location_warnings
    baseline = None
    if args.baseline is not None:
        same = args.baseline.resolve() == args.input.resolve()
        source = records if same else open_source(args.baseline)
        baseline = year_spend(inputs, source, None, args.baseline_year)
    pricing = {
        "basis": "standardised" if prices is not None else "paid",
        "priceTable": None if prices is None else prices.header(),
    }
    report = savings_report(settings, current, payer=expected, baseline=baseline, pricing=pricing)
    _write(args, report)
    return 0


def _position(records: Any, args: argparse.Namespace) -> tuple[Any, list[str]]:
    # The practice Location as the value report finds it (§12.3's distance band).
    from cpoc_fhir.reports.value_cli import practice_location

    warnings: list[str] = []
    locations = {k: v for k, v in records.shared.items() if k.startswith("Location/")}
    _key, position = practice_location(args.location, locations, str(args.input), warnings)
    return position, warnings


def _write(args: argparse.Namespace, report: dict[str, Any]) -> None:
    if args.format == "json":
        text = json.dumps(report, indent=1) + "\n"
    elif args.format == "html":
        from cpoc_fhir.economics.savings_html import savings_html

        text = savings_html(report)
    else:
        text = savings_table(report, line_width(getattr(args, "wide", False))) + "\n"
    write_report(args.out, text)


def savings_table(report: dict[str, Any], width: int | None = WIDTH) -> str:
    """The report for people; lines longer than ``width`` (80; None: ``--wide``) wrapped
    between words (issue 17 item 6)."""
    """The report for people: one row per category, then the outcome (≤ 100 columns)."""
    head = f"Shared savings {report['year']} (value-and-models §13.2)"
    if report["method"] == "payer":
        how = f"expected: the payer's figure ({report['expectedSource']['source']})"
    else:
        adjusted = "risk-adjusted" if report["riskAdjusted"] else "NOT risk-adjusted"
        how = f"expected: baseline {report['baselineYear']} × exposure ({adjusted})"
    pricing = report["pricing"]
    priced = (
        "as paid"
        if pricing["basis"] == "paid"
        else (f"standardised prices of {pricing['priceTable']['id']}")
    )
    lines = [head, how, f"actual: claims priced {priced}", ""]
    lines.append(f"{'category':<22}{'expected':>16}{'actual':>16}{'savings':>16}  note")
    for row in report["categories"]:
        note = "" if row["included"] else f"excluded: {row['excludedBecause']}"
        lines.append(
            f"{row['label'][:21]:<22}{_m(row['expected']):>16}{_m(row['actual']):>16}"
            f"{_m(row['savings']):>16}  {note}"[:100]
        )
    lines.append(
        f"{'included total':<22}{_m(report['expected']):>16}{_m(report['actual']):>16}"
        f"{_m(report['savings']):>16}"
    )
    exposure = report["exposure"]["year"]
    lines += [
        "",
        f"patient-months {exposure['patientMonths']}, risk index {exposure['riskIndex'] or '—'}",
        f"savings rate {report['savingsRate'] or '—'}; minimum {report['minimumSavingsRate']}; "
        f"share {report['share']}",
        f"payment to the practice: {report['payment']}",
        f"  {report['paymentReason']}",
        f"uncategorised: {report['uncategorised']['items']} item(s), "
        f"{report['uncategorised']['amount']}; outside CPOC months: "
        f"{report['outsideMonths']['items']} item(s), {report['outsideMonths']['amount']}",
    ]
    lines += [f"warning: {w}" for w in report["warnings"]]
    return "\n".join(fit_lines(lines, width))


def _m(value: str | None) -> str:
    return "—" if value is None else value
