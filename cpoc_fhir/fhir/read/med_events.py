"""MedicationAdministration, MedicationDispense, MedicationStatement → exposures; and the
medication reading as a whole (administrations and dispenses first: they decide what their
orders contribute)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from cpoc_fhir.engine.facts import ExposureKind, MedicationExposure, OrderStop, Route
from cpoc_fhir.fhir.read import access
from cpoc_fhir.fhir.read.context import ReadContext
from cpoc_fhir.fhir.read.med_orders import counted_order, read_order
from cpoc_fhir.fhir.read.medications import (
    dosages,
    exposure,
    identify,
    order_organization,
    order_route,
    route_of,
    supply_days,
)
from cpoc_fhir.fhir.read.references import resource_key
from cpoc_fhir.fhir.read.values import add_days

Resource = dict[str, Any]

# Given (a stopped administration was partly given: still a treatment day).
ADMINISTERED = frozenset({"completed", "in-progress", "stopped"})
DISPENSED = frozenset({"completed"})
# Taken (intended, not-taken, on-hold, unknown: not evidence of days on the drug).
STATED = frozenset({"active", "completed", "stopped"})


def read_medications(ctx: ReadContext) -> tuple[list[MedicationExposure], list[OrderStop]]:
    exposures: list[MedicationExposure] = []
    administered: dict[str, date] = {}  # order → last administration date
    dispensed: set[str] = set()
    events: list[tuple[str, frozenset[str], Callable[[Resource], MedicationExposure | None]]] = [
        ("MedicationAdministration", ADMINISTERED, lambda r: _administration(ctx, r, administered)),
        ("MedicationDispense", DISPENSED, lambda r: _dispense(ctx, r, dispensed)),
        ("MedicationStatement", STATED, lambda r: _statement(ctx, r)),
    ]
    for resource_type, statuses, read in events:
        for resource in ctx.of_type(resource_type):
            with ctx.reading(resource):
                if access.code(resource, "status") in statuses:
                    exposure = read(resource)
                    if exposure is not None:
                        exposures.append(exposure)
    stops: list[OrderStop] = []
    for resource in ctx.of_type("MedicationRequest"):
        with ctx.reading(resource):
            if counted_order(ctx, resource):
                found, stop = read_order(ctx, resource, administered, dispensed)
                exposures.extend(found)
                if stop is not None:
                    stops.append(stop)
    return exposures, stops


def _administration(
    ctx: ReadContext, resource: Resource, administered: dict[str, date]
) -> MedicationExposure | None:
    request = access.reference(resource, "request")
    order_ref = ctx.key(request)
    order = ctx.resolve(request)
    given = access.date(resource, "effectiveDateTime")
    start, end = access.period(resource, "effectivePeriod")
    if given is not None:
        start = end = given
    elif end is not None and start is not None and end < start:
        ctx.warn(resource, "effectivePeriod ends before it starts; its start is used")
        end = None
    if start is None:
        ctx.warn(resource, "no effective date; not counted")
        return None
    end = end or start
    found = None
    drug = identify(ctx, resource, [resource, order])
    if drug is not None:
        provider = order_organization(ctx, order) if order else _encounter_provider(ctx, resource)
        if not ctx.outside_practice(resource, provider):
            route = route_of(ctx, resource, dosages(ctx, resource), None, drug.concept)
            route = route or order_route(ctx, order) or drug.usual_route or Route.PARENTERAL
            kind = ExposureKind.ADMINISTERED  # given by staff: infused/injected unless told
            found = exposure(ctx, resource, drug, route, kind, (start, end), order, order_ref)
    if order_ref is not None:  # only once the administration was read whole
        administered[order_ref] = max(end, administered.get(order_ref, end))
    return found


def _dispense(
    ctx: ReadContext, resource: Resource, dispensed: set[str]
) -> MedicationExposure | None:
    prescriptions = access.references(resource, "authorizingPrescription")
    order_ref = next((k for p in prescriptions if (k := ctx.key(p)) is not None), None)
    order = ctx.resolve(order_ref) if order_ref else None
    found = _supplied(ctx, resource, order, order_ref)
    if order_ref is not None:  # only once the dispense was read whole
        dispensed.add(order_ref)
    return found


def _supplied(
    ctx: ReadContext, resource: Resource, order: Resource | None, order_ref: str | None
) -> MedicationExposure | None:
    drug = identify(ctx, resource, [resource, order])
    if drug is None:
        return None
    if order is not None and ctx.outside_practice(resource, order_organization(ctx, order)):
        return None
    handed = access.date(resource, "whenHandedOver")
    start = handed or access.date(resource, "whenPrepared")
    if start is None:
        ctx.warn(resource, "no whenHandedOver or whenPrepared; not counted")
        return None
    days = supply_days(ctx, resource, "daysSupply")
    route = route_of(ctx, resource, dosages(ctx, resource), None, drug.concept) or order_route(
        ctx, order
    )
    route = route or drug.usual_route or Route.ORAL  # in the patient's hands: oral unless told
    span = (start, add_days(start, days - 1))
    return exposure(ctx, resource, drug, route, ExposureKind.SUPPLY, span, order, order_ref)


def _statement(ctx: ReadContext, resource: Resource) -> MedicationExposure | None:
    based_on = [ctx.key(b) for b in access.references(resource, "basedOn")]
    order_ref = next((k for k in based_on if k and k.startswith("MedicationRequest/")), None)
    order = ctx.resolve(order_ref) if order_ref else None
    drug = identify(ctx, resource, [resource, order])
    if drug is None:
        return None
    taken = access.date(resource, "effectiveDateTime")
    start, end = access.period(resource, "effectivePeriod")
    asserted = access.date(resource, "dateAsserted")
    if taken is not None:
        start = end = taken
    if start is None:
        ctx.warn(resource, "no effective date; not counted")
        return None
    if end is None:
        end = asserted if asserted is not None and asserted >= start else start
        ctx.warn(resource, f"effective period has no end; counted until {end.isoformat()}")
    end = max(end, start)
    route = route_of(ctx, resource, dosages(ctx, resource), drug.usual_route, drug.concept)
    route = route or Route.ORAL
    return exposure(ctx, resource, drug, route, ExposureKind.SUPPLY, (start, end), order, order_ref)


def _encounter_provider(ctx: ReadContext, resource: Resource) -> object:
    encounter = ctx.resolve(access.reference(resource, "context"))
    if encounter is None:
        return None
    return access.reference(encounter, "serviceProvider", resource_key(encounter))
