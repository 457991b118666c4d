"""EOM's enhanced services on record (value-and-models §15.2): health-related social needs
screenings (Observation, LOINC) and electronic patient-reported outcomes
(QuestionnaireResponse, https://hl7.org/fhir/R4/questionnaireresponse.html).

Recorded, not billed: the EOM services report checks them per episode.
"""

from __future__ import annotations

from typing import Any

from cpoc_fhir.engine.facts import PatientReportedOutcome, SocialNeedsScreening
from cpoc_fhir.fhir.read import access
from cpoc_fhir.fhir.read.context import ReadContext
from cpoc_fhir.fhir.read.references import resource_key

LOINC = "http://loinc.org"
# AHC HRSN screening tool (96777-8), its supplemental questions (96778-6), PRAPARE (93025-5).
HRSN_CODES = frozenset({"96777-8", "96778-6", "93025-5"})
OBSERVATION_OUT = frozenset({"entered-in-error", "cancelled", "preliminary", "registered"})
RESPONSE_IN = frozenset({"completed", "amended"})


def read_enhanced_services(ctx: ReadContext) -> dict[str, Any]:
    """The PatientRecord fields ``social_needs_screenings`` and ``patient_reported_outcomes``."""
    screenings: list[SocialNeedsScreening] = []
    for resource in ctx.of_type("Observation"):
        with ctx.reading(resource):
            if access.code(resource, "status") in OBSERVATION_OUT:
                continue
            concept = access.concept(resource, "code") or {}
            codes = [
                c.get("code")
                for c in concept.get("coding", [])
                if isinstance(c, dict) and c.get("system") == LOINC
            ]
            hit = next((c for c in codes if c in HRSN_CODES), None)
            on = access.date(resource, "effectiveDateTime") or access.date(resource, "issued")
            if hit is not None and on is not None:
                screenings.append(SocialNeedsScreening(resource_key(resource), on, hit))
    outcomes: list[PatientReportedOutcome] = []
    for resource in ctx.of_type("QuestionnaireResponse"):
        with ctx.reading(resource):
            if access.code(resource, "status") not in RESPONSE_IN:
                continue
            on = access.date(resource, "authored")
            if on is None:
                ctx.warn(resource, "no authored date; not counted as an ePRO")
                continue
            canonical = access.string(resource, "questionnaire") or ""
            outcomes.append(PatientReportedOutcome(resource_key(resource), on, canonical))
    screenings.sort(key=lambda s: (s.on, s.ref))
    outcomes.sort(key=lambda o: (o.on, o.ref))
    return {
        "social_needs_screenings": tuple(screenings),
        "patient_reported_outcomes": tuple(outcomes),
    }
