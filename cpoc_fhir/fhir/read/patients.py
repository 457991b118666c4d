"""Patient → whether the record has a readable Patient, and the date of death.

cpoc-rules §11: a billing line needs a Patient. Resources whose subject resolves to no
Patient of the input (``Patient/does-not-exist``), or whose Patient cannot be read, bill
nothing; a warning names the reference (a resource id, never other patient data).
"""

from __future__ import annotations

from datetime import date

from cpoc_fhir.fhir.read import access
from cpoc_fhir.fhir.read.context import ReadContext, Resource


def read_patient(ctx: ReadContext) -> tuple[bool, date | None]:
    """(the record has a readable Patient, Patient.deceasedDateTime)."""
    patient = ctx.resources.patient
    ref = ctx.resources.patient_ref
    if patient is None:
        count = len(ctx.resources.resources)
        ctx.warn(ref, f"no Patient resource in the input; its {count} resource(s) bill nothing")
        return False, None
    with ctx.reading(patient):
        return True, _death(ctx, patient)
    ctx.warn(ref, "the Patient cannot be read; its resources bill nothing")
    return False, None


def _death(ctx: ReadContext, patient: Resource) -> date | None:
    """deceasedDateTime; deceasedBoolean true without a date is a warning."""
    died = access.date(patient, "deceasedDateTime")
    if died is None and access.boolean(patient, "deceasedBoolean") is True:
        ctx.warn(patient, "deceased, but no date of death is recorded")
    return died
