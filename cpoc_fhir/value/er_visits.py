"""Emergency visits and their OP-35 categories, read from a patient's FHIR R4 Encounters
(value-and-models §12.3).

A visit is an Encounter of class ``EMER`` (HL7 v3 ActCode) or whose ``type`` / ``serviceType``
is in the ``er-encounter-types`` value set, not cancelled, entered in error or planned, dated by
``period.start``. Its diagnoses are read from ``reasonCode``, ``reasonReference`` and
``diagnosis.condition`` (Conditions of the record or contained in the Encounter) and from every
Condition whose ``encounter`` names it; a Condition refuted or entered in error is no diagnosis.
A diagnosis in one of the ten OP-35 value sets (``knowledge/data/value-sets/op35.toml``) makes
the visit oncology-related. An emergency Encounter that is ``partOf`` another one (a stay split
in parts) is the same visit: its diagnoses join its parent's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from cpoc_fhir.fhir.read import access
from cpoc_fhir.fhir.read.access import UnreadableElement
from cpoc_fhir.fhir.read.encounters import SKIPPED_ENCOUNTERS
from cpoc_fhir.fhir.read.references import resource_key
from cpoc_fhir.fhir.read.resources import PatientResources
from cpoc_fhir.fhir.read.values import CPT, CPT_SYSTEMS, ICD10_SYSTEMS, SNOMED, SNOMED_SYSTEMS
from cpoc_fhir.value.valuesets import ICD10CM, ValueSet, value_set

Resource = dict[str, Any]

EMERGENCY_CLASS = "EMER"
# Encounter.class systems that mean HL7 v3 ActCode (a class code without a system is read as one)
ACT_CODE_SYSTEMS = frozenset(
    {"http://terminology.hl7.org/CodeSystem/v3-ActCode", "urn:oid:2.16.840.1.113883.5.4"}
)
# OP-35's ten outcome conditions, in the measure's order (CBE #3490 numerator statement).
OP35_CATEGORIES = (
    "anemia",
    "dehydration",
    "diarrhea",
    "emesis",
    "fever",
    "nausea",
    "neutropenia",
    "pain",
    "pneumonia",
    "sepsis",
)
_NOT_A_DIAGNOSIS = frozenset({"entered-in-error", "refuted"})  # Condition.verificationStatus


@dataclass(frozen=True)
class EmergencyVisit:
    """One emergency visit; ``categories`` empty when no diagnosis is an OP-35 one.

    ``evidence``: the Encounter, then the Conditions whose codes put it in a category.
    """

    ref: str
    day: date
    categories: tuple[str, ...]
    evidence: tuple[str, ...]

    @property
    def category(self) -> str | None:
        """The first of the visit's categories in OP-35's order."""
        return self.categories[0] if self.categories else None


@dataclass(frozen=True)
class Op35:
    """The OP-35 value sets and the emergency encounter types, loaded once."""

    categories: Mapping[str, ValueSet]
    encounter_types: ValueSet

    @classmethod
    def bundled(cls) -> Op35:
        return cls(
            {c: value_set(f"op35-{c}") for c in OP35_CATEGORIES}, value_set("er-encounter-types")
        )

    def categories_of(self, concepts: Iterable[Mapping[str, Any]]) -> set[str]:
        found: set[str] = set()
        for system, code in _codings(concepts):
            found.update(c for c, vs in self.categories.items() if vs.contains(system, code))
        return found

    def emergency_type(self, concepts: Iterable[Mapping[str, Any]]) -> bool:
        return any(self.encounter_types.contains(s, c) for s, c in _codings(concepts))


def _codings(concepts: Iterable[Mapping[str, Any]]) -> Iterable[tuple[str, str]]:
    """(system, code) of each coding, the systems' aliases (OIDs, WHO ICD-10) made canonical."""
    for concept in concepts:
        for coding in access.objects(concept, "coding", expected="Coding"):
            system, code = coding.get("system"), coding.get("code")
            if not isinstance(system, str) or not isinstance(code, str):
                continue
            if system in ICD10_SYSTEMS:
                system = ICD10CM
            elif system in SNOMED_SYSTEMS:
                system = SNOMED
            elif system in CPT_SYSTEMS:
                system = CPT
            yield system, code


