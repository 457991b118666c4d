"""``cpoc report corridors --format html``: the quarters as one self-contained page (page kit).

Reads only the corridors JSON. Per payer, a chart of each quarter's CPOC payments P against
what FFS would have paid F, with the corridor band F × (1 − c) … F × (1 + c) shaded; then the
supplement (up) or recovery (down) of every payer-quarter as bars; tables give the figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from cpoc_fhir.reports.html_charts import (
    COLOURS,
    DASHES,
    Chart,
    bars,
    responsive_chart,
    short_label,
)
from cpoc_fhir.reports.html_page import PageHeader, render_page, unique_ids

SECTIONS = (
    ("summary", "Summary"),
    ("quarters", "By quarter"),
    ("settlement", "Supplements and recoveries"),
    ("baseline", "Baseline"),
)
OUTCOME = {
    "supplement": "the payer adds",
    "recovery": "the payer recovers",
    "inside": "inside the band: nothing",
    "no-corridor": "no corridor: nothing",
}


def corridors_html(data: Mapping[str, Any]) -> str:
    payers = sorted({str(q["payer"]) for q in data["quarters"]})
    ids = unique_ids(payers, "chart-band")
    band_charts = [
        (payer, _band_chart(payer, [q for q in data["quarters"] if q["payer"] == payer], chart))
        for payer, chart in zip(payers, ids, strict=True)
    ]
    return render_page(
        "corridors.html",
        _header(data),
        data=data,
        band_charts=band_charts,
        settlement_chart=_settlement_chart(data["quarters"]),
        outcome=OUTCOME,
        rate=_rate(data.get("corridor")),
        warnings=data.get("warnings"),
    )


def _rate(corridor: Any) -> str:
    return "none" if corridor is None else f"{(Decimal(str(corridor)) * 100).normalize():f} %"


def _header(data: Mapping[str, Any]) -> PageHeader:
    illustrative = []
    corridors = data["corridors"]
    if corridors.get("illustrative"):
        illustrative.append(
            f"The corridors file {corridors['id']} is illustrative: the rules' example "
            "percentages, not a contract."
        )
    if data["payerFile"].get("illustrative"):
        illustrative.append(
            f"The payer file {data['payerFile']['id']} is illustrative: its CPOC amounts are "
            "examples, not a payer's."
        )
    baseline = data.get("baseline")
    facts = (
        ("Participation year", str(data["participationYear"])),
        ("Corridor", _rate(data.get("corridor"))),
        ("Payer file (P)", str(data["payerFile"]["id"])),
        ("Baseline (estimates)", "none" if not baseline else str(baseline["year"])),
    )
    return PageHeader(
        title="Risk corridors",
        period=f"calendar year {data['year']}, by quarter",
        source=f"{corridors['name']} ({corridors['source']})",
        source_label="Corridors",
        illustrative=tuple(illustrative),
        facts=facts,
        sections=SECTIONS,
    )


def _num(value: Any) -> float | None:
    return None if value is None else float(Decimal(str(value)))


def _band_spec(quarters: list[Mapping[str, Any]], width: int) -> dict[str, Any]:
    periods = [str(q["quarter"]) for q in quarters]
    rows = [
        {
            "quarter": str(q["quarter"]),
            "P": _num(q["cpoc"]),
            "F": _num(q["ffs"]),
            "lower": _num(q["lower"]),
            "upper": _num(q["upper"]),
        }
        for q in quarters
    ]
    series = ["P: CPOC payments", "F: what FFS would have paid"]
    x = {
        "field": "quarter",
        "type": "ordinal",
        "sort": periods,
        "title": None,
        "axis": {"labelAngle": 0},
        "scale": {"padding": 0.3},
    }
    colour = {
        "field": "series",
        "type": "nominal",
        "title": None,
        "scale": {"domain": series, "range": list(COLOURS[:2])},
    }
    return {
        "width": width,
        "height": 220,
        "data": {"values": rows},
        "layer": [
            {
                "transform": [{"filter": "datum.lower != null"}],
                "mark": {"type": "area", "color": COLOURS[2], "opacity": 0.25},
                "encoding": {
                    "x": x,
                    "y": {"field": "lower", "type": "quantitative", "title": "USD"},
                    "y2": {"field": "upper"},
                },
            },
            {
                "transform": [
                    {"fold": ["P", "F"], "as": ["key", "value"]},
                    {
                        "calculate": f"datum.key == 'P' ? '{series[0]}' : '{series[1]}'",
                        "as": "series",
                    },
                ],
                "mark": {"type": "line", "point": {"filled": True, "size": 70}, "strokeWidth": 2},
                "encoding": {
                    "x": x,
                    "y": {"field": "value", "type": "quantitative", "title": "USD"},
                    "color": colour,
                    "strokeDash": {
                        "field": "series",
                        "type": "nominal",
                        "title": None,
                        "scale": {"domain": series, "range": [list(d) for d in DASHES[:2]]},
                    },
                },
            },
        ],
    }


def _band_chart(payer: str, quarters: list[Mapping[str, Any]], chart_id: str) -> Chart:
    return responsive_chart(
        lambda width: _band_spec(quarters, width),
        chart_id,
        f"CPOC payments against FFS with the corridor band: {short_label(payer)}",
        "Per quarter, P (solid) and F (dashed); the shaded band runs from F × (1 − c) to "
        "F × (1 + c). P below the band earns a supplement, above it a recovery.",
    )


def _settlement_chart(quarters: list[Mapping[str, Any]]) -> Chart | None:
    if not quarters:
        return None
    several = len({q["payer"] for q in quarters}) > 1
    values = [
        (
            f"{q['quarter']} {short_label(str(q['payer']), 18)}" if several else str(q["quarter"]),
            Decimal(str(q["supplement"])) - Decimal(str(q["recovery"])),
        )
        for q in quarters
    ]
    return responsive_chart(
        lambda width: bars(values, "supplement (+) / recovery (−), USD", rule=0, width=width),
        "chart-settlement",
        "Supplement or recovery per quarter",
        "One bar per payer-quarter: to the right what the payer adds, to the left what it "
        "recovers; none where P is inside the band.",
    )
