"""The revenue charts the dashboard and ``cpoc report revenue --format html`` share: stacked
bars of each month by status and by code, and the Treatment Months' level distribution
(reports/html_charts.py draws them; every chart has its numbers in a table beside it).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from cpoc_fhir.reports.html_charts import COLOURS, WIDTH, Chart, bars, responsive_chart
from cpoc_fhir.reports.revenue import GROUP_LABELS, REVENUE_GROUPS, Revenue


def stacked_months(
    rows: Sequence[tuple[str, str, Decimal]], series: Sequence[str], axis_title: str,
    width: int = WIDTH,
) -> dict[str, Any]:  # fmt: skip
    """Vertical bars per month (``rows``: month, series, amount), stacked in ``series``
    order, with a legend."""
    values = [{"month": m, "series": s, "value": float(v)} for m, s, v in rows]
    order = {name: i for i, name in enumerate(series)}
    for value in values:
        value["order"] = order.get(str(value["series"]), len(series))
    colours = [COLOURS[i % len(COLOURS)] for i in range(len(series))]
    months = sorted({m for m, _, _ in rows})
    return {
        "width": width,
        "height": 220,
        "data": {"values": values},
        "mark": {"type": "bar", "stroke": "#ffffff", "strokeWidth": 0.5},
        "encoding": {
            "x": {"field": "month", "type": "ordinal", "title": None, "sort": months,
                  "axis": {"labelAngle": -45 if len(months) > 6 else 0}},
            "y": {"field": "value", "type": "quantitative", "aggregate": "sum",
                  "title": axis_title, "axis": {"format": ",.0f"}},
            "color": {"field": "series", "type": "nominal", "title": None,
                      "scale": {"domain": list(series), "range": colours}},
            "order": {"field": "order", "type": "quantitative"},
        },
    }  # fmt: skip


def revenue_charts(revenue: Revenue) -> dict[str, Chart]:
    """by status, by code, levels — the charts there is data for."""
    charts: dict[str, Chart] = {}
    if not revenue.months:
        return charts
    labels = [GROUP_LABELS[g] for g in REVENUE_GROUPS]
    status_rows = [
        (m, GROUP_LABELS[g], revenue.by_month[m].get(g, Decimal(0)))
        for m in revenue.months
        for g in REVENUE_GROUPS
    ]
    charts["status"] = responsive_chart(
        lambda w: stacked_months(status_rows, labels, f"amount ({revenue.currency})", w),
        "chart-revenue-status",
        "Revenue by month and status",
        "Stacked bars per month: billed, provisional and on-hold amounts.",
    )
    codes = sorted({c for m in revenue.by_month_code.values() for c in m})
    code_rows = [(m, c, a) for m, by in revenue.by_month_code.items() for c, a in by.items()]
    charts["codes"] = responsive_chart(
        lambda w: stacked_months(code_rows, codes, f"amount ({revenue.currency})", w),
        "chart-revenue-codes",
        "Revenue by month and code",
        "Stacked bars per month: the amount of each code (billed, provisional, on hold).",
    )
    if revenue.levels:
        level_rows = [(f"level {k}", Decimal(n)) for k, n in revenue.levels.items()]
        charts["levels"] = responsive_chart(
            lambda w: bars(level_rows, "Treatment Months", width=w),
            "chart-tm-levels",
            "Treatment Months by level",
            "Horizontal bars: how many Treatment Months were coded at each level 1-4.",
        )
    return charts
