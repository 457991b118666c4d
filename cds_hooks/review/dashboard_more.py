"""The rows behind the dashboard's FFS conflicts and pathway adherence (issue 17 item 4):
``/review/dashboard/ffs`` and ``/review/dashboard/adherence``, each with ``?format=csv|xlsx``.

FFS conflicts come from the ChargeItems and Claims the dashboard reads
(reports/ffs_conflicts.py; cpoc-rules §10, value-and-models §15); the adherence rows are the
signed decisions ``cpoc report adherence`` counts (reports/adherence.py). The filters are
the dashboard's (dashboard.py ``filters_from``); every link keeps a launch's handle (``?s=``).
"""

from __future__ import annotations

from typing import Any

from flask import request
from werkzeug.wrappers import Response

from cds_hooks.review.blueprint import blueprint, page
from cds_hooks.review.dashboard import (
    _bad_filter,
    _hook_app,
    _revenue,
    conflicts_of,
    decisions_of,
    download,
    filters_from,
    link,
    names_of,
)
from cds_hooks.review.pages import patient_names
from cds_hooks.review.sessions import current_session
from cds_hooks.review.smart import fhir_client_for
from cpoc_fhir.exports import Table

# ?status= on the adherence rows: which decisions a count of the dashboard stands for
ADHERENCE_STATUSES = {"on": "on pathway", "off": "off pathway"}
SWITCHED = "switched (suggestion taken; outside the rate)"


@blueprint.get("/dashboard/ffs")
def dashboard_ffs() -> Response:
    """The FFS charges dated in a month of a pack that replaces fee-for-service."""
    runtime = _hook_app().runtime
    try:
        filters = filters_from(request.args, runtime.today(), runtime.evaluator.models)
    except ValueError as exc:
        return _bad_filter(exc)
    _summary, _names, cached = _revenue(filters, with_names=False)
    conflicts = conflicts_of(cached.reads, filters)
    names = names_of(cached, {c.patient_ref for c in conflicts})
    wanted = request.args.get("format", "")
    if wanted in ("csv", "xlsx"):
        from cpoc_fhir.reports.ffs_conflicts import conflicts_table

        table = conflicts_table(conflicts, names)
        return download(table, wanted, f"ffs-conflicts-{filters.start}-{filters.end}")
    return page(
        "dashboard_ffs.html",
        conflicts=conflicts,
        filters=filters,
        names=names,
        notes=cached.reads.notes,
        export_url=lambda kind: link(".dashboard_ffs", filters, format=kind),
        back_url=link(".dashboard", filters, group=None, level=None, code=None),
    )


def adherence_rows(
    decisions: list[Any], pathway: str | None, status: str | None
) -> list[tuple[Any, str]]:
    """The signed on/off-pathway decisions (as the adherence report counts them) with what
    each counts as; ``pathway``: one pathway id only; ``status``: "on" or "off" only (the
    switched ones are neither)."""
    from cpoc_fhir.reports.adherence import NO_PATHWAY_ID

    rows: list[tuple[Any, str]] = []
    for d in decisions:
        if not d.signed or d.status not in ("on-pathway", "off-pathway"):
            continue
        if pathway and (d.pathway_id or NO_PATHWAY_ID) != pathway:
            continue
        if d.status == "off-pathway" and d.accepted:
            counted = SWITCHED
        elif d.status == "on-pathway":
            counted = ADHERENCE_STATUSES["on"]
        else:
            reason = "with a reason" if d.override_reason else "no reason"
            counted = f"{ADHERENCE_STATUSES['off']} ({reason})"
        if status and not counted.startswith(ADHERENCE_STATUSES[status]):
            continue
        rows.append((d, counted))
    return rows


@blueprint.get("/dashboard/adherence")
def dashboard_adherence() -> Response:
    """The signed orders behind the adherence numbers: patient, order date, pathway, on/off."""
    runtime = _hook_app().runtime
    try:
        filters = filters_from(request.args, runtime.today(), runtime.evaluator.models)
    except ValueError as exc:
        return _bad_filter(exc)
    status = (request.args.get("status") or "").strip() or None
    if status is not None and status not in ADHERENCE_STATUSES:
        return _bad_filter(ValueError("status: on or off"))
    pathway = (request.args.get("pathway") or "").strip()[:200] or None
    decisions, _start, _end, tz, zone = decisions_of(filters)
    rows = adherence_rows(decisions, pathway, status)
    dated = [(d, counted, d.decided_at.astimezone(tz).date()) for d, counted in rows]
    with fhir_client_for(current_session()) as client:
        names = patient_names(client, {f"Patient/{d.patient_id}" for d, _c, _o in dated})
    wanted = request.args.get("format", "")
    if wanted in ("csv", "xlsx"):
        table = Table(
            ("order_date", "patient", "name", "pathway", "pathway_title", "counted_as"),
            tuple(
                (
                    on,
                    f"Patient/{d.patient_id}",
                    names.get(f"Patient/{d.patient_id}", ""),
                    d.pathway_id or "",
                    d.pathway_title or "",
                    counted,
                )
                for d, counted, on in dated
            ),
        )
        return download(table, wanted, f"adherence-{filters.start}-{filters.end}")
    extra = {"pathway": pathway, "status": status}
    return page(
        "dashboard_adherence.html",
        rows=dated,
        filters=filters,
        names=names,
        pathway=pathway,
        showing=ADHERENCE_STATUSES.get(status or ""),
        zone=zone,
        export_url=lambda kind: link(".dashboard_adherence", filters, format=kind, **extra),
        back_url=link(".dashboard", filters, group=None, level=None, code=None),
    )
