"""``read_record``: one patient's resources → the engine's ``PatientRecord``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any, TypeVar

from cpoc_fhir.engine.facts import PatientRecord
from cpoc_fhir.fhir.read.conditions import read_conditions
from cpoc_fhir.fhir.read.context import ReadContext, ReaderSettings
from cpoc_fhir.fhir.read.coverages import read_coverages
from cpoc_fhir.fhir.read.encounters import read_encounters, read_episodes
from cpoc_fhir.fhir.read.enhanced_services import read_enhanced_services
from cpoc_fhir.fhir.read.med_events import read_medications
from cpoc_fhir.fhir.read.observations import read_observations
from cpoc_fhir.fhir.read.patients import read_identifiers, read_patient
from cpoc_fhir.fhir.read.procedures import read_transplants
from cpoc_fhir.fhir.read.resources import PatientResources
from cpoc_fhir.fhir.read.trials import read_trials
from cpoc_fhir.knowledge import Knowledge

T = TypeVar("T")
DEFAULT_SETTINGS = ReaderSettings()


def read_record(
    resources: PatientResources,
    knowledge: Knowledge,
    settings: ReaderSettings = DEFAULT_SETTINGS,
    include_drafts: bool = False,
) -> PatientRecord:
    """The facts the CPOC rules need from one patient's FHIR R4 resources (cpoc-rules §3).

    ``include_drafts`` counts draft orders (order-select / order-sign hooks pass theirs).
    What cannot be interpreted becomes a warning naming the resource, never an exception.
    Without a readable Patient resource among ``resources`` the record holds no facts, only
    a warning naming the reference: it bills nothing (cpoc-rules §11).
    """
    ctx = ReadContext(resources, knowledge, settings, include_drafts)
    ctx.warnings.extend(resources.warnings)
    known, death = read_patient(ctx)
    if not known:
        return PatientRecord(patient_ref=resources.patient_ref, warnings=tuple(ctx.warnings))
    diagnoses = read_conditions(ctx)  # first: reasons and episodes refer to cancers
    episodes = read_episodes(ctx)  # before encounters: visits belong to episodes
    visits, hospice = read_encounters(ctx)
    performance, statuses, stages = read_observations(ctx)
    exposures, stops = read_medications(ctx)
    if ctx.unknown_organization:
        ctx.warnings.append(_unknown_organization(ctx.unknown_organization))
    return PatientRecord(
        patient_ref=resources.patient_ref,
        death=death,
        diagnoses=_sorted(diagnoses, lambda d: d.onset),
        exposures=_sorted(exposures, lambda e: e.start),
        order_stops=_sorted(stops, lambda s: s.on),
        performance=_sorted(performance, lambda p: p.on),
        disease_status=_sorted(statuses, lambda s: s.on),
        stages=_sorted(stages, lambda s: s.on),
        visits=_sorted(visits, lambda v: v.on),
        episodes=_sorted(episodes + hospice, lambda e: e.start),
        trials=_sorted(read_trials(ctx), lambda t: t.start),
        transplants=_sorted(read_transplants(ctx), lambda t: t.on),
        coverages=_sorted(read_coverages(ctx), lambda c: c.start),
        **read_enhanced_services(ctx),
        identifiers=read_identifiers(ctx),
        warnings=tuple(ctx.warnings),
    )


def _sorted(facts: Iterable[T], when: Any) -> tuple[T, ...]:
    """By date (undated first), then by reference: the same record always reads the same."""

    def key(fact: Any) -> tuple[date, str]:
        return (when(fact) or date.min, fact.ref)

    return tuple(sorted(facts, key=key))


def _unknown_organization(refs: list[str]) -> str:
    """One warning for the resources counted although their organization is not known."""
    named = ", ".join(refs[:3]) + (f" and {len(refs) - 3} more" if len(refs) > 3 else "")
    return f"{named}: no organization named; counted as the practice's"
