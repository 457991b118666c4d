"""What the revenue views read from a FHIR server (issue 17 item 4): the ChargeItems, the
Coverages with their payor Organizations' names (revenue_payers.py), and the Claims of the
patients billed under a model (FFS conflicts, reports/ffs_conflicts.py).

Shared by ``cpoc report revenue --fhir-base`` and the review app's dashboard. A Coverage or
Claim search the server refuses (a 4xx: no scope for it, or a search it does not support) is
a note, not a failure: the revenue still stands without payers or Claims, and the views say
what is missing. The ChargeItem search is the figures themselves: its errors propagate.

With ``bars`` (the CLI; never the dashboard, a server process) the two searches over the whole
server, ChargeItem and Coverage, draw the progress bar (``fhir.search_bar``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cpoc_fhir.fhir.client import FhirClient
from cpoc_fhir.fhir.errors import FhirServerError
from cpoc_fhir.fhir.read.references import patient_key, reference_key
from cpoc_fhir.fhir.search_bar import counted_search
from cpoc_fhir.knowledge import Knowledge
from cpoc_fhir.reports.revenue_payers import Payers, payor_organizations, read_payers

PAGE = "200"
CHUNK = 50  # ids or patients per search: a URL stays well under servers' limits

Resource = dict[str, Any]


@dataclass(frozen=True)
class ServerReads:
    """One read of the server: items, payers (None: Coverages unreadable), Claims, notes."""

    items: tuple[Resource, ...]
    payers: Payers | None
    claims: tuple[Resource, ...] = ()
    notes: tuple[str, ...] = ()  # what could not be read, for the page (no patient data)


def refused(exc: FhirServerError) -> bool:
    """A 4xx answer: the server will not give this search to this client (scope, support)."""
    return 400 <= exc.status < 500


def read_payers_from(
    client: FhirClient, knowledge: Knowledge, bars: bool = False
) -> tuple[Payers | None, str]:
    """Every Coverage on the server and the names of their payor Organizations; (None, why)
    when the server refuses the Coverage search. An Organization search refused leaves the
    payers named by reference."""
    try:
        coverages = list(counted_search(client, "Coverage", {"_count": PAGE}, quiet=not bars))
    except FhirServerError as exc:
        if not refused(exc):
            raise
        return None, f"The server refused the Coverage search ({exc.status}): payers unknown."
    payers = read_payers(coverages, (), knowledge)
    wanted = payor_organizations(payers)
    organizations: list[Resource] = []
    try:
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start : start + CHUNK]
            found = client.search("Organization", {"_id": ",".join(chunk), "_count": PAGE})
            organizations += [o for o in found if o.get("id") in chunk]
    except FhirServerError as exc:
        if not refused(exc):
            raise
        note = f"The server refused the Organization search ({exc.status}): payers by reference."
        return payers, note
    return read_payers(coverages, organizations, knowledge), ""


def read_claims(client: FhirClient, patients: Iterable[str]) -> tuple[list[Resource], str]:
    """The Claims of ``patients`` ("Patient/x"), ``CHUNK`` patients a search; ([], why)
    when the server refuses the Claim search."""
    wanted = sorted({reference_key(p) or p for p in patients})
    claims: list[Resource] = []
    try:
        for start in range(0, len(wanted), CHUNK):
            chunk = set(wanted[start : start + CHUNK])
            found = client.search("Claim", {"patient": ",".join(sorted(chunk)), "_count": PAGE})
            # only the patients asked for: a server that ignores the parameter sends others
            claims += [c for c in found if patient_key(c) in chunk]
    except FhirServerError as exc:
        if not refused(exc):
            raise
        note = f"The server refused the Claim search ({exc.status}): FFS conflicts from"
        return [], f"{note} ChargeItems only."
    return claims, ""


def read_server(
    client: FhirClient,
    knowledge: Knowledge,
    claims_for: Callable[[Sequence[Resource]], Iterable[str]] | None = None,
    bars: bool = False,
) -> ServerReads:
    """The ChargeItems, the payers and, with ``claims_for`` (the items → the patients whose
    Claims are wanted), those patients' Claims; ``bars``: progress bars on stderr."""
    items = tuple(counted_search(client, "ChargeItem", {"_count": PAGE}, quiet=not bars))
    payers, payer_note = read_payers_from(client, knowledge, bars)
    claims: list[Resource] = []
    claim_note = ""
    if claims_for is not None:
        claims, claim_note = read_claims(client, claims_for(items))
    notes = tuple(n for n in (payer_note, claim_note) if n)
    return ServerReads(items, payers, tuple(claims), notes)
