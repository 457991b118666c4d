"""Encounter type/serviceType read once for the oncology and hospice tests: the same visits,
hospice episodes and warnings as the former definitions (kept below), on drawn Encounters
with good and malformed elements (hypothesis)."""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cpoc_fhir.engine.facts import CareEpisode, EpisodeKind, Visit
from cpoc_fhir.fhir.read import access
from cpoc_fhir.fhir.read.context import ReadContext, ReaderSettings
from cpoc_fhir.fhir.read.encounters import (
    FACE_TO_FACE_CLASSES,
    HAPPENED,
    HOSPICE_DISPOSITION,
    SKIPPED_ENCOUNTERS,
    _is_hospice,
    _is_oncology,
    read_encounters,
)
from cpoc_fhir.fhir.read.references import resource_key
from cpoc_fhir.fhir.read.resources import PatientResources
from cpoc_fhir.fhir.read.values import any_codes
from cpoc_fhir.knowledge import Knowledge

Resource = dict[str, Any]


# --- the former definitions (before the type/serviceType were read once) -----------------
def former_read_encounters(ctx: ReadContext) -> tuple[list[Visit], list[CareEpisode]]:
    visits: list[Visit] = []
    hospice: list[CareEpisode] = []
    for resource in ctx.of_type("Encounter"):
        with ctx.reading(resource):
            status = access.code(resource, "status")
            if status in SKIPPED_ENCOUNTERS:
                continue
            start, end = access.period(resource, "period")
            visit = _former_visit(ctx, resource, status, start)
            if visit is not None:
                visits.append(visit)
                episode = _former_hospice(resource, start, end)
                if episode is not None:
                    hospice.append(episode)
    return visits, hospice


def _former_visit(
    ctx: ReadContext, resource: Resource, status: str | None, on: date | None
) -> Visit | None:
    if on is None:
        ctx.warn(resource, "no period.start; not used as a visit")
        return None
    klass = any_codes(access.coding(resource, "class"))
    face_to_face = status in HAPPENED and bool(klass & FACE_TO_FACE_CLASSES)
    provider = access.reference(resource, "serviceProvider")
    oncology = _former_about_cancer(ctx, resource) and not ctx.outside_practice(resource, provider)
    return Visit(resource_key(resource), on, face_to_face, oncology)


def _former_about_cancer(ctx: ReadContext, resource: Resource) -> bool:
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
    kinds = [*access.concepts(resource, "type"), access.concept(resource, "serviceType")]
    if any(_is_oncology(kind) for kind in kinds):
        return True
    episodes = access.references(resource, "episodeOfCare")
    return any(ctx.key(e) in ctx.oncology_episodes for e in episodes)


def _former_hospice(resource: Resource, start: date | None, end: date | None) -> CareEpisode | None:
    kinds = [*access.concepts(resource, "type"), access.concept(resource, "serviceType")]
    if any(_is_hospice(kind) for kind in kinds):
        return CareEpisode(resource_key(resource), EpisodeKind.HOSPICE, start)
    stay = access.obj(resource, "hospitalization")
    disposition = access.concept(stay, "dischargeDisposition", "hospitalization") if stay else None
    if HOSPICE_DISPOSITION in any_codes(disposition):
        return CareEpisode(resource_key(resource), EpisodeKind.HOSPICE, end or start)
    return None


# --- drawn Encounters ----------------------------------------------------------------------
SNOMED = "http://snomed.info/sct"
_coding = st.fixed_dictionaries(
    {},
    optional={
        "system": st.sampled_from([SNOMED, "http://x", 7]),
        "code": st.sampled_from(["394593009", "385763009", "305336008", "185349003", ""]),
        "display": st.sampled_from(
            ["Medical Oncology", "Hospice care", "Office visit", "ONCOLOGY"]
        ),
    },
)
_concept = st.fixed_dictionaries(
    {},
    optional={
        "coding": st.lists(_coding, max_size=2) | _coding | st.just("bad"),
        "text": st.sampled_from(["hospice visit", "oncology follow-up", "check-up"]) | st.just(3),
    },
)
_malformed = st.sampled_from(["a string", 5, [1], None])


