"""A FHIR R4 REST client: read, search with paging, create, update, batch and transaction.

Requests, retries and errors are in transport.py; auth.py supplies the Authorization header.
Writes are made safe to retry by the caller's choice of request: a conditional create
(If-None-Exist) or a batch of them is retried after a timeout or 5xx; a plain POST is retried
only when the server certainly did not receive it (connection refused, 429), never after a
read timeout, because it could create the resource twice.
https://hl7.org/fhir/R4/http.html
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from cpoc_fhir import __version__

from .auth import NoAuth, TokenProvider
from .errors import (
    FhirAuthError,
    FhirConnectionError,
    FhirError,
    FhirNotFound,
    FhirPreconditionFailed,
    FhirResponseError,
    FhirServerError,
    json_body,
)
from .json_text import dumps
from .results import (
    EntryResult,
    Resource,
    WriteResult,
    entry_results,
    replayable,
    weak_etag,
    write_result,
)
from .transport import Params, RetryPolicy, Transport, loggable

__all__ = [
    "EntryResult",
    "FhirAuthError",
    "FhirClient",
    "FhirConnectionError",
    "FhirError",
    "FhirNotFound",
    "FhirPreconditionFailed",
    "FhirResponseError",
    "FhirServerError",
    "WriteResult",
    "check_base_url",
    "matches",
]

_TYPE = re.compile(r"[A-Z][A-Za-z]{1,63}")
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def check_base_url(url: str) -> None:
    """ValueError unless ``url`` is an absolute http(s) URL with a host (a FHIR base)."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("not a URL: give http(s)://host/path")


