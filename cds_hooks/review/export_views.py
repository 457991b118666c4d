"""Downloads of the review app (issue 17 item 5): the work queue as it is filtered
(``/review/queue/export?format=csv|xlsx&…``) and one patient's computed lines
(``/review/patient/<id>/lines?format=csv|xlsx``, the rows of ``cpoc timeline --format
csv``). Same session, same FHIR reads as the pages; names as the queue shows them."""

from __future__ import annotations

from datetime import date

from flask import current_app, request
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from cds_hooks.blueprint import HookApp
from cds_hooks.review.blueprint import blueprint, page
from cds_hooks.review.dashboard import download
from cds_hooks.review.pages import QueueFilters, work_queue
from cds_hooks.review.record import patient_record
from cds_hooks.review.sessions import current_session
from cds_hooks.review.smart import fhir_client_for
from cpoc_fhir.exports import Cell, Table, timeline_table

FORMATS = ("csv", "xlsx")
QUEUE_HEADERS = ("month", "patient", "name", "item", "model", "code", "status", "amount",
                 "currency", "hold reason", "from", "providers")  # fmt: skip


def _hook_app() -> HookApp:
    hook_app: HookApp = current_app.extensions["cpoc"]
    return hook_app


def _format() -> str:
    kind = request.args.get("format", "csv")
    if kind not in FORMATS:
        raise NotFound()
    return kind


@blueprint.get("/queue/export")
def queue_export() -> Response:
    """The work queue's shown items (the same filters) as CSV or Excel."""
    kind = _format()
    session = current_session()
    runtime = _hook_app().runtime
    models = runtime.evaluator.models
    try:
        filters = QueueFilters.from_args(request.args, models)
    except ValueError as exc:
        return page("errors/action.html", 400, title="Unknown filter", message=str(exc), back=None)
    with fhir_client_for(session) as client:
        data = work_queue(client, runtime.publish, filters, session.can_write, models)
    rows: list[tuple[Cell, ...]] = []
    for item in data.items:
        patient = item.patient_ref or ""
        rows.append(
            (
                item.month,
                patient,
                data.names.get(patient, ""),
                item.ref,
                data.packs.get(item.id, ""),
                item.code,
                item.review_status,
                item.amount,
                item.currency,
                item.hold_reason,
                item.start,
                " ".join(item.providers),
            )
        )
    stem = f"work-queue-{filters.month or 'all'}"
    return download(Table(QUEUE_HEADERS, tuple(rows)), kind, stem, "work queue")


@blueprint.get("/patient/<patient_id>/lines")
def patient_lines(patient_id: str) -> Response:
    """One patient's computed lines as of today, as CSV or Excel."""
    from cds_hooks.review.views import _patient_id

    kind = _format()
    session = current_session()
    if _patient_id(patient_id) is None:
        raise NotFound()
    runtime = _hook_app().runtime
    with fhir_client_for(session) as client:
        resources = patient_record(client, patient_id)
    today: date = runtime.today()
    timeline = runtime.evaluator.timeline(resources, today)
    return download(timeline_table([timeline]), kind, f"lines-{patient_id}", "lines")
