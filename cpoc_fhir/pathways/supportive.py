"""The supportive orders a pharmacist expects beside a regimen's anti-cancer orders.

From the regimen's doses (for the patient's cancer) and the supportive-care knowledge
(``knowledge/supportive.py``): antiemetic prophylaxis by the regimen's emetogenic risk (ASCO
2020, Hesketh PJ et al. J Clin Oncol 2020;38:2782), premedication and vitamin
supplementation per drug (labels), and pegfilgrastim when the regimen's febrile-neutropenia
risk is 20 % or more (ASCO 2015, Smith TJ et al. J Clin Oncol 2015;33:3199).

Each supportive order is a ``Dose`` in the regimen's cycle frame (days of the cycle; day 0 is
the day before day 1), so the same timing code writes it. A product ordered twice on one day
(dexamethasone as docetaxel premedication and as antiemetic) keeps the larger dose of that day
only: the larger dose serves both purposes, and a patient gets one dexamethasone a day.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from cpoc_fhir.knowledge.regimens import Dose, Regimen, RegimenCatalog
from cpoc_fhir.knowledge.supportive import (
    LEVELS,
    EmetogenicRule,
    Product,
    SupportItem,
    SupportiveCare,
)

_AUC = re.compile(r"\bAUC\s*(\d+(?:\.\d+)?)", re.I)
_ROUTE_WORDS = {
    "oral": "by mouth",
    "intravenous": "IV",
    "subcutaneous": "SC",
    "intramuscular": "IM",
}


@dataclass(frozen=True)
class SupportiveOrder:
    product: Product
    dose: Dose  # days in the regimen's cycle frame; text written here
    purpose: str
    kind: str  # "antiemetic" | "premedication" | "gcsf"
    when: str = ""  # "30 minutes before chemotherapy"
    own_period: bool = False  # repeats on its own period, not the cycle's (vitamin B12)


@dataclass(frozen=True)
class SupportivePlan:
    orders: tuple[SupportiveOrder, ...]
    emetic_risk: str | None  # the regimen's risk; None when no parenteral drug
    notes: tuple[str, ...] = ()  # what was decided and why, for the card


def supportive_plan(
    regimen: Regimen, doses: Sequence[Dose], catalog: RegimenCatalog, care: SupportiveCare
) -> SupportivePlan:
    """The supportive orders of ``regimen`` given as ``doses`` (its doses for one cancer)."""
    notes: list[str] = []
    orders: list[SupportiveOrder] = []
    parenteral = [d for d in doses if d.route != "oral" and d.drug in regimen.drugs]
    for drug in dict.fromkeys(d.drug for d in doses):
        for item in care.premedication.get(drug, ()):
            anchors = [d for d in doses if d.drug == drug]
            orders.append(_order(item, anchors, care, "premedication"))
    risk, key, anchors = _emetic_risk(parenteral, care, notes)
    if risk is not None and anchors:
        for item in care.antiemetics.get(key, ()):
            orders.append(_order(item, anchors, care, "antiemetic"))
        notes.append(f"Emetogenic risk: {risk} (antiemetic set '{key}', ASCO 2020).")
    elif not parenteral:
        notes.append("No parenteral chemotherapy: no antiemetic prophylaxis is ordered.")
    gcsf = _gcsf(regimen, parenteral, care, notes)
    if gcsf is not None:
        orders.append(gcsf)
    kept = _one_dose_a_day(orders, doses, catalog, notes)
    written = [replace(o, dose=replace(o.dose, text=order_text(o))) for o in kept]
    return SupportivePlan(tuple(written), risk, tuple(notes))


# ---- emetogenic risk --------------------------------------------------------------------


def _emetic_risk(
    parenteral: Sequence[Dose], care: SupportiveCare, notes: list[str]
) -> tuple[str | None, str, list[Dose]]:
    """(risk, antiemetic set, the doses whose days the antiemetics follow)."""
    if not parenteral:
        return None, "", []
    rated: list[tuple[Dose, str, str]] = []  # dose, level, variant
    for dose in parenteral:
        level = care.emetogenic.get(dose.drug)
        if level is None:
            notes.append(f"Emetogenic risk of {dose.drug} is not in the supportive-care data.")
            continue
        variant = ""
        for rule in care.rules:
            if _dose_rule_holds(rule, dose) and _rank(rule.level) >= _rank(level):
                level, variant = rule.level, rule.variant
                notes.append(f"{rule.name}: {rule.level} ({rule.source}).")
        rated.append((dose, level, variant))
    given = {d.drug for d in parenteral}
    for rule in care.rules:
        if rule.all_of and all(given & set(group) for group in rule.all_of):
            members = {d for group in rule.all_of for d in group}
            rated = [
                (d, rule.level, rule.variant) if d.drug in members else (d, lv, v)
                for d, lv, v in rated
            ]
            notes.append(f"{rule.name}: {rule.level} ({rule.source}).")
    if not rated:
        return None, "", []
    top = max(_rank(level) for _, level, _ in rated)
    deciding = [(d, v) for d, level, v in rated if _rank(level) == top]
    risk = LEVELS[top]
    variant = next((v for _, v in deciding if v), "")
    key = f"{risk}-{variant}" if variant and f"{risk}-{variant}" in care.antiemetics else risk
    return risk, key, [d for d, _ in deciding]


def _dose_rule_holds(rule: EmetogenicRule, dose: Dose) -> bool:
    if rule.drug != dose.drug:
        return False
    if rule.auc_at_least is not None:
        found = _AUC.search(dose.dose_text or dose.text)
        return found is not None and Decimal(found.group(1)) >= rule.auc_at_least
    if rule.amount_at_least is not None and dose.amount is not None:
        return dose.unit == rule.unit and dose.amount >= rule.amount_at_least
    return False


def _rank(level: str) -> int:
    return LEVELS.index(level)


# ---- G-CSF ------------------------------------------------------------------------------


def _gcsf(
    regimen: Regimen, parenteral: Sequence[Dose], care: SupportiveCare, notes: list[str]
) -> SupportiveOrder | None:
    cycles = {d.cycle_days for d in parenteral if d.cycle_days}
    if not cycles:  # G-CSF follows cycles of parenteral chemotherapy
        return None
    risk = next(
        (
            r
            for r in care.febrile_neutropenia
            if r.regimen == regimen.id
            or (
                r.drugs
                and r.drugs == frozenset(regimen.drugs)
                and (r.cycle_days is None or cycles == {r.cycle_days})
            )
        ),
        None,
    )
    if risk is None:
        return None
    cycle = max(cycles)
    if cycle < care.gcsf.min_cycle_days:
        notes.append(
            f"Febrile-neutropenia risk >= 20 % ({risk.name}) but a {cycle}-day cycle: "
            "pegfilgrastim needs 14 days before the next dose (label); not ordered."
        )
        return None
    last = max(day for d in parenteral if d.cycle_days == cycle for day in d.days)
    cycles_given = _cycles(parenteral)
    anchor = Dose(drug="", route="", text="", days=(last,), cycle_days=cycle, cycles=cycles_given)
    notes.append(f"Febrile-neutropenia risk >= 20 % ({risk.name}: {risk.source}).")
    return _order(care.gcsf.item, [anchor], care, "gcsf")


def _cycles(doses: Sequence[Dose]) -> int | None:
    counts = {d.cycles for d in doses if d.cycles}
    return max(counts) if counts else None


# ---- one supportive dose in the regimen's cycle --------------------------------------------


def _order(
    item: SupportItem, anchors: Sequence[Dose], care: SupportiveCare, kind: str
) -> SupportiveOrder:
    product = care.product(item.product)
    if item.continuous:
        days: tuple[int, ...] = ()
        cycle: int | None = None
    elif item.every_days is not None:
        days, cycle = (1,), item.every_days
    else:
        cycled = [a for a in anchors if a.cycle_days]
        cycle = cycled[0].cycle_days if cycled else None
        given = {day for a in cycled if a.cycle_days == cycle for day in a.days}
        days = tuple(sorted({day + o for day in given for o in item.offsets}))
    dose = Dose(
        drug=product.id,
        route=item.route,
        text="",
        amount=item.amount,
        unit=item.unit,
        days=days,
        cycle_days=cycle,
        times_per_day=item.times_per_day,
        cycles=None if item.every_days or item.continuous else _cycles(anchors),
    )
    return SupportiveOrder(
        product, dose, item.purpose, kind, item.when, item.every_days is not None
    )


def order_text(order: SupportiveOrder) -> str:
    """The order in words: "Dexamethasone 8 mg by mouth twice daily on days 0-2 of each
    21-day cycle (day 0: the day before day 1) — docetaxel premedication"."""
    dose = order.dose
    amount = f"{dose.amount.normalize():f}" if dose.amount is not None else ""
    head = f"{order.product.name[:1].upper()}{order.product.name[1:]} {amount} {dose.unit}"
    how = _ROUTE_WORDS.get(dose.route, dose.route)
    freq = {1: "once", 2: "twice"}.get(dose.times_per_day, f"{dose.times_per_day} times")
    if dose.cycle_days is None:
        schedule = f"{freq} daily, continuously"
    elif order.own_period:
        schedule = f"once every {dose.cycle_days} days"
    else:
        schedule = f"{freq} a day on {days_words(dose.days)} of each {dose.cycle_days}-day cycle"
        if 0 in dose.days or any(d < 0 for d in dose.days):
            schedule += " (day 0: the day before day 1)"
    if dose.cycles:
        schedule += f", for {dose.cycles} cycles"
    timing = f", {order.when}" if order.when else ""
    return f"{head} {how} {schedule}{timing} — {order.purpose}"


