"""What the revenue views read from a FHIR server (issue 17 item 4): the ChargeItems, the
Coverages with their payor Organizations' names (revenue_payers.py), and the Claims of the
patients billed under a model (FFS conflicts, reports/ffs_conflicts.py).

Shared by ``cpoc report revenue --fhir-base`` and the review app's dashboard. A Coverage or
Claim search the server refuses (a 4xx: no scope for it, or a search it does not support) is
a note, not a failure: the revenue still stands without payers or Claims, and the views say
what is missing. The ChargeItem search is the figures themselves: its errors propagate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cpoc_fhir.fhir.client import FhirClient
from cpoc_fhir.fhir.errors import FhirServerError
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


def read_payers_from(client: FhirClient, knowledge: Knowledge) -> tuple[Payers | None, str]:
    """Every Coverage on the server and the names of their payor Organizations; (None, why)
    when the server refuses the Coverage search. An Organization search refused leaves the
    payers named by reference."""
    try:
        coverages = list(client.search("Coverage", {"_count": PAGE}))
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


def read_server(client: FhirClient, knowledge: Knowledge) -> ServerReads:
    """The ChargeItems and the payers."""
    items = tuple(client.search("ChargeItem", {"_count": PAGE}))
    payers, payer_note = read_payers_from(client, knowledge)
    return ServerReads(items, payers, (), (payer_note,) if payer_note else ())
