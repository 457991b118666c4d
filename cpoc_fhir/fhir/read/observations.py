"""Observation → performance status (ECOG, Karnofsky), cancer disease status, stage group.

Codes are those of mCODE STU4 (https://hl7.org/fhir/us/mcode/) and its predecessors, as the
mCODE examples and the mcode-extraction fixtures in shared/data/external use them.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from cpoc_fhir.engine.facts import DiseaseState, DiseaseStatus, PerformanceStatus, StageGroup
from cpoc_fhir.engine.tables import karnofsky_to_ecog
from cpoc_fhir.fhir.read.context import ReadContext
from cpoc_fhir.fhir.read.references import resource_key
from cpoc_fhir.fhir.read.stages import is_stage_group, stage_of
from cpoc_fhir.fhir.read.values import (
    LOINC,
    SNOMED_SYSTEMS,
    as_dict,
    as_list,
    codes,
    codings,
    concept_words,
    fhir_date,
    period_start,
)

Resource = dict[str, Any]

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

# mCODE ConditionStatusTrendVS (SNOMED CT), plus the "complete / partial remission" codes
# of mCODE STU1's snomed-requested-cs (USCRS-352236, as in the mcode-extraction fixtures).
DISEASE_STATES = {
    "268910001": DiseaseState.IMPROVED,  # Patient's condition improved
    "359746009": DiseaseState.STABLE,  # Patient's condition stable
    "271299001": DiseaseState.WORSENED,  # Patient's condition worsened
    "709137006": DiseaseState.UNDETERMINED,  # Patient condition undetermined
    "260415000": DiseaseState.NED,  # Not detected (mCODE STU1)
    "281900007": DiseaseState.NED,  # No abnormality detected (mCODE STU2+)
    "USCRS-352236": DiseaseState.NED,  # Cancer in complete remission
    "USCRS-352237": DiseaseState.IMPROVED,  # Cancer in partial remission
}
DISEASE_SYSTEMS = SNOMED_SYSTEMS | {"http://hl7.org/fhir/us/mcode/CodeSystem/snomed-requested-cs"}
# Written values, checked in this order when no code is known.
DISEASE_WORDS = (
    ("complete remission", DiseaseState.NED),
    ("no evidence of disease", DiseaseState.NED),
    ("partial remission", DiseaseState.IMPROVED),
)


def read_observations(
    ctx: ReadContext,
) -> tuple[list[PerformanceStatus], list[DiseaseStatus], list[StageGroup]]:
    performance: list[PerformanceStatus] = []
    statuses: list[DiseaseStatus] = []
    stages: list[StageGroup] = []
    for resource in ctx.of_type("Observation"):
        if resource.get("status") in SKIPPED_STATUSES:
            continue
        with ctx.reading(resource):
            code = as_dict(resource.get("code"))
            loinc = codes(code, LOINC)
            if ECOG in loinc or KARNOFSKY in loinc:
                found = _performance(ctx, resource, ECOG in loinc)
                if found is not None:
                    performance.append(found)
            elif loinc & DISEASE_STATUS:
                status = _disease_status(ctx, resource)
                if status is not None:
                    statuses.append(status)
            elif is_stage_group(resource, loinc, codes(code, SNOMED_SYSTEMS)):
                stage = _stage(ctx, resource)
                if stage is not None:
                    stages.append(stage)
    return performance, statuses, stages


def observed_on(ctx: ReadContext, resource: Resource) -> date | None:
    """effectiveDateTime / effectivePeriod.start / effectiveInstant, else issued."""
    on = (
        fhir_date(resource.get("effectiveDateTime"))
        or period_start(resource.get("effectivePeriod"))
        or fhir_date(resource.get("effectiveInstant"))
        or fhir_date(resource.get("issued"))
    )
    if on is None:
        ctx.warn(resource, "no effective date; not used")
    return on


def _performance(ctx: ReadContext, resource: Resource, ecog: bool) -> PerformanceStatus | None:
    answers = ECOG_ANSWERS if ecog else KARNOFSKY_ANSWERS
    value = _number(resource.get("valueInteger"))
    if value is None:
        value = _number(as_dict(resource.get("valueQuantity")).get("value"))
    if value is None:
        concepts = [resource.get("valueCodeableConcept"), *as_list(resource.get("interpretation"))]
        value = next(
            (answers[c] for cc in concepts for c in codes(cc, LOINC) if c in answers), None
        )
    top = 5 if ecog else 100
    if value is None or not 0 <= value <= top:
        ctx.warn(resource, f"{'ECOG' if ecog else 'Karnofsky'} value missing or out of range")
        return None
    on = observed_on(ctx, resource)
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
    value = resource.get("valueCodeableConcept")
    found = [DISEASE_STATES.get(c or "") for s, c, _ in codings(value) if s in DISEASE_SYSTEMS]
    state = next((s for s in found if s is not None), None)
    if state is None:
        words = concept_words(value)
        state = next((s for phrase, s in DISEASE_WORDS if phrase in words), None)
    if state is None:
        ctx.warn(resource, "cancer disease status value not understood; not used")
        return None
    on = observed_on(ctx, resource)
    return None if on is None else DiseaseStatus(ref=resource_key(resource), on=on, state=state)


def _stage(ctx: ReadContext, resource: Resource) -> StageGroup | None:
    found = stage_of(resource)
    if found is None:
        ctx.warn(resource, "stage group value not understood; not used")
        return None
    on = observed_on(ctx, resource)
    if on is None:
        return None
    stage, metastatic = found
    return StageGroup(ref=resource_key(resource), on=on, stage=stage, metastatic=metastatic)
