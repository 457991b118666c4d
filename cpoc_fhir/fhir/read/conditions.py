"""Condition → diagnoses (cancer role and type, toxicity, late effects)."""

from __future__ import annotations

from datetime import date

from cpoc_fhir.engine.facts import CancerRole, Diagnosis
from cpoc_fhir.fhir.read import access
from cpoc_fhir.fhir.read.context import ReadContext, Resource
from cpoc_fhir.fhir.read.references import resource_key
from cpoc_fhir.fhir.read.values import (
    ICD10_SYSTEMS,
    SNOMED_SYSTEMS,
    codes,
    concept_text,
    fhir_date,
    status_code,
)
from cpoc_fhir.knowledge.conditions import normalize_icd10

MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition/"
# mCODE profiles say which kind of cancer condition this is, whatever the codes say.
PROFILE_ROLES = {
    MCODE + "mcode-primary-cancer-condition": CancerRole.PRIMARY,
    MCODE + "mcode-secondary-cancer-condition": CancerRole.SECONDARY,
}
SKIPPED_VERIFICATION = frozenset({"entered-in-error", "refuted"})
ACTIVE_STATUSES = frozenset({"active", "recurrence", "relapse"})
RECURRENCE_STATUSES = frozenset({"recurrence", "relapse"})


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
    if status_code(access.concept(resource, "verificationStatus")) in SKIPPED_VERIFICATION:
        return None
    code = access.concept(resource, "code") or {}
    icd10 = tuple(sorted(normalize_icd10(c) for c in codes(code, ICD10_SYSTEMS)))
    snomed = tuple(sorted(codes(code, SNOMED_SYSTEMS)))
    text = concept_text(code)
    onset, abatement = _onset(resource), _abatement(resource)
    if not (icd10 or snomed or text):
        ctx.warn(resource, "no code or text; not used")
        return None
    found = ctx.knowledge.conditions.classify(icd10, snomed, text)
    profiles = access.profiles(resource)
    role = next((PROFILE_ROLES[p] for p in profiles if p in PROFILE_ROLES), None)
    cancer_type = found.cancer_type
    if role is None:
        role = found.cancer_role
    elif role is CancerRole.SECONDARY:
        cancer_type = None
    elif cancer_type is None:
        cancer_type = "other"  # an mCODE primary cancer the code lists do not place
    clinical = status_code(access.concept(resource, "clinicalStatus"))
    return Diagnosis(
        ref=resource_key(resource),
        icd10=icd10,
        snomed=snomed,
        display=text,
        onset=onset,
        abatement=abatement,
        active=clinical is None or clinical in ACTIVE_STATUSES,
        recurrence=clinical in RECURRENCE_STATUSES,
        cancer_role=role,
        cancer_type=cancer_type,
        toxicity=found.toxicity,
        late_effect=found.late_effect,
    )


def _onset(resource: Resource) -> date | None:
    """onsetDateTime, onsetPeriod.start, a date written as onsetString, else recordedDate:
    the first one present is read (and checked)."""
    return (
        access.date(resource, "onsetDateTime")
        or access.period(resource, "onsetPeriod")[0]
        or fhir_date(access.string(resource, "onsetString"))  # free text: a date or not
        or access.date(resource, "recordedDate")
    )


def _abatement(resource: Resource) -> date | None:
    return (
        access.date(resource, "abatementDateTime")
        or access.period(resource, "abatementPeriod")[1]
        or fhir_date(access.string(resource, "abatementString"))
    )
