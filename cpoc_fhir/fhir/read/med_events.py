"""MedicationAdministration, MedicationDispense, MedicationStatement → exposures; and the
medication reading as a whole (administrations and dispenses first: they decide what their
orders contribute)."""

from __future__ import annotations

from datetime import date
from typing import Any

from cpoc_fhir.engine.facts import ExposureKind, MedicationExposure, OrderStop, Route
from cpoc_fhir.fhir.read.context import ReadContext
from cpoc_fhir.fhir.read.med_orders import counted_order, read_order
from cpoc_fhir.fhir.read.medications import (
    authored_on,
    dosages,
    identify,
    order_organization,
    route_of,
)
from cpoc_fhir.fhir.read.references import resource_key
from cpoc_fhir.fhir.read.values import (
    add_days,
    as_list,
    duration_days,
    fhir_date,
    period_end,
    period_start,
)

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
    for resource in ctx.of_type("MedicationAdministration"):
        if resource.get("status") in ADMINISTERED:
            with ctx.reading(resource):
                exposure = _administration(ctx, resource, administered)
                if exposure is not None:
                    exposures.append(exposure)
    for resource in ctx.of_type("MedicationDispense"):
        if resource.get("status") in DISPENSED:
            with ctx.reading(resource):
                exposure = _dispense(ctx, resource, dispensed)
                if exposure is not None:
                    exposures.append(exposure)
    for resource in ctx.of_type("MedicationStatement"):
        if resource.get("status") in STATED:
            with ctx.reading(resource):
                exposure = _statement(ctx, resource)
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
    order_ref = ctx.key(resource.get("request"))
    order = ctx.resolve(resource.get("request"))
    start = fhir_date(resource.get("effectiveDateTime"))
    end = start
    if start is None:
        start, end = (
            period_start(resource.get("effectivePeriod")),
            period_end(resource.get("effectivePeriod")),
        )
        if end is not None and start is not None and end < start:
            ctx.warn(resource, "effectivePeriod ends before it starts; its start is used")
            end = None
    if start is None:
        ctx.warn(resource, "no effective date; not counted")
        return None
    end = end or start
    if order_ref is not None:
        administered[order_ref] = max(end, administered.get(order_ref, end))
    drug = identify(ctx, resource, [resource, order])
    if drug is None:
        return None
    organization = order_organization(ctx, order) if order else _encounter_provider(ctx, resource)
    if ctx.outside_practice(resource, organization):
        return None
    route = route_of(ctx, resource, dosages(resource), None)
    if route is None and order is not None:
        route = route_of(ctx, order, dosages(order), None)
    return MedicationExposure(
        ref=resource_key(resource),
        drug=drug.drug,
        drug_name=drug.name,
        role=drug.role,
        route=route or drug.usual_route or Route.PARENTERAL,  # given by staff: infused/injected
        kind=ExposureKind.ADMINISTERED,
        start=start,
        end=end,
        ordered_on=authored_on(order),
        order_ref=order_ref,
    )


def _dispense(
    ctx: ReadContext, resource: Resource, dispensed: set[str]
) -> MedicationExposure | None:
    prescriptions = as_list(resource.get("authorizingPrescription"))
    order_ref = next((k for p in prescriptions if (k := ctx.key(p)) is not None), None)
    order = ctx.resolve(order_ref) if order_ref else None
    if order_ref is not None:
        dispensed.add(order_ref)
    drug = identify(ctx, resource, [resource, order])
    if drug is None:
        return None
    if order is not None and ctx.outside_practice(resource, order_organization(ctx, order)):
        return None
    start = fhir_date(resource.get("whenHandedOver")) or fhir_date(resource.get("whenPrepared"))
    if start is None:
        ctx.warn(resource, "no whenHandedOver or whenPrepared; not counted")
        return None
    days = duration_days(resource.get("daysSupply"))
    if days is None:
        days = ctx.settings.default_oral_supply_days
        ctx.warn(resource, f"no usable daysSupply; {days} days of supply assumed")
    route = route_of(ctx, resource, dosages(resource), None)
    if route is None and order is not None:
        route = route_of(ctx, order, dosages(order), None)
    return _supply(
        resource,
        drug,
        route or drug.usual_route,
        start,
        add_days(start, days - 1),
        order,
        order_ref,
    )


def _statement(ctx: ReadContext, resource: Resource) -> MedicationExposure | None:
    based_on = [ctx.key(b) for b in as_list(resource.get("basedOn"))]
    order_ref = next((k for k in based_on if k and k.startswith("MedicationRequest/")), None)
    order = ctx.resolve(order_ref) if order_ref else None
    drug = identify(ctx, resource, [resource, order])
    if drug is None:
        return None
    period = resource.get("effectivePeriod")
    start = end = fhir_date(resource.get("effectiveDateTime"))
    if start is None:
        start, end = period_start(period), period_end(period)
    if start is None:
        ctx.warn(resource, "no effective date; not counted")
        return None
    if end is None:
        asserted = fhir_date(resource.get("dateAsserted"))
        end = asserted if asserted is not None and asserted >= start else start
        ctx.warn(resource, f"effective period has no end; counted until {end.isoformat()}")
    end = max(end, start)
    route = route_of(ctx, resource, dosages(resource), drug.usual_route)
    return _supply(resource, drug, route, start, end, order, order_ref)


def _supply(
    resource: Resource,
    drug: Any,
    route: Route | None,
    start: date,
    end: date,
    order: Resource | None,
    order_ref: str | None,
) -> MedicationExposure:
    return MedicationExposure(
        ref=resource_key(resource),
        drug=drug.drug,
        drug_name=drug.name,
        role=drug.role,
        route=route or Route.ORAL,  # a supply in the patient's hands: oral unless told
        kind=ExposureKind.SUPPLY,
        start=start,
        end=end,
        ordered_on=authored_on(order),
        order_ref=order_ref,
    )


def _encounter_provider(ctx: ReadContext, resource: Resource) -> object:
    encounter = ctx.resolve(resource.get("context"))
    return encounter.get("serviceProvider") if encounter is not None else None
