"""Option 1, CPOC by cancer type (value-and-models §14.3; proposal V-B.2).

A payer may bill only some cancer types under CPOC (setting ``cpoc_cancer_types``; default:
all). A patient of another type gets no CPOC lines — the practice bills the patient
fee-for-service — and one notice saying so. Their FFS charges are then no conflicts (§10 of
cpoc-rules applies to months with CPOC lines only), and capture counts them apart.

**Interpretation** (the rules are silent):

- The patient's cancer types are the types of every primary cancer on record as of the
  evaluation date (active or not; an unplaced primary is "other"). A patient with only a
  secondary cancer (primary unknown) is of type "other"; a patient with no cancer diagnosis
  has no type, and so is billed FFS whenever the setting lists types.
- **Two primaries, one of a CPOC type**: the patient is billed under CPOC, for all of the
  practice's care. CPOC pays per patient-month, not per cancer (II-A): one Treatment or
  Monitoring line covers the month whatever is treated, so a month cannot be split between
  CPOC and FFS, and the CPOC-type cancer is the one the payer contracted for.
"""

from __future__ import annotations

from dataclasses import replace

from cpoc_fhir.engine.facts import CancerRole, PatientRecord
from cpoc_fhir.engine.lines import PatientTimeline
from cpoc_fhir.engine.settings import RuleSettings

NOT_CPOC_CANCER_TYPE = "billed fee-for-service: not a CPOC cancer type for this payer"


def patient_cancer_types(record: PatientRecord) -> frozenset[str]:
    """The cancer types of the patient's primaries ("other" for one the lists do not place,
    and for a secondary cancer whose primary is not on record)."""
    types = {
        d.cancer_type or "other" for d in record.diagnoses if d.cancer_role is CancerRole.PRIMARY
    }
    if not types and any(d.cancer_role is CancerRole.SECONDARY for d in record.diagnoses):
        types.add("other")
    return frozenset(types)


def fee_for_service_notice(record: PatientRecord, settings: RuleSettings) -> str | None:
    """The notice for a patient billed fee-for-service under Option 1, or None (CPOC)."""
    types = patient_cancer_types(record)
    if settings.is_cpoc_cancer(types):
        return None
    listed = ", ".join(settings.cpoc_cancer_types or ())
    which = ", ".join(sorted(types)) if types else "no cancer diagnosis on record"
    return f"{NOT_CPOC_CANCER_TYPE} ({which}; CPOC covers {listed}) (V-B.2)"


def apply_cancer_types(
    timeline: PatientTimeline, record: PatientRecord, settings: RuleSettings
) -> PatientTimeline:
    """The timeline itself, or — for a patient with CPOC lines who is not of a CPOC cancer
    type — no lines and the one notice (``fee_for_service``). A patient with no lines at all
    needs no notice: nothing would have been billed under CPOC anyway."""
    if settings.cpoc_cancer_types is None or not timeline.lines:
        return timeline
    notice = fee_for_service_notice(record, settings)
    if notice is None:
        return timeline
    return replace(timeline, lines=(), warnings=(notice,), fee_for_service=notice)
