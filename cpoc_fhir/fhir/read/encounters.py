"""EpisodeOfCare and Encounter → care episodes (oncology, hospice) and visits.

Read episodes first: a visit is an oncology visit when it belongs to an oncology episode.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from cpoc_fhir.engine.facts import CareEpisode, EpisodeKind, Visit
from cpoc_fhir.fhir.read import access
from cpoc_fhir.fhir.read.context import ReadContext
from cpoc_fhir.fhir.read.references import resource_key
from cpoc_fhir.fhir.read.values import SNOMED_SYSTEMS, any_codes, concept_words, has_code

Resource = dict[str, Any]

SKIPPED_EPISODES = frozenset({"cancelled", "entered-in-error", "planned", "waitlist"})
SKIPPED_ENCOUNTERS = frozenset({"cancelled", "entered-in-error", "planned"})
HAPPENED = frozenset({"finished", "in-progress"})
# v3 ActCode classes seen in person (cpoc-rules §4): ambulatory, inpatient (acute,
# non-acute), home health. Not VR (virtual), EMER, FLD, SS, OBSENC, PRENC.
FACE_TO_FACE_CLASSES = frozenset({"AMB", "IMP", "ACUTE", "NONAC", "HH"})
ONCOLOGY_SNOMED = frozenset({"394593009"})  # Medical oncology
HOSPICE_SNOMED = frozenset({"385763009", "305336008"})  # Hospice care; Admission to hospice
HOSPICE_DISPOSITION = "hosp"  # http://terminology.hl7.org/CodeSystem/discharge-disposition


def read_episodes(ctx: ReadContext) -> list[CareEpisode]:
    """EpisodeOfCare → hospice or oncology episodes; oncology ones remembered in ``ctx``.

    An episode whose type and diagnosis are both absent is taken to be the practice's
    oncology episode (a practice records its own cancer-care episodes without typing them);
    one typed or diagnosed as something else is not an oncology episode.
    """
    episodes: list[CareEpisode] = []
    for resource in ctx.of_type("EpisodeOfCare"):
        with ctx.reading(resource):
            if access.code(resource, "status") in SKIPPED_EPISODES:
                continue
            episode = _episode(ctx, resource)
            if episode is not None:
                episodes.append(episode)
                if episode.kind is EpisodeKind.ONCOLOGY:
                    ctx.oncology_episodes.add(episode.ref)
    return episodes


def _episode(ctx: ReadContext, resource: Resource) -> CareEpisode | None:
    types = access.concepts(resource, "type")
    diagnoses = [
        access.reference(d, "condition", f"diagnosis[{n}]")
        for n, d in enumerate(access.objects(resource, "diagnosis"))
    ]
    start, end = access.period(resource, "period")
    organization = access.reference(resource, "managingOrganization")
    if any(_is_hospice(t) for t in types):
        return CareEpisode(resource_key(resource), EpisodeKind.HOSPICE, start, end)
    oncology = any(_is_oncology(t) or "cancer" in concept_words(t) for t in types) or any(
        ctx.key(d) in ctx.cancer_refs for d in diagnoses
    )
    if not oncology and (types or diagnoses):
        return None
    if ctx.outside_practice(resource, organization):
        return None
    if start is None:
        ctx.warn(resource, "oncology episode without a start date")
    return CareEpisode(resource_key(resource), EpisodeKind.ONCOLOGY, start, end)


def read_encounters(ctx: ReadContext) -> tuple[list[Visit], list[CareEpisode]]:
    """Encounter → visits; a hospice encounter also starts a hospice episode."""
    visits: list[Visit] = []
    hospice: list[CareEpisode] = []
    for resource in ctx.of_type("Encounter"):
        with ctx.reading(resource):
            status = access.code(resource, "status")
            if status in SKIPPED_ENCOUNTERS:
                continue
            start, end = access.period(resource, "period")
            kinds = _Kinds(resource)
            visit = _visit(ctx, resource, status, start, kinds)
            if visit is not None:
                visits.append(visit)
                episode = _hospice(resource, start, end, kinds)
                if episode is not None:
                    hospice.append(episode)
    return visits, hospice


class _Kinds:
    """An Encounter's type and serviceType, read (checked) when first needed and then kept:
    both the oncology test and the hospice test look at them, and at their words. The first
    read happens where it happened before, so an unreadable type still fails there."""

    __slots__ = ("_concepts", "_resource", "_words")

    def __init__(self, resource: Resource) -> None:
        self._resource = resource
        self._concepts: list[dict[str, Any] | None] | None = None
        self._words: list[str] | None = None

    def concepts(self) -> list[dict[str, Any] | None]:
        if self._concepts is None:
            resource = self._resource
            self._concepts = [
                *access.concepts(resource, "type"),
                access.concept(resource, "serviceType"),
            ]
        return self._concepts

    def words(self) -> list[str]:
        """``concept_words`` of each concept, in the same order."""
        if self._words is None:
            self._words = [concept_words(kind) for kind in self.concepts()]
        return self._words


def _visit(
    ctx: ReadContext, resource: Resource, status: str | None, on: date | None, kinds: _Kinds
) -> Visit | None:
    if on is None:
        ctx.warn(resource, "no period.start; not used as a visit")
        return None
    klass = any_codes(access.coding(resource, "class"))
    face_to_face = status in HAPPENED and bool(klass & FACE_TO_FACE_CLASSES)
    oncology = _oncology_visit(ctx, resource, kinds)
    return Visit(resource_key(resource), on, face_to_face, oncology)


def _oncology_visit(ctx: ReadContext, resource: Resource, kinds: _Kinds) -> bool:
    """For a cancer (reason, diagnosis), with oncology (type), or in an oncology episode;
    and not provided by another organization than the practice's."""
    provider = access.reference(resource, "serviceProvider")
    if not _about_cancer(ctx, resource, kinds):
        return False
    return not ctx.outside_practice(resource, provider)


