"""The OpenAPI 3.1 description of the SMART review app's routes (``/review``, issue 17 item 7).

The review app is a browser app: its pages answer HTML, its exports CSV or Excel, its forms
post ``application/x-www-form-urlencoded`` and answer with a redirect (303) or an HTML page
saying why not. Described here so an administrator (or a gateway in front of the app) sees
every route, its query parameters, what it answers and when. Every signed-in route needs the
session cookie (``reviewSession``) and answers 401 with the "session ended" page without it;
the URL's ``s`` names the launch's own cookie (several launches in one browser). A route of
the blueprint with no entry here fails tests/test_service_conventions.py (url_map check).
The document itself is assembled in openapi.py.
"""

from __future__ import annotations

from typing import Any

SESSION_SCHEME = "reviewSession"
_HTML = "text/html"
_CSV = "text/csv"
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_FORM = "application/x-www-form-urlencoded"
_MONTH = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
_FHIR_ID = r"^[A-Za-z0-9\-.]{1,64}$"

SECURITY_SCHEMES = {
    SESSION_SCHEME: {
        "type": "apiKey",
        "in": "cookie",
        "name": "__Host-cpoc_review",
        "description": (
            "The opaque review session id set at the SMART callback (HttpOnly, Secure, "
            "SameSite=None, Partitioned). With `?s=<handle>` the launch's own cookie "
            "`__Host-cpoc_review_<handle>` is used instead. Unsafe methods also need the "
            "session's CSRF token (`csrf_token` field or `X-CSRF-Token` header)."
        ),
    }
}


def _query(name: str, description: str, example: str | None = None, **schema: Any) -> Any:
    parameter: dict[str, Any] = {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "string", **schema},
    }
    if example is not None:
        parameter["example"] = example
    return parameter


def _path(name: str, description: str, example: str, pattern: str = _FHIR_ID) -> Any:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "pattern": pattern},
        "example": example,
    }


HANDLE = _query(
    "s",
    "The launch handle every URL of a launch carries (its cookie is the secret, not this).",
    pattern=r"^[A-Za-z0-9_\-]{8,32}$",
)
PATIENT_ID = _path("patient_id", "The FHIR Patient id.", "appendix-a-folfox")
FORMAT = _query("format", "The download's format.", "csv", enum=["csv", "xlsx"], default="csv")
# The dashboard's filters (dashboard.filters_from): a bad value answers 400 naming it.
DASHBOARD_FILTERS = [
    _query("from", "First month (default: six months up to today).", "2025-04", pattern=_MONTH),
    _query("to", "Last month (default: this month).", "2025-09", pattern=_MONTH),
    _query("provider", "A Practitioner reference (performer or enterer).", maxLength=200),
    _query("model", "A payment-model pack id.", "cpoc"),
    _query("code", "A billing code of any pack.", "xx204"),
]
ROWS_FILTERS = [
    _query("group", "Revenue group.", "billed", enum=["billed", "planned", "held", "not-billable"]),
    _query("level", "Treatment Month level.", "2", enum=["1", "2", "3", "4"]),
]
QUEUE_FILTERS = [
    _query("month", "Occurrence month.", "2025-09", pattern=_MONTH),
    _query("status", "Review status.", "planned", enum=["planned", "on-hold"]),
    _query("code", "A billing code of any pack.", "xx204"),
    _query("provider", "A Practitioner reference (performer or enterer)."),
    _query("model", "A payment-model pack's short name.", "cpoc"),
]
DOWNLOAD = _query(
    "format",
    "`csv` or `xlsx` downloads the rows; anything else (or none) shows the page.",
    "csv",
    enum=["csv", "xlsx"],
)


def _content(*types: str) -> dict[str, Any]:
    return {kind: {"schema": {"type": "string"}} for kind in types}


def _answer(description: str, *types: str) -> dict[str, Any]:
    return {"description": description, "content": _content(*(types or (_HTML,)))}


def _redirect(status_description: str) -> dict[str, Any]:
    return {
        "description": status_description,
        "headers": {"Location": {"description": "Where to.", "schema": {"type": "string"}}},
    }


ENDED = _answer("No live session (never launched, ended or expired): the session-ended page.")
UNREACHABLE = _answer("The EHR's FHIR or authorization server could not be reached.")
NOT_FOUND = _answer("Not found (an id or value not in the expected form, or unknown).")
BAD_FILTER = _answer("An unknown filter value: the page names it.")