def _encounters(bad: bool) -> st.SearchStrategy[Resource]:
    """Encounters with well-formed elements, or (``bad``) with malformed ones mixed in."""
    junk = _malformed if bad else st.nothing()
    concept = _concept if bad else _good_concept
    return st.fixed_dictionaries(
        {
            "resourceType": st.just("Encounter"),
            "id": st.sampled_from(["e1", "e2", "e3", "e4"]),
            "status": st.sampled_from(["finished", "in-progress", "planned", "cancelled"])
            | (st.just(" bad") if bad else st.nothing()),
            "period": st.sampled_from([{"start": "2025-03-01", "end": "2025-03-04"}, {}])
            | (st.just({"start": "2025-13-01"}) if bad else st.nothing()),
        },
        optional={
            "class": st.sampled_from([{"code": "AMB"}, {"code": "VR"}])
            | (st.just("AMB") if bad else st.nothing()),
            "type": st.lists(concept, max_size=3) | concept | junk,
            "serviceType": concept | junk,
            "reasonReference": st.sampled_from(
                [[{"reference": "Condition/c1"}], [{"reference": "Condition/x"}]]
            )
            | (st.just("bad") if bad else st.nothing()),
            "reasonCode": st.lists(concept, max_size=1) | junk,
            "episodeOfCare": st.sampled_from([[{"reference": "EpisodeOfCare/onc"}], []])
            | (st.just([7]) if bad else st.nothing()),
            "serviceProvider": st.sampled_from(
                [{"reference": "Organization/practice"}, {"reference": "Organization/other"}]
            )
            | (st.just(3) if bad else st.nothing()),
            "hospitalization": st.sampled_from(
                [{"dischargeDisposition": {"coding": [{"code": "hosp"}]}}, {}]
            )
            | (st.just({"dischargeDisposition": 2}) if bad else st.nothing()),
        },
    )


_good_coding = st.fixed_dictionaries(
    {},
    optional={
        "system": st.sampled_from([SNOMED, "http://x"]),
        "code": st.sampled_from(["394593009", "385763009", "305336008", "185349003"]),
        "display": st.sampled_from(["Medical Oncology", "Hospice care", "Office visit"]),
    },
)
_good_concept = st.fixed_dictionaries(
    {},
    optional={
        "coding": st.lists(_good_coding, max_size=2),
        "text": st.sampled_from(["hospice visit", "oncology follow-up", "check-up"]),
    },
)


def _context(resources: list[Resource], knowledge: Knowledge, practice: bool) -> ReadContext:
    wanted = frozenset({"Organization/practice"}) if practice else frozenset()
    ctx = ReadContext(
        PatientResources("Patient/p", resources),
        knowledge,
        ReaderSettings(practice_organizations=wanted),
    )
    ctx.cancer_refs.add("Condition/c1")
    ctx.oncology_episodes.add("EpisodeOfCare/onc")
    return ctx


@settings(max_examples=400, deadline=None)
@given(st.booleans().flatmap(lambda bad: st.lists(_encounters(bad), max_size=4)), st.booleans())
def test_encounters_read_as_before(encounters: list[Resource], practice: bool) -> None:
    from cpoc_fhir.knowledge.loader import load_knowledge

    knowledge = _knowledge_once(load_knowledge)
    new = _context(encounters, knowledge, practice)
    old = _context(encounters, knowledge, practice)
    assert read_encounters(new) == former_read_encounters(old)
    assert new.warnings == old.warnings
    assert new.unknown_organization == old.unknown_organization


_KNOWLEDGE: list[Knowledge] = []


def _knowledge_once(load: Any) -> Knowledge:
    if not _KNOWLEDGE:
        _KNOWLEDGE.append(load())
    return _KNOWLEDGE[0]


def test_hand_written_encounters(knowledge: Knowledge) -> None:
    """Derived by hand: a hospice-typed oncology visit is both an oncology visit and the start
    of a hospice episode; a malformed type leaves the encounter out with one warning."""
    hospice_onc = {
        "resourceType": "Encounter",
        "id": "h",
        "status": "finished",
        "class": {"code": "AMB"},
        "period": {"start": "2025-03-01"},
        "type": [{"text": "Oncology hospice visit"}],
    }
    broken = {**hospice_onc, "id": "b", "type": "hospice"}
    ctx = _context([hospice_onc, broken], knowledge, practice=False)
    visits, hospice = read_encounters(ctx)
    assert visits == [Visit("Encounter/h", date(2025, 3, 1), True, True)]
    assert hospice == [CareEpisode("Encounter/h", EpisodeKind.HOSPICE, date(2025, 3, 1))]
    assert ctx.warnings == ["Encounter/b: type is not a FHIR array of CodeableConcept; left out"]
