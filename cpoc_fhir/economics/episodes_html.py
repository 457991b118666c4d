"""``cpoc report episodes --format html``: episode prices as one self-contained page.

Reads only the report JSON: the mean episode price by cancer type (bars labelled with the
count behind each), the table by cancer type, stage and line (count, mean, SD, min, max), and
every episode with its CPOC lines in a closed drill-down. Patients by resource id only.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from cpoc_fhir.reports.html_charts import Chart, bars, responsive_chart
from cpoc_fhir.reports.html_page import PageHeader, render_page

SECTIONS = (
    ("summary", "Summary"),
    ("cancers", "By cancer type"),
    ("groups", "By cancer type, stage and line"),
    ("episodes", "Every episode"),
)


def episodes_html(data: Mapping[str, Any]) -> str:
    return render_page(
        "episodes.html",
        _header(data),
        data=data,
        what=_what(data),
        cancers_chart=_cancers_chart(data["byCancer"]),
        warnings=data.get("warnings"),
    )


def _what(data: Mapping[str, Any]) -> str:
    period = (
        "six months from the first treatment"
        if data["period"] == "six-months"
        else "a whole line of therapy"
    )
    scope = (
        "treatment only: New Patient and Active Monitoring lines outside the episode"
        if data["treatmentOnly"]
        else "every billable CPOC line of the period, the New Patient line with the first episode"
    )
    return f"{period}; {scope}"


def _header(data: Mapping[str, Any]) -> PageHeader:
    payer = data.get("payer") or {}
    illustrative: tuple[str, ...] = ()
    if payer.get("illustrative"):
        illustrative = (
            f"The payer file {payer.get('id')} is illustrative: the CPOC amounts are examples.",
        )
    start, end = data.get("from"), data.get("to")
    if start is None and end is None:
        period = "every episode"
    else:
        period = f"episodes starting {start or 'any day'} to {end or 'any day'}"
    return PageHeader(
        title="Episode prices from CPOC history",
        period=f"{period} (history as of {data['asOf']})",
        source=f"the practice's CPOC lines priced by the payer file {payer.get('id')}",
        source_label="Amounts",
        illustrative=illustrative,
        facts=(
            ("Episode", _what(data)),
            ("Complete episodes", str(data["episodes"])),
            ("Incomplete (left out)", str(data["incomplete"])),
        ),
        sections=SECTIONS,
    )


def _cancers_chart(rows: list[Mapping[str, Any]]) -> Chart | None:
    values = [
        (f"{r['cancer']} (n={r['count']})", Decimal(str(r["mean"])))
        for r in rows
        if r["mean"] is not None
    ]
    if not values:
        return None
    return responsive_chart(
        lambda width: bars(values, "mean episode price (USD)", width=width),
        "chart-cancers",
        "Mean episode price by cancer type",
        "One bar per cancer type, labelled with the number of episodes behind it; the tables "
        "below give the spread.",
    )