def _operation(
    operation_id: str,
    summary: str,
    responses: dict[str, Any],
    parameters: list[Any] | None = None,
    signed_in: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "tags": ["review"],
        "parameters": parameters or [],
        "responses": dict(sorted(responses.items())),
        **extra,
    }
    if signed_in:
        operation["security"] = [{SESSION_SCHEME: []}]
        operation["responses"].setdefault("401", ENDED)
        operation["responses"] = dict(sorted(operation["responses"].items()))
    return operation


def _form(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "required": required}
    return {"required": True, "content": {_FORM: {"schema": schema}}}


_TEXT: dict[str, Any] = {"type": "string"}
ACTION_FORM = _form(
    {
        "csrf_token": _TEXT,
        "action": {"enum": ["approve", "hold", "decline", "correct", "batch-approve"]},
        "item_id": {**_TEXT, "description": "The ChargeItem id (one-item actions)."},
        "version": {**_TEXT, "description": "The version the user saw (If-Match)."},
        "reason": {**_TEXT, "description": "Required to hold, decline or correct."},
        "code": {**_TEXT, "description": "correct: the new code (of the item's pack)."},
        "level": {**_TEXT, "description": "correct: the new level."},
        "item": {
            "type": "array",
            "items": {"type": "string", "pattern": r"^[^@]+@[^@]+$"},
            "description": "batch-approve: `id@version`, repeated.",
        },
        "patient_id": {**_TEXT, "description": "Return to this patient's page."},
        "anchor": {**_TEXT, "pattern": r"^[A-Za-z0-9-]{1,100}$", "description": "Its row."},
        "show": {"enum": ["open"]},
        "order": {"enum": ["action", "months"]},
        "back_query": {**_TEXT, "description": "batch-approve: the queue's query to return to."},
    },
    ["csrf_token", "action"],
)


