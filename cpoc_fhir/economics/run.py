"""One pass over the practice's records: each patient's timeline beside its FFS charges."""

from __future__ import annotations

from cpoc_fhir.economics.charges import Charges
from cpoc_fhir.economics.model import ModelOptions, PatientEconomics, patient_economics
from cpoc_fhir.economics.result import ModelResult
from cpoc_fhir.fhir.read import RecordSource
from cpoc_fhir.fhir.read.references import patient_id
from cpoc_fhir.service import Evaluator

UNMATCHED_EXAMPLES = 5


def run_model(
    evaluator: Evaluator, records: RecordSource, charges: Charges, options: ModelOptions
) -> ModelResult:
    """The model over every patient of ``records`` with CPOC lines or FFS charges in the
    period; charges of patients not in ``records`` are left out, counted and warned about."""
    patients: list[PatientEconomics] = []
    seen: set[str] = set()
    for resources in records.patients():
        pid = patient_id(resources.patient_ref)
        seen.add(pid)
        own = charges.by_patient.get(pid, [])
        record = evaluator.record(resources)
        timeline = evaluator.evaluate(record, options.end)
        patient = patient_economics(timeline, record, own, options)
        if patient.lines or own:
            patients.append(patient)
    unmatched = sorted(p for p in charges.by_patient if p not in seen)
    warnings = list(records.warnings) + charges.warnings + charges.unpriced_warnings()
    if unmatched:
        examples = ", ".join(f"Patient/{p}" for p in unmatched[:UNMATCHED_EXAMPLES])
        warnings.append(
            f"{len(unmatched)} patient(s) have FFS charges but no record in the input; their "
            f"charges are left out (e.g. {examples})"
        )
    no_record_lines = sum(1 for p in patients if not p.lines and p.replaced)
    if no_record_lines:
        warnings.append(
            f"{no_record_lines} patient(s) have replaced-code FFS charges but no CPOC line in "
            "the period (consult-only, or outside CPOC): their FFS revenue still counts"
        )
    if charges.by_patient and not any(p.replaced for p in patients):
        warnings.append(
            "no priced charge carries a code CPOC replaces (CPT/HCPCS of the II-D table): "
            "the revenue-neutral base is 0"
        )
    return ModelResult(options, patients, charges, len(unmatched), warnings)
