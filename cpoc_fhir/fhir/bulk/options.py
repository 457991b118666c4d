"""``--bulk`` and its options, shared by ``cpoc timeline`` and ``cpoc capture``.

``records_folder`` runs the export (or, where the server has none, the paged searches) into
``--bulk-dir`` or a temporary folder that lives as long as the ``with`` block, and tells on
stderr how the records were read. Ctrl-C during the export cancels the job on the server.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..client import FhirClient
from .export import DEFAULT_TIMEOUT, BulkExportError
from .source import BulkResult, BulkSettings, bulk_records, paged_records


def notice(text: str) -> None:
    print(f"cpoc: {text}", file=sys.stderr)


@contextmanager
def records_folder(
    client: FhirClient,
    args: argparse.Namespace,
    patients: Sequence[str] | None = None,
    bulk: bool = True,
) -> Iterator[BulkResult]:
    """The records as a local NDJSON folder, for the block's duration (``bulk`` False: paged
    searches, the path of a ``--fhir-base`` without ``--bulk``)."""
    settings = BulkSettings(
        group=getattr(args, "group", None),
        mirror=getattr(args, "bulk_dir", None),
        timeout=getattr(args, "bulk_timeout", DEFAULT_TIMEOUT),
        full=getattr(args, "bulk_full", False),
        patients=patients,
        quiet=getattr(args, "no_progress", False),
    )
    with tempfile.TemporaryDirectory(prefix="cpoc-bulk-") as work:
        try:
            if bulk:
                result = bulk_records(client, settings, Path(work), notice)
            else:
                result = paged_records(client, settings, Path(work))
        except KeyboardInterrupt:
            raise BulkExportError(
                "interrupted", "cancelled (an export under way was cancelled on the server)"
            ) from None
        if bulk:
            notice(_told(result))
        yield result


def _told(result: BulkResult) -> str:
    if result.mode == "incremental export":
        return (
            f"records from an incremental export since the last one ({result.changed} "
            f"resources changed), as of {result.transaction_time}"
        )
    if result.mode == "full export":
        return f"records from a full export as of {result.transaction_time}"
    return "records from paged searches"
