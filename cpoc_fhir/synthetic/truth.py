"""What the synthetic practice generator chose, so that tests derive every count from it.

The files written hold these choices and nothing else: a test computes its expected figures
from ``PracticeTruth`` (never from the FHIR files it is testing against).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal

ClaimKind = Literal["replaced", "drug", "other"]


@dataclass(frozen=True)
class VisitTruth:
    """A face-to-face oncology visit (Encounter class AMB) and whether a pain score was taken."""

    encounter_id: str
    day: date
    pain_scored: bool
    em_code: str = ""  # the E&M CPT code the visit's claim bills (also the Encounter type)


@dataclass(frozen=True)
class ErVisitTruth:
    """An emergency Encounter (class EMER).

    ``op35_category``: one of the ten OP-35 categories ("anemia" … "sepsis") or None for a
    diagnosis outside them (a fracture). ``near_treatment``: 0-30 days after a treatment day
    (the day itself included). ``code``/``system``: the diagnosis coded; ``via``: "reasonCode"
    or "diagnosis" (a Condition referenced from Encounter.diagnosis).
    """

    encounter_id: str
    day: date
    op35_category: str | None
    near_treatment: bool
    code: str = ""
    system: str = ""
    via: str = "reasonCode"


@dataclass(frozen=True)
class ClaimLineTruth:
    """One ExplanationOfBenefit item: paid = fee schedule amount × units, rounded once."""

    eob_id: str
    day: date
    code: str
    system: str
    units: int
    paid: Decimal
    kind: ClaimKind


@dataclass(frozen=True)
class CoverageTruth:
    """A Coverage the payer mix wrote (synthetic/payers.py)."""

    coverage_id: str
    payer_key: str  # key of payers.PAYERS
    payer: str  # "Organization/medicare": as Coverage.payor names it
    start: date
    end: date | None  # inclusive; None: open-ended
    order: int  # 1 primary, 2 secondary
    sopt: str  # Coverage.type code (SOPT): "1" Medicare, "2" Medicaid, "5" private

    def holds(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass
class PatientTruth:
    patient_id: str
    cancer_icd10: str
    solid: bool
    regimen: tuple[str, ...]  # drug names
    treatment_days: list[date]  # anti-cancer drug given (IV days; oral: each day supplied)
    hormonal_only: bool
    line_starts: list[date]
    ecog_days: list[date]
    visits: list[VisitTruth]
    phq_days: list[date]
    stage_day: date | None
    first_treatment: date | None
    death: date | None
    hospice_start: date | None
    er_visits: list[ErVisitTruth]
    distance_km: float | None
    claims: list[ClaimLineTruth] = field(default_factory=list)
    hospice_via: str | None = None  # "EpisodeOfCare", "Encounter" or "both"
    infusion_days: list[date] = field(default_factory=list)
    # the payer mix (synthetic/payers.py): the patient's entry ("" without a mix) and Coverages
    payer_entry: str = ""
    coverages: list[CoverageTruth] = field(default_factory=list)


@dataclass
class PracticeTruth:
    location_id: str  # the bare id: the Location is "Location/<location_id>"
    latitude: float
    longitude: float
    year: int
    seed: int
    patients: dict[str, PatientTruth] = field(default_factory=dict)
    resources: int = 0  # resources written
    fee_schedule: str = ""  # path of the fee schedule the claims were priced with
    # with a payer mix: the ``[models] payers`` mapping written to ``models.toml``
    payers: dict[str, str] = field(default_factory=dict)
