"""The ``/cds-services`` endpoints: discovery, the services, feedback; CORS; JSON errors.

Each call reads: authenticate → parse → run the service → respond → audit. Errors become JSON
bodies with a message saying what was wrong and where (never a stack trace, never a value from
the request); every call, answered or refused, leaves one audit row.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge

from cds_hooks.body import BodyError, read_json, too_large
from cds_hooks.cards import CardSource
from cds_hooks.feedback import parse_feedback
from cds_hooks.gather import DataUnavailable
from cds_hooks.hook_request import RequestError, hook_instance_of, parse_request
from cds_hooks.log_context import bind
from cds_hooks.security import ClientAuthError, ClientVerifier, VerifiedClient
from cds_hooks.services import BY_ID, CdsService, HookResult, Runtime
from cds_hooks.settings import SOURCE_LABEL
from cds_hooks.uninterpretable import uninterpretable
from cpoc_fhir import __version__
from cpoc_fhir.fhir.json_text import dumps
from cpoc_fhir.fhir.write.publish import compact
from cpoc_fhir.store.hooks import HookLog, Invocation
from cpoc_fhir.store.pathways import DecisionFeedback, PathwayLog

log = logging.getLogger(__name__)
blueprint = Blueprint("cds_hooks", __name__)
_CORS_HEADERS = "Authorization, Content-Type"
_CORS_MAX_AGE = "600"


@dataclass
class HookApp:
    """What the endpoints share (built once by ``create_app``)."""

    runtime: Runtime
    log: HookLog
    verifier: ClientVerifier | None
    pathway_log: PathwayLog
    services: dict[str, CdsService] = field(default_factory=lambda: dict(BY_ID))


def _app() -> HookApp:
    hook_app: HookApp = current_app.extensions["cpoc"]
    return hook_app


class ApiError(Exception):
    def __init__(self, status: int, outcome: str, message: str, where: str | None = None) -> None:
        super().__init__(message)
        self.status, self.outcome, self.message, self.where = status, outcome, message, where

    def response(self) -> Response:
        body = {"error": self.outcome, "message": self.message}
        if self.where:
            body["where"] = self.where
        return _json(body, self.status)


# --- discovery ------------------------------------------------------------------------------


@blueprint.get("/cds-services")
def discovery() -> Response:
    # Discovery reveals no patient data: open to any caller (spec §Discovery).
    # The app's registry (HookApp.services): what dispatch and /openapi.json use too.
    return _json({"services": [s.discovery() for s in _app().services.values()]})


@blueprint.get("/about")
def about() -> Response:
    """The page cards name as their source."""
    items = "".join(
        f"<li><code>{s.id}</code> ({s.hook}): {s.description}</li>"
        for s in _app().services.values()
    )
    html = (
        "<!doctype html><html lang=en><meta charset=utf-8><title>CPOC CDS Hooks service</title>"
        f"<h1>{SOURCE_LABEL}</h1><p>CDS Hooks 2.0.1 services that show, at order time, the "
        "CPOC code and level an oncology order produces and capture its charge.</p>"
        f"<ul>{items}</ul><p>Version <code id=version>{__version__}</code>. "
        'API description: <a href="/openapi.json">/openapi.json</a>.</p></html>'
    )
    return Response(html, mimetype="text/html")


# --- services -------------------------------------------------------------------------------


@blueprint.post("/cds-services/<service_id>")
def invoke(service_id: str) -> Response:
    started = time.perf_counter()
    hook_app = _app()
    call = Invocation(service=service_id, outcome="error", http_status=500, latency_ms=0.0)
    try:
        service = _service(hook_app, service_id)
        bind(service=service.id, hook=service.hook)  # for the log lines (cds_hooks/json_logs.py)
        client = _authenticate(hook_app)
        call = _with(call, client=client.issuer if client else None)
        body = _body()
        call = _with(call, hook_instance=hook_instance_of(body))
        bind(hook_instance=call.hook_instance)
        hook_request = parse_request(
            body, service.hook, hook_app.runtime.settings.max_bundle_entries
        )
        call = _with(
            call,
            hook=hook_request.hook,
            hook_instance=hook_request.hook_instance,
            patient_ref=f"Patient/{hook_request.patient_id}",
        )
        try:
            result = service.handler(hook_app.runtime, hook_request, _card_source(hook_request))
        except (ApiError, RequestError, DataUnavailable, ClientAuthError):
            raise
        except Exception as exc:  # a shape the readers did not expect: the caller's 400
            refusal = uninterpretable(exc, hook_request.origins, service_id)
            if refusal is None:
                raise
            raise refusal from None
        _record_decisions(hook_app, result, call)
        response = _json(_response_body(result))
        call = _with(
            call,
            outcome="cards" if result.cards else "no-guidance",
            http_status=200,
            cards=tuple(result.audit_cards),
            writes=tuple(result.writes),
        )
        return response
    except (ApiError, RequestError, DataUnavailable, ClientAuthError, BodyError) as exc:
        error = _api_error(exc)
        call = _with(call, outcome=error.outcome, http_status=error.status)
        return error.response()
    except Exception:
        log.exception("CDS service %s failed (hookInstance %s)", service_id, call.hook_instance)
        return ApiError(500, "error", "internal error; the call was logged").response()
    finally:
        _audit(hook_app, call, started)


@blueprint.post("/cds-services/<service_id>/feedback")
def feedback(service_id: str) -> Response:
    """Spec §Feedback: stored once per card and outcome; the answer counts what was new."""
    started = time.perf_counter()
    hook_app = _app()
    call = Invocation(
        service=service_id, hook="feedback", outcome="error", http_status=500, latency_ms=0.0
    )
    try:
        _service(hook_app, service_id)
        bind(service=service_id, hook="feedback")
        client = _authenticate(hook_app, also=f"/cds-services/{service_id}")
        items = parse_feedback(_body())
        results = hook_app.log.add_feedback(service_id, items, client.issuer if client else None)
        for item in items:
            # Feedback on a pathway card is the deviation's reason or the switch (IV-A).
            hook_app.pathway_log.apply_feedback(
                item.card,
                DecisionFeedback(
                    outcome=item.outcome,
                    at=item.outcome_timestamp,
                    reason_system=item.override_system,
                    reason_code=item.override_code,
                    reason_display=item.override_display,
                    comment=item.user_comment,
                ),
                item.accepted_suggestions,
            )
        call = _with(
            call, outcome="feedback", http_status=200, client=client.issuer if client else None
        )
        counts = {k: results.count(k) for k in ("stored", "merged", "duplicate") if k in results}
        return _json({"feedback": counts})
    except (ApiError, RequestError, ClientAuthError, BodyError) as exc:
        error = _api_error(exc)
        call = _with(call, outcome=error.outcome, http_status=error.status)
        return error.response()
    except Exception:
        log.exception("CDS feedback for %s failed", service_id)
        return ApiError(500, "error", "internal error; the call was logged").response()
    finally:
        _audit(hook_app, call, started)


def _service(hook_app: HookApp, service_id: str) -> CdsService:
    service = hook_app.services.get(service_id)
    if service is None:
        raise ApiError(404, "not-found", "no CDS service with this id; see GET /cds-services")
    return service


def _authenticate(hook_app: HookApp, also: str | None = None) -> VerifiedClient | None:
    """The client's JWT, for the exact URL called (spec §Trusting CDS Clients: ``aud``)."""
    if hook_app.verifier is None:
        return None
    settings = hook_app.runtime.settings
    base = settings.base_url or request.host_url.rstrip("/")
    header = request.headers.get("Authorization")
    try:
        return hook_app.verifier.verify(header, base + request.path)
    except ClientAuthError:
        if also is None:
            raise
        # Feedback: clients also sign it for the service's own URL.
        return hook_app.verifier.verify(header, base + also)


