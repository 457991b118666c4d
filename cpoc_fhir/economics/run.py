"""One pass over the practice's records: each patient's timeline beside its FFS charges."""

from __future__ import annotations

from cpoc_fhir.economics.charges import ChargeCollector, Charges, collect_charges
from cpoc_fhir.economics.fee_schedule import FeeSchedule
from cpoc_fhir.economics.model import ModelOptions, PatientEconomics, patient_economics
from cpoc_fhir.economics.result import ModelResult
from cpoc_fhir.fhir.read import RecordSource
from cpoc_fhir.fhir.read.gc_pass import relaxed_gc
from cpoc_fhir.fhir.read.references import patient_id
from cpoc_fhir.service import Evaluator

UNMATCHED_EXAMPLES = 5


def run_model(
    evaluator: Evaluator,
    records: RecordSource,
    options: ModelOptions,
    schedule: FeeSchedule | None = None,
    ffs: RecordSource | None = None,
) -> ModelResult:
    """The model over every patient of ``records`` with CPOC lines or FFS charges in the
    period. The charges are read from ``ffs``, or from ``records`` themselves (one pass) when
    it is None or the same source. Charges of a patient with no Patient resource in
    ``records`` are left out, counted and warned about."""
    inline = ffs is None or ffs is records
    # One pass: each patient's lines are used at once, not kept (memory: 10 000 patients).
    collector = ChargeCollector(schedule, options.start, options.end, keep=not inline)
    charges = (
        collector.charges
        if ffs is None or inline
        else collect_charges(ffs, schedule, options.start, options.end)
    )
    patients: list[PatientEconomics] = []
    fee_for_service: list[PatientEconomics] = []
    seen: set[str] = set()
    unmatched: set[str] = set()
    with relaxed_gc():  # one pass over thousands of patients (gc_pass: why)
        for resources in records.patients():
            pid = patient_id(resources.patient_ref)
            own = collector.add(resources) if inline else charges.by_patient.get(pid, [])
            if resources.patient is None:
                unmatched.update([pid] if own else [])
                continue
            seen.add(pid)
            record = evaluator.record(resources)
            timeline = evaluator.evaluate(record, options.end)
            patient = patient_economics(timeline, record, own, options)
            if timeline.fee_for_service is not None:  # Option 1 (§14.3): billed FFS, apart
                fee_for_service.append(patient)
            elif patient.lines or own:
                patients.append(patient)
    unmatched.update(p for p in charges.patients if p not in seen)
    warnings = _warnings(records, charges, unmatched, patients)
    header = None if schedule is None else schedule.header()
    return ModelResult(
        options, patients, charges, len(unmatched), warnings, header, fee_for_service
    )


def _warnings(
    records: RecordSource, charges: Charges, unmatched: set[str], patients: list[PatientEconomics]
) -> list[str]:
    warnings = list(records.warnings) + charges.warnings + charges.unpriced_warnings()
    if unmatched:
        examples = ", ".join(f"Patient/{p}" for p in sorted(unmatched)[:UNMATCHED_EXAMPLES])
        warnings.append(
            f"{len(unmatched)} patient(s) have FFS charges but no Patient record in the input; "
            f"their charges are left out (e.g. {examples})"
        )
    without_lines = sum(1 for p in patients if not p.lines and p.replaced)
    if without_lines:
        warnings.append(
            f"{without_lines} patient(s) have replaced-code FFS charges but no CPOC line in "
            "the period (consult-only, or outside CPOC): their FFS revenue still counts"
        )
    if not charges.patients:
        warnings.append(
            "no priced FFS charge (ChargeItem, Claim, ExplanationOfBenefit) in the period: "
            "the FFS side is empty and the revenue-neutral base is 0"
        )
    elif not any(p.replaced for p in patients):
        warnings.append(
            "no priced charge carries a code CPOC replaces (CPT/HCPCS of the II-D table): "
            "the revenue-neutral base is 0"
        )
    return warnings
