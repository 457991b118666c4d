"""The practice's revenue from its captured lines: by month, code, payment model and status
(issue 17 items 4, 5; the dashboard and ``cpoc report revenue``; value-and-models §15 for the
packs).

What "revenue" is here: the ChargeItems capture wrote (one per billing line), by the month of
their occurrence start, in four groups from their status and the review hold:

- **billed**: ``billable`` or ``billed`` — approved (or final) and going to the payer;
- **planned**: ``planned`` without a hold — provisional lines waiting for the month's facts
  (the provisional backlog; its reasons are the lines' "Warning:" notes);
- **held**: ``planned`` with the review-hold extension — staff stopped it (the hold's reason);
- **not billable**: ``not-billable`` — declined or failing a requirement: counted, never
  summed into revenue.

Revenue = billed + planned + held (what the practice expects if every open line is billed);
each group is shown apart, so nobody mistakes the backlog for cash. Entered-in-error items
are history and are left out. Amounts are the items' ``priceOverride`` (Decimal), summed as
they are and rounded once, to cents, when shown.

Pure: rows in, a summary out (revenue_items.py reads ChargeItems into rows).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from cpoc_fhir.exports import Cell, Table

BILLED, PLANNED, HELD, NOT_BILLABLE = "billed", "planned", "held", "not-billable"
GROUPS = (BILLED, PLANNED, HELD, NOT_BILLABLE)
REVENUE_GROUPS = (BILLED, PLANNED, HELD)
GROUP_LABELS = {
    BILLED: "billed",
    PLANNED: "provisional (planned)",
    HELD: "on hold",
    NOT_BILLABLE: "not billable",
}
CENT = Decimal("0.01")


@dataclass(frozen=True)
class RevenueRow:
    """One captured line (a ChargeItem) as the revenue views count it."""

    item_id: str
    patient_ref: str
    start: date
    code: str
    model: str  # the pack id ("cpoc", "eom", …)
    group: str  # one of GROUPS
    amount: Decimal
    currency: str = "USD"
    level: int | None = None  # a Treatment Month's level (1-4), else None
    treatment_month: bool = False
    providers: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()  # planned: its warnings; held: the hold's reason
    payer: str = ""  # the primary Coverage's payer on ``start`` (revenue_payers.py); "": unread

    @property
    def month(self) -> str:
        return self.start.strftime("%Y-%m")


@dataclass(frozen=True)
class RevenueFilters:
    """Months ``start``…``end`` (YYYY-MM, inclusive; "" = open) and, when given, one
    provider, payment model, code and payer (revenue_payers.py names it)."""

    start: str = ""
    end: str = ""
    provider: str = ""
    model: str = ""
    code: str = ""
    group: str = ""  # one of GROUPS
    level: int | None = None  # a Treatment Month level
    payer: str = ""  # a payer's name as the rows carry it (``NO_COVERAGE`` included)

    def keep(self, row: RevenueRow) -> bool:
        return (
            (not self.start or row.month >= self.start)
            and (not self.end or row.month <= self.end)
            and (not self.provider or self.provider in row.providers)
            and (not self.model or row.model == self.model)
            and (not self.code or row.code == self.code)
            and (not self.group or row.group == self.group)
            and (self.level is None or (row.treatment_month and row.level == self.level))
            and (not self.payer or row.payer == self.payer)
        )


@dataclass(frozen=True)
class Revenue:
    """The summary every view draws: sums by month × group and month × code, the level
    distribution of Treatment Months, the backlog's and the holds' reasons, totals."""

    rows: tuple[RevenueRow, ...]
    filters: RevenueFilters
    months: tuple[str, ...]
    by_month: Mapping[str, Mapping[str, Decimal]]  # month → group → amount
    by_month_code: Mapping[str, Mapping[str, Decimal]]  # month → code → revenue amount
    counts: Mapping[str, int]  # group → items
    totals: Mapping[str, Decimal]  # group → amount
    levels: Mapping[int, int]  # Treatment Month level → items (revenue groups only)
    backlog_reasons: Mapping[str, int]  # reason → planned items
    hold_reasons: Mapping[str, int]  # reason → held items
    currency: str = "USD"
    codes: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    providers: tuple[str, ...] = field(default_factory=tuple)
    payers: tuple[str, ...] = ()  # the payers of every row (the filter's choices)
    by_payer: Mapping[str, Decimal] = field(default_factory=dict)  # payer → revenue amount

    @property
    def revenue(self) -> Decimal:
        return sum((self.totals.get(g, Decimal(0)) for g in REVENUE_GROUPS), Decimal(0))


def summarise(rows: Iterable[RevenueRow], filters: RevenueFilters) -> Revenue:
    """The rows that pass ``filters``, summed (choices of code, model, provider and payer
    from all)."""
    every = sorted(rows, key=lambda r: (r.start, r.patient_ref, r.code, r.item_id))
    kept = tuple(r for r in every if filters.keep(r))
    by_month: dict[str, dict[str, Decimal]] = defaultdict(dict)
    by_code: dict[str, dict[str, Decimal]] = defaultdict(dict)
    counts: Counter[str] = Counter()
    totals: dict[str, Decimal] = {}
    levels: Counter[int] = Counter()
    backlog: Counter[str] = Counter()
    holds: Counter[str] = Counter()
    by_payer: dict[str, Decimal] = {}
    for row in kept:
        month = by_month[row.month]
        month[row.group] = month.get(row.group, Decimal(0)) + row.amount
        counts[row.group] += 1
        totals[row.group] = totals.get(row.group, Decimal(0)) + row.amount
        if row.group in REVENUE_GROUPS:
            codes = by_code[row.month]
            codes[row.code] = codes.get(row.code, Decimal(0)) + row.amount
            if row.treatment_month and row.level is not None:
                levels[row.level] += 1
            if row.payer:
                by_payer[row.payer] = by_payer.get(row.payer, Decimal(0)) + row.amount
        if row.group == PLANNED:
            backlog.update(row.reasons or ("no reason recorded",))
        if row.group == HELD:
            holds.update(row.reasons or ("on hold",))
    currencies = {r.currency for r in kept}
    return Revenue(
        rows=kept,
        filters=filters,
        months=tuple(sorted(by_month)),
        by_month={m: dict(v) for m, v in sorted(by_month.items())},
        by_month_code={m: dict(sorted(v.items())) for m, v in sorted(by_code.items())},
        counts=dict(counts),
        totals=totals,
        levels=dict(sorted(levels.items())),
        backlog_reasons=dict(backlog.most_common()),
        hold_reasons=dict(holds.most_common()),
        currency=currencies.pop() if len(currencies) == 1 else "USD",
        codes=tuple(sorted({r.code for r in every})),
        models=tuple(sorted({r.model for r in every})),
        providers=tuple(sorted({p for r in every for p in r.providers})),
        payers=tuple(sorted({r.payer for r in every if r.payer})),
        by_payer=dict(sorted(by_payer.items())),
    )


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT)


def month_table(revenue: Revenue) -> Table:
    """One row per month: each group's amount, the revenue and the items."""
    rows: list[tuple[Cell, ...]] = []
    for month in revenue.months:
        sums = revenue.by_month[month]
        amounts = [cents(sums.get(g, Decimal(0))) for g in GROUPS]
        total = cents(sum((sums.get(g, Decimal(0)) for g in REVENUE_GROUPS), Decimal(0)))
        rows.append((month, *amounts, total))
    totals = [cents(revenue.totals.get(g, Decimal(0))) for g in GROUPS]
    rows.append(("total", *totals, cents(revenue.revenue)))
    return Table(("month", *GROUPS, "revenue"), tuple(rows))


