"""The review app's pages and actions as Flask views on the ``/review`` blueprint.

- ``GET /review/patient/<id>``: the patient view (``?view=print``: the printable one);
- ``GET /review/queue``: the work queue, filtered by the query string;
- ``POST /review/actions``: one review action (the CSRF check runs blueprint-wide first),
  then a 303 back to the page the form came from (the patient page at the row acted on, or
  the queue with its filters) with a short message chosen here: a one-time cookie carries
  only an outcome code and counts (flash.py), read once, so a reload shows no banner.

The data comes from ``pages.py`` and the writes from ``actions.Reviewer``, built per request
from the session (its FHIR server, token, fhirUser and write scope) and the app's evaluator,
publish settings, payer, clock and audit log (``app.extensions["cpoc"]``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from flask import current_app, redirect, request, url_for
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from cds_hooks.blueprint import HookApp
from cds_hooks.review import flash
from cds_hooks.review.actions import (
    ReadOnlyError,
    ReviewConflict,
    Reviewer,
    ReviewError,
    ReviewRefused,
)
from cds_hooks.review.blueprint import blueprint, page
from cds_hooks.review.pages import QueueFilters, patient_page, perform, work_queue
from cds_hooks.review.patient_summary import ACTION_FIRST, ANCHOR, ORDERS
from cds_hooks.review.sessions import current_session
from cds_hooks.review.smart import fhir_client_for
from cpoc_fhir.fhir.errors import FhirAuthError, FhirError, FhirNotFound

log = logging.getLogger(__name__)

_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
# The messages an action may ask for through its one-time cookie (flash.py): an outcome code
# (+ counts for a batch).
MESSAGES = {
    "approved": "Charge approved: it is now billable.",
    "held": "Charge put on hold.",
    "declined": "Charge declined: it is now not billable.",
    "corrected": "Charge corrected: the old item is entered-in-error, the new one billable.",
}


def _hook_app() -> HookApp:
    hook_app: HookApp = current_app.extensions["cpoc"]
    return hook_app


def _message() -> tuple[str | None, str]:
    """The message the action before this page asked for (its one-time cookie, read once:
    a reload shows no banner), and its kind (info or warning)."""
    outcome = flash.read(request)
    if outcome is None:
        return None, "info"
    done, counts_of = outcome
    if done in MESSAGES:
        return MESSAGES[done], "info"
    if done == "batch":
        counts = {k: counts_of.get(k, 0) for k in ("approved", "conflict", "failed")}
        text = f"{counts['approved']} approved"
        if counts["conflict"]:
            text += f", {counts['conflict']} changed by someone else (reload and try again)"
        if counts["failed"]:
            text += f", {counts['failed']} failed"
        return text + ".", "warning" if counts["conflict"] or counts["failed"] else "info"
    return None, "info"


def _patient_id(value: str | None) -> str | None:
    return value if value and _FHIR_ID.fullmatch(value) else None


@blueprint.get("/patient/<patient_id>")
def patient(patient_id: str) -> Response:
    """The patient's billing months beside the server's ChargeItems."""
    session = current_session()
    if _patient_id(patient_id) is None:
        raise NotFound()
    runtime = _hook_app().runtime
    with fhir_client_for(session) as client:
        data = patient_page(
            client,
            runtime.evaluator,
            runtime.publish,
            patient_id,
            runtime.today(),
            session.can_write,
        )
    if request.args.get("view") == "print":
        return page("print.html", page=data)
    message, kind = _message()
    open_only, order = _table_view(request.args)
    response = page(
        "patient.html",
        page=data,
        message=message,
        message_kind=kind,
        open_only=open_only,
        order=order,
    )
    return flash.cleared(response) if message else response


@blueprint.get("/queue")
def queue() -> Response:
    """Planned and held ChargeItems across patients, filtered by the query string."""
    session = current_session()
    try:
        filters = QueueFilters.from_args(request.args, _hook_app().runtime.evaluator.models)
    except ValueError as exc:
        return page("errors/action.html", 400, title="Unknown filter", message=str(exc), back=None)
    with fhir_client_for(session) as client:
        runtime = _hook_app().runtime
        data = work_queue(
            client, runtime.publish, filters, session.can_write, runtime.evaluator.models
        )
    message, kind = _message()
    response = page("queue.html", page=data, message=message, message_kind=kind)
    return flash.cleared(response) if message else response


@blueprint.post("/actions")
def actions() -> Response:
    """Run the posted action, then go back (303) to the page the form came from."""
    session = current_session()
    hook = _hook_app()
    pid = _patient_id(request.form.get("patient_id"))
    query: dict[str, Any] = {"patient_id": pid, **_table_query(request.form)}
    back = url_for(".patient", **query) if pid else _queue_back()
    with fhir_client_for(session) as client:
        reviewer = Reviewer(
            client=client,
            publish=hook.runtime.publish,
            payer=hook.runtime.evaluator.payer,
            user=session.fhir_user,
            can_write=session.can_write,
            now=hook.runtime.now,
            audit=hook.log,
            models=hook.runtime.evaluator.models,
        )
        try:
            results = perform(reviewer, request.form, request.form.getlist("item"))
        except ReviewError as exc:
            return _refused(exc, back)
        except FhirNotFound:
            return _refused(ReviewRefused("that charge is not on the FHIR server"), back, 404)
        except FhirAuthError:
            raise
        except FhirError as exc:
            log.warning("review action: FHIR error: %s", exc)
            return _refused(ReviewError("the FHIR server could not be reached"), back, 502)
    if request.form.get("action") == "batch-approve":
        outcomes = [r.outcome for r in results]
        counts = {k: outcomes.count(k) for k in ("approved", "conflict", "failed")}
        return flash.remember(redirect(back, 303), "batch", counts)
    anchor = request.form.get("anchor") or ""
    fragment = f"#{anchor}" if pid and ANCHOR.fullmatch(anchor) else ""
    return flash.remember(redirect(f"{back}{fragment}", 303), results[0].outcome)


def _table_view(args: Mapping[str, str]) -> tuple[bool, str]:
    """The month table's filter (``show=open``) and order (``order=``, default action first);
    an unknown order is the default."""
    order = args.get("order", ACTION_FIRST)
    return args.get("show") == "open", order if order in ORDERS else ACTION_FIRST


def _table_query(form: Mapping[str, str]) -> dict[str, Any]:
    """The patient page's query an action returns to: the table's filter and order as the
    form carried them (only what differs from the default, so the plain URL stays plain).
    Typed ``Any`` for ``url_for(**…)``, whose own keyword arguments are typed."""
    open_only, order = _table_view(form)
    kept: dict[str, Any] = {"show": "open"} if open_only else {}
    return kept | ({"order": order} if order != ACTION_FIRST else {})


def _queue_back() -> str:
    """The queue with the filters the batch form came from (``back_query``: the queue's query
    string), each filter checked; unknown ones are dropped."""
    raw = dict(parse_qsl((request.form.get("back_query") or "")[:2000]))
    try:
        filters = QueueFilters.from_args(raw, _hook_app().runtime.evaluator.models)
    except ValueError:
        return url_for(".queue")
    kept = {k: v for k, v in vars(filters).items() if v}
    return url_for(".queue", **kept)


def _refused(exc: ReviewError, back: str, status: int | None = None) -> Response:
    """The action was not applied: say why (the message names items, never patient data)."""
    if status is None:
        if isinstance(exc, ReadOnlyError):
            status = 403
        elif isinstance(exc, ReviewConflict):
            status = 409
        elif isinstance(exc, ReviewRefused):
            status = 400
        else:
            status = 502
    titles = {403: "Read-only session", 409: "Changed by someone else", 404: "Not found"}
    title = titles.get(status, "Action not applied")
    return page("errors/action.html", status, title=title, message=str(exc), back=back)
