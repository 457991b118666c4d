"""What the quality measures read from FHIR R4 that the engine's facts do not hold (§12.2).

Pain scores (Q2) and depression screens (Q6) are Observations; hospice care (Q5) is an
Encounter or EpisodeOfCare of a hospice type, or an Encounter discharging to hospice. Codes
come from the value sets of ``knowledge/data/value-sets/quality.toml``. Elements are read
through ``fhir.read.access``: a resource with an element of the wrong FHIR type is left out
with a warning naming it (never its value).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from cpoc_fhir.fhir.read import access
from cpoc_fhir.fhir.read.access import UnreadableElement
from cpoc_fhir.fhir.read.encounters import SKIPPED_ENCOUNTERS, SKIPPED_EPISODES
from cpoc_fhir.fhir.read.references import resource_key
from cpoc_fhir.fhir.read.resources import PatientResources
from cpoc_fhir.fhir.read.values import concept_words
from cpoc_fhir.value.valuesets import value_set

Resource = dict[str, Any]
# Observations that record nothing (cpoc_fhir.fhir.read.observations skips the same).
SKIPPED_OBSERVATIONS = frozenset({"entered-in-error", "cancelled"})


@dataclass(frozen=True)
class Screen:
    """A pain score or a depression screen Observation."""

    ref: str
    on: date
    encounter: str | None  # "Encounter/id" it was recorded in, when it says
    result: bool  # a value, a component value or members are recorded
    declined: bool  # dataAbsentReason "asked-declined"


@dataclass(frozen=True)
class Hospice:
    """Hospice care starting on ``start`` (None: not dated) until ``end`` (None: open)."""

    ref: str
    start: date | None
    end: date | None = None


@dataclass
class QualityReading:
    pain: list[Screen] = field(default_factory=list)
    depression: list[Screen] = field(default_factory=list)
    hospice: list[Hospice] = field(default_factory=list)
    # (the measure ids a warning concerns, its text "Type/id: problem")
    warnings: list[tuple[frozenset[str], str]] = field(default_factory=list)

    def warn(self, measures: Iterable[str], text: str) -> None:
        item = (frozenset(measures), text)
        if item not in self.warnings:
            self.warnings.append(item)


def read_quality(resources: PatientResources) -> QualityReading:
    """Pain scores, depression screens and hospice care of one patient's resources."""
    out = QualityReading()
    pain, screening = value_set("pain-score"), value_set("depression-screening")
    for resource in resources.of_type("Observation"):
        try:
            _observation(resources, resource, pain, screening, out)
        except UnreadableElement as exc:
            out.warn(("Q2", "Q6"), f"{resource_key(resource)}: {exc.problem}; left out")
    for kind, reader in (("EpisodeOfCare", _episode), ("Encounter", _encounter)):
        for resource in resources.of_type(kind):
            try:
                found = reader(resource)
            except UnreadableElement as exc:
                out.warn(("Q5",), f"{resource_key(resource)}: {exc.problem}; left out")
                continue
            if found is not None:
                out.hospice.append(found)
    return out


def _observation(
    resources: PatientResources, resource: Resource, pain: Any, screening: Any, out: QualityReading
) -> None:
    code = access.concept(resource, "code")
    found = _codings(code)
    if pain.matches(found):
        into, measure, what = out.pain, "Q2", "pain score"
    elif screening.matches(found):
        into, measure, what = out.depression, "Q6", "depression screen"
    else:
        return
    if access.code(resource, "status") in SKIPPED_OBSERVATIONS:
        return
    on = (
        access.date(resource, "effectiveDateTime")
        or access.period(resource, "effectivePeriod")[0]
        or access.date(resource, "effectiveInstant", expected="instant")
        or access.date(resource, "issued", expected="instant")
    )
    ref = resource_key(resource)
    if on is None:
        out.warn((measure,), f"{ref}: {what} without an effective date; not counted")
        return
    encounter = access.reference(resource, "encounter")
    visit = resources.key(encounter.get("reference")) if encounter else None
    absent = _codings(access.concept(resource, "dataAbsentReason"))
    declined = value_set("screening-declined").matches(absent)
    into.append(Screen(ref, on, visit, _has_result(resource), declined))


def _has_result(resource: Resource) -> bool:
    """A value[x], a component with a value[x], or members (a PHQ-9 panel's items)."""
    if _has_value(resource):
        return True
    if any(_has_value(c) for c in access.objects(resource, "component")):
        return True
    return bool(access.references(resource, "hasMember"))


def _has_value(node: Mapping[str, Any]) -> bool:
    return any(k.startswith("value") and v not in (None, "", {}, []) for k, v in node.items())


def _episode(resource: Resource) -> Hospice | None:
    if access.code(resource, "status") in SKIPPED_EPISODES:
        return None
    if not any(_is_hospice(t) for t in access.concepts(resource, "type")):
        return None
    start, end = access.period(resource, "period")
    return Hospice(resource_key(resource), start, end)


def _encounter(resource: Resource) -> Hospice | None:
    """An Encounter of hospice type starts hospice care (open: the Encounter may be only the
    admission visit); a discharge to hospice starts it on the discharge day."""
    if access.code(resource, "status") in SKIPPED_ENCOUNTERS:
        return None
    start, end = access.period(resource, "period")
    kinds = [*access.concepts(resource, "type"), access.concept(resource, "serviceType")]
    if any(_is_hospice(k) for k in kinds if k is not None):
        return Hospice(resource_key(resource), start)
    stay = access.obj(resource, "hospitalization")
    disposition = access.concept(stay, "dischargeDisposition", "hospitalization") if stay else None
    if value_set("hospice-discharge").matches(_codings(disposition)):
        return Hospice(resource_key(resource), end or start)
    return None


def _is_hospice(concept: Mapping[str, Any]) -> bool:
    # The engine's reader also takes the word (cpoc_fhir/fhir/read/encounters.py); the same
    # record must give the same hospice days to billing (§9) and to Q5.
    return value_set("hospice-care").matches(_codings(concept)) or "hospice" in concept_words(
        concept
    )


def _codings(concept: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """The Codings of a CodeableConcept already checked by ``access.concept``."""
    if not concept:
        return []
    found = concept.get("coding")
    if isinstance(found, dict):
        return [found]
    return found if isinstance(found, list) else []
