"""``cpoc capture`` and ``cpoc fhir-resources``: argument parsing and wiring, nothing more.

Exit codes of ``capture``: 0 every patient done; 2 bad usage or input (a malformed month, an
unknown patient, a URL that is none, a server that is not a FHIR server); 3 some patients or
writes failed (run it again: it resumes and repeats nothing); 4 another run for the same FHIR
server and month is in progress; 5 done, but lines changed after billing staff reviewed them
(review conflicts, listed in the summary: a person must decide); 1 an unexpected internal error.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from cpoc_fhir.capture.bulk_store import BulkServerStore
from cpoc_fhir.capture.catchup import Window, last_completed, month_option, window
from cpoc_fhir.capture.cli_options import DEFAULT_STORE, MAX_WORKERS, add_auth_options, add_parsers
from cpoc_fhir.capture.connect import Connection, check_base, check_server
from cpoc_fhir.capture.ffs import write_conflicts_csv
from cpoc_fhir.capture.group_commit import GroupCommit
from cpoc_fhir.capture.offline import OfflineStore
from cpoc_fhir.capture.report import summary_table
from cpoc_fhir.capture.run import CaptureRun, CaptureSummary
from cpoc_fhir.capture.server import ServerStore
from cpoc_fhir.capture.threaded_reads import ThreadedReads
from cpoc_fhir.capture.warning_list import check_warnings_path, write_warnings
from cpoc_fhir.config import load_config, load_payer
from cpoc_fhir.errors import InputError
from cpoc_fhir.fhir.bulk.cli_options import check_bulk_options
from cpoc_fhir.fhir.bulk.options import records_folder
from cpoc_fhir.fhir.client import FhirNotFound
from cpoc_fhir.fhir.read import open_source
from cpoc_fhir.fhir.write import charge_item_changed, write_resources
from cpoc_fhir.knowledge.loader import load_knowledge
from cpoc_fhir.progress import progress
from cpoc_fhir.service import Evaluator
from cpoc_fhir.store import RunInProgress, open_ledger
from cpoc_fhir.value.measure_definitions import write_measures

EXIT_OK, EXIT_INPUT, EXIT_PARTIAL, EXIT_LOCKED, EXIT_CONFLICTS = 0, 2, 3, 4, 5
__all__ = ["DEFAULT_STORE", "add_auth_options", "add_parsers"]  # their home: cli_options


def run_fhir_resources(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    payer = load_payer(args.payer or config.payer_file, config.payer_locality)
    paths = write_resources(payer, config.publish, args.out, config.models)
    paths += write_measures(config.publish, args.out)
    for path in paths:
        print(path)
    return EXIT_OK


def run_capture(args: argparse.Namespace) -> int:
    spark = getattr(args, "engine", "local") == "spark"
    if args.fhir_base is None and args.ndjson is None:
        raise InputError("capture", "give --fhir-base URL or --ndjson INPUT_DIR")
    if args.fhir_base is not None and args.ndjson is not None and not spark:
        raise InputError("--ndjson", "give --fhir-base or --ndjson, not both (both: Spark)")
    if args.ndjson is not None and not spark:
        args.ndjson = Path(args.ndjson)
    if spark:
        from cpoc_fhir.spark.cli import run_capture as run_spark_capture

        return run_spark_capture(args)
    if getattr(args, "existing", None) is not None:
        raise InputError("--existing", "is for --engine spark (offline capture keeps OUT)")
    month = month_option("--month", args.month)
    assert month is not None
    since = month_option("--since", args.since)
    check_warnings_path(args.warnings)
    if args.timeout <= 0:
        raise InputError("--timeout", f"must be more than 0 seconds, not {args.timeout}")
    if args.ndjson is not None and args.out is None:
        raise InputError("--ndjson", "offline capture needs --out DIR")
    check_bulk_options(args)
    if not 1 <= args.workers <= MAX_WORKERS:
        raise InputError("--workers", f"from 1 to {MAX_WORKERS}, not {args.workers}")
    if args.workers > 1 and (args.ndjson is not None or getattr(args, "bulk", False)):
        raise InputError(
            "--workers", "parallel reads are for --fhir-base without --bulk (an export is one pass)"
        )
    if args.fhir_base:
        check_base(args.fhir_base)
    config = load_config(args.config)
    payer = load_payer(args.payer or config.payer_file, config.payer_locality)
    evaluator = Evaluator(load_knowledge(), config.rules, payer, models=config.models)
    publish = config.publish
    entered = datetime.now(UTC).replace(microsecond=0)
    as_of = args.as_of or min(month.last, entered.date())
    scope = args.fhir_base or f"ndjson:{args.ndjson.resolve()}"
    if args.fhir_base:
        check_server(args.fhir_base, args.timeout)
    with open_ledger(args.store or os.environ.get("CPOC_STORE_URL") or DEFAULT_STORE) as ledger:
        last = last_completed(ledger.finished_runs("capture", f"{scope}|"))
        months = window(month, since, last, args.max_catch_up)
        return _capture(args, ledger, months, scope, payer, evaluator, publish, entered, as_of)


def _capture(
    args: argparse.Namespace,
    ledger: Any,
    months: Window,
    scope: str,
    payer: Any,
    evaluator: Evaluator,
    publish: Any,
    entered: datetime,
    as_of: date,
) -> int:
    month = months.last
    seen: set[str] = set()
    settings = {
        "month": str(month),
        "since": str(months.first),
        "as_of": as_of.isoformat(),
        "dry_run": args.dry_run,
        "payer": payer.id,
        "patients": args.patient,
        "group": args.group,
    }
    try:
        handle = ledger.start_run("capture", f"{scope}|{month}", str(month), settings)
    except RunInProgress as exc:
        print(f"cpoc: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    reads = None
    total: int | None = None  # the bar's total, where known before the run
    with handle, ExitStack() as stack:
        if args.fhir_base and args.bulk:
            # Records from a Bulk Data export (fhir/bulk); ChargeItems read and written on the
            # server. Unknown --patient ids are told after the run.
            client = Connection.from_args(args).client()
            records = stack.enter_context(records_folder(client, args, args.patient))
            store: Any = BulkServerStore(
                client,
                publish.practice_identifier_system,
                charge_item_changed,
                open_source(records.folder),
                records.members,
            )
            patients: Any = _seen(
                store.patient_ids(set(args.patient) if args.patient else None), seen
            )
            conflicts_path = args.conflicts or Path(f"cpoc-ffs-conflicts-{month}.csv")
        elif args.fhir_base:
            connection = Connection.from_args(args)
            auth = connection.auth()  # one token provider for the run's clients
            store = ServerStore(
                connection.client(auth), publish.practice_identifier_system, charge_item_changed
            )
            if args.workers > 1:
                system = publish.practice_identifier_system
                reads = ThreadedReads(lambda: connection.client(auth), system, args.workers)
            if args.patient:
                _check_patients(store, args.patient)
            patients = args.patient or (
                store.patients_from_group(args.group)
                if args.group
                else list(store.patients_with_episodes())
            )
            conflicts_path = args.conflicts or Path(f"cpoc-ffs-conflicts-{month}.csv")
            total = len(patients) if isinstance(patients, list) else None
        else:
            store = OfflineStore(
                open_source(args.ndjson),
                args.out,
                publish.practice_identifier_system,
                entered,
                sync_each=False,  # the group commit syncs the journal (capture.group_commit)
            )
            stack.callback(store.close)
            # Read lazily (the export is streamed); unknown --patient ids are told after the run.
            wanted = set(args.patient) if args.patient else None
            patients = _seen(store.patient_ids(wanted), seen)
            total = store.source.patient_count(wanted)  # the bar's total: the export indexed
            conflicts_path = args.conflicts or args.out / f"ffs-conflicts-{month}.csv"
        capture = CaptureRun(
            evaluator,
            publish,
            store,
            month,
            as_of,
            entered,
            args.dry_run,
            ledger=GroupCommit(handle, getattr(store, "sync", lambda: None)),
            first=months.first,
            workers=args.workers,
            reads=reads,
        )
        try:
            summary = _run_with_progress(capture, patients, total, handle, args.no_progress)
        finally:
            if reads is not None:
                reads.close()
        summary.catch_up = months.why
        if isinstance(store, OfflineStore) and not args.dry_run:
            store.finish()
        # A run with failed patients ends "interrupted": the next run resumes with them.
        handle.finish(summary.as_counts(), status="interrupted" if summary.errors else "finished")
    write_conflicts_csv(conflicts_path, summary.conflicts)
    if args.warnings is not None:
        write_warnings(args.warnings, summary.warning_list)
    resumed = f", resumed from run {handle.resumed_from}" if handle.resumed_from else ""
    billed = f"{months.first} … {month}" if months.months > 1 else str(month)
    title = f"CPOC capture {billed} as of {as_of.isoformat()} — run {handle.run_id}{resumed}" + (
        " (dry run: nothing written)" if args.dry_run else ""
    )
    mode = _write_mode(store) if not args.dry_run else None
    warnings_path = str(args.warnings) if args.warnings is not None else None
    print(summary_table(summary, title, str(conflicts_path), warnings_path, mode))
    exported = args.ndjson is not None or args.bulk
    missing = sorted(set(args.patient or ()) - seen) if exported else []
    if missing:
        print(f"cpoc: --patient: no {_patients(missing)} in the export", file=sys.stderr)
        return EXIT_INPUT
    if summary.errors:
        return EXIT_PARTIAL
    return EXIT_CONFLICTS if summary.review_conflicts else EXIT_OK


def _write_mode(store: Any) -> str | None:
    if not isinstance(store, ServerStore):
        return None
    if store.update_create:
        return "PUT ChargeItem/<id from the identifier> (the server allows updateCreate)"
    return "conditional create, then a duplicate sweep (the server does not allow updateCreate)"


def _seen(ids: Iterator[str], seen: set[str]) -> Iterator[str]:
    for patient_id in ids:
        seen.add(patient_id)
        yield patient_id


def _patients(ids: list[str]) -> str:
    return ", ".join(f"Patient/{i}" for i in ids)


def _check_patients(store: ServerStore, ids: list[str]) -> None:
    """Every --patient must exist: an unknown one is a typo, not a patient without charges."""
    missing = []
    for patient_id in ids:
        try:
            store.client.read("Patient", patient_id)
        except FhirNotFound:
            missing.append(patient_id)
        except ValueError:
            raise InputError("--patient", f"not a FHIR id: {patient_id!r}") from None
    if missing:
        raise InputError("--patient", f"no {_patients(missing)} on the FHIR server")


def _run_with_progress(
    capture: CaptureRun, patients: Any, total: int | None, handle: Any, quiet: bool
) -> CaptureSummary:
    """The run with a bar on stderr (cpoc_fhir/progress.py: total and ETA, off when stderr is
    not a terminal or with --no-progress)."""
    with progress(total, "patient", quiet) as bar:

        def tick(_patient: str) -> None:
            bar.update(1)

        capture.progress = tick
        return capture.run(patients, skip=handle.done_patients())
