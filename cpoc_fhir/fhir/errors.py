"""Errors of the FHIR REST client, each carrying the server's own words (its OperationOutcome)."""

from __future__ import annotations

from html.parser import HTMLParser
from http import HTTPStatus
from typing import Any

import requests

from ..errors import CpocError

# An error names the request by method and path, and quotes at most this much of a body that
# is not an OperationOutcome (an HTML error page from a proxy, say).
_MAX_BODY_QUOTE = 300
_MAX_HTML_QUOTE = 120
_MAX_HTML_READ = 100_000


class FhirError(CpocError):
    """Base of the FHIR client's errors: catch this to handle any failure talking to a server."""


class FhirServerError(FhirError):
    """The server answered with an error status; `operation_outcome` is its OperationOutcome."""

    def __init__(
        self,
        method: str,
        path: str,
        status: int,
        text: str,
        operation_outcome: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{method} {path} → {status} {_reason(status)}: {text}")
        self.method = method
        self.path = path
        self.status = status
        self.text = text
        self.operation_outcome = operation_outcome


class FhirPreconditionFailed(FhirServerError):
    """412: an If-Match version is stale (or a conditional request matched too much); re-read."""


class FhirNotFound(FhirServerError):
    """404 or 410: the resource or type does not exist (or no longer does)."""


class FhirAuthError(FhirServerError):
    """401 or 403 from the FHIR server, or a refusal from the authorization server."""


class FhirConnectionError(FhirError):
    """The server could not be reached or did not answer in time, after every retry."""


class FhirResponseError(FhirError):
    """The server answered, but not with what FHIR promises (not JSON, a foreign next link…)."""


def outcome_text(outcome: dict[str, Any] | None) -> str | None:
    """The human text of an OperationOutcome: each issue's diagnostics or details.text, joined."""
    if not isinstance(outcome, dict) or outcome.get("resourceType") != "OperationOutcome":
        return None
    texts: list[str] = []
    for issue in outcome.get("issue") or []:
        if not isinstance(issue, dict):
            continue
        details = issue.get("details")
        if not isinstance(details, dict):
            details = {}
        text = issue.get("diagnostics") or details.get("text")
        if not text:
            codings = details.get("coding") or []
            text = next((c.get("display") or c.get("code") for c in codings if c), None)
        text = text or issue.get("code")
        if text and str(text) not in texts:
            texts.append(str(text))
    return "; ".join(texts) or None


def error_for(
    method: str,
    path: str,
    response: requests.Response,
    cls: type[FhirServerError] | None = None,
) -> FhirServerError:
    """The exception for an error response; its message comes from the body, never the request."""
    outcome = json_body(response)
    text = outcome_text(outcome) or _oauth_text(outcome) or _plain_text(response)
    status = response.status_code
    oo = outcome if outcome_text(outcome) else None
    if cls is None:
        cls = _ERROR_CLASSES.get(status, FhirServerError)
    return cls(method, path, status, text, oo)


_ERROR_CLASSES: dict[int, type[FhirServerError]] = {
    401: FhirAuthError,
    403: FhirAuthError,
    404: FhirNotFound,
    410: FhirNotFound,
    412: FhirPreconditionFailed,
}


def json_body(response: requests.Response) -> dict[str, Any] | None:
    """The body as a JSON object, or None when it is empty or not JSON."""
    if not response.content:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _oauth_text(body: dict[str, Any] | None) -> str | None:
    """RFC 6749 §5.2 error response of a token endpoint: error and error_description."""
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return None
    description = body.get("error_description")
    return f"{body['error']}: {description}" if description else str(body["error"])


def _plain_text(response: requests.Response) -> str:
    raw = response.text or ""
    content_type = (response.headers.get("Content-Type") or "").lower()
    if "html" in content_type or raw.lstrip()[:1] == "<":
        # An error page (proxy, web server): its title or first line of text, no markup.
        text = _html_gist(raw)
        limit = _MAX_HTML_QUOTE
    else:
        text = " ".join(raw.split())
        limit = _MAX_BODY_QUOTE
    if len(text) > limit:
        text = text[:limit] + "…"
    return text or "(no OperationOutcome)"


class _Gist(HTMLParser):
    """The <title> of an HTML page, else its first line of visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title: list[str] = []
        self.text: list[str] = []
        self._in: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._in:
            del self._in[len(self._in) - 1 - self._in[::-1].index(tag) :]

    def handle_data(self, data: str) -> None:
        if "title" in self._in:
            self.title.append(data)
        elif not {"script", "style", "head"} & set(self._in) and data.strip():
            self.text.append(data)


def _html_gist(raw: str) -> str:
    parser = _Gist()
    parser.feed(raw[:_MAX_HTML_READ])  # html.parser is lenient: broken markup does not raise
    parser.close()
    title = " ".join(" ".join(parser.title).split())
    if title:
        return title
    first = next((line.strip() for t in parser.text for line in t.splitlines() if line.strip()), "")
    return " ".join(first.split()) or "(an HTML page)"


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