class FhirClient:
    """A client of one FHIR R4 server (`base_url`, e.g. https://ehr.example/fhir)."""

    def __init__(
        self,
        base_url: str,
        auth: TokenProvider | None = None,
        timeout: float | tuple[float, float] = (5, 60),
        max_retries: int = 4,
        backoff: float = 0.5,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        user_agent: str = f"cpoc-fhir/{__version__}",
        *,
        max_wait: float = 60.0,
        clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._http = Transport(
            base_url,
            auth or NoAuth(),
            timeout,
            RetryPolicy(max_retries, backoff, max_wait),
            session,
            sleep,
            clock,
            jitter,
            user_agent,
        )
        self.base_url = self._http.base_url

    def __repr__(self) -> str:
        return f"FhirClient({self.base_url!r}, auth={self._http.auth!r})"

    def __enter__(self) -> FhirClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def transport(self) -> Transport:
        """The HTTP exchange behind this client (auth, retries, errors), for requests that are
        not REST interactions: the Bulk Data ``$export`` protocol (fhir/bulk/)."""
        return self._http

    def close(self) -> None:
        """Close the HTTP session's connections."""
        self._http.session.close()

    def capabilities(self) -> Resource:
        """The server's CapabilityStatement (GET metadata)."""
        return self._get_resource(f"{self.base_url}/metadata", "CapabilityStatement")

    def read(self, resource_type: str, resource_id: str) -> Resource:
        """The current version of Type/id; FhirNotFound when it does not exist (or is deleted)."""
        return self._get_resource(self._url(resource_type, resource_id), resource_type)

    def search(self, resource_type: str, params: Params = None) -> Iterator[Resource]:
        """The matching resources of every page (entries with search.mode match or none)."""
        for bundle in self.search_bundles(resource_type, params):
            yield from matches(bundle)

    def search_bundles(self, resource_type: str, params: Params = None) -> Iterator[Resource]:
        """Each searchset Bundle, following link[relation=next] on the same server."""
        url: str | None = self._url(resource_type)
        seen: set[str] = set()
        while url is not None:
            seen.add(url)
            bundle = self._get_resource(url, "Bundle", params)
            yield bundle
            params = None  # the next link carries the query
            url = self._next_link(bundle, seen)

    def follow(self, next_url: str) -> Iterator[Resource]:
        """The Bundles from a searchset's ``next`` link onwards (e.g. of a prefetched first
        page); the link must point to this server."""
        url: str | None = self._next_link({"link": [{"relation": "next", "url": next_url}]}, set())
        seen: set[str] = set()
        while url is not None:
            seen.add(url)
            bundle = self._get_resource(url, "Bundle")
            yield bundle
            url = self._next_link(bundle, seen)

    def create(self, resource: Resource, if_none_exist: str | None = None) -> WriteResult:
        """POST the resource; with `if_none_exist` (a query, e.g. identifier=sys|val) a
        conditional create: 201 created, 200 when one already matched."""
        resource_type = _type_of(resource)
        headers = {"If-None-Exist": if_none_exist} if if_none_exist else {}
        response = self._http.request(
            "POST",
            self._url(resource_type),
            body=_json(resource),
            headers=headers,
            replayable=bool(if_none_exist),
        )
        return write_result(response)

    def update(self, resource: Resource, if_match: str | None = None) -> WriteResult:
        """PUT the resource at its id; with `if_match` ("3" or W/"3") FhirPreconditionFailed
        when the server's current version is another."""
        resource_type = _type_of(resource)
        resource_id = resource.get("id")
        if not isinstance(resource_id, str):
            raise ValueError(f"cannot update a {resource_type} without an id")
        headers = {"If-Match": weak_etag(if_match)} if if_match else {}
        url = self._url(resource_type, resource_id)
        response = self._http.request("PUT", url, body=_json(resource), headers=headers)
        return write_result(response)

    def batch(self, entries: list[Resource]) -> list[EntryResult]:
        """POST a batch Bundle; each entry succeeds or fails alone (see EntryResult.ok)."""
        return self._bundle("batch", entries)

    def transaction(self, entries: list[Resource]) -> list[EntryResult]:
        """POST a transaction Bundle: all entries succeed, or FhirServerError and none do."""
        return self._bundle("transaction", entries)

    def _bundle(self, kind: str, entries: list[Resource]) -> list[EntryResult]:
        if not entries:
            return []
        bundle = {"resourceType": "Bundle", "type": kind, "entry": entries}
        response = self._http.request(
            "POST",
            self.base_url,
            body=_json(bundle),
            replayable=replayable(entries),
            name=f"{kind} Bundle",
        )
        return entry_results(self._resource(response, "Bundle"), len(entries), kind)

    def _get_resource(self, url: str, expected: str, params: Params = None) -> Resource:
        response = self._http.request("GET", url, params=params)
        return self._resource(response, expected, loggable(self.base_url, url, params))

    def _resource(self, response: requests.Response, expected: str, what: str = "") -> Resource:
        body = json_body(response)
        if body is None or body.get("resourceType") != expected:
            # The URL (its query without values: they may be patient data) tells an operator
            # which server answered: a proxy's login page, a web site, a wrong path.
            where = what or loggable(self.base_url, response.url or self.base_url)
            url = self.base_url if where == "/" else f"{self.base_url}/{where}"
            raise FhirResponseError(
                f"{url} answered {_what_came(response, body)}, not a FHIR {expected}"
            )
        return body

    def _next_link(self, bundle: Resource, seen: set[str]) -> str | None:
        link = next(
            (x.get("url") for x in bundle.get("link") or [] if x.get("relation") == "next"), None
        )
        if not link:
            return None
        url = urljoin(self.base_url + "/", link)
        if _origin(url) != _origin(self.base_url):
            # Following it would send our token to another server.
            raise FhirResponseError(f"a next link points to another server ({_origin(url)})")
        if url in seen:
            raise FhirResponseError("a next link repeats an earlier page")
        return url

    def _url(self, resource_type: str, resource_id: str | None = None) -> str:
        if not _TYPE.fullmatch(resource_type):
            raise ValueError(f"not a FHIR resource type: {resource_type!r}")
        if resource_id is None:
            return f"{self.base_url}/{resource_type}"
        if not _ID.fullmatch(resource_id):
            raise ValueError(f"not a FHIR id: {resource_id!r}")
        return f"{self.base_url}/{resource_type}/{resource_id}"


def matches(bundle: Mapping[str, Any]) -> list[Resource]:
    """A searchset page's matching resources (search.mode match or none; not includes or
    OperationOutcomes)."""
    found = []
    for entry in bundle.get("entry") or []:
        mode = (entry.get("search") or {}).get("mode", "match")
        if mode == "match" and isinstance(entry.get("resource"), dict):
            found.append(entry["resource"])
    return found


def _what_came(response: requests.Response, body: Mapping[str, Any] | None) -> str:
    if body is not None:
        kind = body.get("resourceType")
        return f"a {kind}" if isinstance(kind, str) else "JSON without a resourceType"
    content_type = (response.headers.get("Content-Type") or "").split(";")[0].strip()
    return content_type or "an empty or untyped body"


def _type_of(resource: Mapping[str, Any]) -> str:
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str):
        raise ValueError("a resource needs a resourceType")
    return resource_type


def _json(resource: Mapping[str, Any]) -> bytes:
    return dumps(resource).encode("utf-8")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"
