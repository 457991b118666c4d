"""The ``cpoc`` command line. Thin: parse, load settings, call the service, print.

Exit codes: 0 success; 2 bad usage, unusable input or settings, or an environment that cannot
run the command (a port in use, sekmet missing) — one line on stderr naming the file, setting
or port and the problem; 1 an unexpected internal error; ``capture`` adds 3 (some writes
failed; run it again to resume), 4 (another run for the same server and month is in progress)
and 5 (done, but review conflicts are left for billing staff); ``regimens --check`` exits 1
when the catalog has findings.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from cpoc_fhir import __version__
from cpoc_fhir.bundled import bundled_examples
from cpoc_fhir.errors import CpocError, InputError

if TYPE_CHECKING:
    from cpoc_fhir.engine.lines import PatientTimeline
    from cpoc_fhir.packs.cpoc.payer import PayerSchedule
    from cpoc_fhir.progress import Bar

# Only the standard library and the light modules above at import time: `cpoc
# --version` and `cpoc --help` build the top-level parser alone (issue 17 item 6); each
# subcommand imports what it needs when it runs.

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT = 0, 1, 2
EXIT_CHECK_FINDINGS = 1  # `regimens --check`: the catalog has findings to review
DESCRIPTION = "ASCO CPOC billing lines from FHIR R4 records."
# The subcommands and their one-line help, in build_parser's order: what `cpoc --help` lists
# without importing them. tests/test_service_conventions.py checks it against the full parser.
COMMANDS = (
    ("timeline", "month-by-month CPOC lines per patient"),
    ("regimens", "the regimen catalog"),
    ("capture", "write the month's CPOC lines as ChargeItems"),
    (
        "fhir-resources",
        "write the CPOC CodeSystem, ChargeItemDefinitions, the value measures' Measures "
        "and each other payment model's ValueSet of codes",
    ),
    ("pathways", "the care pathways (PlanDefinitions) in use"),
    ("model", "CPOC against fee-for-service: neutral base, variance, payer's side"),
    ("report", "reports: pathway adherence, the value report, benchmarks"),
    ("vba", "the value-based adjustment for given ratings (proposal II-C.2), e.g. +1.5%%"),
    ("payer", "payer files: write the next year's adjustment"),
    ("serve", "run the CDS Hooks service (settings from CPOC_CDS_* variables)"),
    (
        "demo",
        "the CDS Hooks service on 127.0.0.1 with an embedded FHIR server loaded with the "
        "example patients, and a ready curl",
    ),
)
_TOP_LEVEL_ONLY = ("--version", "-h", "--help")
TIMELINE_FORMATS = ("table", "json", "html", "csv", "xlsx")


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


Subcommands = argparse._SubParsersAction  # argparse's type of add_subparsers()'s result


def _top_parser() -> tuple[argparse.ArgumentParser, Subcommands[argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(prog="cpoc", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"cpoc {__version__}")
    parser.add_argument("--config", type=Path, help="settings file (TOML); also CPOC_CONFIG")
    return parser, parser.add_subparsers(dest="command", required=True)


def top_level_parser() -> argparse.ArgumentParser:
    """The top-level parser with each subcommand named but none of its options: enough for
    ``--version`` and ``--help``, without importing any subcommand's module."""
    parser, sub = _top_parser()
    for name, text in COMMANDS:
        sub.add_parser(name, help=text)
    return parser


def _asks_top_level_only(argv: Sequence[str]) -> bool:
    """Whether ``argv`` asks for ``--version`` or ``--help`` before naming a subcommand."""
    rest = iter(argv)
    for arg in rest:
        if arg in _TOP_LEVEL_ONLY:
            return True
        if arg == "--config":
            next(rest, None)  # its value
        elif not arg.startswith("--config="):
            return False  # the subcommand (or something the full parser will refuse)
    return False


