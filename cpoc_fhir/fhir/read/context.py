"""What every resource reader shares while one record is read: settings, lookups, warnings."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from cpoc_fhir.engine.facts import CancerRole
from cpoc_fhir.fhir.read import access, validation
from cpoc_fhir.fhir.read.access import UnreadableElement
from cpoc_fhir.fhir.read.references import resource_key
from cpoc_fhir.fhir.read.resources import PatientResources
from cpoc_fhir.fhir.read.values import ICD10_SYSTEMS, SNOMED_SYSTEMS, codes, concept_text
from cpoc_fhir.knowledge import Knowledge
from cpoc_fhir.knowledge.conditions import ConditionClass, normalize_icd10

Resource = dict[str, Any]
# What a reader could still trip over in a resource the checked access let through (a bug
# there): the resource is then left out with the model's precise problems. Anything else is
# a bug that must surface.
READ_ERRORS = (AttributeError, TypeError, ValueError, KeyError, IndexError, OverflowError)


@dataclass(frozen=True)
class ReaderSettings:
    """How the reader interprets a record (the few choices the practice makes).

    practice_organizations: "Organization/x" (or "x") of the practice. When set, an
        EpisodeOfCare managed by, or an order requested under, another organization does
        not count; when the record does not say which organization, the resource counts
        and the record gets a warning.
    default_oral_supply_days: the supply assumed for an oral order or dispense that states
        none (with a warning).
    validate: also check every resource read against the FHIR R4 models (slow; warnings
        name the invalid element).
    """

    practice_organizations: frozenset[str] = frozenset()
    default_oral_supply_days: int = 30
    validate: bool = False


@dataclass
class ReadContext:
    """One record being read: its resources by "Type/id", shared facts found so far."""

    resources: PatientResources
    knowledge: Knowledge
    settings: ReaderSettings
    include_drafts: bool = False
    warnings: list[str] = field(default_factory=list)
    cancer_refs: set[str] = field(default_factory=set)  # Conditions that are cancers
    oncology_episodes: set[str] = field(default_factory=set)
    unknown_organization: list[str] = field(default_factory=list)  # counted, organization unknown
    current: Resource | None = None  # the resource being read (``reading``)
    _by_key: dict[str, Resource] | None = None  # built at the first reference resolved
    _by_type: dict[str, list[Resource]] = field(default_factory=dict)
    _seen: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        by_type = self._by_type
        for resource in self.resources.resources:
            by_type.setdefault(str(resource.get("resourceType")), []).append(resource)

    def of_type(self, resource_type: str) -> list[Resource]:
        """The record's resources of one type (validated first when the settings ask)."""
        found = self._by_type.get(resource_type, [])
        if self.settings.validate:
            for resource in found:
                for problem in validation.problems(resource):
                    self.warn(resource, f"not valid FHIR R4: {problem}")
        return found

    def warn(self, about: Resource | str, message: str) -> None:
        """Record "Type/id: message" once."""
        text = f"{about if isinstance(about, str) else resource_key(about)}: {message}"
        if text not in self._seen:
            self._seen.add(text)
            self.warnings.append(text)

    def reading(self, resource: Resource) -> _Guard:
        """``with ctx.reading(r):`` leaves out a resource with an element of the wrong FHIR
        type (``access.UnreadableElement``), with a warning naming resource and element
        (cpoc-rules §11); the one place where readers' failures are caught."""
        return _Guard(self, resource)

    def at(self, resource: Resource) -> str:
        """The path prefix of ``resource``'s elements in problems: nothing for the resource
        being read, its "Type/id" for another one read with it (its order, its Medication)."""
        return "" if resource is self.current else resource_key(resource)

    def key(self, reference: object) -> str | None:
        """The "Type/id" of a Reference element (a dict) or a reference string."""
        if isinstance(reference, dict):
            reference = reference.get("reference")
        return self.resources.key(reference)

    def resolve(self, reference: object, container: Resource | None = None) -> Resource | None:
        """The resource a Reference points to: contained ("#id"), the record's, or shared."""
        raw = reference.get("reference") if isinstance(reference, dict) else reference
        if isinstance(raw, str) and raw.startswith("#") and container is not None:
            wanted = raw[1:]
            for contained in access.objects(container, "contained", expected="Resource"):
                if contained.get("id") == wanted:
                    return contained
            return None
        key = self.resources.key(raw)
        if key is None:
            return None
        if self._by_key is None:
            self._by_key = {resource_key(r): r for r in self.resources.resources}
        return self._by_key.get(key) or self.resources.shared.get(key)

    def classify(self, concept: object) -> ConditionClass:
        """knowledge.conditions' classification of a CodeableConcept."""
        icd10 = sorted(normalize_icd10(c) for c in codes(concept, ICD10_SYSTEMS))
        snomed = sorted(codes(concept, SNOMED_SYSTEMS))
        return self.knowledge.conditions.classify(icd10, snomed, concept_text(concept))

    def is_cancer(self, concept: object) -> bool:
        return self.classify(concept).cancer_role is not CancerRole.NONE

    def for_cancer(self, resource: Resource, at: str = "") -> bool:
        """True when reasonReference names a cancer Condition or reasonCode is a cancer."""
        for reason in access.references(resource, "reasonReference", at):
            if self.key(reason) in self.cancer_refs:
                return True
        return any(self.is_cancer(reason) for reason in access.concepts(resource, "reasonCode", at))

    def outside_practice(self, resource: Resource, organization: object) -> bool:
        """True when ``organization`` (a Reference) is known and not the practice's.

        An unknown organization counts as the practice's; ``resource`` is then listed in one
        warning for the record.
        """
        wanted = self.settings.practice_organizations
        if not wanted:
            return False
        key = self.key(organization)
        if key is None or not key.startswith("Organization/"):
            self.unknown_organization.append(resource_key(resource))
            return False
        return key not in wanted and key.removeprefix("Organization/") not in wanted


class _Guard:
    def __init__(self, ctx: ReadContext, resource: Resource) -> None:
        self.ctx, self.resource = ctx, resource
        self.outer: Resource | None = None

    def __enter__(self) -> None:
        self.outer, self.ctx.current = self.ctx.current, self.resource

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        self.ctx.current = self.outer
        if exc is None:
            return False
        if isinstance(exc, UnreadableElement):
            exc.resource_ref = resource_key(self.resource)
            self.ctx.warn(self.resource, f"{exc.problem}; left out")
            return True
        if not isinstance(exc, READ_ERRORS):
            return False
        found = validation.problems(self.resource)
        detail = "; ".join(found) if found else f"unexpected content ({type(exc).__name__})"
        self.ctx.warn(self.resource, f"could not be read: {detail}; ignored")
        return True
