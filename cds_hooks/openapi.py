"""The OpenAPI 3.1 description of the CDS Hooks endpoints, served at ``/openapi.json``.

Built from the registered services at each call (``HookApp.services``, the same registry that
drives discovery and dispatch), so a service added there has its paths here without anyone
editing a copy: ``POST /cds-services/{id}`` with the hook's request schema and the cards
response, and ``POST /cds-services/{id}/feedback``, per service; plus discovery, ``/about``,
``/healthz``, ``/readyz`` and this document. The schemas are cds_hooks/openapi_schemas.py.
With ``review`` (the app serves the SMART review blueprint) the ``/review`` routes are added
from cds_hooks/openapi_review.py: pages, exports and forms, not JSON.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cds_hooks import openapi_review
from cds_hooks.openapi_schemas import HOOK_CONTEXTS, SCHEMAS, Schema, ref
from cds_hooks.services.base import CdsService
from cpoc_fhir import __version__

OPENAPI_VERSION = "3.1.0"
SECURITY_SCHEME = "cdsClientJwt"
_JSON = "application/json"


def openapi_document(
    services: Iterable[CdsService],
    *,
    jwt_required: bool,
    base_url: str | None = None,
    review: bool = False,
) -> dict[str, Any]:
    """The document for ``services``; ``jwt_required``: whether the hook and feedback
    endpoints ask for the client's JWT (``CPOC_CDS_AUTH``); ``review``: describe the SMART
    review app's routes too."""
    services = list(services)
    schemas = dict(SCHEMAS)
    paths: dict[str, Any] = {
        "/cds-services": {"get": _discovery()},
    }
    for service in services:
        request_name = f"{_name(service.hook)}Request"
        schemas.setdefault(request_name, _request_schema(service.hook))
        paths[f"/cds-services/{service.id}"] = {
            "post": _invoke(service, request_name, jwt_required)
        }
        paths[f"/cds-services/{service.id}/feedback"] = {"post": _feedback(service, jwt_required)}
    paths.update(_conventions())
    if review:
        paths.update(openapi_review.review_paths())
    document: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "CPOC CDS Hooks service",
            "version": __version__,
            "summary": "CDS Hooks 2.0.1 services for ASCO CPOC oncology billing.",
            "description": (
                "Discovery, the hook services and their feedback (CDS Hooks 2.0.1), plus "
                "the service's probes. Request and response bodies are JSON; hook requests "
                "carry FHIR R4 resources."
            ),
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": (
                        "CDS Hooks 2.0.1 §Trusting CDS Clients: a JWT signed ES384 or RS384 "
                        "by a trusted issuer, aud = the URL called, a fresh jti."
                    ),
                }
            },
        },
    }
    if review:
        document["components"]["securitySchemes"].update(openapi_review.SECURITY_SCHEMES)
        document["info"]["description"] += (
            " The SMART review app's routes (`/review`, tag `review`) are browser pages, "
            "downloads and forms behind the review session cookie."
        )
    if base_url:
        document["servers"] = [{"url": base_url}]
    return document


def _name(hook: str) -> str:
    """A component name from a hook id (``order-sign`` → ``OrderSign``)."""
    return "".join(part.capitalize() for part in hook.replace(".", "-").split("-") if part)


def _request_schema(hook: str) -> Schema:
    context = HOOK_CONTEXTS.get(hook, {"type": "object"})
    return {
        "allOf": [ref("HookRequest")],
        "properties": {"hook": {"const": hook}, "context": context},
    }


def _discovery() -> dict[str, Any]:
    return {
        "operationId": "discovery",
        "summary": "The CDS services this server offers (spec §Discovery).",
        "responses": {"200": _body_response("The services.", ref("Discovery"))},
    }


def _invoke(service: CdsService, request_name: str, jwt_required: bool) -> dict[str, Any]:
    responses = {
        "200": _body_response("Cards (possibly none) and systemActions.", ref("CdsResponse")),
        "400": _error("The body is not a CDS Hooks request this service can read."),
        "412": _error("The patient's record could not be read (prefetch or FHIR server)."),
        "413": _error("A body or Bundle over the service's limits."),
        "415": _error("The body is not JSON."),
        "500": _error("Internal error; the call was logged."),
    }
    if jwt_required:
        responses["401"] = _error("The client's JWT is missing or refused.")
    operation: dict[str, Any] = {
        "operationId": f"invoke-{service.id}",
        "summary": service.title,
        "description": service.description,
        "tags": [service.hook],
        "requestBody": {
            "required": True,
            "content": {_JSON: {"schema": ref(request_name)}},
        },
        "responses": dict(sorted(responses.items())),
    }
    return _secured(operation, jwt_required)


def _feedback(service: CdsService, jwt_required: bool) -> dict[str, Any]:
    responses = {
        "200": _body_response("Counts of what was new.", ref("FeedbackResult")),
        "400": _error("The body is not a feedback request."),
        "415": _error("The body is not JSON."),
        "500": _error("Internal error; the call was logged."),
    }
    if jwt_required:
        responses["401"] = _error("The client's JWT is missing or refused.")
    operation: dict[str, Any] = {
        "operationId": f"feedback-{service.id}",
        "summary": f"Feedback on the cards of {service.id} (spec §Feedback).",
        "tags": [service.hook],
        "requestBody": {"required": True, "content": {_JSON: {"schema": ref("Feedback")}}},
        "responses": dict(sorted(responses.items())),
    }
    return _secured(operation, jwt_required)


def _conventions() -> dict[str, Any]:
    return {
        "/about": {
            "get": {
                "operationId": "about",
                "summary": "The page cards name as their source; shows the version.",
                "responses": {
                    "200": {
                        "description": "HTML page.",
                        "content": {"text/html": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "summary": "Liveness: the process serves requests.",
                "responses": {"200": _body_response("Alive.", ref("Health"))},
            }
        },
        "/readyz": {
            "get": {
                "operationId": "readyz",
                "summary": "Readiness: the store answers and trusted issuers' keys are loaded.",
                "responses": {
                    "200": _body_response("Ready.", ref("Readiness")),
                    "503": _body_response("Not ready: see `failed`.", ref("Readiness")),
                },
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document.",
                "responses": {"200": _body_response("OpenAPI 3.1.", {"type": "object"})},
            }
        },
    }


def _secured(operation: dict[str, Any], jwt_required: bool) -> dict[str, Any]:
    if jwt_required:
        operation["security"] = [{SECURITY_SCHEME: []}]
    return operation


def _body_response(description: str, schema: Schema) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _body_response(description, ref("Error"))
