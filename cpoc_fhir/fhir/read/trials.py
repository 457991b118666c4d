"""ResearchSubject → trial enrolments (cpoc-rules §8)."""

from __future__ import annotations

from cpoc_fhir.engine.facts import TrialEnrollment
from cpoc_fhir.fhir.read import access
from cpoc_fhir.fhir.read.context import ReadContext
from cpoc_fhir.fhir.read.references import resource_key

ON_STUDY = frozenset({"on-study", "on-study-intervention", "on-study-observation", "follow-up"})
# The other statuses of http://hl7.org/fhir/research-subject-status (R4).
NOT_ON_STUDY = frozenset(
    {
        "candidate", "eligible", "ineligible", "not-registered", "off-study",
        "pending-on-study", "potential-candidate", "screening", "withdrawn",
    }
)  # fmt: skip


def read_trials(ctx: ReadContext) -> list[TrialEnrollment]:
    trials: list[TrialEnrollment] = []
    for resource in ctx.of_type("ResearchSubject"):
        with ctx.reading(resource):
            status = access.code(resource, "status")
            start, end = access.period(resource, "period")
            if status not in ON_STUDY and status not in NOT_ON_STUDY:
                ctx.warn(resource, "status is not a ResearchSubject status; not used")
                continue
            trials.append(
                TrialEnrollment(resource_key(resource), start, end, on_study=status in ON_STUDY)
            )
    return trials
