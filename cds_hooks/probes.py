"""``/healthz``, ``/readyz`` and ``/openapi.json``: the service's own conventions (issue 17
item 7).

- ``GET /healthz``: 200 ``{"status": "ok"}`` while the process serves requests (liveness).
  It checks nothing else, so a slow database never gets a healthy process restarted.
- ``GET /readyz``: 200 when the store answers ``SELECT 1`` and every trusted issuer's keys are
  loaded (``off`` when client JWT verification is off), else 503 naming the failed check.
  The answer names checks only: never a URL, a setting's value or an issuer (the endpoint is
  open to anyone who reaches the port); what failed and why is logged.
- ``GET /openapi.json``: OpenAPI 3.1 description built from the registered services
  (cds_hooks/openapi.py).

None of them needs the client JWT: none reveals patient data, and the probes must answer the
kubelet, which has no token.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, request
from sqlalchemy import text

from cds_hooks.blueprint import HookApp
from cds_hooks.openapi import openapi_document
from cpoc_fhir.fhir.json_text import dumps
from cpoc_fhir.store import StoreError

log = logging.getLogger(__name__)
probes = Blueprint("cpoc_probes", __name__)


@probes.get("/healthz")
def healthz() -> Response:
    return _json({"status": "ok"}, 200)


@probes.get("/readyz")
def readyz() -> Response:
    hook_app: HookApp = current_app.extensions["cpoc"]
    body = readiness(hook_app)
    return _json(body, 200 if body["status"] == "ready" else 503)


@probes.get("/openapi.json")
def openapi() -> Response:
    hook_app: HookApp = current_app.extensions["cpoc"]
    settings = hook_app.runtime.settings
    return _json(
        openapi_document(
            hook_app.services.values(),
            jwt_required=hook_app.verifier is not None,
            base_url=settings.base_url or request.host_url.rstrip("/"),
            review="review" in current_app.blueprints,
        ),
        200,
    )


def readiness(hook_app: HookApp) -> dict[str, Any]:
    """The readiness answer: ``status`` ready or not-ready and each check's result."""
    checks = {"store": _store_check(hook_app), "trustedIssuerKeys": "off"}
    body: dict[str, Any] = {}
    if hook_app.verifier is not None:
        missing = hook_app.verifier.issuers_without_keys()
        checks["trustedIssuerKeys"] = "failed" if missing else "ok"
        if missing:
            # Names in the log, a count in the answer: the trusted issuers are configuration.
            log.warning("readiness: no keys for trusted issuer(s) %s", ", ".join(missing))
            body["issuersWithoutKeys"] = len(missing)
    failed = [name for name, result in checks.items() if result == "failed"]
    body = {"status": "not-ready" if failed else "ready", "checks": checks, **body}
    if failed:
        body["failed"] = failed
    return body


def _store_check(hook_app: HookApp) -> str:
    try:
        with hook_app.log.ledger.transaction() as session:
            session.execute(text("SELECT 1"))
    except StoreError as exc:  # its message hides the password and carries no SQL
        log.warning("readiness: the store did not answer: %s", exc)
        return "failed"
    except Exception as exc:  # any failure is "not ready"; the probe must still answer
        log.warning("readiness: the store did not answer (%s)", type(exc).__name__)
        return "failed"
    return "ok"


def _json(body: Any, status: int) -> Response:
    response = Response(dumps(body), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response
