"""``cpoc report …``: adherence, value, benchmarks — the options and the wiring, nothing more."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from cpoc_fhir.economics import corridors_cli, enhanced_care_cli

# The option values live in reports.options, where the report modules take them from; the
# underscored names stay importable from here for modules written against them.
from cpoc_fhir.reports.options import iso_date, zone
from cpoc_fhir.reports.options import percentile as _percentile
from cpoc_fhir.reports.options import positive as _positive
from cpoc_fhir.reports.options import year as _year
from cpoc_fhir.reports.sources import TIMEOUT_HELP, add_record_source, add_server_options

ADHERENCE_PHASES = ("1", "2", "both")
ADHERENCE_FORMATS = ("table", "json", "csv")
VALUE_FORMATS = ("table", "json", "html")
DEFAULT_PERCENTILE = 75
# = cpoc_fhir.store.DEFAULT_URL (tested): the store package imports SQLAlchemy, which
# `cpoc report … --help` must not (issue 17 item 6).
DEFAULT_URL = "sqlite:///cpoc-ledger.sqlite"


def add_parser(sub: Any) -> None:
    """``cpoc report`` and its subcommands (``sub``: the top-level subparsers)."""
    report = sub.add_parser(
        "report", help="reports: pathway adherence, the value report, benchmarks"
    )
    reports = report.add_subparsers(dest="report", required=True)
    _adherence(reports)
    _value(reports)
    _benchmarks(reports)
    from cpoc_fhir.economics import episodes_cli, savings_cli

    savings_cli.add_parser(reports)
    episodes_cli.add_parser(reports)
    corridors_cli.add_parser(reports)
    enhanced_care_cli.add_parser(reports)
    from cpoc_fhir.reports import cpc_coordination_cli, eom_services_cli, model_episodes_cli

    eom_services_cli.add_parser(reports)
    model_episodes_cli.add_parser(reports)
    cpc_coordination_cli.add_parser(reports)
    from cpoc_fhir.reports import pbp_cli

    pbp_cli.add_parser(reports)
    from cpoc_fhir.reports import revenue_cli

    revenue_cli.add_parser(reports)


def _store_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--store",
        metavar="URL",
        help=f"store (SQLAlchemy URL; env CPOC_STORE_URL; default {DEFAULT_URL})",
    )


def _tz_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tz",
        metavar="ZONE",
        help="time zone of the dates (IANA name, e.g. America/New_York; default CPOC_TIMEZONE, "
        "the practice zone the CDS service uses, else this host's)",
    )


def _adherence(reports: Any) -> None:
    p = reports.add_parser(
        "adherence",
        help="care pathway adherence per pathway and overall, rated per proposal IV-A",
    )
    p.add_argument("--from", dest="start", type=iso_date, required=True, metavar="YYYY-MM-DD")
    p.add_argument("--to", dest="end", type=iso_date, required=True, metavar="YYYY-MM-DD")
    p.add_argument(
        "--benchmarks",
        type=Path,
        metavar="FILE",
        help="prior-year mean, sd, minimum_expected (TOML or JSON, fractions 0-1)",
    )
    p.add_argument("--format", choices=ADHERENCE_FORMATS, default="table")
    p.add_argument(
        "--deviations",
        type=Path,
        metavar="OUT",
        help="off-pathway orders: OUT.csv (with Patient ids) or OUT.json (de-identified FHIR "
        "Bundle of GuidanceResponses)",
    )
    p.add_argument("--phase", choices=ADHERENCE_PHASES, default="both")
    p.add_argument(
        "--wide", action="store_true", help="table: one line a row (default: fit 80 columns)"
    )
    _tz_option(p)
    _store_option(p)


def _value(reports: Any) -> None:
    p = reports.add_parser(
        "value",
        help="the value measures of a performance year (pathways, quality, emergency visits), "
        "their ratings and the adjustment (value-and-models §12)",
    )
    add_record_source(
        p,
        "Bundle JSON, folder of resource JSON files, or Bulk FHIR NDJSON",
        "read the patients from this FHIR server",
        group=False,
    )
    p.add_argument("--year", type=_year, required=True, metavar="YYYY", help="the performance year")
    p.add_argument(
        "--as-of",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="the record as known on this date (default: the year's last day)",
    )
    p.add_argument(
        "--benchmarks",
        type=Path,
        metavar="FILE",
        help="prior-year benchmarks (without: measures only, nothing rated)",
    )
    p.add_argument(
        "--participation-year",
        type=_positive,
        default=1,
        metavar="N",
        help="the practice's year in CPOC (1…7, later years as 7; default 1)",
    )
    p.add_argument(
        "--phase",
        metavar="pathways=1,quality=2,er=1",
        help="the phase of each measure (default 1 each)",
    )
    p.add_argument(
        "--medical-home",
        action="store_true",
        help="the practice is an accredited oncology medical home (ER phase 1)",
    )
    p.add_argument(
        "--prior",
        type=Path,
        metavar="FILE",
        help="last year's value report JSON (its ER rate, §12.3)",
    )
    p.add_argument(
        "--location",
        metavar="ID",
        help="the practice Location (default: the only Location in the input)",
    )
    p.add_argument("--format", choices=VALUE_FORMATS, default="table")
    p.add_argument(
        "--wide", action="store_true", help="table: titles uncut (default: fit 80 columns)"
    )
    p.add_argument("--out", type=Path, metavar="FILE", help="write the report here, not stdout")
    p.add_argument(
        "--payer",
        type=Path,
        metavar="FILE",
        help="the payer file (default: the settings' billing.payer_file)",
    )
    p.add_argument(
        "--write-payer",
        type=Path,
        metavar="NEW_FILE",
        help="write a new payer file version with the adjustment for the next year (§12.4)",
    )
    p.add_argument(
        "--accept-illustrative",
        action="store_true",
        help="--write-payer even when the benchmarks are illustrative (an example file)",
    )
    p.add_argument(
        "--measure-reports",
        type=Path,
        metavar="DIR",
        help="write one FHIR MeasureReport per measure into DIR",
    )
    p.add_argument(
        "--individual",
        action="store_true",
        help="with --measure-reports/--submit: individual MeasureReports too",
    )
    p.add_argument("--submit", metavar="URL", help="POST the MeasureReports to this FHIR base")
    add_server_options(p, TIMEOUT_HELP)
    _tz_option(p)
    _store_option(p)


def _benchmarks(reports: Any) -> None:
    p = reports.add_parser(
        "benchmarks",
        help="the benchmarks file of the next year from practices' value reports",
    )
    p.add_argument(
        "reports",
        nargs="+",
        type=Path,
        metavar="VALUE_JSON",
        help="value reports (cpoc report value --format json) of the practices",
    )
    p.add_argument(
        "--year",
        type=_year,
        metavar="YYYY",
        help="only the reports of this performance year (default: all, one year)",
    )
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="FILE",
        help="the benchmarks file to write (TOML)",
    )
    p.add_argument(
        "--factors",
        type=Path,
        metavar="FILE",
        help="a benchmarks file whose ER factors and distance bands are carried over "
        "(the previous year's)",
    )
    p.add_argument(
        "--minimum-percentile",
        type=_percentile,
        default=DEFAULT_PERCENTILE,
        metavar="P",
        help="pathway minimum expected level: the P-th percentile of "
        f"the practices' pooled rates (default {DEFAULT_PERCENTILE})",
    )
    p.add_argument("--source", metavar="TEXT", help="where the figures come from (header)")
    p.add_argument(
        "--illustrative",
        action="store_true",
        help="mark the file illustrative (figures not from real practices)",
    )


def run(args: argparse.Namespace) -> int:
    if hasattr(args, "report_run"):  # a subcommand whose module runs itself
        return int(args.report_run(args))
    if args.report == "adherence":
        from cpoc_fhir.reports import adherence_output

        tz, tz_name = zone(args.tz or os.environ.get("CPOC_TIMEZONE"))
        return adherence_output.run(args, tz, tz_name)
    if args.report == "value":
        from cpoc_fhir.reports import value_cli

        tz, _name = zone(args.tz or os.environ.get("CPOC_TIMEZONE"))
        return value_cli.run(args, tz)
    if args.report == "corridors":
        return corridors_cli.run(args)
    if args.report == "enhanced-care":
        return enhanced_care_cli.run(args)
    from cpoc_fhir.reports import benchmarks_cli

    return benchmarks_cli.run(args)
