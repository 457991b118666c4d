"""A server's records as a local NDJSON folder: ``$export`` where it has one, else paged searches.

``_type`` is the resource types the engine reads, from the one list of record searches
(``fhir/record_queries.py``) plus Patient and Medication. With a mirror folder kept between
runs (``--bulk-dir``), the next export asks only for what changed since the last one's
``transactionTime`` (``_since``) and merges it in (``mirror.py``): a full export when there is
no usable state, when ``full`` is asked, or when the Group gained members (a Group export with
``_since`` need not return a new member's older resources). Medications that medication
resources reference but the compartment export lacks are read by id afterwards, and record
types the export left out although the server has them are read by paged searches (``fill.py``).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cpoc_fhir.progress import progress

from ..client import FhirClient
from ..errors import FhirError
from ..record_queries import RECORD_QUERIES
from .export import (
    DEFAULT_TIMEOUT,
    BulkExporter,
    BulkExportError,
    ExportRequest,
    NoBulkExport,
    declares_export,
)
from .fill import fill_omitted
from .mirror import Mirror, MirrorState
from .paged import PAGE, episode_patients, group_members, write_paged

DOWNLOAD = "download"
MEDICATION_BATCH = 50


def export_types() -> list[str]:
    """The ``_type`` list: Patient, each type the record searches read, Medication."""
    types = dict.fromkeys(["Patient", *(q.resource_type for q in RECORD_QUERIES), "Medication"])
    return list(types)


@dataclass(frozen=True)
class BulkSettings:
    group: str | None = None
    mirror: Path | None = None  # kept between runs for incremental exports; None: a work folder
    timeout: float = DEFAULT_TIMEOUT
    full: bool = False
    patients: Sequence[str] | None = None  # paged fallback: only these patients
    quiet: bool = False  # no progress bar over the paged reads (--no-progress)


@dataclass(frozen=True)
class BulkResult:
    folder: Path  # the NDJSON folder the engines read
    mode: str  # "full export", "incremental export", "paged searches"
    members: list[str] | None  # a Group's current patients (the folder may hold former ones)
    transaction_time: str | None = None
    changed: int | None = None  # incremental: resources changed or deleted


def bulk_records(
    client: FhirClient,
    settings: BulkSettings,
    workdir: Path,
    notice: Callable[[str], None],
    exporter: BulkExporter | None = None,
) -> BulkResult:
    """Fetch the records into a folder (the mirror, else ``workdir``) and say how."""
    mirror = Mirror(settings.mirror or workdir)
    types = export_types()
    base = client.base_url
    try:
        declared = declares_export(client.capabilities())
    except FhirError as exc:
        raise BulkExportError("metadata", str(exc)) from None
    members = group_members(client, settings.group) if settings.group else None
    if declared is False:
        notice("the FHIR server's CapabilityStatement lists no $export: using paged searches")
        return _paged(client, mirror, settings, members)
    state = None if settings.full else mirror.since(base, settings.group, types)
    if state is not None and members is not None and set(members) - set(state.members or []):
        notice("the Group has new members since the last export: exporting in full")
        state = None
    exporter = exporter or BulkExporter(
        client.transport, settings.timeout, notice=notice, quiet=settings.quiet
    )
    download = mirror.root / DOWNLOAD
    shutil.rmtree(download, ignore_errors=True)
    since = state.transaction_time if state else None
    try:
        manifest, paths = exporter.export(ExportRequest(settings.group, types, since), download)
    except NoBulkExport as exc:
        notice(f"the FHIR server has no $export ({exc.problem}): using paged searches")
        return _paged(client, mirror, settings, members)
    changed = None
    if state is not None:
        changed = mirror.merge(paths)
    else:
        mirror.replace(paths)
    filled = fill_omitted(client, mirror, types, state, members, notice)
    _complete_medications(client, mirror, notice)
    mirror.save(
        MirrorState(base, settings.group, types, manifest.transaction_time, members, filled)
    )
    shutil.rmtree(download, ignore_errors=True)
    mode = "incremental export" if state is not None else "full export"
    return BulkResult(mirror.data, mode, members, manifest.transaction_time, changed)


def paged_records(client: FhirClient, settings: BulkSettings, workdir: Path) -> BulkResult:
    """The folder from paged searches alone (a ``--fhir-base`` read without ``--bulk``)."""
    members = group_members(client, settings.group) if settings.group else None
    return _paged(client, Mirror(settings.mirror or workdir), settings, members)


def _paged(
    client: FhirClient, mirror: Mirror, settings: BulkSettings, members: list[str] | None
) -> BulkResult:
    mirror.forget()  # the folder no longer holds an export to continue
    patients = (
        list(settings.patients)
        if settings.patients
        else members
        if members is not None
        else episode_patients(client)
    )
    # The searches per patient are the long part of a --fhir-base read (issue 17 item 6):
    # the bar's total is the patients to read, known before the first search.
    with progress(len(patients), "patient", settings.quiet, desc="reading") as bar:

        def read(_patient_id: str) -> None:
            bar.update(1)

        write_paged(client, mirror.data, patients, read)
    return BulkResult(mirror.data, "paged searches", members)


def _complete_medications(
    client: FhirClient, mirror: Mirror, notice: Callable[[str], None]
) -> None:
    missing = sorted(mirror.missing_medications())
    found: dict[str, str] = {}
    for start in range(0, len(missing), MEDICATION_BATCH):
        batch = missing[start : start + MEDICATION_BATCH]
        query = {"_id": ",".join(batch), "_count": PAGE}
        for resource in client.search("Medication", query):
            rid = str(resource.get("id"))
            if rid in batch:
                found[rid] = _line(resource)
    if found:
        mirror.upsert("Medication", found)
    lost = len(missing) - len(found)
    if lost:
        notice(f"{lost} referenced Medication(s) are not on the FHIR server")


def _line(resource: dict[str, object]) -> str:
    return json.dumps(resource, separators=(",", ":"))
