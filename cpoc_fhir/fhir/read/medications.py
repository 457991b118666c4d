"""What the medication readers share: which drug, by which route, ordered by whom.

Only drugs the regimen catalog knows count (their role comes from the catalog), plus an
unknown drug given for a cancer (reasonReference / reasonCode), which is counted as an
anti-cancer drug with a warning. Other unknown drugs are not cancer treatment and are
ignored without a word (cpoc-rules §3).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from cpoc_fhir.engine.facts import DrugRole, ExposureKind, MedicationExposure, Route
from cpoc_fhir.engine.fast_init import fast_init
from cpoc_fhir.fhir.read import access
from cpoc_fhir.fhir.read.context import ReadContext
from cpoc_fhir.fhir.read.memo import UNSEEN, BoundedMemo
from cpoc_fhir.fhir.read.references import resource_key
from cpoc_fhir.fhir.read.values import SNOMED_SYSTEMS, codes, codings, concept_words, duration_days

Resource = dict[str, Any]
Dosage = tuple[str, dict[str, Any]]  # (its path, the element)

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


@fast_init  # faster __init__, same dataclass (engine/fast_init.py)
@dataclass(frozen=True)
class Identified:
    """A medication resource's drug, as the engine names it."""

    drug: str  # catalog drug id, "" when unknown to the catalog
    name: str
    role: DrugRole
    usual_route: Route | None
    concept: dict[str, Any] = field(default_factory=dict, compare=False)  # its wording, read


def identify(
    ctx: ReadContext, resource: Resource, related: Iterable[Resource | None]
) -> Identified | None:
    """The drug of ``resource``, or None when it does not count as cancer treatment.

    ``related`` are the resources whose reasons tell whether an unknown drug was given for
    a cancer (the resource itself, its order).
    """
    concept = medication_concept(ctx, resource)
    text = concept.get("text")  # checked: a string or None
    resolution = ctx.knowledge.regimens.resolve(codings(concept), text)
    if resolution.warning:
        ctx.warn(resource, resolution.warning)
    if resolution.drug is not None:
        drug = resolution.drug
        return Identified(drug.id, drug.name, drug.role, drug.route, concept)
    if not any(r is not None and ctx.for_cancer(r, ctx.at(r)) for r in related):
        return None
    name = text or next((d for _, _, d in codings(concept) if d), "") or "unnamed drug"
    ctx.warn(resource, f"{name} is not in the regimen catalog; scored conservatively")
    return Identified("", name, DrugRole.ANTICANCER, None, concept)


def medication_concept(ctx: ReadContext, resource: Resource) -> dict[str, Any]:
    """medicationCodeableConcept, or the code of the Medication it references (contained or
    not), or at least the reference's display as text."""
    at = ctx.at(resource)
    concept = access.concept(resource, "medicationCodeableConcept", at)
    if concept is not None:
        return concept
    reference = access.reference(resource, "medicationReference", at)
    medication = ctx.resolve(reference, container=resource)
    code = access.concept(medication, "code", ctx.at(medication)) if medication else None
    if code is not None:
        return code
    display = reference.get("display") if reference else None
    return {"text": display} if display is not None else {}


def route_of(
    ctx: ReadContext,
    resource: Resource,
    dosages: list[Dosage],
    usual: Route | None,
    concept: dict[str, Any] | None = None,
) -> Route | None:
    """Route codes of the dosages, else their route and dosage words, else the medication's
    wording (dose form: "Oral Tablet", "Injection"), else the catalog's usual route.
    ``concept``: the resource's medication concept when already read (``identify``)."""
    if dosages:
        found = _dosage_route(dosages)
        if found is not None:
            return found
    if concept is None:
        concept = medication_concept(ctx, resource)
    reference = (
        access.reference(resource, "medicationReference", ctx.at(resource))
        if "medicationReference" in resource
        else None
    )
    medication = ctx.resolve(reference, container=resource) if reference else None
    form = access.concept(medication, "form", ctx.at(medication)) if medication else None
    words = concept_words(concept) + " " + concept_words(form) if form else concept_words(concept)
    return _route_in(words) or usual