def build_parser() -> argparse.ArgumentParser:
    from cpoc_fhir.progress import add_no_progress  # here: not loaded for --version / --help

    parser, sub = _top_parser()

    timeline = sub.add_parser("timeline", help="month-by-month CPOC lines per patient")
    timeline.add_argument(
        "input",
        nargs="?",
        type=Path,
        help="Bundle JSON, folder of resource JSON files, or Bulk FHIR NDJSON folder/file "
        "(default: the bundled example patients)",
    )
    timeline.add_argument(
        "--patient", action="append", metavar="ID", help="only this patient (repeatable)"
    )
    timeline.add_argument(
        "--as-of",
        type=_iso_date,
        metavar="YYYY-MM-DD",
        help="evaluate the record as known on this date (default: today)",
    )
    timeline.add_argument(
        "--payer",
        type=Path,
        metavar="FILE",
        help="payer file (TOML/JSON; default: the illustrative example)",
    )
    timeline.add_argument(
        "--format",
        choices=TIMELINE_FORMATS,
        default="table",
        help="html: one page with a picture and a table per patient (redirect to a file); "
        "csv/xlsx: one row per line (--out FILE)",
    )
    timeline.add_argument(
        "--explain", action="store_true", help="table: show each line's explanation and evidence"
    )
    timeline.add_argument(
        "--wide",
        action="store_true",
        help="table: every column on one line, nothing wrapped (default: fit 80 columns)",
    )
    add_no_progress(timeline)
    timeline.add_argument(
        "--model",
        metavar="PACK",
        help="bill every patient under this payment-model pack (cpoc, ocm, eom, cpcplus, …), "
        "whatever their Coverage says: for analysis (value-and-models §15)",
    )
    # Also after the subcommand (``cpoc timeline … --config FILE``); SUPPRESS keeps one given
    # before it.
    timeline.add_argument(
        "--config", type=Path, default=argparse.SUPPRESS, help="settings file (TOML)"
    )
    timeline.add_argument(
        "--fhir-base",
        metavar="URL",
        help="read the records from this FHIR R4 server (paged searches; --bulk: $export) "
        "instead of INPUT",
    )
    timeline.add_argument(
        "--group", metavar="ID", help="with --fhir-base: the patients of this Group"
    )
    timeline.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="with --fhir-base: wait at most this long for each FHIR answer (default 60)",
    )
    from cpoc_fhir.capture.cli_options import add_auth_options
    from cpoc_fhir.fhir.bulk.cli_options import add_bulk_options

    add_bulk_options(timeline)
    add_auth_options(timeline, "system/*.rs")
    timeline.add_argument(
        "--out",
        metavar="DIR",
        help="--engine spark: where the lines are written as Parquet (DIR/lines, DIR/patients; "
        "a path or a Hadoop URI)",
    )
    from cpoc_fhir.spark.options import add_engine_options

    add_engine_options(timeline)

    regimens = sub.add_parser("regimens", help="the regimen catalog")
    regimens.add_argument("--format", choices=("table", "json"), default="table")
    regimens.add_argument(
        "--wide", action="store_true", help="table: one line a row (default: fit 80 columns)"
    )
    regimens.add_argument(
        "--check",
        action="store_true",
        help="review the catalog: figures without full citation, estimates, all-cause figures, "
        "unconfirmed RxNorm codes, missing dosing or infusion basis, shared drug sets, cover "
        "ties (exit 1 with findings)",
    )

    from cpoc_fhir.capture import cli_options as capture_options

    capture_options.add_parsers(sub)

    from cpoc_fhir.pathways import cli as pathways_cli

    pathways_cli.add_parser(sub)

    from cpoc_fhir.economics import cli as economics_cli

    economics_cli.add_parser(sub)

    from cpoc_fhir.reports import cli as reports_cli

    reports_cli.add_parser(sub)

    from cpoc_fhir import payer_cli

    payer_cli.add_vba_parser(sub)
    payer_cli.add_payer_parser(sub)

    serve = sub.add_parser(
        "serve", help="run the CDS Hooks service (settings from CPOC_CDS_* variables)"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port (default 8080)")

    demo = sub.add_parser(
        "demo",
        help="the CDS Hooks service on 127.0.0.1 with an embedded FHIR server loaded with the "
        "example patients, and a ready curl",
    )
    demo.add_argument("--port", type=int, default=8080, help="CDS service port (0: any free)")
    demo.add_argument(
        "--dir", type=Path, default=Path("cpoc-demo"), help="demo data folder (./cpoc-demo)"
    )
    demo.add_argument(
        "--today", type=_iso_date, metavar="YYYY-MM-DD", help="the demo's date (default 2025-11-10)"
    )
    demo.add_argument(
        "--once", action="store_true", help="call the order-sign once, print the cards, exit"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if _asks_top_level_only(arguments):
        top_level_parser().parse_args(arguments)  # prints the version or the help, exits
    args = build_parser().parse_args(arguments)
    try:
        if args.command == "timeline":
            return _timeline(args)
        if args.command == "regimens":
            return _regimens(args)
        from cpoc_fhir.capture import cli as capture_cli

        if args.command == "capture":
            return capture_cli.run_capture(args)
        if args.command == "fhir-resources":
            return capture_cli.run_fhir_resources(args)
        if args.command == "pathways":
            from cpoc_fhir.pathways import cli as pathways_cli

            return pathways_cli.run(args)
        if args.command == "model":
            from cpoc_fhir.economics import cli as economics_cli

            return economics_cli.run(args)
        if args.command == "report":
            from cpoc_fhir.reports import cli as reports_cli

            return reports_cli.run(args)
        if args.command == "vba":
            from cpoc_fhir import payer_cli

            return payer_cli.run_vba(args)
        if args.command == "payer":
            from cpoc_fhir import payer_cli

            return payer_cli.run_payer(args)
        import os

        from cds_hooks import demo
        from cds_hooks.logs import configure_from_environ

        if args.command in ("serve", "demo"):
            # CPOC_LOG_LEVEL / CPOC_LOG_FORMAT; default plain INFO lines on stderr.
            configure_from_environ(os.environ)
        if args.command == "serve":
            return demo.serve(args.host, args.port, sys.stdout)
        if args.command == "demo":
            today = args.today or demo.DEMO_TODAY
            return demo.run_demo(args.dir, args.port, today, args.once, sys.stdout)
    except CpocError as exc:
        print(f"cpoc: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except BrokenPipeError:  # `cpoc timeline | head`
        return EXIT_OK
    return EXIT_INTERNAL


def _timeline(args: argparse.Namespace) -> int:
    from cpoc_fhir.config import load_config, load_payer
    from cpoc_fhir.fhir.read import open_source
    from cpoc_fhir.knowledge.loader import load_knowledge
    from cpoc_fhir.packs.registry import load_pack
    from cpoc_fhir.service import Evaluator

    if args.engine == "spark":
        from cpoc_fhir.spark.cli import run_timeline

        return run_timeline(args)
    if args.out is not None and args.format not in ("csv", "xlsx"):
        raise InputError("--out", "is for --engine spark (Parquet) or --format csv|xlsx (a file)")
    config = load_config(args.config)
    payer = load_payer(args.payer or config.payer_file, config.payer_locality)
    if args.model:
        load_pack(args.model, config.models)  # an unknown pack: an error naming the known ones
    evaluator = Evaluator(
        load_knowledge(), config.rules, payer, models=config.models, forced_model=args.model
    )
    wanted = set(args.patient) if args.patient else None
    if args.fhir_base is None:
        if args.bulk or args.group or args.bulk_dir is not None or args.bulk_full:
            raise InputError("--bulk/--group", "need --fhir-base URL")
        source = open_source(args.input or bundled_examples())
        return _print_timelines(args, evaluator, source, payer, wanted)
    if args.input is not None:
        raise InputError("--fhir-base", "give INPUT or --fhir-base, not both")
    from cpoc_fhir.capture.connect import fhir_client
    from cpoc_fhir.fhir.bulk.cli_options import check_bulk_options
    from cpoc_fhir.fhir.bulk.options import records_folder

    check_bulk_options(args)
    with (
        fhir_client(args) as client,
        records_folder(client, args, args.patient, bulk=args.bulk) as records,
    ):
        source = open_source(records.folder)
        if wanted is None and records.members is not None:
            wanted = set(records.members)  # the Group's current patients
        return _print_timelines(args, evaluator, source, payer, wanted)


def _print_timelines(
    args: argparse.Namespace, evaluator: Any, source: Any, payer: Any, wanted: set[str] | None
) -> int:
    from cpoc_fhir.progress import progress

    as_of = args.as_of or date.today()
    if args.format == "html":
        from cpoc_fhir.pictures.timeline_page import timeline_html

        records = (evaluator.record(r) for r in source.patients(wanted))
        pairs = ((evaluator.evaluate(record, as_of), record) for record in records)
        page = timeline_html(pairs, as_of, payer.currency, source.warnings, payer.illustrative)
        sys.stdout.write(page)
        return EXIT_OK
    with progress(source.patient_count(wanted), "patient", args.no_progress) as bar:
        timelines = _counted(evaluator.timelines(source, as_of, wanted), bar)
        if args.format in ("csv", "xlsx"):
            return _timeline_export(args, timelines, payer.illustrative)
        return _timeline_text(args, timelines, source.warnings, as_of, wanted, payer)


def _counted(timelines: Iterator[PatientTimeline], bar: Bar) -> Iterator[PatientTimeline]:
    for timeline in timelines:
        yield timeline
        bar.update(1)


def _timeline_text(
    args: argparse.Namespace,
    timelines: Iterator[PatientTimeline],
    warnings: list[str],
    as_of: date,
    wanted: set[str] | None,
    payer: PayerSchedule,
) -> int:
    from cpoc_fhir import ascii_json
    from cpoc_fhir.render import timeline_table
    from cpoc_fhir.terminal import line_width, wrapped

    out = sys.stdout
    if args.format == "json":
        out.write('{"patients": [')
        for i, timeline in enumerate(timelines):
            # compact, with orjson: the same values in half of json.dumps' time (ascii_json.py)
            out.write(("," if i else "") + "\n" + ascii_json.dumps(timeline.as_json()))
        out.write(
            "\n], " + f'"asOf": "{as_of.isoformat()}", "warnings": ' + json.dumps(warnings) + "}\n"
        )
        return EXIT_OK
    width = line_width(args.wide)
    count = 0
    for timeline in timelines:
        out.write(("\n" if count else "") + timeline_table(timeline, args.explain, width) + "\n")
        count += 1
    if count == 0:
        out.write("no patients found" + (f" matching {sorted(wanted)}" if wanted else "") + "\n")
    for warning in warnings:
        out.write(f"warning: {warning}\n")
    if payer.illustrative:
        note = (
            f"Amounts use the payer file {payer.id!r}: illustrative only, not a real fee schedule."
        )
        out.write("\n" + "\n".join(wrapped(note, width)) + "\n")
    return EXIT_OK


def _timeline_export(
    args: argparse.Namespace, timelines: Iterator[PatientTimeline], illustrative: bool
) -> int:
    """``--format csv|xlsx``: one row per line (exports.timeline_table), to --out or stdout."""
    from cpoc_fhir.exports import timeline_table, write_csv, write_xlsx

    table = timeline_table(timelines)
    if args.format == "csv":
        if args.out is None:
            write_csv(table, sys.stdout)
        else:
            with _open_out(Path(args.out), "w") as out:
                write_csv(table, out)
    else:
        if args.out is None and sys.stdout.isatty():
            raise InputError("--format xlsx", "give --out FILE (a workbook is not for a terminal)")
        sheets = {"lines": table}
        if args.out is None:
            write_xlsx(sheets, sys.stdout.buffer)
        else:
            with _open_out(Path(args.out), "wb") as out:
                write_xlsx(sheets, out)
    if illustrative:
        print("cpoc: amounts from an illustrative payer file", file=sys.stderr)
    return EXIT_OK


def _open_out(path: Path, mode: str) -> IO[Any]:
    try:
        if "b" in mode:
            return path.open(mode)
        return path.open(mode, encoding="utf-8", newline="")
    except OSError as exc:
        raise InputError(str(path), f"cannot write: {exc.strerror or exc}") from None


def _regimens(args: argparse.Namespace) -> int:
    from cpoc_fhir.knowledge.loader import load_knowledge
    from cpoc_fhir.knowledge.regimen_check import (
        check_catalog,
        check_failed,
        check_json,
        check_text,
    )
    from cpoc_fhir.knowledge.regimen_views import catalog_json, catalog_table
    from cpoc_fhir.terminal import line_width

    catalog = load_knowledge().regimens
    if args.check:
        items = check_catalog(catalog)
        if args.format == "json":
            sys.stdout.write(json.dumps(check_json(catalog, items), indent=1) + "\n")
        else:
            sys.stdout.write(check_text(catalog, items, line_width(args.wide)))
        return EXIT_CHECK_FINDINGS if check_failed(items) else EXIT_OK
    if args.format == "json":
        sys.stdout.write(json.dumps(catalog_json(catalog), indent=1) + "\n")
    else:
        sys.stdout.write(catalog_table(catalog, line_width(args.wide)) + "\n")
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