def _about_cancer(ctx: ReadContext, resource: Resource, kinds: _Kinds) -> bool:
    """Read in this order, each element only when the ones before did not answer."""
    reasons = [
        *access.references(resource, "reasonReference"),
        *(
            access.reference(d, "condition", f"diagnosis[{n}]")
            for n, d in enumerate(access.objects(resource, "diagnosis"))
        ),
    ]
    if any(ctx.key(r) in ctx.cancer_refs for r in reasons):
        return True
    if any(ctx.is_cancer(code) for code in access.concepts(resource, "reasonCode")):
        return True
    # _is_oncology of each kind, its words computed once (the hospice test reads them too)
    concepts = kinds.concepts()
    if any(has_code(kind, SNOMED_SYSTEMS, ONCOLOGY_SNOMED) for kind in concepts) or any(
        "oncolog" in words for words in kinds.words()
    ):
        return True
    episodes = access.references(resource, "episodeOfCare")
    return any(ctx.key(e) in ctx.oncology_episodes for e in episodes)


def _hospice(
    resource: Resource, start: date | None, end: date | None, kinds: _Kinds
) -> CareEpisode | None:
    """Hospice care given (type/serviceType) or discharge to hospice."""
    concepts = kinds.concepts()  # _is_hospice of each kind, with the words already computed
    if any(has_code(kind, SNOMED_SYSTEMS, HOSPICE_SNOMED) for kind in concepts) or any(
        "hospice" in words for words in kinds.words()
    ):
        return CareEpisode(resource_key(resource), EpisodeKind.HOSPICE, start)
    stay = access.obj(resource, "hospitalization")
    disposition = access.concept(stay, "dischargeDisposition", "hospitalization") if stay else None
    if HOSPICE_DISPOSITION in any_codes(disposition):
        return CareEpisode(resource_key(resource), EpisodeKind.HOSPICE, end or start)
    return None


def _is_oncology(concept: object) -> bool:
    return has_code(concept, SNOMED_SYSTEMS, ONCOLOGY_SNOMED) or "oncolog" in concept_words(concept)


def _is_hospice(concept: object) -> bool:
    return has_code(concept, SNOMED_SYSTEMS, HOSPICE_SNOMED) or "hospice" in concept_words(concept)
