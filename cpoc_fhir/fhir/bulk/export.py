"""The Bulk Data ``$export`` protocol (FHIR Bulk Data Access IG 2.0), on the client's transport.

1. Kick-off: ``GET [base]/Group/[id]/$export`` or ``[base]/Patient/$export`` with
   ``Accept: application/fhir+json`` and ``Prefer: respond-async``, ``_type`` and ``_since``;
   the server answers 202 with ``Content-Location``, the status URL.
2. Status: GET it until 200 (the manifest); 202 means "in progress" (``X-Progress``), waited
   out after ``Retry-After`` (seconds or an HTTP date) or a bounded backoff, within an overall
   timeout. 429 and 5xx are retried by the transport; a 4xx/5xx that stays is the export's
   failure. On timeout or Ctrl-C the job is cancelled (``DELETE`` the status URL).
3. Download: each ``output[].url`` streamed to a file, with the access token when the manifest
   says ``requiresAccessToken`` (and only to the FHIR server's origin), without it otherwise;
   ``error[]`` files (OperationOutcome NDJSON) are read and reported.
https://hl7.org/fhir/uv/bulkdata/export.html
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from cpoc_fhir.progress import progress

from ..auth import NoAuth
from ..errors import FhirError, FhirServerError, outcome_text
from ..transport import Transport, retry_after_seconds

log = logging.getLogger("cpoc_fhir.fhir.bulk")

NDJSON = "application/fhir+ndjson"
# Kick-off answers that say "this server has no such operation" (not "this export failed").
NOT_SUPPORTED = frozenset({404, 405, 501})
# Polling without Retry-After: first wait, growth and ceiling (seconds).
FIRST_POLL, POLL_GROWTH, MAX_POLL = 1.0, 1.5, 60.0
DEFAULT_TIMEOUT = 3600.0
# A download cut off mid-stream is fetched again from the start, this often.
DOWNLOAD_ATTEMPTS = 3


class BulkExportError(FhirError):
    """The export failed at ``step`` (kick-off, status, manifest, download, error file)."""

    def __init__(self, step: str, problem: str) -> None:
        super().__init__(f"bulk export, {step}: {problem}")
        self.step = step
        self.problem = problem


class NoBulkExport(BulkExportError):
    """The server does not offer ``$export`` here: use paged searches instead."""


class BulkExportTimeout(BulkExportError):
    """The export was not complete within the overall timeout (and was cancelled)."""


@dataclass(frozen=True)
class ExportFile:
    type: str
    url: str
    count: int | None = None


@dataclass
class Manifest:
    """The complete-status body: ``transactionTime`` is the next incremental ``_since``."""

    transaction_time: str
    requires_access_token: bool
    output: list[ExportFile]
    error: list[ExportFile] = field(default_factory=list)
    deleted: list[ExportFile] = field(default_factory=list)


@dataclass(frozen=True)
class ExportRequest:
    group: str | None
    types: Sequence[str]
    since: str | None = None


def declares_export(capabilities: dict[str, Any]) -> bool | None:
    """Whether a CapabilityStatement lists an ``export`` operation (system, Patient or Group
    level); None when it lists no operation at all (many servers do not: try the kick-off)."""
    names: list[str] = []
    for rest in capabilities.get("rest") or []:
        if not isinstance(rest, dict):
            continue
        names += [str(op.get("name", "")) for op in rest.get("operation") or []]
        for entry in rest.get("resource") or []:
            if isinstance(entry, dict):
                names += [str(op.get("name", "")) for op in entry.get("operation") or []]
    if not names:
        return None
    return any(name.lstrip("$") in ("export", "bulk-export") for name in names)


class BulkExporter:
    """One client's exports: kick off, wait, download into a folder, cancel on failure."""

    def __init__(
        self,
        transport: Transport,
        timeout: float = DEFAULT_TIMEOUT,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        notice: Callable[[str], None] = lambda _text: None,
        quiet: bool = False,
    ) -> None:
        self.transport = transport
        self.quiet = quiet  # no progress bar over the downloads (--no-progress)
        self.timeout = timeout
        self._sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self._notice = notice

    # --- the whole exchange ---------------------------------------------------------------
    def export(self, request: ExportRequest, folder: Path) -> tuple[Manifest, list[Path]]:
        """Run one export into ``folder``: the manifest and the downloaded NDJSON files.
        Cancels the job (DELETE) when it times out, fails to download, or on Ctrl-C."""
        status_url = self.kick_off(request)
        try:
            manifest = self.wait(status_url)
            paths = self.download(manifest, folder)
            problems = self.error_messages(manifest)
        except BaseException:
            self.cancel(status_url)
            raise
        self.cancel(status_url)  # done: the server may delete the files (IG: "client MAY")
        if problems:
            raise BulkExportError("error file", "; ".join(problems[:5]))
        return manifest, paths

    # --- 1. kick-off ----------------------------------------------------------------------
    def kick_off(self, request: ExportRequest) -> str:
        base = self.transport.base_url
        level = f"Group/{request.group}" if request.group else "Patient"
        url = f"{base}/{level}/$export"
        params = [("_outputFormat", NDJSON)]
        if request.types:
            params.append(("_type", ",".join(request.types)))
        if request.since:
            params.append(("_since", request.since))
        headers = {"Accept": "application/fhir+json", "Prefer": "respond-async"}
        try:
            response = self.transport.request(
                "GET", url, params=params, headers=headers, name="$export kick-off"
            )
        except FhirServerError as exc:
            if exc.status in NOT_SUPPORTED:
                raise NoBulkExport("kick-off", f"{exc.status}: {exc.text}") from None
            raise BulkExportError("kick-off", str(exc)) from None
        location = response.headers.get("Content-Location")
        if response.status_code != 202 or not location:
            raise BulkExportError(
                "kick-off",
                f"answered {response.status_code}"
                + ("" if location else " without Content-Location")
                + ", not 202 with a status URL",
            )
        return urljoin(base + "/", location)

    # --- 2. status ------------------------------------------------------------------------
    def wait(self, status_url: str) -> Manifest:
        """Poll the status URL until the manifest; BulkExportTimeout past the timeout."""
        deadline = self._clock() + self.timeout
        backoff = FIRST_POLL
        told: str | None = None
        while True:
            try:
                response = self.transport.request(
                    "GET", status_url, headers={"Accept": "application/json"}, name="$export status"
                )
            except FhirError as exc:
                raise BulkExportError("status", str(exc)) from None
            if response.status_code == 200:
                return parse_manifest(_json(response, "manifest"))
            if response.status_code != 202:
                raise BulkExportError("status", f"unexpected {response.status_code}")
            progress = response.headers.get("X-Progress")
            header = response.headers.get("Retry-After")
            asked = retry_after_seconds(header, self._wall_clock()) if header else None
            wait = min(asked if asked is not None else backoff, MAX_POLL)
            backoff = min(backoff * POLL_GROWTH, MAX_POLL)
            left = deadline - self._clock()
            if left <= 0 or wait > left:
                raise BulkExportTimeout(
                    "status", f"not complete after {self.timeout:.0f} s (cancelled)"
                )
            log.debug("$export in progress (%s); polling again in %.1f s", progress, wait)
            if progress and progress != told:
                self._notice(f"bulk export in progress: {progress}")
                told = progress
            self._sleep(wait)

    # --- 3. download ----------------------------------------------------------------------
    def download(self, manifest: Manifest, folder: Path) -> list[Path]:
        """Every output file into ``folder`` as ``<Type>.<n>.ndjson`` (written whole, then
        renamed, so a folder never holds half a file)."""
        folder.mkdir(parents=True, exist_ok=True)
        output, deleted = enumerate(manifest.output, 1), enumerate(manifest.deleted, 1)
        wanted = [(item, f"{_safe(item.type)}.{n:04d}.ndjson") for n, item in output]
        wanted += [(item, f"deleted.{n:04d}.ndjson.deleted") for n, item in deleted]
        paths = []
        # The files are the long part of an export once it is ready (issue 17 item 6): a bar
        # over them, its total the manifest's files (their sizes are not in it).
        with progress(len(wanted), "file", self.quiet, desc="downloading") as bar:
            for item, name in wanted:
                self._fetch(item, manifest.requires_access_token, folder / name, "download")
                paths.append(folder / name)
                bar.update(1)
        return paths

    def error_messages(self, manifest: Manifest) -> list[str]:
        """The error/fatal issues of the ``error[]`` files; warnings go to the notice."""
        problems: list[str] = []
        for item in manifest.error:
            for outcome in self._lines(item, manifest.requires_access_token):
                text = outcome_text(outcome) or "an OperationOutcome without text"
                severities = {str(i.get("severity")) for i in outcome.get("issue") or []}
                if severities & {"error", "fatal"}:
                    problems.append(text)
                else:
                    self._notice(f"bulk export: {text}")
        return problems

    def cancel(self, status_url: str) -> None:
        """DELETE the job (best effort: a failure here is only logged)."""
        try:
            self.transport.request("DELETE", status_url, name="$export status (DELETE)")
        except FhirError as exc:
            log.debug("cancelling the export failed: %s", exc)

    def _fetch(self, item: ExportFile, with_token: bool, path: Path, step: str) -> None:
        part = path.with_name(path.name + ".part")
        for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
            try:
                response = self._file_transport(item.url, with_token).request(
                    "GET",
                    item.url,
                    headers={"Accept": NDJSON},
                    name=f"{step} of {item.type}",
                    stream=True,
                )
                with response, part.open("wb") as handle:
                    for chunk in response.iter_content(chunk_size=1 << 16):
                        handle.write(chunk)
                os.replace(part, path)
                return
            except (requests.exceptions.ChunkedEncodingError, requests.ConnectionError) as exc:
                part.unlink(missing_ok=True)
                if attempt == DOWNLOAD_ATTEMPTS:
                    raise BulkExportError(
                        step, f"{item.type} file cut off ({type(exc).__name__})"
                    ) from None
            except FhirError as exc:
                part.unlink(missing_ok=True)
                raise BulkExportError(step, str(exc)) from None

    def _lines(self, item: ExportFile, with_token: bool) -> Iterator[dict[str, Any]]:
        try:
            response = self._file_transport(item.url, with_token).request(
                "GET", item.url, headers={"Accept": NDJSON}, name="error file"
            )
        except FhirError as exc:
            raise BulkExportError("error file", str(exc)) from None
        for line in response.text.splitlines():
            try:
                value = json.loads(line) if line.strip() else None
            except ValueError:
                raise BulkExportError("error file", "a line is not JSON") from None
            if isinstance(value, dict):
                yield value

    def _file_transport(self, url: str, with_token: bool) -> Transport:
        """The client's transport for a file on its own server when the token is required; a
        token-less one otherwise (the IG: no token where ``requiresAccessToken`` is false)."""
        ours = _origin(url) == _origin(self.transport.base_url)
        if with_token:
            if not ours:
                # Sending the EHR's token to another host could leak it.
                raise BulkExportError(
                    "download",
                    f"a file needing the access token is on another host ({_origin(url)})",
                )
            return self.transport
        t = self.transport
        return Transport(
            _origin(url), NoAuth(), t.timeout, t.policy, t.session, user_agent=t.user_agent
        )


