"""The patient's record for a hook call: prefetch first, the client's FHIR server for the rest.

CDS Hooks 2.0.1 §Prefetch Template: a key the client sent with ``null`` means "no data"; a
missing key, or an OperationOutcome in its place, means the service must get the data itself
from ``fhirServer`` with ``fhirAuthorization``; when it cannot, the answer is 412. A prefetched
search Bundle with a ``next`` link is read to its end from the same server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from cds_hooks.hook_request import ABSENT, FhirAccess, HookRequest, RequestError, member
from cpoc_fhir.errors import CpocError
from cpoc_fhir.fhir.auth import BearerToken, NoAuth
from cpoc_fhir.fhir.client import FhirClient
from cpoc_fhir.fhir.errors import FhirConnectionError, FhirNotFound, FhirServerError
from cpoc_fhir.fhir.record_queries import RECORD_QUERIES, RecordQuery

Resource = dict[str, Any]
PATIENT_KEY = "patient"
_FETCH_THREADS = 6


class DataUnavailable(Exception):
    """The record cannot be obtained (HTTP 412); the message names the prefetch keys."""


def prefetch_templates() -> dict[str, str]:
    """The prefetch templates every CPOC service publishes in discovery."""
    templates = {PATIENT_KEY: "Patient/{{context.patientId}}"}
    templates.update({q.key: q.template() for q in RECORD_QUERIES})
    return templates


@dataclass
class Gathered:
    resources: list[Resource] = field(default_factory=list)
    fetched: list[str] = field(default_factory=list)  # keys read from the FHIR server


ClientFactory = Callable[[FhirAccess], FhirClient]


def fhir_client(access: FhirAccess, timeout: float = 10.0) -> FhirClient:
    """A client of the caller's FHIR server with the token it passed (one retry: a hook
    must answer quickly)."""
    auth = BearerToken(access.token) if access.token else NoAuth()
    return FhirClient(access.server, auth=auth, timeout=timeout, max_retries=1)


def gather(
    request: HookRequest, clients: ClientFactory = fhir_client, max_entries: int = 5000
) -> Gathered:
    """Every resource of the patient's record the CPOC reader needs; no prefetch key (its
    pages included) nor search of the service's own may bring more than ``max_entries``."""
    result = Gathered()
    missing: list[RecordQuery | None] = []  # None stands for the Patient read
    for key, query in [(PATIENT_KEY, None), *((q.key, q) for q in RECORD_QUERIES)]:
        value = request.prefetched(key)
        if value is ABSENT or _is_outcome(value):
            missing.append(query)
        elif value is not None:
            result.resources.extend(_prefetched(key, value, request, clients, max_entries))
    if missing:
        if request.fhir is None:
            keys = ", ".join(q.key if q else PATIENT_KEY for q in missing)
            raise DataUnavailable(
                f"prefetch missing for {keys} and no fhirServer to read them from"
            )
        result.resources.extend(_fetch_all(request, missing, clients, max_entries))
        result.fetched = [q.key if q else PATIENT_KEY for q in missing]
    result.resources.extend(_referenced_medications(request, result.resources, clients))
    return result


def failure(exc: CpocError) -> str:
    """What went wrong, without the server's own text (an OperationOutcome may quote patient
    data): the method, path (ids only) and status, or the kind of failure."""
    if isinstance(exc, FhirServerError):
        return f"{exc.method} {exc.path} → HTTP {exc.status}"
    if isinstance(exc, FhirConnectionError):
        return "the server did not answer"
    return "its answer was not valid FHIR"


def _is_outcome(value: Any) -> bool:
    return isinstance(value, dict) and value.get("resourceType") == "OperationOutcome"


def _prefetched(
    key: str, value: Resource, request: HookRequest, clients: ClientFactory, max_entries: int
) -> list[Resource]:
    if value.get("resourceType") != "Bundle":
        return [value]
    found = list(_matches(value, member("$.prefetch", key)))
    next_url = _next_link(value)
    if next_url is None:
        return found
    if request.fhir is None:
        raise DataUnavailable(f"prefetch {key} is paginated and there is no fhirServer access")
    with clients(request.fhir) as client:
        try:
            for bundle in client.follow(next_url):
                found.extend(_matches(bundle, member("$.prefetch", key) + " (a next page)"))
                if len(found) > max_entries:
                    raise RequestError(
                        member("$.prefetch", key),
                        f"its pages hold more than {max_entries} entries",
                        status=413,
                    )
        except CpocError as exc:
            raise DataUnavailable(
                f"prefetch {key}: the next page could not be read: {failure(exc)}"
            ) from None
    return found


def _matches(bundle: Resource, where: str) -> Iterator[Resource]:
    """The match and include entries of a searchset (no ``search``: a match; a Bundle
    without ``type`` as the sandbox sends it is read the same way)."""
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise RequestError(f"{where}.entry", "must be an array")
    for i, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            continue
        search = entry.get("search")
        if search is not None and not isinstance(search, dict):
            raise RequestError(f"{where}.entry[{i}].search", "must be a JSON object")
        mode = (search or {}).get("mode", "match")
        if not isinstance(mode, str):
            raise RequestError(f"{where}.entry[{i}].search.mode", "must be a code (a string)")
        if mode in ("match", "include"):
            yield resource


def _next_link(bundle: Resource) -> str | None:
    links = bundle.get("link")
    for link in links if isinstance(links, list) else []:
        url = link.get("url") if isinstance(link, dict) else None
        if link.get("relation") == "next" and isinstance(url, str) and url:
            return url
    return None


def _fetch_all(
    request: HookRequest,
    missing: list[RecordQuery | None],
    clients: ClientFactory,
    max_entries: int,
) -> list[Resource]:
    access = request.fhir
    assert access is not None
    pid = request.patient_id

    def fetch(query: RecordQuery | None) -> list[Resource]:
        with clients(access) as client:
            if query is None:
                try:
                    return [client.read("Patient", pid)]
                except FhirNotFound:
                    raise DataUnavailable(
                        "the context's patient is not on the FHIR server"
                    ) from None
            params = query.for_patient(pid) | {"_count": "200"}
            found = []
            for resource in client.search(query.resource_type, params):
                found.append(resource)
                if len(found) > max_entries:
                    raise RequestError(
                        "$.fhirServer",
                        f"its {query.resource_type} search holds more than {max_entries} entries",
                        status=413,
                    )
            return found

    try:
        with ThreadPoolExecutor(min(_FETCH_THREADS, len(missing))) as pool:
            return [r for batch in pool.map(fetch, missing) for r in batch]
    except CpocError as exc:
        raise DataUnavailable(f"the FHIR server could not be read: {failure(exc)}") from None


def _referenced_medications(
    request: HookRequest, resources: list[Resource], clients: ClientFactory
) -> list[Resource]:
    """Medication resources that orders reference but nobody sent (prefetch has no _include)."""
    have = {f"Medication/{r.get('id')}" for r in resources if r.get("resourceType") == "Medication"}
    wanted = sorted(
        {
            ref
            for r in resources
            if (ref := str((r.get("medicationReference") or {}).get("reference", ""))).startswith(
                "Medication/"
            )
            and ref not in have
        }
    )
    if not wanted or request.fhir is None:
        return []
    found = []
    with clients(request.fhir) as client:
        for ref in wanted:
            try:
                found.append(client.read("Medication", ref.split("/", 1)[1]))
            except CpocError:
                continue  # the reader falls back on the order's text and warns
    return found
