"""MedicationRequest → planned infusions, oral supply, and stopped orders (cpoc-rules §3, §7).

An infused or injected order that has administrations contributes nothing itself (the
administrations are the evidence); without any it counts on its planned date, provisional.
An oral order covers the days of its supply, unless dispenses of it say what was supplied.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from datetime import date
from typing import Any

from cpoc_fhir.engine.facts import (
    DrugRole,
    ExposureKind,
    MedicationExposure,
    OrderStop,
    Route,
    StopReason,
)
from cpoc_fhir.fhir.read import access
from cpoc_fhir.fhir.read.context import ReadContext
from cpoc_fhir.fhir.read.medications import (
    Dosage,
    Identified,
    dosages,
    exposure,
    identify,
    order_organization,
    route_of,
    supply_days,
)
from cpoc_fhir.fhir.read.references import resource_key
from cpoc_fhir.fhir.read.values import SNOMED_SYSTEMS, add_days, codes, concept_words

Resource = dict[str, Any]

SKIPPED_STATUSES = frozenset({"entered-in-error", "cancelled"})
ORDER_INTENTS = frozenset(
    {"order", "original-order", "reflex-order", "filler-order", "instance-order"}
)
PROGRESSION_CODES = frozenset({"266721009", "271299001"})  # Absent response; condition worsened
# Adverse reaction; adverse reaction to drug; treatment not tolerated (mCODE cisplatin example).
TOXICITY_CODES = frozenset({"281647001", "62014003", "407563006"})
TOXICITY_WORDS = ("toxic", "adverse", "intoleran", "not tolerated")


def counted_order(ctx: ReadContext, order: Resource) -> bool:
    """Status and intent of an order the practice actually placed (or, for hooks, drafts)."""
    status = access.code(order, "status")
    if status in SKIPPED_STATUSES or (status == "draft" and not ctx.include_drafts):
        return False
    intent = access.code(order, "intent")
    if intent is None:
        # A hook's draft order may not have its intent yet; a placed order must.
        if ctx.include_drafts and status in ("draft", None):
            return True
        ctx.warn(order, "no intent; not counted as an order")
        return False
    return intent in ORDER_INTENTS  # proposal, plan, directive, option: not (yet) orders


def read_order(
    ctx: ReadContext,
    order: Resource,
    administered: Mapping[str, date],
    dispensed: Set[str],
) -> tuple[list[MedicationExposure], OrderStop | None]:
    """One counted MedicationRequest. ``administered``: last administration date per order;
    ``dispensed``: orders that have dispenses."""
    drug = identify(ctx, order, [order])
    if drug is None or ctx.outside_practice(order, order_organization(ctx, order)):
        return [], None
    ref = resource_key(order)
    stop = _stop(ctx, order, drug, administered.get(ref))
    found = dosages(ctx, order)  # read once: the route and the planned dates both need them
    route = route_of(ctx, order, found, drug.usual_route, drug.concept)
    if route is None:
        ctx.warn(order, "route not stated; taken as infused or injected")
        route = Route.PARENTERAL
    if route is Route.PARENTERAL:
        if ref in administered:
            return [], stop
        return _planned(ctx, order, drug, found), stop
    if ref in dispensed:
        return [], stop
    supply = _supply(ctx, order, drug)
    return ([supply] if supply else []), stop


def planned_dates(
    ctx: ReadContext, order: Resource, found: list[Dosage] | None = None
) -> list[date]:
    """Every timing.event of its dosage, else the first timing bounds start. ``found``: the
    order's ``dosages`` when already read."""
    events: set[date] = set()
    bounds: list[date] = []
    for at, dosage in dosages(ctx, order) if found is None else found:
        timing = access.obj(dosage, "timing", at, "Timing")
        if timing is None:
            continue
        where = access.path(at, "timing")
        events.update(access.dates(timing, "event", where))
        repeat = access.obj(timing, "repeat", where, "Timing.repeat")
        start = access.period(repeat, "boundsPeriod", f"{where}.repeat")[0] if repeat else None
        if start is not None:
            bounds.append(start)
    return sorted(events) if events else bounds[:1]


def _planned(
    ctx: ReadContext, order: Resource, drug: Identified, found: list[Dosage]
) -> list[MedicationExposure]:
    ordered_on = access.date(order, "authoredOn")
    days = planned_dates(ctx, order, found) or ([ordered_on] if ordered_on else [])
    if not days:
        ctx.warn(order, "no planned date and no authoredOn; not counted")
    planned = ExposureKind.PLANNED
    route = Route.PARENTERAL
    return [exposure(ctx, order, drug, route, planned, (day, day), order) for day in days]


def _supply(ctx: ReadContext, order: Resource, drug: Identified) -> MedicationExposure | None:
    request = access.obj(order, "dispenseRequest") or {}
    start, limit = access.period(request, "validityPeriod", "dispenseRequest")
    repeats = access.integer(request, "numberOfRepeatsAllowed", "dispenseRequest")
    start = start or access.date(order, "authoredOn")
    start = start or next(iter(planned_dates(ctx, order)), None)
    if start is None:
        ctx.warn(order, "no validity period start and no authoredOn; supply not counted")
        return None
    days = supply_days(ctx, order, "expectedSupplyDuration", request)
    if repeats is not None and repeats > 0:
        days *= 1 + repeats
    end = add_days(start, days - 1)
    if limit is not None and limit < end:
        end = max(limit, start)
    return exposure(ctx, order, drug, Route.ORAL, ExposureKind.SUPPLY, (start, end), order)


def _stop(
    ctx: ReadContext, order: Resource, drug: Identified, last_given: date | None
) -> OrderStop | None:
    """A stopped anti-cancer order whose statusReason says progression or toxicity."""
    if access.code(order, "status") != "stopped" or drug.role is not DrugRole.ANTICANCER:
        return None
    concept = access.concept(order, "statusReason")
    reason = stop_reason(concept) if concept is not None else None  # none without a reason
    if reason is None:
        return None
    request = access.obj(order, "dispenseRequest") or {}
    on = last_given or access.period(request, "validityPeriod", "dispenseRequest")[1]
    on = on or access.date(order, "authoredOn")
    if on is None:
        ctx.warn(order, "stopped order without any date; its stop reason is not used")
        return None
    return OrderStop(ref=resource_key(order), on=on, reason=reason)


def stop_reason(concept: object) -> StopReason | None:
    found = codes(concept, SNOMED_SYSTEMS)
    words = concept_words(concept)
    if found & PROGRESSION_CODES or "progress" in words:
        return StopReason.PROGRESSION
    if found & TOXICITY_CODES or any(w in words for w in TOXICITY_WORDS):
        return StopReason.TOXICITY
    return None
