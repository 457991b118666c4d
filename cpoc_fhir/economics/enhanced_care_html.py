"""``cpoc report enhanced-care --format html``: the reconciliation as one self-contained page
(the reports' page kit): each quarter's risk-adjusted rate against the target, and the monthly
amounts the quarters set (value-and-models §13.1). Reads only the report's JSON object."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from cpoc_fhir.reports.html_charts import Chart, Point, bars, responsive_chart, series_by_period
from cpoc_fhir.reports.html_page import PageHeader, render_page

SECTIONS = (("summary", "Summary"), ("quarters", "Quarters"))
RATE_SERIES = ("risk-adjusted rate", "target")


def enhanced_care_html(data: Mapping[str, Any]) -> str:
    return render_page(
        "enhanced-care.html",
        _header(data),
        data=data,
        rates_chart=_rates_chart(data),
        amounts_chart=_amounts_chart(data),
        warnings=data.get("warnings"),
    )


def _header(data: Mapping[str, Any]) -> PageHeader:
    payer = data["payer"]
    illustrative = []
    if payer.get("illustrative"):
        illustrative.append(
            f"The payer file {payer['id']} is illustrative: its amounts are examples."
        )
    return PageHeader(
        title="Supplemental payment for enhanced patient-centred care",
        period=f"{data['year']} (value report as of {data['asOf']})",
        source=f"{payer['name']} (payer file {payer['id']}, version {payer['version']}); "
        f"{payer.get('source') or 'no source given'}",
        illustrative=tuple(illustrative),
        facts=(
            ("Opted in", "yes" if payer.get("optedIn") else "no"),
            ("Monthly amount s", str(data["amount"])),
            ("Cap", f"{data['cap']} × s"),
        ),
        sections=SECTIONS,
        source_label="Payer file",
    )


def _rates_chart(data: Mapping[str, Any]) -> Chart | None:
    quarters = list(data["quarters"])
    if not quarters:
        return None
    periods = [str(q["quarter"]) for q in quarters]
    target = Decimal(str(data["target"]["value"]))
    points = [
        Point(str(q["quarter"]), RATE_SERIES[0], _dec(q.get("riskAdjustedRate"))) for q in quarters
    ] + [Point(p, RATE_SERIES[1], target) for p in periods]
    return responsive_chart(
        lambda width: series_by_period(
            points, periods, RATE_SERIES, "visits per 100 patient-months", width=width
        ),
        "chart-rates",
        "Quarterly risk-adjusted avoidable ER rate against the target",
        "A line per series over the quarters: the measured rate and the fixed target.",
    )


def _amounts_chart(data: Mapping[str, Any]) -> Chart | None:
    rows = [(str(q), Decimal(str(a))) for q, a in (data.get("amounts") or {}).items()]
    if not rows:
        return None
    s = Decimal(str(data["amount"]))
    return responsive_chart(
        lambda width: bars(rows, "monthly amount", rule=s, width=width),
        "chart-amounts",
        "Monthly supplement by the quarter it is paid in",
        "One bar per quarter with its reconciled amount; the dashed line is the agreed s.",
    )


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))
