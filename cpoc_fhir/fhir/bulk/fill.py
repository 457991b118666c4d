"""Record types a server's ``$export`` leaves out, read by paged searches instead.

A server builds a Patient or Group export from its idea of the Patient compartment; one whose
compartment misses a type the engine reads (sekmet-fhir has no ResearchSubject search
parameters, so its compartment and export hold no ResearchSubject) would silently drop what
that type bills (the clinical-trial lines). After a full export, each record type without an
exported file is probed with one ``_count=1`` search: a type the server has some of (for a
Group export: some of its members have) was left out, and is read per patient with its record
searches (``fhir/record_queries.py``) into the mirror, with a warning naming it. The mirror
state remembers the filled types, and an incremental run fills them again in full (an export
``_since`` will leave them out again).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from ..client import FhirClient
from ..errors import FhirError
from ..read.references import patient_key
from ..record_queries import RECORD_QUERIES
from .mirror import Mirror, MirrorState
from .paged import search_type

# Not probed: every export holds its Patients, and Medications are completed by id afterwards
# (source._complete_medications), the Patient compartment never holds them.
NOT_PROBED = ("Patient", "Medication")
PROBE_BATCH = 50  # Group members per probe (a URL of a few kB)


def fill_omitted(
    client: FhirClient,
    mirror: Mirror,
    types: list[str],
    state: MirrorState | None,
    members: list[str] | None,
    notice: Callable[[str], None],
) -> list[str]:
    """Fill the types the export left out into ``mirror``; the filled types, for the state.

    ``state`` is the earlier export an incremental one continues (None: a full export): its
    filled types are filled again; a state written before types were filled (``filled`` None)
    is probed like a full export.
    """
    if state is not None and state.filled is not None:
        omitted = list(state.filled)
    else:
        omitted = omitted_types(client, types, mirror, members)
    for rtype in omitted:
        patients = fill_type(client, mirror, rtype, members)
        notice(
            f"warning: the FHIR server's $export left out {rtype} although it has some: "
            f"{rtype} read by paged searches instead ({patients} patients)"
        )
    return omitted


def omitted_types(
    client: FhirClient, types: list[str], mirror: Mirror, members: list[str] | None = None
) -> list[str]:
    """The record types the mirror has no file of although the server has some (one
    ``_count=1`` search each) — for a Group, some of its members' (``members_have``). A type
    the server has none of is simply empty; one it cannot search has nothing to fill it with."""
    have = {path.name.split(".", 1)[0] for path in mirror.data.glob("*.ndjson")}
    out = []
    for rtype in types:
        if rtype in have or rtype in NOT_PROBED:
            continue
        try:
            some = next(iter(client.search(rtype, {"_count": "1"})), None) is not None
            if some and members is not None:
                some = members_have(client, rtype, members)
        except FhirError:
            continue
        if some:
            out.append(rtype)
    return out


def members_have(client: FhirClient, rtype: str, members: list[str]) -> bool:
    """Whether the record searches of ``rtype`` find anything for the Group's members, asked
    for ``PROBE_BATCH`` members at a time (a reference parameter's values joined by commas: an
    OR). Without it, a Group whose members have none of a type other patients have (an EHR's
    QuestionnaireResponses) would be searched member by member on every run, for nothing.
    A match of another patient's (a server ignoring the parameter) still counts: the fill
    keeps only the members' own."""
    queries = [q for q in RECORD_QUERIES if q.resource_type == rtype]
    for start in range(0, len(members), PROBE_BATCH):
        batch = members[start : start + PROBE_BATCH]
        for query in queries:
            params = {
                name: ",".join(value.format(pid=m) for m in batch) if "{pid}" in value else value
                for name, value in query.params
            }
            params["_count"] = "1"
            if next(iter(client.search(rtype, params)), None) is not None:
                return True
    return False


def fill_type(client: FhirClient, mirror: Mirror, rtype: str, members: list[str] | None) -> int:
    """Make the mirror's ``rtype`` file the record searches' results for each patient (the
    Group's members, else the exported Patients); the number of patients searched.

    Only resources naming the searched patient are kept: a server that ignores a search
    parameter it lacks (sekmet's ResearchSubject ``individual``) returns every patient's.
    """
    if members is not None:
        patients = list(members)
    else:
        patients = [str(r.get("id")) for r in mirror.resources("Patient")]
    found: dict[str, str] = {}
    for patient_id in patients:
        for resource in search_type(client, patient_id, rtype):
            if resource.get("resourceType") != rtype:
                continue  # an _include (Medication): completed by id afterwards
            if patient_key(resource) != f"Patient/{patient_id}":
                continue
            found.setdefault(str(resource.get("id")), json.dumps(resource, separators=(",", ":")))
    stale = {str(r.get("id")) for r in mirror.resources(rtype)} - set(found)
    mirror.upsert(rtype, found, stale)
    return len(patients)
