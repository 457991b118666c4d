"""``cpoc report revenue`` as a terminal table (80 columns) and as one self-contained HTML
page (the page kit, reports/html_page.py) with the dashboard's charts (revenue_charts.py).
Patients by id only."""

from __future__ import annotations

from decimal import Decimal

from cpoc_fhir.reports.html_page import PageHeader, render_page
from cpoc_fhir.reports.revenue import GROUP_LABELS, GROUPS, Revenue, cents, month_table
from cpoc_fhir.terminal import WIDTH, wrapped

SECTIONS = (
    ("months", "By month"),
    ("codes", "By code"),
    ("payers", "By payer"),
    ("levels", "Treatment Month levels"),
    ("backlog", "Provisional backlog"),
    ("holds", "Holds"),
)


def _period(revenue: Revenue) -> str:
    f = revenue.filters
    return f"{f.start or 'first'} to {f.end or 'last'}"


def _filters(revenue: Revenue) -> list[str]:
    f = revenue.filters
    named = (("provider", f.provider), ("model", f.model), ("payer", f.payer), ("code", f.code))
    return [f"{name} {value}" for name, value in named if value]


def revenue_text(revenue: Revenue) -> str:
    """The month table (fits 80 columns), the totals, and the reasons."""
    out = [f"Revenue {_period(revenue)} ({revenue.currency})"]
    if _filters(revenue):
        out.append("  only: " + ", ".join(_filters(revenue)))
    table = month_table(revenue)
    heads = ("month", "billed", "provisional", "on hold", "not billable", "revenue")
    out.append(f"  {heads[0]:7}" + "".join(f"{h:>13}" for h in heads[1:]))
    for row in table.rows:
        month, *amounts = row
        out.append(f"  {month!s:7}" + "".join(f"{a!s:>13}" for a in amounts))
    counts = ", ".join(f"{GROUP_LABELS[g]} {revenue.counts.get(g, 0)}" for g in GROUPS)
    out.append(f"  items: {counts}")
    if revenue.levels:
        levels = ", ".join(f"level {k}: {n}" for k, n in revenue.levels.items())
        out.append(f"  Treatment Months by level: {levels}")
    if revenue.by_payer:
        out.append("  revenue by payer (primary Coverage on the line's day):")
        for payer, amount in revenue.by_payer.items():
            out.extend(wrapped(payer, WIDTH, f"    {cents(amount)!s:>13}  "))
    for title, reasons in (
        ("provisional, waiting for", revenue.backlog_reasons),
        ("on hold", revenue.hold_reasons),
    ):
        if reasons:
            out.append(f"  {title}:")
            for reason, n in reasons.items():
                out.extend(wrapped(reason, WIDTH, f"    {n:>4}  "))
    return "\n".join(out) + "\n"


def revenue_html(revenue: Revenue) -> str:
    from cpoc_fhir.reports.revenue_charts import revenue_charts

    total = f"{cents(revenue.revenue)} {revenue.currency}"
    facts = [("Revenue (billed + provisional + on hold)", total)]
    if _filters(revenue):
        facts.append(("Only", ", ".join(_filters(revenue))))
    header = PageHeader(
        title="Practice revenue",
        period=_period(revenue),
        source="the ChargeItems capture wrote (amounts: their priceOverride)",
        source_label="Lines",
        facts=tuple(facts),
        sections=SECTIONS,
    )
    code_totals: dict[str, Decimal] = {}
    for by in revenue.by_month_code.values():
        for code, amount in by.items():
            code_totals[code] = code_totals.get(code, Decimal(0)) + amount
    return render_page(
        "revenue.html",
        header,
        revenue=revenue,
        months=month_table(revenue),
        labels=GROUP_LABELS,
        groups=GROUPS,
        code_totals={c: cents(a) for c, a in sorted(code_totals.items())},
        payer_totals={p: cents(a) for p, a in revenue.by_payer.items()},
        charts=revenue_charts(revenue),
    )
