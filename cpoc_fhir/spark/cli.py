"""``cpoc timeline --engine spark`` and ``cpoc capture --engine spark``: wiring only.

Settings are loaded on the driver as for the local engine (the ``[models]`` settings choose
each patient's pack, value-and-models §15), shipped to the executors, and the job writes its
results under ``--out``: Parquet lines (``schema``) or ChargeItem NDJSON. The writing is
Spark's work, not a driver loop: its progress is Spark's stage bar, on by the bar policy
(``session.console_progress``: a terminal and no ``--no-progress``).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cpoc_fhir.errors import InputError
from cpoc_fhir.spark.session import console_progress, local_path, parse_conf, running_session

if TYPE_CHECKING:
    pass

EXIT_OK, EXIT_PARTIAL, EXIT_CONFLICTS = 0, 3, 5


def run_timeline(args: argparse.Namespace) -> int:
    from cpoc_fhir.config import load_config, load_payer
    from cpoc_fhir.packs.registry import load_pack
    from cpoc_fhir.spark import job
    from cpoc_fhir.spark.partition import EvaluatorSpec

    if args.input is None:
        raise InputError("--engine spark", "needs the INPUT (Bulk NDJSON file, folder or URI)")
    if args.out is None:
        raise InputError("--engine spark", "needs --out DIR (where the Parquet lines go)")
    conf = parse_conf(args.spark_conf)
    config = load_config(args.config)
    payer = load_payer(args.payer or config.payer_file, config.payer_locality)
    if args.model:
        load_pack(args.model, config.models)
    spec = EvaluatorSpec(config.rules, payer, config.models, forced_model=args.model)
    as_of = args.as_of or date.today()
    console = console_progress(args.no_progress)
    with running_session(args.master, conf, console) as spark:
        result = job.run_timelines(spark, args.input, args.out, spec, as_of, args.patient)
    out = sys.stdout
    out.write(
        f"{result.patients} patients, {result.lines} lines as of {as_of.isoformat()}\n"
        f"lines    → {result.lines_path}\npatients → {result.patients_path}\n"
    )
    for warning in result.warnings:
        out.write(f"warning: {warning}\n")
    if payer.illustrative:
        out.write(f"Amounts use the payer file {payer.id!r}: illustrative only.\n")
    return EXIT_OK


def run_capture(args: argparse.Namespace) -> int:
    from cpoc_fhir.capture.catchup import month_option, window
    from cpoc_fhir.capture.ffs import write_conflicts_csv
    from cpoc_fhir.capture.report import summary_table
    from cpoc_fhir.capture.warning_list import check_warnings_path, write_warnings
    from cpoc_fhir.config import load_config, load_payer
    from cpoc_fhir.spark import job
    from cpoc_fhir.spark.partition import CaptureJob, EvaluatorSpec

    if args.fhir_base:  # the exactly-once server writer in every partition
        from cpoc_fhir.spark.server_cli import run_server_capture

        return run_server_capture(args)
    if args.ndjson is None:
        raise InputError("--engine spark", "needs --ndjson INPUT (or --fhir-base URL)")
    if args.out is None:
        raise InputError("--engine spark", "needs --out DIR (where ChargeItem/ is written)")
    month = month_option("--month", args.month)
    assert month is not None
    months = window(month, month_option("--since", args.since), None, args.max_catch_up)
    check_warnings_path(args.warnings)
    conf = parse_conf(args.spark_conf)
    config = load_config(args.config)
    payer = load_payer(args.payer or config.payer_file, config.payer_locality)
    entered = datetime.now(UTC).replace(microsecond=0)
    as_of = args.as_of or min(month.last, entered.date())
    spec = EvaluatorSpec(config.rules, payer, config.models)
    capture = CaptureJob(job.pack_spec(spec), config.publish, months, as_of, entered, args.dry_run)
    with running_session(args.master, conf, console_progress(args.no_progress)) as spark:
        result = job.run_capture(
            spark, args.ndjson, args.out, capture, args.patient, getattr(args, "existing", None)
        )
    summary = result.summary
    summary.catch_up = months.why
    default_conflicts = (local_path(args.out) or Path(".")) / f"ffs-conflicts-{month}.csv"
    conflicts_path = args.conflicts or default_conflicts
    write_conflicts_csv(conflicts_path, summary.conflicts)
    if args.warnings is not None:
        write_warnings(args.warnings, summary.warning_list)
    billed = f"{months.first} … {month}" if months.months > 1 else str(month)
    master = args.master or "(default master)"
    title = f"CPOC capture {billed} as of {as_of.isoformat()} — Spark {master}" + (
        " (dry run: nothing written)" if args.dry_run else ""
    )
    mode = (
        f"NDJSON for Bulk $import under {result.items_path} ({len(result.files)} files)"
        if result.items_path
        else None
    )
    warnings_path = str(args.warnings) if args.warnings is not None else None
    print(summary_table(summary, title, str(conflicts_path), warnings_path, mode))
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if summary.errors:
        return EXIT_PARTIAL
    return EXIT_CONFLICTS if summary.review_conflicts else EXIT_OK
