"""Patient → whether the record has a readable Patient, the date of death, its identifiers.

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


def read_identifiers(ctx: ReadContext) -> tuple[str, ...]:
    """Patient.identifier as "system|value" (a bare value when it has no system), in record
    order (value-and-models §15.3: CPC+ attribution rows name patients by them). An
    unreadable identifier element is left out with a warning that names no value."""
    patient = ctx.resources.patient
    if patient is None:
        return ()
    try:
        entries = access.objects(patient, "identifier", expected="Identifier")
        found: list[str] = []
        for index, entry in enumerate(entries):
            at = f"identifier[{index}]"
            value = access.string(entry, "value", at)
            system = access.string(entry, "system", at)
            if value:
                found.append(f"{system}|{value}" if system else value)
    except access.UnreadableElement as exc:
        ctx.warn(patient, f"{exc.problem}: its identifiers are not matched")
        return ()
    return tuple(dict.fromkeys(found))
