"""Where a ``cpoc report …`` subcommand reads the practice's records (value-and-models §15).

The report commands that bill patients take the same record source: ``INPUT`` (a Bundle, a
folder of resource files or a Bulk export) or ``--fhir-base URL`` (with ``--group ID`` where the
report reads a Group's members), the capture run's authorisation options (``--smart-*``),
``--timeout`` and ``--config``. This module adds those options, checks them and builds the
evaluator the reports bill with, so that every report reads its records the same way.

Shared by the report modules ``reports.cli`` registers; like ``reports.options`` it must not
import ``reports.cli`` (which imports them).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cpoc_fhir.errors import InputError
from cpoc_fhir.progress import add_no_progress

RECORD_SOURCE_PROBLEM = "give the records as INPUT or --fhir-base URL (one of them)"
TIMEOUT_HELP = "wait at most this long for each FHIR answer (default 60)"


def add_record_source(
    parser: Any, input_help: str, fhir_base_help: str, *, group: bool = True
) -> None:
    """``INPUT``, ``--fhir-base URL``, (``group``) ``--group ID`` and ``--no-progress`` (the
    bar over the patients read: ``fhir.read.counted``)."""
    parser.add_argument("input", nargs="?", type=Path, metavar="INPUT", help=input_help)
    parser.add_argument("--fhir-base", metavar="URL", help=fhir_base_help)
    if group:
        parser.add_argument(
            "--group", metavar="ID", help="with --fhir-base: the Group's members only"
        )
    add_no_progress(parser)


def add_server_options(parser: Any, timeout_help: str | None = None) -> None:
    """``--timeout``, ``--config`` and the FHIR server's authorisation options."""
    from cpoc_fhir.capture.cli_options import add_auth_options

    parser.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS", help=timeout_help)
    parser.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="settings file")
    add_auth_options(parser, "system/*.rs")


def check_record_source(
    args: argparse.Namespace, where: str = "INPUT", problem: str = RECORD_SOURCE_PROBLEM
) -> None:
    """One of ``INPUT`` and ``--fhir-base``; ``--group`` only with ``--fhir-base``."""
    if (args.input is None) == (args.fhir_base is None):
        raise InputError(where, problem)
    if getattr(args, "group", None) is not None and args.fhir_base is None:
        raise InputError("--group", "reads a Group on a FHIR server: give --fhir-base URL too")


def report_evaluator(config: Any, forced_model: str | None = None, payer: Any = None) -> Any:
    """The ``service.Evaluator`` of ``config``: CPOC lines priced with ``payer``, by default
    the practice's payer file (``[billing] payer_file``); ``forced_model`` bills every
    patient under that pack whatever their Coverage says (``--all-patients``)."""
    from cpoc_fhir.config import load_payer
    from cpoc_fhir.knowledge.loader import load_knowledge
    from cpoc_fhir.service import Evaluator

    if payer is None:
        payer = load_payer(config.payer_file, config.payer_locality)
    return Evaluator(
        load_knowledge(), config.rules, payer, models=config.models, forced_model=forced_model
    )
