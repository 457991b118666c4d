"""``cpoc capture`` and ``cpoc fhir-resources``: argument parsing and wiring, nothing more.

Exit codes of ``capture``: 0 every patient done; 2 bad usage or input; 3 some patients or
writes failed (run it again: it resumes and repeats nothing); 4 another run for the same FHIR
server and month is in progress; 1 an unexpected internal error.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from cpoc_fhir.capture.ffs import write_conflicts_csv
from cpoc_fhir.capture.offline import OfflineStore
from cpoc_fhir.capture.report import summary_table
from cpoc_fhir.capture.run import CaptureMonth, CaptureRun, CaptureSummary
from cpoc_fhir.capture.server import ServerStore
from cpoc_fhir.config import load_config, load_payer
from cpoc_fhir.errors import InputError
from cpoc_fhir.fhir.auth import BearerToken, NoAuth, SmartBackendServices, TokenProvider
from cpoc_fhir.fhir.client import FhirClient
from cpoc_fhir.fhir.errors import FhirConnectionError
from cpoc_fhir.fhir.keys import read_private_key_pem
from cpoc_fhir.fhir.read import open_source
from cpoc_fhir.fhir.write import charge_item_changed, write_resources
from cpoc_fhir.knowledge.loader import load_knowledge
from cpoc_fhir.service import Evaluator
from cpoc_fhir.store import RunInProgress, open_ledger

EXIT_OK, EXIT_INPUT, EXIT_PARTIAL, EXIT_LOCKED = 0, 2, 3, 4
DEFAULT_STORE = "sqlite:///cpoc-ledger.sqlite"


def add_parsers(sub: Any) -> None:
    capture = sub.add_parser("capture", help="write the month's CPOC lines as ChargeItems")
    capture.add_argument(
        "--month",
        required=True,
        metavar="YYYY-MM",
        help="bill the lines whose billing month starts in this month",
    )
    where = capture.add_mutually_exclusive_group(required=True)
    where.add_argument("--fhir-base", metavar="URL", help="the EHR's FHIR R4 base URL")
    where.add_argument(
        "--ndjson",
        type=Path,
        metavar="INPUT_DIR",
        help="offline: a Bulk FHIR NDJSON export (needs --out)",
    )
    capture.add_argument(
        "--out", type=Path, metavar="DIR", help="offline: where ChargeItem.ndjson is kept"
    )
    capture.add_argument("--patient", action="append", metavar="ID", help="only this patient")
    capture.add_argument("--group", metavar="ID", help="the patients of this Group")
    capture.add_argument("--dry-run", action="store_true", help="plan and report, write nothing")
    capture.add_argument(
        "--as-of",
        type=date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="evaluate as of this date (default: the month's last day, or today if earlier)",
    )
    capture.add_argument("--payer", type=Path, metavar="FILE")
    capture.add_argument(
        "--store",
        metavar="URL",
        help=f"run ledger (SQLAlchemy URL; env CPOC_STORE_URL; default {DEFAULT_STORE})",
    )
    capture.add_argument(
        "--conflicts",
        type=Path,
        metavar="CSV",
        help="FFS conflicts report (default: cpoc-ffs-conflicts-MONTH.csv, in --out when offline)",
    )
    capture.add_argument("--no-progress", action="store_true")
    auth = capture.add_argument_group(
        "authorisation (SMART Backend Services, or a bearer token in env CPOC_FHIR_TOKEN)"
    )
    auth.add_argument("--smart-client-id", default=os.environ.get("CPOC_SMART_CLIENT_ID"))
    auth.add_argument(
        "--smart-key",
        type=Path,
        default=os.environ.get("CPOC_SMART_KEY"),
        help="PEM private key (RS384 or ES384)",
    )
    auth.add_argument("--smart-kid", default=os.environ.get("CPOC_SMART_KID"))
    auth.add_argument("--smart-alg", choices=("RS384", "ES384"), default="RS384")
    auth.add_argument("--smart-token-url", default=os.environ.get("CPOC_SMART_TOKEN_URL"))
    auth.add_argument("--smart-scope", default="system/ChargeItem.cruds system/*.rs")

    resources = sub.add_parser(
        "fhir-resources", help="write the CPOC CodeSystem and ChargeItemDefinitions"
    )
    resources.add_argument("--payer", type=Path, metavar="FILE")
    resources.add_argument("--out", type=Path, required=True, metavar="DIR")


def run_fhir_resources(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    payer = load_payer(args.payer or config.payer_file)
    paths = write_resources(payer, config.publish, args.out)
    for path in paths:
        print(path)
    return EXIT_OK


def run_capture(args: argparse.Namespace) -> int:
    try:
        month = CaptureMonth.parse(args.month)
    except ValueError as exc:
        raise InputError("--month", str(exc)) from None
    if args.ndjson is not None and args.out is None:
        raise InputError("--ndjson", "offline capture needs --out DIR")
    config = load_config(args.config)
    payer = load_payer(args.payer or config.payer_file)
    evaluator = Evaluator(load_knowledge(), config.rules, payer)
    publish = config.publish
    entered = datetime.now(UTC).replace(microsecond=0)
    as_of = args.as_of or min(month.last, entered.date())
    scope = args.fhir_base or f"ndjson:{args.ndjson.resolve()}"
    if args.fhir_base:
        _check_server(args)
    with open_ledger(args.store or os.environ.get("CPOC_STORE_URL") or DEFAULT_STORE) as ledger:
        return _capture(args, ledger, month, scope, payer, evaluator, publish, entered, as_of)


def _capture(
    args: argparse.Namespace,
    ledger: Any,
    month: CaptureMonth,
    scope: str,
    payer: Any,
    evaluator: Evaluator,
    publish: Any,
    entered: datetime,
    as_of: date,
) -> int:
    settings = {
        "month": str(month),
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
    with handle:
        if args.fhir_base:
            store: Any = ServerStore(
                _client(args), publish.practice_identifier_system, charge_item_changed
            )
            patients = args.patient or (
                store.patients_from_group(args.group)
                if args.group
                else list(store.patients_with_episodes())
            )
            conflicts_path = args.conflicts or Path(f"cpoc-ffs-conflicts-{month}.csv")
        else:
            store = OfflineStore(
                open_source(args.ndjson), args.out, publish.practice_identifier_system, entered
            )
            patients = store.patient_ids(set(args.patient) if args.patient else None)
            conflicts_path = args.conflicts or args.out / f"ffs-conflicts-{month}.csv"
        capture = CaptureRun(
            evaluator, publish, store, month, as_of, entered, args.dry_run, ledger=handle
        )
        summary = _run_with_progress(capture, patients, handle, args.no_progress)
        if isinstance(store, OfflineStore) and not args.dry_run:
            store.finish()
        # A run with failed patients ends "interrupted": the next run resumes with them.
        handle.finish(summary.as_counts(), status="interrupted" if summary.errors else "finished")
    write_conflicts_csv(conflicts_path, summary.conflicts)
    resumed = f", resumed from run {handle.resumed_from}" if handle.resumed_from else ""
    title = f"CPOC capture {month} as of {as_of.isoformat()} — run {handle.run_id}{resumed}" + (
        " (dry run: nothing written)" if args.dry_run else ""
    )
    print(summary_table(summary, title, str(conflicts_path)))
    return EXIT_PARTIAL if summary.errors else EXIT_OK


def _run_with_progress(
    capture: CaptureRun, patients: Any, handle: Any, quiet: bool
) -> CaptureSummary:
    from tqdm import tqdm

    total = len(patients) if isinstance(patients, list) else None
    with tqdm(total=total, unit="patient", disable=quiet or None, file=sys.stderr) as bar:
        capture.progress = lambda _patient: bar.update(1)
        return capture.run(patients, skip=handle.done_patients())


def _check_server(args: argparse.Namespace) -> None:
    """Fail fast, with one line, when the server cannot be reached at all."""
    client = FhirClient(args.fhir_base, max_retries=1)
    try:
        client.capabilities()
    except FhirConnectionError as exc:
        raise InputError(args.fhir_base, f"the FHIR server does not answer: {exc}") from None
    finally:
        client.close()


def _client(args: argparse.Namespace) -> FhirClient:
    return FhirClient(args.fhir_base, auth=_auth(args))


def _auth(args: argparse.Namespace) -> TokenProvider:
    if args.smart_client_id:
        if not args.smart_key or not args.smart_kid:
            raise InputError(
                "--smart-client-id", "SMART Backend Services needs --smart-key and --smart-kid"
            )
        key = read_private_key_pem(args.smart_key)
        return SmartBackendServices(
            args.fhir_base,
            args.smart_client_id,
            key,
            args.smart_kid,
            args.smart_alg,
            scope=args.smart_scope,
            token_url=args.smart_token_url,
        )
    token = os.environ.get("CPOC_FHIR_TOKEN")
    return BearerToken(token) if token else NoAuth()