def days_words(days: Sequence[int]) -> str:
    """(1, 2, 3, 8) → "days 1-3 and 8"; (1,) → "day 1"."""
    runs = day_runs(days)
    parts = [f"{r[0]}" if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs]
    label = "day" if len(days) == 1 else "days"
    joined = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"{label} {joined}"


def day_runs(days: Sequence[int]) -> list[tuple[int, ...]]:
    """Consecutive runs: (1, 2, 3, 8, 15) → [(1, 2, 3), (8,), (15,)]."""
    runs: list[list[int]] = []
    for day in sorted(days):
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return [tuple(r) for r in runs]


# ---- one dose of a product a day ---------------------------------------------------------


def _one_dose_a_day(
    orders: Sequence[SupportiveOrder],
    doses: Sequence[Dose],
    catalog: RegimenCatalog,
    notes: list[str],
) -> list[SupportiveOrder]:
    """Where two orders give one product on a day, the larger daily dose keeps that day (the
    regimen's own doses of the product, e.g. myeloma dexamethasone, count and always stay)."""
    regimen_daily: dict[tuple[str, int], Decimal] = {}
    for dose in doses:
        drug = catalog.drug(dose.drug)
        if drug is None or dose.amount is None or dose.cycle_days is None:
            continue
        for day in dose.days:
            key = (drug.rxcui, day)
            daily = dose.amount * dose.times_per_day
            regimen_daily[key] = max(regimen_daily.get(key, Decimal(0)), daily)
    best: dict[tuple[str, int], tuple[Decimal, int]] = {}
    for index, order in enumerate(orders):
        if not order.dose.cycle_days or order.own_period:
            continue
        for day in order.dose.days:
            key = (order.product.rxcui, day)
            daily = (order.dose.amount or Decimal(0)) * order.dose.times_per_day
            if key not in best or daily > best[key][0]:
                best[key] = (daily, index)
    kept: list[SupportiveOrder] = []
    for index, order in enumerate(orders):
        if not order.dose.cycle_days or order.own_period or order.kind == "gcsf":
            kept.append(order)
            continue
        rxcui, daily = (
            order.product.rxcui,
            (order.dose.amount or Decimal(0)) * order.dose.times_per_day,
        )
        days = tuple(
            day
            for day in order.dose.days
            if best[(rxcui, day)][1] == index
            and regimen_daily.get((rxcui, day), Decimal(0)) < daily
        )
        dropped = [d for d in order.dose.days if d not in days]
        if dropped:
            notes.append(
                f"{order.product.name} {order.dose.amount} {order.dose.unit} ({order.purpose}) "
                f"left out on {days_words(dropped)}: a dose of it at least as large is ordered "
                "that day."
            )
        if days:
            kept.append(replace(order, dose=replace(order.dose, days=days)))
    return kept
