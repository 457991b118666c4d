"""The options of ``cpoc capture`` and ``cpoc fhir-resources``, and the FHIR authorisation
options every command that reads a FHIR server shares.

Light on purpose (standard library only): ``cpoc capture --help`` builds this parser without
importing what a capture run needs (issue 17 item 6); capture/cli.py runs the commands.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

DEFAULT_STORE = "sqlite:///cpoc-ledger.sqlite"  # = cpoc_fhir.store.DEFAULT_URL (tested)
DEFAULT_MAX_MONTHS = 12  # = capture.catchup.DEFAULT_MAX_MONTHS (tested)
MAX_WORKERS = 32  # = capture.parallel.MAX_WORKERS (tested)


def add_parsers(sub: Any) -> None:
    capture = sub.add_parser("capture", help="write the month's CPOC lines as ChargeItems")
    capture.add_argument(
        "--month",
        required=True,
        metavar="YYYY-MM",
        help="bill the lines whose billing month starts in this month",
    )
    # One of the two (capture/cli.py checks it); both only with --engine spark: the export's
    # records, ChargeItems written to the server.
    where = capture.add_argument_group("where the records are (one of these)")
    where.add_argument("--fhir-base", metavar="URL", help="the EHR's FHIR R4 base URL")
    where.add_argument(
        "--ndjson",
        metavar="INPUT_DIR",
        help="offline: a Bulk FHIR NDJSON export (needs --out); with --engine spark also a "
        "Hadoop URI, and with --fhir-base the records of a server capture",
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
    capture.add_argument(
        "--since",
        metavar="YYYY-MM",
        help="bill every month from this one to --month (default: from the month after the "
        "last completed run of this server, if it was earlier)",
    )
    capture.add_argument(
        "--max-catch-up",
        type=int,
        default=DEFAULT_MAX_MONTHS,
        metavar="N",
        help=f"bill at most N months in one run (default {DEFAULT_MAX_MONTHS})",
    )
    capture.add_argument(
        "--warnings",
        type=Path,
        metavar="FILE",
        help="write every warning to FILE (.csv or .ndjson)",
    )
    capture.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="wait at most this long for each FHIR answer (default 60; retried)",
    )
    capture.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="read and evaluate N patients at once (default 1: one after another); writes "
        "stay in patient order, the creates of up to N patients in one batch (4-8 is plenty, "
        f"at most {MAX_WORKERS})",
    )
    capture.add_argument("--no-progress", action="store_true")
    from cpoc_fhir.fhir.bulk.cli_options import add_bulk_options
    from cpoc_fhir.spark.options import add_engine_options

    add_bulk_options(capture)
    capture.add_argument(
        "--existing",
        metavar="PATH",
        help="--engine spark: ChargeItems captured before (NDJSON file, folder or URI, e.g. the "
        "last run's OUT/ChargeItem), planned against so a second run changes nothing",
    )
    add_engine_options(capture)
    add_auth_options(capture, "system/ChargeItem.cruds system/*.rs")

    resources = sub.add_parser(
        "fhir-resources",
        help="write the CPOC CodeSystem, ChargeItemDefinitions, the value measures' Measures "
        "and each other payment model's ValueSet of codes",
    )
    resources.add_argument("--payer", type=Path, metavar="FILE")
    resources.add_argument("--out", type=Path, required=True, metavar="DIR")


def add_auth_options(parser: Any, scope: str) -> None:
    """The FHIR server's authorisation options (``--smart-*``), shared by every command that
    reads a FHIR server (``fhir_client`` builds the client from them)."""
    auth = parser.add_argument_group(
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
    auth.add_argument("--smart-scope", default=scope)