def _dosage_route(dosages: list[Dosage]) -> Route | None:
    routes = [access.concept(dosage, "route", at) for at, dosage in dosages]
    texts = [access.string(dosage, "text", at) for at, dosage in dosages]
    for route in routes:
        for code in codes(route, SNOMED_SYSTEMS):
            if code in ROUTE_SNOMED:
                return ROUTE_SNOMED[code]
    for route in routes:
        found = _route_in(
            concept_words(route) + " " + " ".join(c for _, c, _ in codings(route) if c)
        )
        if found is not None:
            return found
    for text in texts:
        if text and (found := _route_in(text)):
            return found
    return None


def _route_in(words: str) -> Route | None:
    """The route named in free text, when exactly one kind is named."""
    # A record words its drugs alike ("… Injection"): each text is tested once (looked up
    # inline: the memo's table, then the memo for a new text).
    found = _seen_routes.get(words, UNSEEN)
    return _routes_named(words) if found is UNSEEN else found  # type: ignore[return-value]


def _route_named(words: str) -> Route | None:
    words = words.lower()
    oral, parenteral = bool(_ORAL_WORDS.search(words)), bool(_PARENTERAL_WORDS.search(words))
    if oral == parenteral:
        return None
    return Route.ORAL if oral else Route.PARENTERAL


_routes_named: BoundedMemo[Route | None] = BoundedMemo(_route_named)
_seen_routes = _routes_named.table


def order_organization(ctx: ReadContext, order: Resource) -> object:
    """The organization an order was placed under: its requester when that is an
    Organization (or a PractitionerRole's organization), else its encounter's provider."""
    at = ctx.at(order)
    requester = access.reference(order, "requester", at)
    key = ctx.key(requester) or ""
    if key.startswith("Organization/"):
        return requester
    if key.startswith("PractitionerRole/"):
        role = ctx.resolve(requester)
        organization = access.reference(role, "organization", ctx.at(role)) if role else None
        if organization:
            return organization
    visit = access.reference(order, "encounter", at) or access.reference(order, "context", at)
    encounter = ctx.resolve(visit)
    if encounter is None:
        return None
    return access.reference(encounter, "serviceProvider", ctx.at(encounter))


def dosages(ctx: ReadContext, resource: Resource) -> list[Dosage]:
    """The Dosage elements of any medication resource (MA has a single one), each with its
    path for problems."""
    name = "dosage" if "dosage" in resource else "dosageInstruction"
    prefix = ctx.at(resource)
    found = access.objects(resource, name, prefix, "Dosage")
    if not found:
        return []
    at = access.path(prefix, name)
    return [(f"{at}[{index}]", dosage) for index, dosage in enumerate(found)]


def authored_on(ctx: ReadContext, order: Resource | None) -> date | None:
    return access.date(order, "authoredOn", ctx.at(order)) if order is not None else None


def order_route(ctx: ReadContext, order: Resource | None) -> Route | None:
    """The route an event's order states, when the event states none."""
    return route_of(ctx, order, dosages(ctx, order), None) if order is not None else None


def supply_days(
    ctx: ReadContext, resource: Resource, element: str, parent: Resource | None = None
) -> int:
    """Whole days of a supply Duration (``parent[element]``), else the settings' default
    with a warning (cpoc-rules §3)."""
    holder = parent if parent is not None else resource
    at = "dispenseRequest" if parent is not None else ""
    days = duration_days(access.quantity(holder, element, at, "Duration"))
    if days is None:
        days = ctx.settings.default_oral_supply_days
        ctx.warn(resource, f"no usable {element}; {days} days of supply assumed")
    return days


def exposure(
    ctx: ReadContext,
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
    return MedicationExposure.of(  # the frozen __init__'s result, faster (facts.py)
        ref=resource_key(resource),
        drug=drug.drug,
        drug_name=drug.name,
        role=drug.role,
        route=route,
        kind=kind,
        start=span[0],
        end=span[1],
        ordered_on=authored_on(ctx, order),
        order_ref=order_ref,
    )
