"""``cpoc model --format html``: the model as one self-contained page (the reports' page kit).

Reads only the model JSON (``cpoc model --format json``): monthly CPOC against FFS revenue,
each patient's FFS against CPOC revenue (a scatter, y = x where they agree), variance by
component and level, by cancer type, the payer's side (§14.2) and the patients furthest below
FFS with their lines (V-A step 2). Patients are named by resource id only.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from cpoc_fhir.reports.html_charts import (
    Chart,
    Point,
    bars,
    responsive_chart,
    scatter,
    series_by_period,
)
from cpoc_fhir.reports.html_page import PageHeader, render_page

SECTIONS = (
    ("summary", "Summary"),
    ("months", "By month"),
    ("patients", "By patient"),
    ("components", "By component"),
    ("cancers", "By cancer type"),
    ("payer", "The payer's side"),
)
MONTH_SERIES = ("FFS (replaced codes)", "CPOC")
BASIS = {
    "payer": "the payer file {payer}",
    "margin": "the margin's base",
    "neutral": "the revenue-neutral base",
}


def model_html(data: Mapping[str, Any]) -> str:
    """The page for one model result (the JSON ``cpoc model`` prints)."""
    months = list(data["byMonth"])
    return render_page(
        "model.html",
        _header(data),
        data=data,
        scenario=_scenario_text(data.get("scenario")),
        months_chart=_months_chart(months),
        patients_chart=_patients_chart(data["byPatient"]),
        components_chart=_components_chart(data["byComponent"]),
        warnings=data.get("warnings"),
    )


def _header(data: Mapping[str, Any]) -> PageHeader:
    period = data["period"]
    illustrative = []
    scenario = data.get("scenario") or {}
    if scenario.get("illustrative"):
        illustrative.append(
            f"The payer file {scenario.get('payer')} is illustrative: its CPOC amounts are "
            "examples, not a payer's."
        )
    fees = data.get("feeSchedule")
    if isinstance(fees, Mapping) and fees.get("illustrative"):
        illustrative.append(
            f"The fee schedule {fees.get('id')} is illustrative: the FFS amounts it priced are "
            "made up."
        )
    if isinstance(fees, Mapping):
        source = (
            f"the claims' own amounts; items without one priced from {fees.get('id')} "
            f"({fees.get('source')})"
        )
    else:
        source = "the claims' own amounts (no fee schedule)"
    facts = (
        ("Patients", str(data["patients"])),
        ("CPOC lines", str(data["cpocLines"])),
        ("Relative values", str((data.get("relativeValues") or {}).get("name", "proposal II-C"))),
        ("FFS prices", source),
    )
    return PageHeader(
        title="CPOC against fee-for-service",
        period=f"{period['from']} to {period['to']} (lines as of {data['asOf']})",
        source="none used (the comparison rests on the practice's own claims)",
        illustrative=tuple(illustrative),
        facts=facts,
        sections=SECTIONS,
    )


def _scenario_text(scenario: Mapping[str, Any] | None) -> str:
    if not scenario:
        return "no CPOC line in the period"
    basis = BASIS.get(str(scenario.get("basis")), "{payer}").format(payer=scenario.get("payer"))
    return (
        f"{basis}: New Patient base {scenario['base']}, GPCI {scenario['gpci']}, "
        f"value-based adjustment {scenario['vba']}"
    )


def _money(value: Any) -> Decimal:
    return Decimal(str(value))


def _months_chart(months: list[Mapping[str, Any]]) -> Chart | None:
    if not months:
        return None
    periods = [str(m["month"]) for m in months]
    points = [
        Point(str(m["month"]), series, _money(m[key]))
        for m in months
        for series, key in zip(MONTH_SERIES, ("ffsReplaced", "cpoc"), strict=True)
    ]
    return responsive_chart(
        lambda width: series_by_period(points, periods, MONTH_SERIES, "revenue (USD)", width=width),
        "chart-months",
        "Monthly revenue: CPOC against FFS for the codes CPOC replaces",
        "One line per series over the calendar months of the period; the table below gives "
        "the figures.",
    )


def _patients_chart(patients: list[Mapping[str, Any]]) -> Chart | None:
    if not patients:
        return None
    points = [(_money(p["ffsReplaced"]), _money(p["cpoc"])) for p in patients]
    return responsive_chart(
        lambda width: scatter(
            points, "FFS revenue, replaced codes (USD)", "CPOC revenue (USD)", width=min(width, 360)
        ),
        "chart-patients",
        "Each patient's CPOC revenue against its FFS revenue",
        "One point per patient; points below the dashed diagonal are paid less under CPOC.",
    )


def _components_chart(rows: list[Mapping[str, Any]]) -> Chart | None:
    if not rows:
        return None
    values = [(str(r["code"]), _money(r["variance"])) for r in rows]
    return responsive_chart(
        lambda width: bars(values, "variance, CPOC − FFS (USD)", width=width),
        "chart-components",
        "Variance by component and level",
        "One bar per CPOC code (and the FFS revenue in no CPOC line); the table below gives "
        "the figures.",
    )
