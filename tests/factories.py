"""Small builders of engine facts for rule tests (no FHIR involved)."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

from cpoc_fhir.engine.facts import (
    CancerRole,
    CareEpisode,
    Diagnosis,
    DiseaseState,
    DiseaseStatus,
    DrugRole,
    EpisodeKind,
    ExposureKind,
    MedicationExposure,
    PatientRecord,
    PerformanceStatus,
    Route,
    StageGroup,
    TrialEnrollment,
    Visit,
)

_ids = itertools.count(1)


def d(text: str) -> date:
    return date.fromisoformat(text)


def ref(kind: str) -> str:
    return f"{kind}/{next(_ids)}"


def given(drug: str, day: str, role: DrugRole = DrugRole.ANTICANCER) -> MedicationExposure:
    """An infusion/injection administered on ``day``."""
    on = d(day)
    return MedicationExposure(
        ref("MedicationAdministration"),
        drug,
        drug,
        role,
        Route.PARENTERAL,
        ExposureKind.ADMINISTERED,
        on,
        on,
    )


def planned(drug: str, day: str) -> MedicationExposure:
    on = d(day)
    return MedicationExposure(
        ref("MedicationRequest"),
        drug,
        drug,
        DrugRole.ANTICANCER,
        Route.PARENTERAL,
        ExposureKind.PLANNED,
        on,
        on,
        ordered_on=on,
    )


def oral(
    drug: str,
    ordered: str,
    days: int,
    start: str | None = None,
    role: DrugRole = DrugRole.ANTICANCER,
) -> MedicationExposure:
    first = d(start or ordered)
    return MedicationExposure(
        ref("MedicationRequest"),
        drug,
        drug,
        role,
        Route.ORAL,
        ExposureKind.SUPPLY,
        first,
        first + timedelta(days=days - 1),
        ordered_on=d(ordered),
    )


def cycles(drugs: tuple[str, ...], first: str, every: int, count: int) -> list[MedicationExposure]:
    start = d(first)
    return [
        given(drug, (start + timedelta(days=every * i)).isoformat())
        for i in range(count)
        for drug in drugs
    ]


def cancer(
    icd: str = "C18.7",
    onset: str = "2025-01-01",
    role: CancerRole = CancerRole.PRIMARY,
    cancer_type: str | None = "colorectal",
    display: str = "",
) -> Diagnosis:
    return Diagnosis(
        ref("Condition"),
        icd10=(icd.replace(".", ""),),
        onset=d(onset),
        cancer_role=role,
        cancer_type=cancer_type if role is CancerRole.PRIMARY else None,
        display=display or icd,
    )


def condition(
    icd: str, onset: str = "2020-01-01", abatement: str | None = None, **flags: bool
) -> Diagnosis:
    return Diagnosis(
        ref("Condition"),
        icd10=(icd.replace(".", ""),),
        onset=d(onset),
        abatement=d(abatement) if abatement else None,
        display=icd,
        **flags,
    )


def visit(day: str, oncology: bool = True, f2f: bool = True) -> Visit:
    return Visit(ref("Encounter"), d(day), face_to_face=f2f, oncology=oncology)


def ecog(day: str, score: int) -> PerformanceStatus:
    return PerformanceStatus(ref("Observation"), d(day), score)


def status(day: str, state: DiseaseState) -> DiseaseStatus:
    return DiseaseStatus(ref("Observation"), d(day), state)


def stage(day: str, text: str) -> StageGroup:
    return StageGroup(ref("Observation"), d(day), text, metastatic=text.startswith("IV"))


def episode(
    start: str, end: str | None = None, kind: EpisodeKind = EpisodeKind.ONCOLOGY
) -> CareEpisode:
    return CareEpisode(ref("EpisodeOfCare"), kind, d(start), d(end) if end else None)


def trial(start: str, end: str | None = None, on_study: bool = True) -> TrialEnrollment:
    return TrialEnrollment(ref("ResearchSubject"), d(start), d(end) if end else None, on_study)


def record(**facts: object) -> PatientRecord:
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in facts.items()}
    return PatientRecord("Patient/test", **values)  # type: ignore[arg-type]