def emergency_visits(
    resources: PatientResources, until: date, warnings: list[str], op35: Op35
) -> list[EmergencyVisit]:
    """The patient's emergency visits up to ``until`` (as of), by day then reference.

    An Encounter or Condition with an element of the wrong FHIR type is left out with a
    warning naming it and the element (cpoc-rules §11), never its content.
    """
    conditions, by_encounter = _conditions(resources, warnings)
    found: dict[str, tuple[date, set[str], list[str], str | None]] = {}
    for encounter in resources.of_type("Encounter"):
        ref = resource_key(encounter)
        try:
            read = _visit(encounter, resources, conditions, by_encounter.get(ref, []), op35)
        except UnreadableElement as exc:
            warnings.append(f"{ref}: {exc.problem}; left out")
            continue
        if read is None:
            continue
        if isinstance(read, str):
            warnings.append(f"{ref}: {read}")
            continue
        day, categories, evidence, parent = read
        if day <= until:
            found[ref] = (day, categories, evidence, parent)
    for ref, (_, categories, evidence, parent) in list(found.items()):
        if parent is not None and parent in found and parent != ref:
            _, parent_categories, parent_evidence, _ = found[parent]
            parent_categories.update(categories)
            parent_evidence.extend(e for e in [ref, *evidence] if e not in parent_evidence)
            del found[ref]
    visits = [
        EmergencyVisit(
            ref,
            day,
            tuple(c for c in OP35_CATEGORIES if c in categories),
            (ref, *evidence),
        )
        for ref, (day, categories, evidence, _) in found.items()
    ]
    return sorted(visits, key=lambda v: (v.day, v.ref))


def _visit(
    encounter: Resource,
    resources: PatientResources,
    conditions: Mapping[str, Resource],
    recorded_for: list[Resource],
    op35: Op35,
) -> tuple[date, set[str], list[str], str | None] | str | None:
    """(day, categories, condition refs, parent) of an emergency Encounter; None when it is
    not one; a problem (text) when it is one that cannot be dated."""
    if access.code(encounter, "status") in SKIPPED_ENCOUNTERS:
        return None
    klass = access.coding(encounter, "class")
    emergency = (
        klass is not None
        and klass.get("code") == EMERGENCY_CLASS
        and (klass.get("system") is None or klass.get("system") in ACT_CODE_SYSTEMS)
    )
    kinds = [*access.concepts(encounter, "type")]
    service = access.concept(encounter, "serviceType")
    if service is not None:
        kinds.append(service)
    if not emergency and not op35.emergency_type(kinds):
        return None
    day, _ = access.period(encounter, "period")
    if day is None:
        return "emergency encounter without period.start; not counted"
    categories = op35.categories_of(access.concepts(encounter, "reasonCode"))
    evidence: list[str] = []
    cited = [
        *access.references(encounter, "reasonReference"),
        *(
            access.reference(d, "condition", f"diagnosis[{n}]")
            for n, d in enumerate(access.objects(encounter, "diagnosis"))
        ),
    ]
    diagnoses: list[Resource] = list(recorded_for)
    for reference in cited:
        condition = _resolve(reference, encounter, resources, conditions)
        if condition is not None and all(condition is not d for d in diagnoses):
            diagnoses.append(condition)
    for condition in diagnoses:
        found = op35.categories_of([c for c in [access.concept(condition, "code")] if c])
        if found:
            categories |= found
            key = _condition_key(condition, encounter)
            if key not in evidence:
                evidence.append(key)
    parent = access.reference(encounter, "partOf")
    return day, categories, evidence, resources.key(parent.get("reference")) if parent else None


def _conditions(
    resources: PatientResources, warnings: list[str]
) -> tuple[dict[str, Resource], dict[str, list[Resource]]]:
    """The record's diagnoses by "Type/id", and by the Encounter they were recorded for."""
    by_key: dict[str, Resource] = {}
    by_encounter: dict[str, list[Resource]] = {}
    for condition in resources.of_type("Condition"):
        key = resource_key(condition)
        try:
            if not _is_diagnosis(condition):
                continue
            encounter = access.reference(condition, "encounter")
            access.concept(condition, "code")
        except UnreadableElement as exc:
            warnings.append(f"{key}: {exc.problem}; left out")
            continue
        by_key[key] = condition
        target = resources.key(encounter.get("reference")) if encounter else None
        if target is not None:
            by_encounter.setdefault(target, []).append(condition)
    return by_key, by_encounter


def _is_diagnosis(condition: Resource) -> bool:
    status = access.concept(condition, "verificationStatus")
    if status is None:
        return True
    codings = access.objects(status, "coding", "verificationStatus", "Coding")
    return not {c.get("code") for c in codings} & _NOT_A_DIAGNOSIS


def _resolve(
    reference: Mapping[str, Any] | None,
    encounter: Resource,
    resources: PatientResources,
    conditions: Mapping[str, Resource],
) -> Resource | None:
    raw = reference.get("reference") if reference else None
    if not isinstance(raw, str):
        return None
    if raw.startswith("#"):
        for contained in access.objects(encounter, "contained", expected="Resource"):
            if contained.get("id") == raw[1:] and contained.get("resourceType") == "Condition":
                return contained if _is_diagnosis(contained) else None
        return None
    key = resources.key(raw)
    return conditions.get(key) if key is not None else None


def _condition_key(condition: Resource, encounter: Resource) -> str:
    """A contained Condition is cited through its Encounter ("Encounter/e#c1")."""
    key = resource_key(condition)
    if any(condition is c for c in encounter.get("contained") or []):
        return f"{resource_key(encounter)}#{condition.get('id')}"
    return key
