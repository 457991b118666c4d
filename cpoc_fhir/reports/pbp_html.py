"""``cpoc report pbp --format html``: the period's performance-based payment as one
self-contained page (the page kit, reports/html_page.py; value-and-models §15.1, §15.2).

Reads only the report JSON (reports/pbp.py ``report``). Patients by id only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cpoc_fhir.reports.html_page import PageHeader, render_page

SECTIONS = (("summary", "Summary"), ("episodes", "Episodes"))


def pbp_html(data: Mapping[str, Any]) -> str:
    return render_page("pbp.html", _header(data), data=data, warnings=data.get("warnings"))


def _header(data: Mapping[str, Any]) -> PageHeader:
    payer = data["payerFile"]
    arrangement = data["arrangement"]
    illustrative: tuple[str, ...] = ()
    if payer["illustrative"]:
        illustrative = (
            "The payer file is illustrative: its baselines, trend, quality scores and "
            "arrangement figures are not a payer's.",
        )
    sides = "two-sided" if arrangement["twoSided"] else "one-sided"
    facts = (
        ("Model", str(data["model"]).upper()),
        ("Episodes starting", f"{data['periodStart']} to {data['periodEnd']}"),
        ("Arrangement", f"{arrangement['name']} ({sides}), discount {arrangement['discount']}"),
        ("Stop-gain / stop-loss", f"{arrangement['stopGain']} / {arrangement['stopLoss']}"),
        ("As of", str(data["asOf"])),
    )
    return PageHeader(
        title=f"Performance-based payment ({str(data['model']).upper()})",
        period=str(data["period"]),
        source=f"{payer['source'] or payer['where']} ({payer['version'] or 'no version'})",
        source_label="Payer file",
        illustrative=illustrative,
        facts=facts,
        sections=SECTIONS,
    )
