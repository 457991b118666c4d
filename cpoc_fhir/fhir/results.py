"""What a write did: the status, id, version and outcome of a create, update or bundle entry."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, TypeVar

import requests

from .errors import FhirResponseError, json_body, outcome_text

Resource = dict[str, Any]

# [base/]Type/id[/_history/vid] — FHIR ids are [A-Za-z0-9\-\.]{1,64} (R4 datatypes §2.24.0.1).
_LOCATION = re.compile(
    r"(?:^|/)(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})"
    r"(?:/_history/(?P<version>[A-Za-z0-9\-.]{1,64}))?/?$"
)
_ETAG = re.compile(r'^(?:W/)?"(?P<version>[^"]+)"$')


@dataclass(frozen=True)
class WriteResult:
    """The server's answer to a create or update (or one bundle entry)."""

    status: int
    resource_type: str | None = None
    id: str | None = None
    version: str | None = None
    location: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    outcome: str | None = None  # the OperationOutcome's text, when the server sent one
    resource: Resource | None = None  # the resource as stored, when the server returned it

    @property
    def ok(self) -> bool:
        """Whether the write succeeded (2xx)."""
        return 200 <= self.status < 300

    @property
    def created(self) -> bool:
        """201: a new resource; 200 on a conditional create means one already matched."""
        return self.status == 201


@dataclass(frozen=True)
class EntryResult(WriteResult):
    """One entry of a batch or transaction response; a failed entry carries its outcome."""

    index: int = 0
    operation_outcome: Resource | None = None


R = TypeVar("R", bound=WriteResult)


def write_result(response: requests.Response) -> WriteResult:
    """The WriteResult of a create or update response (headers first, then the body)."""
    body = json_body(response)
    is_outcome = body is not None and body.get("resourceType") == "OperationOutcome"
    resource = body if body is not None and not is_outcome and "resourceType" in body else None
    location = response.headers.get("Location") or response.headers.get("Content-Location")
    return _result(
        WriteResult,
        response.status_code,
        location,
        response.headers.get("ETag"),
        response.headers.get("Last-Modified"),
        resource,
        body if is_outcome else None,
    )


def entry_results(bundle: Resource, sent: int, kind: str) -> list[EntryResult]:
    """The EntryResults of a batch-response or transaction-response, in the order sent."""
    if bundle.get("resourceType") != "Bundle" or bundle.get("type") != f"{kind}-response":
        raise FhirResponseError(f"the {kind} answer is not a {kind}-response Bundle")
    entries = bundle.get("entry") or []
    if len(entries) != sent:
        raise FhirResponseError(f"the {kind} answer has {len(entries)} entries for {sent} sent")
    return [_entry_result(index, entry) for index, entry in enumerate(entries)]


def _entry_result(index: int, entry: Resource) -> EntryResult:
    response = entry.get("response") or {}
    match = re.match(r"\s*(\d{3})", str(response.get("status", "")))
    if not match:
        raise FhirResponseError(f"entry {index} of the answer has no response.status")
    resource = entry.get("resource") if isinstance(entry.get("resource"), dict) else None
    outcome = response.get("outcome") if isinstance(response.get("outcome"), dict) else None
    if outcome is None and resource and resource.get("resourceType") == "OperationOutcome":
        outcome, resource = resource, None
    return _result(
        EntryResult,
        int(match.group(1)),
        response.get("location"),
        response.get("etag"),
        response.get("lastModified"),
        resource,
        outcome,
        index=index,
        operation_outcome=outcome,
    )


def _result(
    cls: type[R],
    status: int,
    location: str | None,
    etag: str | None,
    last_modified: str | None,
    resource: Resource | None,
    outcome: Resource | None,
    **extra: Any,
) -> R:
    match = _LOCATION.search(location) if location else None
    meta = (resource or {}).get("meta") or {}
    version = (match and match.group("version")) or version_of_etag(etag) or meta.get("versionId")
    return cls(
        status=status,
        resource_type=(match and match.group("type")) or (resource or {}).get("resourceType"),
        id=(match and match.group("id")) or (resource or {}).get("id"),
        version=str(version) if version else None,
        location=location,
        etag=etag,
        last_modified=last_modified,
        outcome=outcome_text(outcome),
        resource=resource,
        **extra,
    )


def version_of_etag(etag: str | None) -> str | None:
    """The version in an ETag: W/"3" → "3"."""
    match = _ETAG.match(etag.strip()) if etag else None
    return match.group("version") if match else None


def weak_etag(version: str) -> str:
    """An If-Match value: a version ("3") as W/"3"; an ETag is passed through."""
    version = version.strip()
    return version if version.startswith(('W/"', '"')) else f'W/"{version}"'


def create_entry(
    resource: Resource, if_none_exist: str | None = None, full_url: str | None = None
) -> Resource:
    """A batch/transaction entry that creates `resource` (conditionally, with If-None-Exist)."""
    request: Resource = {"method": "POST", "url": resource["resourceType"]}
    if if_none_exist:
        request["ifNoneExist"] = if_none_exist
    entry: Resource = {"resource": resource, "request": request}
    if full_url:
        entry = {"fullUrl": full_url, **entry}
    return entry


def update_entry(resource: Resource, if_match: str | None = None) -> Resource:
    """A batch/transaction entry that updates `resource` (at its id), optionally If-Match."""
    request: Resource = {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}
    if if_match:
        request["ifMatch"] = weak_etag(if_match)
    return {"resource": resource, "request": request}


def replayable(entries: list[Resource]) -> bool:
    """Whether re-sending these entries cannot create duplicates: every POST is conditional."""
    for entry in entries:
        request = entry.get("request") or {}
        method = str(request.get("method", "")).upper()
        if method == "PATCH" or (method == "POST" and not request.get("ifNoneExist")):
            return False
    return True
