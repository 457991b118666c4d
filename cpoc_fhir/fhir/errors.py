"""Errors of the FHIR REST client, each carrying the server's own words (its OperationOutcome)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import requests

from ..errors import CpocError

# An error names the request by method and path, and quotes at most this much of a body that
# is not an OperationOutcome (an HTML error page from a proxy, say).
_MAX_BODY_QUOTE = 300


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
    text = " ".join((response.text or "").split())
    if len(text) > _MAX_BODY_QUOTE:
        text = text[:_MAX_BODY_QUOTE] + "…"
    return text or "(no OperationOutcome)"


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