def _body() -> Any:
    """The JSON body within the limits (cds_hooks/body.py): size before it is read, then
    nesting depth and encoding before it is parsed."""
    if not request.is_json:
        raise ApiError(
            415,
            "unsupported-media-type",
            "the body must be JSON (Content-Type: application/json)",
            "$",
        )
    settings = _app().runtime.settings
    length = request.content_length
    if length is not None and length > settings.max_body_bytes:
        raise too_large(settings.max_body_bytes)
    try:
        data = request.get_data(cache=False)
    except RequestEntityTooLarge:  # a chunked body over MAX_CONTENT_LENGTH
        raise too_large(settings.max_body_bytes) from None
    return read_json(data, settings.max_body_bytes, settings.max_depth)


def _card_source(hook_request: Any) -> CardSource:
    settings = _app().runtime.settings
    base = settings.base_url or request.host_url.rstrip("/")
    return CardSource(
        label=SOURCE_LABEL,
        url=settings.source_url or f"{base}/about",
        review_launch_url=settings.review_launch_url,
        patient_id=hook_request.patient_id,
    )


def _response_body(result: HookResult) -> dict[str, Any]:
    # Spec §Use of JSON: no null or empty values, except an empty cards array.
    body: dict[str, Any] = {"cards": [compact(card) for card in result.cards]}
    if result.system_actions:
        body["systemActions"] = [compact(action) for action in result.system_actions]
    return body


