"""Fee-for-service codes that CPOC replaces, and the conflicts they make (II-D; cpoc-rules §10).

Once xx100 is billed, the practice's medical oncologists may not bill these codes in months
with CPOC lines. The proposal's text counts 58 (16 E&M + 42); its II-D table lists 16 + 43 = 59
(the table is implemented as printed). Consultation codes 99241-99245 and 99251-99255 are not
in the list: they stay billable for consult-only patients. Such charges are conflicts to
report, never dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.lines import BillingLine, LineStatus, PatientTimeline

# The II-D table, by the CPOC component whose months they are folded into.
_EM_NEW = ("99201", "99202", "99203", "99204", "99205", "99221", "99222", "99223")
_EM_ESTABLISHED = ("99211", "99212", "99213", "99214", "99215", "99231", "99232", "99233")
_CHEMO_ADMIN = (
    "96401",
    "96402",
    "96405",
    "96406",
    "96409",
    "96411",
    "96413",
    "96415",
    "96416",
    "96417",
    "96420",
    "96422",
    "96423",
    "96425",
    "96440",
    "96446",
    "96450",
    "96521",
    "96522",
    "96523",
    "96542",
    "96549",
)
_RADIOPHARMACEUTICAL = ("79005", "79101", "79200", "79300", "79403")
_INJECTION_INFUSION = (
    "96365",
    "96366",
    "96367",
    "96368",
    "96369",
    "96370",
    "96371",
    "96372",
    "96373",
    "96374",
    "96375",
    "96376",
    "96379",
    "96360",
    "96361",
)
_VENIPUNCTURE = ("36415",)

REPLACED_CODES: frozenset[str] = frozenset(
    _EM_NEW
    + _EM_ESTABLISHED
    + _CHEMO_ADMIN
    + _RADIOPHARMACEUTICAL
    + _INJECTION_INFUSION
    + _VENIPUNCTURE
)
CONSULTATION_CODES: frozenset[str] = frozenset(
    ("99241", "99242", "99243", "99244", "99245", "99251", "99252", "99253", "99254", "99255")
)


@dataclass(frozen=True)
class FfsCharge:
    """A fee-for-service charge on record (ChargeItem or Claim line) with its CPT code."""

    ref: str
    code: str
    on: date


@dataclass(frozen=True)
class FfsConflict:
    """A replaced code charged in a month with a CPOC line, after New Patient was billed."""

    charge: FfsCharge
    line: BillingLine

    @property
    def reason(self) -> str:
        return (
            f"CPT {self.charge.code} on {self.charge.on.isoformat()} ({self.charge.ref}) is "
            f"replaced by CPOC: month {self.line.month} has {self.line.code} (II-D)"
        )


def ffs_conflicts(charges: Iterable[FfsCharge], lines: Iterable[BillingLine]) -> list[FfsConflict]:
    """The replaced-code charges dated in a month that has a billable CPOC line, on or after
    the New Patient date."""
    lines = list(lines)
    billable = [line for line in lines if line.status is not LineStatus.NOT_BILLABLE]
    new_patient = next(
        (line.start for line in billable if line.component is Component.NEW_PATIENT), None
    )
    if new_patient is None:
        return []
    monthly = [line for line in billable if line.month is not None]
    conflicts = []
    for charge in charges:
        if charge.code not in REPLACED_CODES or charge.on < new_patient:
            continue
        if charge.on == new_patient:
            np_line = next(line for line in billable if line.component is Component.NEW_PATIENT)
            conflicts.append(FfsConflict(charge, np_line))
            continue
        line = next((x for x in monthly if x.start <= charge.on <= x.end), None)
        if line is not None:
            conflicts.append(FfsConflict(charge, line))
    return conflicts


def timeline_conflicts(
    charges: Iterable[FfsCharge], timeline: PatientTimeline
) -> list[FfsConflict]:
    """The conflicts of one patient's timeline. A patient billed fee-for-service because the
    cancer type is not a CPOC one for this payer (value-and-models §14.3) has none: the FFS
    charges are how that patient is billed."""
    if timeline.fee_for_service is not None:
        return []
    return ffs_conflicts(charges, timeline.lines)
