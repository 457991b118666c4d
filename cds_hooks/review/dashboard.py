"""The practice dashboard (``/review/dashboard``, issue 17 item 4) and the rows behind its
numbers (``/review/dashboard/rows``, with ``?format=csv|xlsx``).

What it shows comes from the ChargeItems on the FHIR server, summed as ``cpoc report
revenue`` sums them (cpoc_fhir/reports/revenue.py says what each status counts as): revenue
by month and status and by month and code (stacked bars, the kit of reports/html_charts.py),
the level distribution of Treatment Months, the provisional backlog with its reasons, the
holds by reason, revenue by payer. Filters: months from/to, provider, payment-model pack,
payer (the patient's primary Coverage on the line's day, reports/revenue_payers.py), code.
Every number links to the rows behind it; the rows page exports them.

One read of the server serves a session for a minute (dashboard_cache.py; "Figures as of
HH:MM · Refresh"). The standalone launch lands here with ``/review/launch?next=dashboard``
(blueprint.py).
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any
from urllib.parse import urlencode

from flask import current_app, request, url_for
from werkzeug.wrappers import Response

from cds_hooks.blueprint import HookApp
from cds_hooks.review.blueprint import blueprint, page
from cds_hooks.review.dashboard_cache import CachedRead, drop_after_post, read_cache
from cds_hooks.review.packs import known_codes, short_name
from cds_hooks.review.pages import patient_names
from cds_hooks.review.sessions import current_session
from cds_hooks.review.smart import fhir_client_for
from cpoc_fhir.packs.registry import pack_modules
from cpoc_fhir.packs.settings import ModelSettings
from cpoc_fhir.reports.revenue import (
    GROUP_LABELS,
    GROUPS,
    REVENUE_GROUPS,
    Revenue,
    RevenueFilters,
    month_table,
    rows_table,
    summarise,
)
from cpoc_fhir.reports.revenue_items import PackIndex, revenue_rows
from cpoc_fhir.reports.revenue_payers import with_payers
from cpoc_fhir.reports.revenue_reads import ServerReads, read_server

blueprint.after_request(drop_after_post)  # a POST (an action) may change the figures

_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
DEFAULT_MONTHS = 6  # without ?from: the six months up to this one
FILTER_KEYS = ("from", "to", "provider", "model", "payer", "code", "group", "level")


def _hook_app() -> HookApp:
    hook_app: HookApp = current_app.extensions["cpoc"]
    return hook_app


def months_back(today: date, months: int) -> str:
    """YYYY-MM of the month ``months - 1`` before ``today``'s (6 → five months earlier)."""
    index = today.year * 12 + today.month - 1 - (months - 1)
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def filters_from(
    args: Mapping[str, str], today: date, models: ModelSettings | None = None
) -> RevenueFilters:
    """The dashboard's filters from the query; a bad value raises ``ValueError`` naming it."""
    start = (args.get("from") or "").strip() or months_back(today, DEFAULT_MONTHS)
    end = (args.get("to") or "").strip() or today.strftime("%Y-%m")
    for name, value in (("from", start), ("to", end)):
        if not _MONTH.fullmatch(value):
            raise ValueError(f"{name}: not YYYY-MM: {value[:20]!r}")
    if start > end:
        raise ValueError(f"from: {start} is after to {end}")
    model = (args.get("model") or "").strip()
    if model and model not in pack_modules(models):
        raise ValueError(f"model: not a known pack: {model[:40]!r}")
    code = (args.get("code") or "").strip()
    if code and code not in known_codes(models):
        raise ValueError(f"code: not a code of any pack: {code[:40]!r}")
    group = (args.get("group") or "").strip()
    if group and group not in GROUPS:
        raise ValueError(f"group: one of {', '.join(GROUPS)}")
    level_text = (args.get("level") or "").strip()
    if level_text and level_text not in ("1", "2", "3", "4"):
        raise ValueError("level: 1, 2, 3 or 4")
    provider = (args.get("provider") or "").strip()[:200]
    payer = (args.get("payer") or "").strip()[:200]  # any text: a payer not found has no rows
    level = int(level_text) if level_text else None
    return RevenueFilters(start, end, provider, model, code, group, level, payer)


def query(filters: RevenueFilters, **changes: Any) -> str:
    """The query string of ``filters`` with ``changes`` (None drops a key)."""
    return urlencode(query_args(filters, **changes))


