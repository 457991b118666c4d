"""Procedure → stem cell transplants (Table 4: a 6-point administration)."""

from __future__ import annotations

from cpoc_fhir.engine.facts import Transplant
from cpoc_fhir.fhir.read import access
from cpoc_fhir.fhir.read.context import ReadContext
from cpoc_fhir.fhir.read.references import resource_key
from cpoc_fhir.fhir.read.values import CPT_SYSTEMS, SNOMED_SYSTEMS, has_code

TRANSPLANT_SNOMED = frozenset(
    {
        "234336002",  # Hemopoietic stem cell transplant
        "425983008",  # Autologous peripheral blood stem cell transplant
        "709115004",  # Transplantation of autologous hematopoietic stem cell
        "174241000112100",  # Transplantation of allogeneic hematopoietic stem cell (US ext.)
        "58776007",  # Bone marrow transplant
        "23719005",  # Transplantation of bone marrow
    }
)
# CPT 38240 allogeneic, 38241 autologous hematopoietic progenitor cell transplantation,
# 38243 HPC boost. 38242 (donor lymphocyte infusion) transplants no stem cells: left out.
TRANSPLANT_CPT = frozenset({"38240", "38241", "38243"})


def read_transplants(ctx: ReadContext) -> list[Transplant]:
    transplants: list[Transplant] = []
    for resource in ctx.of_type("Procedure"):
        with ctx.reading(resource):
            if access.code(resource, "status") != "completed":
                continue
            code = access.concept(resource, "code")
            if not (
                has_code(code, SNOMED_SYSTEMS, TRANSPLANT_SNOMED)
                or has_code(code, CPT_SYSTEMS, TRANSPLANT_CPT)
            ):
                continue
            performed = access.date(resource, "performedDateTime")
            on = performed or access.period(resource, "performedPeriod")[0]
            if on is None:
                ctx.warn(resource, "stem cell transplant without a performed date; not used")
                continue
            transplants.append(Transplant(ref=resource_key(resource), on=on))
    return transplants
