"""Patient (death) and Condition (diagnoses) → facts."""

from __future__ import annotations

from datetime import date
from typing import Any

from cpoc_fhir.engine.facts import CancerRole, Diagnosis
from cpoc_fhir.fhir.read.context import ReadContext
from cpoc_fhir.fhir.read.references import resource_key
from cpoc_fhir.fhir.read.values import (
    ICD10_SYSTEMS,
    SNOMED_SYSTEMS,
    as_dict,
    codes,
    concept_text,
    fhir_date,
    period_end,
    period_start,
    profiles,
    status_code,
)
from cpoc_fhir.knowledge.conditions import normalize_icd10

Resource = dict[str, Any]

MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition/"
# mCODE profiles say which kind of cancer condition this is, whatever the codes say.
PROFILE_ROLES = {
    MCODE + "mcode-primary-cancer-condition": CancerRole.PRIMARY,
    MCODE + "mcode-secondary-cancer-condition": CancerRole.SECONDARY,
}
SKIPPED_VERIFICATION = frozenset({"entered-in-error", "refuted"})
ACTIVE_STATUSES = frozenset({"active", "recurrence", "relapse"})
RECURRENCE_STATUSES = frozenset({"recurrence", "relapse"})


def read_death(ctx: ReadContext) -> date | None:
    """Patient.deceasedDateTime; deceasedBoolean true without a date is a warning."""
    patient = ctx.resources.patient
    if patient is None:
        return None
    with ctx.reading(patient):
        if "deceasedDateTime" in patient:
            died = fhir_date(patient["deceasedDateTime"])
            if died is None:
                ctx.warn(patient, "deceasedDateTime is not a date; death not known")
            return died
        if patient.get("deceasedBoolean") is True:
            ctx.warn(patient, "deceased, but no date of death is recorded")
    return None


def read_conditions(ctx: ReadContext) -> list[Diagnosis]:
    """Every Condition not entered in error or refuted; cancer ones remembered in ``ctx``."""
    diagnoses: list[Diagnosis] = []
    for resource in ctx.of_type("Condition"):
        with ctx.reading(resource):
            diagnosis = read_condition(ctx, resource)
            if diagnosis is not None:
                diagnoses.append(diagnosis)
                if diagnosis.cancer_role is not CancerRole.NONE:
                    ctx.cancer_refs.add(diagnosis.ref)
    return diagnoses


def read_condition(ctx: ReadContext, resource: Resource) -> Diagnosis | None:
    if status_code(resource.get("verificationStatus")) in SKIPPED_VERIFICATION:
        return None
    code = as_dict(resource.get("code"))
    icd10 = tuple(sorted(normalize_icd10(c) for c in codes(code, ICD10_SYSTEMS)))
    snomed = tuple(sorted(codes(code, SNOMED_SYSTEMS)))
    text = concept_text(code)
    if not (icd10 or snomed or text):
        ctx.warn(resource, "no code or text; not used")
        return None
    found = ctx.knowledge.conditions.classify(icd10, snomed, text)
    role = next((PROFILE_ROLES[p] for p in profiles(resource) if p in PROFILE_ROLES), None)
    cancer_type = found.cancer_type
    if role is None:
        role = found.cancer_role
    elif role is CancerRole.SECONDARY:
        cancer_type = None
    elif cancer_type is None:
        cancer_type = "other"  # an mCODE primary cancer the code lists do not place
    clinical = status_code(resource.get("clinicalStatus"))
    return Diagnosis(
        ref=resource_key(resource),
        icd10=icd10,
        snomed=snomed,
        display=text,
        onset=_onset(resource),
        abatement=_abatement(resource),
        active=clinical is None or clinical in ACTIVE_STATUSES,
        recurrence=clinical in RECURRENCE_STATUSES,
        cancer_role=role,
        cancer_type=cancer_type,
        toxicity=found.toxicity,
        late_effect=found.late_effect,
    )


def _onset(resource: Resource) -> date | None:
    """onsetDateTime, onsetPeriod.start, a date written as onsetString, else recordedDate."""
    return (
        fhir_date(resource.get("onsetDateTime"))
        or period_start(resource.get("onsetPeriod"))
        or fhir_date(resource.get("onsetString"))
        or fhir_date(resource.get("recordedDate"))
    )


def _abatement(resource: Resource) -> date | None:
    return (
        fhir_date(resource.get("abatementDateTime"))
        or period_end(resource.get("abatementPeriod"))
        or fhir_date(resource.get("abatementString"))
    )
