"""What the medication readers share: which drug, by which route, ordered by whom.

Only drugs the regimen catalog knows count (their role comes from the catalog), plus an
unknown drug given for a cancer (reasonReference / reasonCode), which is counted as an
anti-cancer drug with a warning. Other unknown drugs are not cancer treatment and are
ignored without a word (cpoc-rules §3).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from cpoc_fhir.engine.facts import DrugRole, ExposureKind, MedicationExposure, Route
from cpoc_fhir.fhir.read.context import ReadContext
from cpoc_fhir.fhir.read.references import resource_key
from cpoc_fhir.fhir.read.values import (
    SNOMED_SYSTEMS,
    as_dict,
    as_list,
    codes,
    codings,
    concept_words,
    duration_days,
    fhir_date,
)

Resource = dict[str, Any]

ROUTE_SNOMED = {
    "26643006": Route.ORAL,  # Oral route
    "37839007": Route.ORAL,  # Sublingual route
    "54471007": Route.ORAL,  # Buccal route
    "47625008": Route.PARENTERAL,  # Intravenous route
    "34206005": Route.PARENTERAL,  # Subcutaneous route
    "78421000": Route.PARENTERAL,  # Intramuscular route
    "72607000": Route.PARENTERAL,  # Intrathecal route
    "58100008": Route.PARENTERAL,  # Intra-arterial route
    "38239002": Route.PARENTERAL,  # Intraperitoneal route
}
_ORAL_WORDS = re.compile(r"\b(oral|orally|mouth|po|tablets?|capsules?|sublingual|buccal)\b")
_PARENTERAL_WORDS = re.compile(
    r"\b(inject|infus|intraven|subcut|intramusc|intrathec|intra-?arter|intraperit"
    r"|(iv|ivpb|sc|sq|subq|im)\b)"
)


@dataclass(frozen=True)
class Identified:
    """A medication resource's drug, as the engine names it."""

    drug: str  # catalog drug id, "" when unknown to the catalog
    name: str
    role: DrugRole
    usual_route: Route | None


def identify(
    ctx: ReadContext, resource: Resource, related: Iterable[Resource | None]
) -> Identified | None:
    """The drug of ``resource``, or None when it does not count as cancer treatment.

    ``related`` are the resources whose reasons tell whether an unknown drug was given for
    a cancer (the resource itself, its order).
    """
    concept = medication_concept(ctx, resource)
    text = concept.get("text") if isinstance(concept.get("text"), str) else None
    resolution = ctx.knowledge.regimens.resolve(codings(concept), text)
    if resolution.warning:
        ctx.warn(resource, resolution.warning)
    if resolution.drug is not None:
        drug = resolution.drug
        return Identified(drug.id, drug.name, drug.role, drug.route)
    if not any(r is not None and ctx.for_cancer(r) for r in related):
        return None
    name = text or next((d for _, _, d in codings(concept) if d), "") or "unnamed drug"
    ctx.warn(resource, f"{name} is not in the regimen catalog; scored conservatively")
    return Identified("", name, DrugRole.ANTICANCER, None)


def medication_concept(ctx: ReadContext, resource: Resource) -> dict[str, Any]:
    """medicationCodeableConcept, or the code of the Medication it references (contained or
    not), or at least the reference's display as text."""
    concept = resource.get("medicationCodeableConcept")
    if isinstance(concept, dict):
        return concept
    reference = resource.get("medicationReference")
    medication = ctx.resolve(reference, container=resource)
    if medication is not None and isinstance(medication.get("code"), dict):
        return medication["code"]
    display = as_dict(reference).get("display")
    return {"text": display} if isinstance(display, str) else {}


def route_of(
    ctx: ReadContext, resource: Resource, dosages: Iterable[object], usual: Route | None
) -> Route | None:
    """Route codes of the dosages, else their route and dosage words, else the medication's
    wording (dose form: "Oral Tablet", "Injection"), else the catalog's usual route."""
    found_dosages: list[dict[str, Any]] = [d for d in dosages if isinstance(d, dict)]
    for dosage in found_dosages:
        for code in codes(dosage.get("route"), SNOMED_SYSTEMS):
            if code in ROUTE_SNOMED:
                return ROUTE_SNOMED[code]
    for dosage in found_dosages:
        route = dosage.get("route")
        found = _route_in(
            concept_words(route) + " " + " ".join(c for _, c, _ in codings(route) if c)
        )
        if found is not None:
            return found
    for dosage in found_dosages:
        if isinstance(dosage.get("text"), str) and (found := _route_in(dosage["text"])):
            return found
    concept = medication_concept(ctx, resource)
    medication = ctx.resolve(resource.get("medicationReference"), container=resource)
    form = concept_words(medication.get("form")) if medication else ""
    return _route_in(concept_words(concept) + " " + form) or usual


def _route_in(words: str) -> Route | None:
    """The route named in free text, when exactly one kind is named."""
    words = words.lower()
    oral, parenteral = bool(_ORAL_WORDS.search(words)), bool(_PARENTERAL_WORDS.search(words))
    if oral == parenteral:
        return None
    return Route.ORAL if oral else Route.PARENTERAL


def order_organization(ctx: ReadContext, order: Resource) -> object:
    """The organization an order was placed under: its requester when that is an
    Organization (or a PractitionerRole's organization), else its encounter's provider."""
    requester = order.get("requester")
    key = ctx.key(requester) or ""
    if key.startswith("Organization/"):
        return requester
    if key.startswith("PractitionerRole/"):
        role = ctx.resolve(requester)
        if role is not None and role.get("organization"):
            return role.get("organization")
    encounter = ctx.resolve(order.get("encounter") or order.get("context"))
    return encounter.get("serviceProvider") if encounter is not None else None


def dosages(resource: Resource) -> list[Any]:
    """The Dosage elements of any medication resource (MA has a single one)."""
    found = resource.get("dosageInstruction") or resource.get("dosage")
    return as_list(found)


def authored_on(order: Resource | None) -> date | None:
    return fhir_date(order.get("authoredOn")) if order is not None else None


def order_route(ctx: ReadContext, order: Resource | None) -> Route | None:
    """The route an event's order states, when the event states none."""
    return route_of(ctx, order, dosages(order), None) if order is not None else None


def supply_days(
    ctx: ReadContext, resource: Resource, element: str, parent: Resource | None = None
) -> int:
    """Whole days of a supply Duration (``parent[element]``), else the settings' default
    with a warning (cpoc-rules §3)."""
    days = duration_days((parent if parent is not None else resource).get(element))
    if days is None:
        days = ctx.settings.default_oral_supply_days
        ctx.warn(resource, f"no usable {element}; {days} days of supply assumed")
    return days


def exposure(
    resource: Resource,
    drug: Identified,
    route: Route,
    kind: ExposureKind,
    span: tuple[date, date],
    order: Resource | None,
    order_ref: str | None = None,
) -> MedicationExposure:
    """The exposure ``resource`` gives evidence of; ``order`` tells when it was ordered (an
    order passes itself)."""
    return MedicationExposure(
        ref=resource_key(resource),
        drug=drug.drug,
        drug_name=drug.name,
        role=drug.role,
        route=route,
        kind=kind,
        start=span[0],
        end=span[1],
        ordered_on=authored_on(order),
        order_ref=order_ref,
    )