def link(endpoint: str, filters: RevenueFilters, **changes: Any) -> str:
    """``endpoint``'s URL with the filters' query: through ``url_for``, so a launch's handle
    (``?s=``, blueprint.py) is kept beside them."""
    return url_for(endpoint, **query_args(filters, **changes))


def query_args(filters: RevenueFilters, **changes: Any) -> dict[str, Any]:
    """The query of ``filters`` with ``changes`` (None or "" drops a key) as a dict."""
    values: dict[str, Any] = {
        "from": filters.start,
        "to": filters.end,
        "provider": filters.provider,
        "model": filters.model,
        "payer": filters.payer,
        "code": filters.code,
        "group": filters.group,
        "level": filters.level,
    }
    values.update(changes)
    return {k: v for k, v in values.items() if v not in (None, "")}


def server_read() -> CachedRead:
    """This session's read of the server: kept ``TTL_S`` seconds (dashboard_cache.py);
    ``?refresh=1`` reads again."""
    runtime = _hook_app().runtime
    session = current_session()

    def read() -> ServerReads:
        with fhir_client_for(session) as client:
            return read_server(client, runtime.evaluator.knowledge, _claims_for)

    refresh = request.args.get("refresh") == "1"
    return read_cache().get(session.session_id, read, runtime.now, refresh)


def names_of(cached: CachedRead, refs: Iterable[str]) -> dict[str, str]:
    """The names of the patients ``refs``, looked up once per read."""
    session = current_session()

    def lookup(missing: set[str]) -> dict[str, str]:
        with fhir_client_for(session) as client:
            return patient_names(client, missing)

    return cached.names_for(refs, lookup)


def _revenue(
    filters: RevenueFilters, with_names: bool = True
) -> tuple[Revenue, dict[str, str], CachedRead]:
    """The filtered revenue, its patients' names (``with_names``) and the session's read
    (every ChargeItem, the payers, the CPOC patients' Claims)."""
    runtime = _hook_app().runtime
    packs = PackIndex(runtime.publish.codesystem_url, runtime.evaluator.models)
    cached = server_read()
    rows = revenue_rows(cached.reads.items, packs)
    if cached.reads.payers is not None:
        rows = with_payers(rows, cached.reads.payers)
    revenue = summarise(rows, filters)
    names = names_of(cached, {r.patient_ref for r in revenue.rows}) if with_names else {}
    return revenue, names, cached


def _replacing() -> tuple[PackIndex, set[str]]:
    """The packs' codes and the ids of the packs that replace fee-for-service (CPOC)."""
    from cpoc_fhir.packs.registry import all_packs

    runtime = _hook_app().runtime
    models = runtime.evaluator.models
    replacing = {p.id for p in all_packs(models) if p.replaces_fee_for_service}
    return PackIndex(runtime.publish.codesystem_url, models), replacing


def _claims_for(items: Sequence[Any]) -> set[str]:
    """The patients whose Claims can conflict: those with an item of a replacing pack."""
    from cpoc_fhir.reports.ffs_conflicts import model_patients

    return model_patients(items, *_replacing())


def conflicts_of(reads: ServerReads, filters: RevenueFilters) -> Any:
    """The FFS conflicts among the items read (reports/ffs_conflicts.py) for the packs of the
    settings that replace fee-for-service, with the payer filter when the payers are known."""
    from cpoc_fhir.reports.ffs_conflicts import ffs_conflicts

    packs, replacing = _replacing()
    own = _hook_app().runtime.publish.practice_identifier_system
    charged = [*reads.items, *reads.claims]  # FFS ChargeItems and Claim lines alike
    return ffs_conflicts(charged, packs, own, replacing, filters, reads.payers)


def _bad_filter(exc: ValueError) -> Response:
    return page("errors/action.html", 400, title="Unknown filter", message=str(exc), back=None)


