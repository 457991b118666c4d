"""The Bulk Data options of ``cpoc timeline`` and ``cpoc capture`` (issue 16 item 2).

Light on purpose (standard library only): the commands' ``--help`` builds these without
importing the export client (issue 17 item 6); fhir/bulk/options.py runs the export.
"""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_TIMEOUT = 3600.0  # = fhir.bulk.export.DEFAULT_TIMEOUT (tested)

__all__ = ["DEFAULT_TIMEOUT", "add_bulk_options", "check_bulk_options"]


def add_bulk_options(parser: argparse.ArgumentParser) -> None:
    bulk = parser.add_argument_group("Bulk Data export (with --fhir-base)")
    bulk.add_argument(
        "--bulk",
        action="store_true",
        help="read the records with a Bulk Data $export (Group/ID/$export with --group, else "
        "Patient/$export); paged searches where the server has no $export",
    )
    bulk.add_argument(
        "--bulk-dir",
        type=Path,
        metavar="DIR",
        help="keep the export in DIR; the next run exports only what changed since (_since) "
        "and merges it in (default: a temporary folder, a full export every run)",
    )
    bulk.add_argument(
        "--bulk-timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"give up (and cancel) an export not complete after this long "
        f"(default {DEFAULT_TIMEOUT:.0f})",
    )
    bulk.add_argument(
        "--bulk-full", action="store_true", help="export everything, whatever DIR holds"
    )


def check_bulk_options(args: argparse.Namespace) -> None:
    """InputError for options that do not go together (before any request is sent)."""
    from cpoc_fhir.errors import InputError

    used = args.bulk_dir is not None or args.bulk_full
    if used and not args.bulk:
        raise InputError("--bulk-dir/--bulk-full", "need --bulk")
    if args.bulk and not getattr(args, "fhir_base", None):
        raise InputError("--bulk", "needs --fhir-base URL")
    if args.bulk_timeout <= 0:
        raise InputError("--bulk-timeout", f"must be more than 0 seconds, not {args.bulk_timeout}")