def parse_manifest(body: dict[str, Any]) -> Manifest:
    """The manifest, checked: BulkExportError("manifest", …) when it is not one."""

    def files(key: str) -> list[ExportFile]:
        items = body.get(key) or []
        if not isinstance(items, list):
            raise BulkExportError("manifest", f"{key} is not a list")
        out = []
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("url"), str):
                raise BulkExportError("manifest", f"an {key} entry has no url")
            count = item.get("count")
            out.append(
                ExportFile(
                    str(item.get("type") or ""),
                    item["url"],
                    count if isinstance(count, int) else None,
                )
            )
        return out

    when = body.get("transactionTime")
    if not isinstance(when, str) or not when:
        raise BulkExportError("manifest", "no transactionTime")
    token = body.get("requiresAccessToken")
    if not isinstance(token, bool):
        raise BulkExportError("manifest", "requiresAccessToken is not true or false")
    return Manifest(when, token, files("output"), files("error"), files("deleted"))


def _json(response: requests.Response, step: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise BulkExportError(step, "not JSON") from None
    if not isinstance(body, dict):
        raise BulkExportError(step, "not a JSON object")
    return body


def _safe(name: str) -> str:
    cleaned = "".join(ch for ch in name if ch.isalnum())
    return cleaned or "Resource"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


__all__ = [
    "BulkExportError",
    "BulkExportTimeout",
    "BulkExporter",
    "ExportFile",
    "ExportRequest",
    "Manifest",
    "NoBulkExport",
    "declares_export",
    "parse_manifest",
]
