"""``cpoc capture --engine spark --fhir-base URL [--bulk | --ndjson EXPORT]``: wiring only.

The driver checks the server, gets the records (``--bulk``: the server's ``$export`` into a
local folder, ``fhir.bulk``; else the ``--ndjson`` export the user gives, a path or Hadoop URI),
opens the run in the same ledger as ``cpoc capture --fhir-base`` (scope ``<base>|<month>``, so
Spark and local runs resume and catch up from each other), and runs ``spark.server``: the
executors write, the driver records each wave's patients in the ledger.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

from cpoc_fhir.errors import InputError
from cpoc_fhir.spark.session import parse_conf, running_session

EXIT_OK, EXIT_INPUT, EXIT_PARTIAL, EXIT_LOCKED, EXIT_CONFLICTS = 0, 2, 3, 4, 5


def run_server_capture(args: argparse.Namespace, fault: Callable[[], None] | None = None) -> int:
    """The command; ``fault``: see ``spark.server.ServerCaptureJob.fault`` (tests)."""
    from cpoc_fhir.capture.catchup import last_completed, month_option, window
    from cpoc_fhir.capture.cli_options import DEFAULT_STORE
    from cpoc_fhir.capture.connect import Connection, check_base, check_server
    from cpoc_fhir.capture.ffs import write_conflicts_csv
    from cpoc_fhir.capture.report import summary_table
    from cpoc_fhir.capture.warning_list import check_warnings_path, write_warnings
    from cpoc_fhir.config import load_config, load_payer
    from cpoc_fhir.fhir.bulk.cli_options import check_bulk_options
    from cpoc_fhir.fhir.bulk.options import notice, records_folder
    from cpoc_fhir.fhir.bulk.paged import group_members
    from cpoc_fhir.spark import job as jobs
    from cpoc_fhir.spark.partition import CaptureJob, EvaluatorSpec
    from cpoc_fhir.spark.server import ServerCaptureJob
    from cpoc_fhir.spark.server import run_server_capture as run_job
    from cpoc_fhir.store import RunInProgress, open_ledger

    bulk = getattr(args, "bulk", False)
    if bulk == (args.ndjson is not None):
        raise InputError("--engine spark --fhir-base", "give --bulk or --ndjson EXPORT (one)")
    if args.out is not None or getattr(args, "existing", None) is not None:
        raise InputError("--out/--existing", "are for the offline Spark capture (no --fhir-base)")
    if args.timeout <= 0:
        raise InputError("--timeout", f"must be more than 0 seconds, not {args.timeout}")
    check_bulk_options(args)
    check_warnings_path(args.warnings)
    check_base(args.fhir_base)
    month = month_option("--month", args.month)
    assert month is not None
    conf = parse_conf(args.spark_conf)
    config = load_config(args.config)
    payer = load_payer(args.payer or config.payer_file, config.payer_locality)
    publish = config.publish
    entered = datetime.now(UTC).replace(microsecond=0)
    as_of = args.as_of or min(month.last, entered.date())
    check_server(args.fhir_base, args.timeout)
    connection = Connection.from_args(args)
    scope = args.fhir_base
    url = args.store or os.environ.get("CPOC_STORE_URL") or DEFAULT_STORE
    with open_ledger(url) as ledger, ExitStack() as stack:
        last = last_completed(ledger.finished_runs("capture", f"{scope}|"))
        months = window(month, month_option("--since", args.since), last, args.max_catch_up)
        settings = {
            "month": str(months.last), "since": str(months.first), "as_of": as_of.isoformat(),
            "dry_run": args.dry_run, "payer": payer.id, "patients": args.patient,
            "group": args.group, "engine": "spark", "master": args.master,
            "records": "bulk" if bulk else "ndjson",
        }  # fmt: skip
        try:
            handle = ledger.start_run("capture", f"{scope}|{months.last}", str(months.last),
                                      settings)  # fmt: skip
        except RunInProgress as exc:
            print(f"cpoc: {exc}", file=sys.stderr)
            return EXIT_LOCKED
        stack.enter_context(handle)
        chosen: set[str] | None = set(args.patient) if args.patient else None
        if bulk:
            client = stack.enter_context(connection.client())
            records = stack.enter_context(records_folder(client, args, args.patient))
            location: str | Path = records.folder
            if chosen is None and records.members is not None:
                chosen = set(records.members)
        else:
            location = args.ndjson
            if chosen is None and args.group:
                with connection.client() as client:
                    chosen = set(group_members(client, args.group))
        spec = jobs.pack_spec(EvaluatorSpec(config.rules, payer, config.models))
        capture = CaptureJob(spec, publish, months, as_of, entered, args.dry_run)
        job = ServerCaptureJob(
            capture,
            connection,
            frozenset(chosen) if chosen is not None else None,
            handle.done_patients(),
            fault,
        )
        # One bar on stderr: the waves' (spark.server), so Spark's stage bar stays off.
        with running_session(args.master, conf, console=False) as spark:
            result = run_job(spark, location, job, handle.record_patients, notice, args.no_progress)
        summary = result.summary
        summary.catch_up = months.why
        handle.finish(summary.as_counts(), status="interrupted" if summary.errors else "finished")
    conflicts_path = args.conflicts or Path(f"cpoc-ffs-conflicts-{months.last}.csv")
    write_conflicts_csv(conflicts_path, summary.conflicts)
    if args.warnings is not None:
        write_warnings(args.warnings, summary.warning_list)
    resumed = f", resumed from run {handle.resumed_from}" if handle.resumed_from else ""
    billed = f"{months.first} … {months.last}" if months.months > 1 else str(months.last)
    master = args.master or "(default master)"
    title = (
        f"CPOC capture {billed} as of {as_of.isoformat()} — run {handle.run_id}{resumed}, "
        f"Spark {master}" + (" (dry run: nothing written)" if args.dry_run else "")
    )
    mode = None if args.dry_run else f"exactly-once server writer per partition → {scope}"
    warnings_path = str(args.warnings) if args.warnings is not None else None
    print(summary_table(summary, title, str(conflicts_path), warnings_path, mode))
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    skipped = {ref.split("/", 1)[1] for ref in job.done}
    missing = sorted(set(args.patient or ()) - result.seen - skipped)
    if missing:
        names = ", ".join(f"Patient/{m}" for m in missing)
        print(f"cpoc: --patient: no {names} in the export", file=sys.stderr)
        return EXIT_INPUT
    if summary.errors:
        return EXIT_PARTIAL
    return EXIT_CONFLICTS if summary.review_conflicts else EXIT_OK