def review_paths() -> dict[str, Any]:
    """Every route of the review blueprint (its static files aside), in OpenAPI form."""
    page = _answer("The page.")
    return {
        "/review/launch": {
            "get": _operation(
                "review-launch",
                "Start a SMART launch: EHR (iss + launch) or standalone (iss, or none).",
                {
                    "302": _redirect("To the EHR's authorization endpoint (PKCE S256)."),
                    "400": _answer("No launch context, or an issuer not allowed."),
                    "502": UNREACHABLE,
                    "503": _answer("The review app is not set up (no client id)."),
                },
                [
                    _query("iss", "The EHR's FHIR base URL (one of CPOC_REVIEW_ISSUERS)."),
                    _query("launch", "The EHR's launch token."),
                    _query("next", "Standalone only: where to land.", enum=["dashboard", "queue"]),
                ],
                signed_in=False,
            )
        },
        "/review/callback": {
            "get": _operation(
                "review-callback",
                "The SMART redirect URI: check state, trade the code, start the session.",
                {
                    "303": _redirect("To /review/?s=<handle>, under a new session cookie."),
                    "400": _answer("Unknown or used state, or the sign-in was refused."),
                    "403": _answer("Access denied, or no read scope granted."),
                    "502": UNREACHABLE,
                },
                [
                    _query("state", "The state sent to authorize."),
                    _query("code", "The authorization code."),
                    _query("error", "An OAuth error code instead of a code."),
                ],
                signed_in=False,
            )
        },
        "/review/": {
            "get": _operation(
                "review-home",
                "The launch's patient, else the work queue (or the dashboard asked for).",
                {"303": _redirect("To the patient page, the queue or the dashboard.")},
                [HANDLE],
            )
        },
        "/review/logout": {
            "post": _operation(
                "review-logout",
                "End this launch's session (the EHR's sign-in is untouched).",
                {"200": _answer("Signed out."), "403": _answer("No or a wrong CSRF token.")},
                [HANDLE],
                requestBody=_form({"csrf_token": _TEXT}, ["csrf_token"]),
            )
        },
        "/review/patient/{patient_id}": {
            "get": _operation(
                "review-patient",
                "The patient's billing months beside the server's ChargeItems.",
                {"200": page, "404": NOT_FOUND, "502": UNREACHABLE},
                [
                    PATIENT_ID,
                    HANDLE,
                    _query("view", "The printable page.", "print", enum=["print"]),
                    _query("show", "Only the rows needing action.", "open", enum=["open"]),
                    _query(
                        "order",
                        "Rows needing action first (default), or plain month order.",
                        "months",
                        enum=["action", "months"],
                        default="action",
                    ),
                ],
            )
        },
        "/review/patient/{patient_id}/resource/{resource_type}/{resource_id}": {
            "get": _operation(
                "review-resource",
                "A resource the patient's page linked (evidence, ChargeItems), inside the app.",
                {
                    "200": page,
                    "404": _answer(
                        "Not a link of this patient's page (no FHIR read is made), another "
                        "patient's resource, or not on the server."
                    ),
                },
                [
                    PATIENT_ID,
                    _path(
                        "resource_type",
                        "A FHIR resource type.",
                        "ChargeItem",
                        "^[A-Z][A-Za-z]{1,40}$",
                    ),
                    _path("resource_id", "The resource's id.", "x"),
                    HANDLE,
                    _query("k", "The page's tag of this link (HMAC for the session).", "x"),
                ],
            )
        },
        "/review/patient/{patient_id}/lines": {
            "get": _operation(
                "review-patient-lines",
                "The patient's computed lines as of today (cpoc timeline's export rows).",
                {"200": _answer("The lines.", _CSV, _XLSX), "404": NOT_FOUND},
                [PATIENT_ID, HANDLE, FORMAT],
            )
        },
        "/review/queue": {
            "get": _operation(
                "review-queue",
                "Planned and held ChargeItems across patients, filtered.",
                {"200": page, "400": BAD_FILTER, "502": UNREACHABLE},
                [HANDLE, *QUEUE_FILTERS],
            )
        },
        "/review/queue/export": {
            "get": _operation(
                "review-queue-export",
                "The work queue's items with the same filters.",
                {
                    "200": _answer("The items.", _CSV, _XLSX),
                    "400": BAD_FILTER,
                    "404": _answer("An unknown format."),
                },
                [HANDLE, *QUEUE_FILTERS, FORMAT],
            )
        },
        "/review/actions": {
            "post": _operation(
                "review-action",
                "Approve, hold, decline, correct or batch-approve, one FHIR transaction each.",
                {
                    "303": _redirect("Back to the patient's row or to the filtered queue."),
                    "400": _answer("Refused (e.g. a hold without a reason)."),
                    "403": _answer("No or a wrong CSRF token, or a read-only session."),
                    "404": _answer("The ChargeItem is not on the FHIR server."),
                    "409": _answer("Changed by someone else since the page was shown."),
                    "502": _answer("The FHIR server could not be reached."),
                },
                [HANDLE],
                requestBody=ACTION_FORM,
            )
        },
        **_dashboard_paths(page),
    }


def _dashboard_paths(page: dict[str, Any]) -> dict[str, Any]:
    downloads = _answer("The page, or the rows as CSV or Excel (`format`).", _HTML, _CSV, _XLSX)
    return {
        "/review/dashboard": {
            "get": _operation(
                "review-dashboard",
                "Revenue, levels, backlog, holds, FFS conflicts and adherence, filtered.",
                {"200": page, "400": BAD_FILTER, "502": UNREACHABLE},
                [HANDLE, *DASHBOARD_FILTERS, *ROWS_FILTERS],
            )
        },
        "/review/dashboard/rows": {
            "get": _operation(
                "review-dashboard-rows",
                "The ChargeItems behind a dashboard number.",
                {"200": downloads, "400": BAD_FILTER, "502": UNREACHABLE},
                [HANDLE, *DASHBOARD_FILTERS, *ROWS_FILTERS, DOWNLOAD],
            )
        },
        "/review/dashboard/ffs": {
            "get": _operation(
                "review-dashboard-ffs",
                "Fee-for-service charges inside a month of a pack that replaces FFS.",
                {"200": downloads, "400": BAD_FILTER, "502": UNREACHABLE},
                [HANDLE, *DASHBOARD_FILTERS, DOWNLOAD],
            )
        },
        "/review/dashboard/adherence": {
            "get": _operation(
                "review-dashboard-adherence",
                "The signed pathway decisions behind the adherence counts.",
                {"200": downloads, "400": BAD_FILTER},
                [
                    HANDLE,
                    *DASHBOARD_FILTERS,
                    _query("pathway", "A pathway id.", maxLength=200),
                    _query("status", "On or off pathway.", "on", enum=["on", "off"]),
                    DOWNLOAD,
                ],
            )
        },
    }