@blueprint.get("/dashboard")
def dashboard() -> Response:
    """The practice's revenue, levels, backlog and holds, filtered by the query string."""
    runtime = _hook_app().runtime
    models = runtime.evaluator.models
    try:
        filters = filters_from(request.args, runtime.today(), models)
    except ValueError as exc:
        return _bad_filter(exc)
    revenue, _names, cached = _revenue(filters, with_names=False)
    from cpoc_fhir.reports.ffs_conflicts import per_month
    from cpoc_fhir.reports.revenue_charts import revenue_charts  # vl-convert: when drawn

    return page(
        "dashboard.html",
        revenue=revenue,
        filters=filters,
        charts=revenue_charts(revenue),
        months=month_table(revenue),
        groups=GROUPS,
        revenue_groups=REVENUE_GROUPS,
        labels=GROUP_LABELS,
        code_totals=_code_totals(revenue),
        pack_names={m: short_name(m, models) for m in pack_modules(models)},
        rows_url=lambda **changes: link(".dashboard_rows", filters, **changes),
        ffs_url=lambda **changes: link(".dashboard_ffs", filters, **changes),
        ffs_months=per_month(conflicts_of(cached.reads, filters)),
        notes=cached.reads.notes,
        as_of=cached.read_at,
        refresh_url=link(".dashboard", filters, refresh=1),
        adherence_url=lambda **changes: link(".dashboard_adherence", filters, **changes),
        adherence=_adherence(filters),
    )


def _adherence(filters: RevenueFilters) -> Any:
    """Pathway adherence of the signed orders in the months (reports/adherence.py, as
    ``cpoc report adherence`` counts them; not rated here: no benchmark file)."""
    from cpoc_fhir.reports.adherence import build_report

    decisions, start, end, _tz, name = decisions_of(filters)
    return build_report(decisions, start, end, None, name)


def decisions_of(filters: RevenueFilters) -> tuple[list[Any], date, date, Any, str]:
    """The pathway decisions of the filters' months, in the practice's zone: (decisions,
    first day, last day, the zone (None: this host's), its name)."""
    start = date.fromisoformat(f"{filters.start}-01")
    year, month = int(filters.end[:4]), int(filters.end[5:7])
    after = date(year + month // 12, month % 12 + 1, 1)
    end = date.fromordinal(after.toordinal() - 1)
    from cpoc_fhir.reports.options import zone

    tz, name = zone(os.environ.get("CPOC_TIMEZONE"))  # the practice's zone, as the report's
    decisions = _hook_app().pathway_log.decisions(start, end, tz)
    return decisions, start, end, tz, name


@blueprint.get("/dashboard/rows")
def dashboard_rows() -> Response:
    """The ChargeItems behind a dashboard number; ``?format=csv|xlsx`` downloads them."""
    runtime = _hook_app().runtime
    try:
        filters = filters_from(request.args, runtime.today(), runtime.evaluator.models)
    except ValueError as exc:
        return _bad_filter(exc)
    revenue, names, cached = _revenue(filters)
    wanted = request.args.get("format", "")
    if wanted in ("csv", "xlsx"):
        return _download(revenue, names, wanted, f"revenue-{filters.start}-{filters.end}")
    return page(
        "dashboard_rows.html",
        revenue=revenue,
        filters=filters,
        names=names,
        labels=GROUP_LABELS,
        notes=cached.reads.notes,
        export_url=lambda kind: link(".dashboard_rows", filters, format=kind),
        back_url=link(".dashboard", filters, group=None, level=None, code=None),
    )


def _code_totals(revenue: Revenue) -> dict[str, Any]:
    totals: dict[str, Any] = {}
    for by in revenue.by_month_code.values():
        for code, amount in by.items():
            totals[code] = totals.get(code, 0) + amount
    return dict(sorted(totals.items()))


def _download(revenue: Revenue, names: Mapping[str, str], kind: str, stem: str) -> Response:
    from cpoc_fhir.exports import Table

    base = rows_table(revenue.rows)
    # the patient's name beside its id (the export is for billing staff, like the page)
    table = Table(
        (*base.headers[:2], "name", *base.headers[2:]),
        tuple((*row[:2], names.get(str(row[1]), ""), *row[2:]) for row in base.rows),
    )
    return download(table, kind, stem)


def download(table: Any, kind: str, stem: str, sheet: str = "rows") -> Response:
    """``table`` as a CSV or an .xlsx attachment (``stem``: the file name without suffix)."""
    from cpoc_fhir.exports import write_csv, write_xlsx

    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem)[:80] or "export"
    if kind == "csv":
        text = io.StringIO()
        write_csv(table, text)
        body: bytes = text.getvalue().encode("utf-8")
        mimetype = "text/csv"
    else:
        buffer = io.BytesIO()
        write_xlsx({sheet: table}, buffer)
        body = buffer.getvalue()
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response = Response(body, 200, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{safe}.{kind}"'
    return response
