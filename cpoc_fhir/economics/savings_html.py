"""``cpoc report savings --format html``: the shared savings as one self-contained page.

Reads only the report JSON: spending by category expected against actual (grouped bars), the
savings per category (bars, the minimum savings amount as a dashed rule), the outcome (rate,
minimum, share, payment) and the exposure behind the expected figure. Patients by id only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from cpoc_fhir.reports.html_charts import (
    COLOURS,
    INK,
    Chart,
    bars,
    responsive_chart,
    short_label,
)
from cpoc_fhir.reports.html_page import PageHeader, render_page

SECTIONS = (
    ("summary", "Summary"),
    ("categories", "By category"),
    ("exposure", "Exposure and risk"),
    ("patients", "By patient"),
)
SERIES = ("expected", "actual")


def savings_html(data: Mapping[str, Any]) -> str:
    included = [r for r in data["categories"] if r["included"]]
    return render_page(
        "savings.html",
        _header(data),
        data=data,
        spending_chart=_spending_chart(included),
        savings_chart=_savings_chart(included, data),
        warnings=data.get("warnings"),
    )


def _header(data: Mapping[str, Any]) -> PageHeader:
    illustrative = []
    settings = data["settings"]
    if settings["categoriesFile"].get("illustrative"):
        illustrative.append(
            f"The service categories {settings['categoriesFile']['id']} are an illustrative "
            "grouping of the code sets' sections, not one agreed with a payer."
        )
    source = data.get("expectedSource") or {}
    if source.get("illustrative"):
        illustrative.append("The expected spending file is illustrative.")
    table = (data.get("pricing") or {}).get("priceTable") or {}
    if table.get("illustrative"):
        illustrative.append(f"The price table {table.get('id')} is illustrative: made-up prices.")
    if data["method"] == "payer":
        expected = f"the payer's figure ({source.get('source')})"
    else:
        adjusted = "risk-adjusted (§12.3 factors)" if data["riskAdjusted"] else "not risk-adjusted"
        expected = f"baseline {data['baselineYear']}, {adjusted}"
    priced = "as paid" if not table else f"standardised prices of {table.get('id')}"
    facts = (
        ("Actual spending", f"the claims, {priced}"),
        ("Minimum savings rate", str(data["minimumSavingsRate"])),
        ("Practice's share", str(data["share"])),
        ("Enhanced-care supplement", "elected" if settings["enhancedCare"] else "not elected"),
    )
    return PageHeader(
        title="Shared savings",
        period=str(data["year"]),
        source=expected,
        source_label="Expected spending",
        illustrative=tuple(illustrative),
        facts=facts,
        sections=SECTIONS,
    )


def _money(value: Any) -> float:
    return float(Decimal(str(value))) if value is not None else 0.0


def grouped_bars(rows: Sequence[tuple[str, str, float]], axis: str, width: int) -> dict[str, Any]:
    """Horizontal bars, one group per label, one bar per series (colour + legend)."""
    values = [{"label": short_label(a), "series": b, "value": v} for a, b, v in rows]
    y = {"field": "label", "type": "nominal", "title": None, "sort": None}
    colour = {
        "field": "series",
        "type": "nominal",
        "title": None,
        "scale": {"domain": list(SERIES), "range": [COLOURS[0], COLOURS[1]]},
        "legend": {"orient": "bottom", "labelColor": INK},
    }
    x = {"field": "value", "type": "quantitative", "axis": {"title": axis, "tickCount": 4}}
    groups = max(len({r[0] for r in rows}), 1)
    return {
        "width": width,
        "height": 44 * groups,
        "data": {"values": values},
        "mark": {"type": "bar", "height": {"band": 0.9}},
        "encoding": {
            "x": x,
            "y": y,
            "yOffset": {"field": "series", "sort": list(SERIES)},
            "color": colour,
        },
    }


def _spending_chart(rows: list[Mapping[str, Any]]) -> Chart | None:
    if not rows or all(r["expected"] is None for r in rows):
        return None
    values = [(str(r["label"]), series, _money(r[series])) for r in rows for series in SERIES]
    return responsive_chart(
        lambda width: grouped_bars(values, "spending (USD)", width),
        "chart-spending",
        "Spending by service category, expected against actual",
        "Two bars per included category: the expected spending and the actual; the table "
        "below gives the figures.",
    )


def _savings_chart(rows: list[Mapping[str, Any]], data: Mapping[str, Any]) -> Chart | None:
    if not rows or data["expected"] is None:
        return None
    values = [(str(r["label"]), Decimal(str(r["savings"]))) for r in rows]
    values.append(("All included", Decimal(str(data["savings"]))))
    return responsive_chart(
        lambda width: bars(values, "savings, expected − actual (USD)", width=width),
        "chart-savings",
        "Savings by service category",
        "One bar per included category and one for them all; negative bars are spending "
        "above expected.",
    )