ROW_HEADERS = ("month", "patient", "item", "model", "payer", "code", "level", "status",
               "amount", "providers", "reasons")  # fmt: skip


def rows_table(rows: Iterable[RevenueRow]) -> Table:
    """The items behind the numbers, one row each (the CSV/Excel export)."""
    return Table(
        ROW_HEADERS,
        tuple(
            (
                r.month,
                r.patient_ref,
                f"ChargeItem/{r.item_id}",
                r.model,
                r.payer,
                r.code,
                r.level,
                r.group,
                cents(r.amount),
                " ".join(r.providers),
                " | ".join(r.reasons),
            )
            for r in rows
        ),
    )


def as_json(revenue: Revenue) -> dict[str, Any]:
    """The summary with amounts as strings (cents)."""
    return {
        "filters": {k: v for k, v in vars(revenue.filters).items() if v not in ("", None)},
        "currency": revenue.currency,
        "revenue": str(cents(revenue.revenue)),
        "totals": {g: str(cents(revenue.totals.get(g, Decimal(0)))) for g in GROUPS},
        "counts": {g: revenue.counts.get(g, 0) for g in GROUPS},
        "months": [
            {
                "month": m,
                **{g: str(cents(revenue.by_month[m].get(g, Decimal(0)))) for g in GROUPS},
                "codes": {c: str(cents(a)) for c, a in revenue.by_month_code.get(m, {}).items()},
            }
            for m in revenue.months
        ],
        "treatmentMonthLevels": {str(k): v for k, v in revenue.levels.items()},
        "backlogReasons": dict(revenue.backlog_reasons),
        "holdReasons": dict(revenue.hold_reasons),
        "payers": {p: str(cents(a)) for p, a in revenue.by_payer.items()},
    }
