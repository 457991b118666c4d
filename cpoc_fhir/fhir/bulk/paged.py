"""The fallback where a server has no ``$export``: the same NDJSON folder from paged searches.

The patients are a Group's active members, or every patient with an EpisodeOfCare (the
practice's oncology patients, as the month-end capture chooses them); each patient's record is
``Patient/[id]`` plus the searches of ``fhir/record_queries.py`` (the one list every reader of a
server uses), MedicationRequest with ``_include`` of its Medication. Resources are written once
per type and id, so a Medication several patients share is one line.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

from ..client import FhirClient
from ..record_queries import RECORD_QUERIES, RecordQuery

Resource = dict[str, Any]
PAGE = "200"


def group_members(client: FhirClient, group_id: str) -> list[str]:
    """The patient ids of a Group's active members."""
    group = client.read("Group", group_id)
    ids = []
    for member in group.get("member") or []:
        ref = str((member.get("entity") or {}).get("reference", ""))
        if ref.startswith("Patient/") and not member.get("inactive"):
            ids.append(ref.split("/", 1)[1])
    return ids


def episode_patients(client: FhirClient) -> list[str]:
    """Every patient with an EpisodeOfCare that is not entered-in-error, in first-seen order."""
    seen: dict[str, None] = {}
    for episode in client.search("EpisodeOfCare", {"_count": PAGE}):
        if episode.get("status") == "entered-in-error":
            continue
        ref = str((episode.get("patient") or {}).get("reference", ""))
        if ref.startswith("Patient/"):
            seen.setdefault(ref.split("/", 1)[1])
    return list(seen)


def search_record(client: FhirClient, patient_id: str) -> list[Resource]:
    """One patient's record by paged searches (matches and included Medications)."""
    resources: list[Resource] = [client.read("Patient", patient_id)]
    for search in RECORD_QUERIES:
        resources += _searched(client, search, patient_id)
    return resources


def search_type(client: FhirClient, patient_id: str, resource_type: str) -> list[Resource]:
    """One patient's resources of one type, by that type's record searches (a type an
    ``$export`` left out: ``fill.py``); included resources of other types come along."""
    out: list[Resource] = []
    for search in RECORD_QUERIES:
        if search.resource_type == resource_type:
            out += _searched(client, search, patient_id)
    return out


def _searched(client: FhirClient, search: RecordQuery, patient_id: str) -> list[Resource]:
    query = search.for_patient(patient_id)
    if search.resource_type == "MedicationRequest":
        query["_include"] = "MedicationRequest:medication"
    query["_count"] = PAGE
    found: list[Resource] = []
    for bundle in client.search_bundles(search.resource_type, query):
        for entry in bundle.get("entry") or []:
            mode = (entry.get("search") or {}).get("mode", "match")
            if mode in ("match", "include") and isinstance(entry.get("resource"), dict):
                found.append(entry["resource"])
    return found


def write_paged(
    client: FhirClient,
    folder: Path,
    patient_ids: Iterable[str],
    progress: Callable[[str], None] = lambda _pid: None,
) -> int:
    """Write every patient's record into ``folder/<Type>.ndjson``; the number of patients."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.ndjson"):
        stale.unlink()
    handles: dict[str, IO[str]] = {}
    seen: set[tuple[str, str]] = set()
    count = 0
    try:
        for patient_id in patient_ids:
            for resource in search_record(client, patient_id):
                rtype = str(resource.get("resourceType"))
                key = (rtype, str(resource.get("id")))
                if key in seen or not rtype.isalnum():
                    continue
                seen.add(key)
                if rtype not in handles:
                    handles[rtype] = (folder / f"{rtype}.ndjson").open("w", encoding="utf-8")
                handles[rtype].write(json.dumps(resource, separators=(",", ":")) + "\n")
            count += 1
            progress(patient_id)
    finally:
        for handle in handles.values():
            handle.close()
    (folder / "Patient.ndjson").touch()  # no patients: still a folder the readers accept
    return count
