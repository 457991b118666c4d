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
from functools import cache
from typing import Any

from cpoc_fhir.errors import KnowledgeError
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
    # Condition.stage summaries: ("Condition/id", the day it was recorded), for Q3
    condition_stages: list[tuple[str, date]] = field(default_factory=list)
    # (the measure ids a warning concerns, its text "Type/id: problem")
    warnings: list[tuple[frozenset[str], str]] = field(default_factory=list)

    def warn(self, measures: Iterable[str], text: str) -> None:
        item = (frozenset(measures), text)
        if item not in self.warnings:
            self.warnings.append(item)


@cache
def _codes(vs_id: str) -> frozenset[tuple[str, str]]:
    """A value set of exact codes as (system, code) pairs: one set lookup per Coding (these
    readers run over every Observation and Encounter of the practice)."""
    found = value_set(vs_id)
    if found.prefixes:
        raise KnowledgeError(f"value set {vs_id!r}: prefix codes are not supported here")
    return found.exact


def _hit(vs_id: str, codings: list[Mapping[str, Any]]) -> bool:
    exact = _codes(vs_id)
    for coding in codings:
        system, code = coding.get("system"), coding.get("code")
        if type(system) is str and type(code) is str and (system, code) in exact:
            return True
    return False


def read_quality(resources: PatientResources) -> QualityReading:
    """Pain scores, depression screens and hospice care of one patient's resources."""
    out = QualityReading()
    for resource in resources.of_type("Observation"):
        # Most Observations are neither: their codes are looked up before anything is checked.
        raw = _codings(resource.get("code"))
        if _hit("pain-score", raw):
            measure = "Q2"
        elif _hit("depression-screening", raw):
            measure = "Q6"
        else:
            continue
        try:
            _observation(resources, resource, measure, out)
        except UnreadableElement as exc:
            out.warn((measure,), f"{resource_key(resource)}: {exc.problem}; not counted")
    for resource in resources.of_type("Condition"):
        try:
            _condition_stage(resource, out)
        except UnreadableElement as exc:
            out.warn(("Q3",), f"{resource_key(resource)}: {exc.problem}; not counted")
    for kind, reader in (("EpisodeOfCare", _episode), ("Encounter", _encounter)):
        for resource in resources.of_type(kind):
            try:
                found = reader(resource)
            except UnreadableElement as exc:
                out.warn(("Q5",), f"{resource_key(resource)}: {exc.problem}; not counted")
                continue
            if found is not None:
                out.hospice.append(found)
    return out


def _observation(
    resources: PatientResources, resource: Resource, measure: str, out: QualityReading
) -> None:
    access.concept(resource, "code")  # checked: the raw look-up only chose the measure
    if measure == "Q2":
        into, what = out.pain, "pain score"
    else:
        into, what = out.depression, "depression screen"
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
    declined = _hit("screening-declined", absent)
    into.append(Screen(ref, on, visit, _has_result(resource), declined))


def _condition_stage(resource: Resource, out: QualityReading) -> None:
    """A Condition whose ``stage.summary`` is given (US Core / mCODE record the stage group
    there too). **Interpretation:** it is dated by the Condition's recordedDate, else its
    onset: the stage carries no date of its own. Which Conditions are cancers is the engine's
    reading; ``quality_facts`` keeps only those."""
    if "stage" not in resource:
        return
    stages = access.objects(resource, "stage")
    if not any(access.concept(s, "summary", f"stage[{n}]") for n, s in enumerate(stages)):
        return
    on = access.date(resource, "recordedDate") or (
        access.date(resource, "onsetDateTime") or access.period(resource, "onsetPeriod")[0]
    )
    ref = resource_key(resource)
    if on is None:
        out.warn(("Q3",), f"{ref}: stage without a recorded or onset date; not counted")
        return
    out.condition_stages.append((ref, on))


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
    kinds = [*access.concepts(resource, "type"), access.concept(resource, "serviceType")]
    if any(_is_hospice(k) for k in kinds if k is not None):
        return Hospice(resource_key(resource), access.period(resource, "period")[0])
    stay = access.obj(resource, "hospitalization")
    disposition = access.concept(stay, "dischargeDisposition", "hospitalization") if stay else None
    if _hit("hospice-discharge", _codings(disposition)):
        start, end = access.period(resource, "period")
        return Hospice(resource_key(resource), end or start)
    return None


def _is_hospice(concept: Mapping[str, Any]) -> bool:
    # The engine's reader also takes the word (cpoc_fhir/fhir/read/encounters.py); the same
    # record must give the same hospice days to billing (§9) and to Q5.
    return _hit("hospice-care", _codings(concept)) or "hospice" in concept_words(concept)


def _codings(concept: object) -> list[Mapping[str, Any]]:
    """The Codings of a CodeableConcept (checked by ``access.concept``, or raw: then anything
    that is no Coding is passed over)."""
    if not isinstance(concept, dict):
        return []
    found = concept.get("coding")
    if isinstance(found, dict):
        return [found]
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []
