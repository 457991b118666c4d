"""Observation → performance status (ECOG, Karnofsky), cancer disease status, stage group.

Codes are those of mCODE STU4 (https://hl7.org/fhir/us/mcode/) and its predecessors, as the
mCODE examples and the mcode-extraction fixtures in shared/data/external use them.
"""

from __future__ import annotations

import math
from datetime import date

from cpoc_fhir.engine.facts import DiseaseStatus, PerformanceStatus, StageGroup
from cpoc_fhir.fhir.read import access
from cpoc_fhir.fhir.read.context import ReadContext, Resource
from cpoc_fhir.fhir.read.disease_status import value_state
from cpoc_fhir.fhir.read.references import resource_key
from cpoc_fhir.fhir.read.stages import is_stage_group, stage_of
from cpoc_fhir.fhir.read.values import LOINC, SNOMED_SYSTEMS, codes
from cpoc_fhir.packs.cpoc.tables import karnofsky_to_ecog

ECOG = "89247-1"
KARNOFSKY = "89243-0"
# 97509-4 "Cancer disease progression" (mCODE STU2+); 88040-1 "Response to cancer
# treatment" was the code of mCODE STU1's CancerDiseaseStatus.
DISEASE_STATUS = frozenset({"97509-4", "88040-1"})
SKIPPED_STATUSES = frozenset({"entered-in-error", "cancelled"})

# LOINC answers of 89247-1 (ECOG): LA9622-7 … LA9627-6 = grades 0 … 5.
ECOG_ANSWERS = {
    "LA9622-7": 0, "LA9623-5": 1, "LA9624-3": 2, "LA9625-0": 3, "LA9626-8": 4, "LA9627-6": 5,
}  # fmt: skip
# LOINC answer list LL4986-7 (Karnofsky): LA29175-9 = 100 … LA29184-1 = 10, LA9627-6 = 0.
KARNOFSKY_ANSWERS = {
    "LA29175-9": 100, "LA29176-7": 90, "LA29177-5": 80, "LA29178-3": 70, "LA29179-1": 60,
    "LA29180-9": 50, "LA29181-7": 40, "LA29182-5": 30, "LA29183-3": 20, "LA29184-1": 10,
    "LA9627-6": 0,
}  # fmt: skip


def read_observations(
    ctx: ReadContext,
) -> tuple[list[PerformanceStatus], list[DiseaseStatus], list[StageGroup]]:
    performance: list[PerformanceStatus] = []
    statuses: list[DiseaseStatus] = []
    stages: list[StageGroup] = []
    for resource in ctx.of_type("Observation"):
        with ctx.reading(resource):
            if access.code(resource, "status") in SKIPPED_STATUSES:
                continue
            code = access.concept(resource, "code") or {}
            loinc = codes(code, LOINC)
            if ECOG in loinc or KARNOFSKY in loinc:
                found = _performance(ctx, resource, ECOG in loinc)
                if found is not None:
                    performance.append(found)
            elif loinc & DISEASE_STATUS:
                status = _disease_status(ctx, resource)
                if status is not None:
                    statuses.append(status)
            elif _is_stage(resource, loinc, code):
                stage = _stage(ctx, resource)
                if stage is not None:
                    stages.append(stage)
    return performance, statuses, stages


def observed_on(ctx: ReadContext, resource: Resource) -> date | None:
    """effectiveDateTime / effectivePeriod.start / effectiveInstant, else issued; the first
    one present is read (and checked: a date that is no date leaves the Observation out)."""
    on = (
        access.date(resource, "effectiveDateTime")
        or access.period(resource, "effectivePeriod")[0]
        or access.date(resource, "effectiveInstant", expected="instant")
        or access.date(resource, "issued", expected="instant")
    )
    if on is None:
        ctx.warn(resource, "no effective date; not used")
    return on


def _is_stage(resource: Resource, loinc: set[str], code: Resource) -> bool:
    access.profiles(resource)  # checked here: stages.py reads plain JSON
    return is_stage_group(resource, loinc, codes(code, SNOMED_SYSTEMS))


def _performance(ctx: ReadContext, resource: Resource, ecog: bool) -> PerformanceStatus | None:
    answers = ECOG_ANSWERS if ecog else KARNOFSKY_ANSWERS
    on = observed_on(ctx, resource)
    value = _number(access.integer(resource, "valueInteger"))
    if value is None:
        quantity = access.quantity(resource, "valueQuantity")
        value = _number(quantity.get("value")) if quantity is not None else None
    if value is None:
        concepts = [
            access.concept(resource, "valueCodeableConcept"),
            *access.concepts(resource, "interpretation"),
        ]
        value = next(
            (answers[c] for cc in concepts for c in codes(cc, LOINC) if c in answers), None
        )
    top = 5 if ecog else 100
    if value is None or not 0 <= value <= top:
        ctx.warn(resource, f"{'ECOG' if ecog else 'Karnofsky'} value missing or out of range")
        return None
    if on is None:
        return None
    if ecog:
        return PerformanceStatus(ref=resource_key(resource), on=on, ecog=value)
    ecog_value = karnofsky_to_ecog(value)
    return PerformanceStatus(resource_key(resource), on, ecog_value, "karnofsky", value)


def _number(value: object) -> int | None:
    """A whole number given as JSON number (12 or 12.0), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if math.isfinite(value) and value == int(value) else None


def _disease_status(ctx: ReadContext, resource: Resource) -> DiseaseStatus | None:
    """The status the value says; what cannot be read is undetermined, with a warning."""
    on = observed_on(ctx, resource)
    reading = value_state(
        access.concept(resource, "valueCodeableConcept"), access.string(resource, "valueString")
    )
    if reading.problem is not None:
        ctx.warn(resource, f"cancer disease status: {reading.problem}; read as undetermined")
    return None if on is None else DiseaseStatus(resource_key(resource), on, reading.state)


def _stage(ctx: ReadContext, resource: Resource) -> StageGroup | None:
    access.concept(resource, "valueCodeableConcept")  # checked before stages.py reads them
    access.string(resource, "valueString")
    found = stage_of(resource)
    if found is None:
        ctx.warn(resource, "stage group value not understood; not used")
        return None
    on = observed_on(ctx, resource)
    if on is None:
        return None
    stage, metastatic = found
    return StageGroup(ref=resource_key(resource), on=on, stage=stage, metastatic=metastatic)