def _api_error(exc: Exception) -> ApiError:
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, RequestError):
        outcome = "too-large" if exc.status == 413 else "bad-request"
        return ApiError(exc.status, outcome, exc.message, exc.where)
    if isinstance(exc, BodyError):
        return ApiError(exc.status, exc.outcome, exc.message, "$")
    if isinstance(exc, DataUnavailable):
        return ApiError(412, "precondition-failed", str(exc))
    if isinstance(exc, ClientAuthError):
        return ApiError(401, "unauthorized", exc.reason)
    raise TypeError(type(exc).__name__)


def _with(call: Invocation, **changes: Any) -> Invocation:
    return Invocation(**{**call.__dict__, **changes})


def _record_decisions(hook_app: HookApp, result: HookResult, call: Invocation) -> None:
    """Keep the orders' pathway decisions. The cards are worth more than the record: a store
    failure is logged (hookInstance only) and the answer still goes out."""
    for decision in result.pathway_decisions:
        try:
            hook_app.pathway_log.record(decision)
        except Exception:
            log.exception(
                "could not record a pathway decision (hookInstance %s)", call.hook_instance
            )


def _audit(hook_app: HookApp, call: Invocation, started: float) -> None:
    latency = (time.perf_counter() - started) * 1000
    try:
        hook_app.log.record(_with(call, latency_ms=latency))
    except Exception:  # the answer is already decided: auditing must not turn it into a 500
        log.exception("could not audit a CDS Hooks call (service %s)", call.service)


def _json(body: Any, status: int = 200) -> Response:
    # Our own JSON writer: ChargeItem prices are exact Decimals (Flask's would quote them).
    return Response(dumps(body), status=status, mimetype="application/json")


# --- CORS and errors ----------------------------------------------------------------------


@blueprint.after_app_request
def cors(response: Response) -> Response:
    """CORS for browser-based CDS clients (spec §Cross-Origin Resource Sharing)."""
    origin = request.headers.get("Origin")
    allowed = _app().runtime.settings.cors_origins
    if origin and ("*" in allowed or origin in allowed):
        response.headers["Access-Control-Allow-Origin"] = "*" if "*" in allowed else origin
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = _CORS_HEADERS
        response.headers["Access-Control-Max-Age"] = _CORS_MAX_AGE
        response.headers["Vary"] = "Origin"
    return response


_HTTP_LABELS = {
    404: "not-found",
    405: "method-not-allowed",
    413: "too-large",
    415: "unsupported-media-type",
}


@blueprint.app_errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Response:
    code = exc.code or 500
    label = _HTTP_LABELS.get(code, "bad-request" if code < 500 else "error")
    response = _json({"error": label, "message": exc.description or exc.name}, code)
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(sorted(exc.valid_methods))
    return response
