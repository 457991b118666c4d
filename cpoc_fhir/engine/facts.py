"""Clinical facts the CPOC engine reasons over: frozen, FHIR-free, one record per patient.

The FHIR adapters (``cpoc_fhir.fhir.read``) turn resources into these; the engine never sees
a Bundle or a JSON dict. Every fact keeps ``ref`` ("Type/id") so that each billing line can
cite its evidence. Dates are calendar dates as written in the record (no time-zone shifts):
billing months are counted in the practice's local days.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import Enum

# The enums the knowledge layer shares (value-and-models §15, issue 15 item 9): defined in
# cpoc_fhir.vocabulary, which imports nothing of the engine; re-exported here.
from cpoc_fhir.engine.fast_init import fast_init
from cpoc_fhir.vocabulary import CancerRole as CancerRole
from cpoc_fhir.vocabulary import DiseaseState as DiseaseState
from cpoc_fhir.vocabulary import DrugRole as DrugRole
from cpoc_fhir.vocabulary import Route as Route


@fast_init  # faster __init__, same dataclass (engine/fast_init.py)
@dataclass(frozen=True)
class Diagnosis:
    """A Condition. ``active`` and the dates tell when it held (see ``active_during``)."""

    ref: str
    icd10: tuple[str, ...] = ()  # normalised: no dot, upper case ("E1122")
    snomed: tuple[str, ...] = ()
    display: str = ""
    onset: date | None = None  # onset, else recordedDate
    abatement: date | None = None
    active: bool = True  # clinicalStatus active / recurrence / relapse (or absent)
    recurrence: bool = False  # clinicalStatus recurrence / relapse
    cancer_role: CancerRole = CancerRole.NONE
    cancer_type: str | None = None  # "colorectal", "lung", ... (knowledge.conditions)
    toxicity: bool = False  # adverse effect of anti-cancer treatment (cpoc-rules §7 (b))
    late_effect: bool = False  # in the late-effects value set (cpoc-rules §6 level 2)

    def active_during(self, start: date, end: date) -> bool:
        """True when the condition held on any day of [start, end]."""
        if self.onset is not None and self.onset > end:
            return False
        if self.abatement is not None:
            return self.abatement >= start
        if not self.active:
            # Resolved/inactive without an abatement date: it held at least until it was
            # recorded, never later that we can show.
            return self.onset is not None and self.onset >= start
        return True


class ExposureKind(Enum):
    """What the evidence says about the days of a medication exposure (cpoc-rules §3)."""

    ADMINISTERED = "administered"  # MedicationAdministration: given on these days
    PLANNED = "planned"  # infusion ordered, not yet recorded as given: provisional
    SUPPLY = "supply"  # oral supply (dispense, order or statement) covering these days


@fast_init  # faster __init__, same dataclass (engine/fast_init.py)
@dataclass(frozen=True)
class MedicationExposure:
    """Days on which the patient received (or will receive) one drug ordered by the practice.

    ``drug`` is a regimen-catalog drug id, or "" when the catalog does not know the drug;
    ``drug_name`` is then the record's own wording, for warnings and explanations.
    """

    ref: str
    drug: str
    drug_name: str
    role: DrugRole
    route: Route
    kind: ExposureKind
    start: date
    end: date  # inclusive; equal to start for a single administration
    ordered_on: date | None = None  # oral drugs anchor on the order date (cpoc-rules §2)
    order_ref: str | None = None  # the MedicationRequest this fulfils, if known

    @classmethod
    def of(
        cls,
        ref: str,
        drug: str,
        drug_name: str,
        role: DrugRole,
        route: Route,
        kind: ExposureKind,
        start: date,
        end: date,
        ordered_on: date | None,
        order_ref: str | None,
    ) -> MedicationExposure:
        """Equal to ``MedicationExposure(...)`` of the same fields. Built by the reader once
        per medication resource (~12 per patient), so it fills the instance at once: the
        frozen ``__init__`` costs one ``object.__setattr__`` per field (1.9 µs → 0.6 µs)."""
        exposure = object.__new__(cls)
        vars(exposure).update(
            ref=ref,
            drug=drug,
            drug_name=drug_name,
            role=role,
            route=route,
            kind=kind,
            start=start,
            end=end,
            ordered_on=ordered_on,
            order_ref=order_ref,
        )
        return exposure

    def days(self) -> range:
        """The ordinals of the covered days (``date.fromordinal`` turns them back)."""
        return range(self.start.toordinal(), self.end.toordinal() + 1)


class StopReason(Enum):
    """Why an order was stopped, as far as it supports a Transition (cpoc-rules §7 (b))."""

    PROGRESSION = "progression"
    TOXICITY = "toxicity"


@fast_init  # faster __init__, same dataclass (engine/fast_init.py)
@dataclass(frozen=True)
class OrderStop:
    """A stopped anti-cancer order with a coded or written reason on record."""

    ref: str
    on: date
    reason: StopReason


@fast_init  # faster __init__, same dataclass (engine/fast_init.py)
@dataclass(frozen=True)
class PerformanceStatus:
    """A documented performance status, on the ECOG scale (Karnofsky already converted)."""

    ref: str
    on: date
    ecog: int
    scale: str = "ecog"  # "ecog" | "karnofsky"
    raw: int | None = None  # the value as documented (Karnofsky 0-100)


@fast_init  # faster __init__, same dataclass (engine/fast_init.py)
@dataclass(frozen=True)
class DiseaseStatus:
    ref: str
    on: date
    state: DiseaseState


@fast_init  # faster __init__, same dataclass (engine/fast_init.py)
@dataclass(frozen=True)
class StageGroup:
    """A stage group Observation; ``metastatic`` for stage IV."""

    ref: str
    on: date
    stage: str
    metastatic: bool


@fast_init  # faster __init__, same dataclass (engine/fast_init.py)
@dataclass(frozen=True)
class Visit:
    """An Encounter. ``face_to_face`` applies cpoc-rules §4's definition."""

    ref: str
    on: date
    face_to_face: bool
    oncology: bool = False  # with the practice's medical oncology (reason, type or episode)


class EpisodeKind(Enum):
    ONCOLOGY = "oncology"  # the practice manages the patient's cancer care
    HOSPICE = "hospice"


@fast_init  # faster __init__, same dataclass (engine/fast_init.py)
@dataclass(frozen=True)
class CareEpisode:
    """An EpisodeOfCare (or a hospice Encounter) with its period."""

    ref: str
    kind: EpisodeKind
    start: date | None
    end: date | None = None


@fast_init  # faster __init__, same dataclass (engine/fast_init.py)
@dataclass(frozen=True)
class TrialEnrollment:
    """A ResearchSubject; ``on_study`` for the statuses of cpoc-rules §8."""

    ref: str
    start: date | None
    end: date | None
    on_study: bool

    def on_study_during(self, start: date, end: date) -> bool:
        if not self.on_study:
            return False
        if self.start is not None and self.start > end:
            return False
        return self.end is None or self.end >= start


@fast_init  # faster __init__, same dataclass (engine/fast_init.py)
@dataclass(frozen=True)
class Transplant:
    """A stem cell transplant Procedure: Table 4's 6-point administration."""

    ref: str
    on: date


@fast_init  # faster __init__, same dataclass (engine/fast_init.py)
@dataclass(frozen=True)
class CoverageFact:
    """A Coverage in force for some days (status active, or absent): who pays, when.

    ``payer`` names the first ``payor``: its reference ("Organization/x"), else its
    identifier ("system|value"), else its display. ``order`` is the coordination-of-benefits
    rank (lower first; none = last). ``type_codes`` are Coverage.type's codings as
    "system|code" (e.g. the PHDSC Source of Payment Typology: 1 Medicare, 2 Medicaid), from
    which a pack may tell dual eligibility (value-and-models §15.2).
    """

    ref: str
    payer: str
    start: date | None = None
    end: date | None = None
    order: int = 1 << 30
    payer_display: str = ""
    type_codes: tuple[str, ...] = ()
    class_values: tuple[str, ...] = ()  # Coverage.class.value (plan, group, …)

    def holds(self, day: date) -> bool:
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)


@fast_init  # faster __init__, same dataclass (engine/fast_init.py)
@dataclass(frozen=True)
class SocialNeedsScreening:
    """A health-related social needs screening on record (value-and-models §15.2): an
    Observation with an HRSN screening LOINC code (96777-8 AHC HRSN, 96778-6, 93025-5 PRAPARE)."""

    ref: str
    on: date
    code: str


@fast_init  # faster __init__, same dataclass (engine/fast_init.py)
@dataclass(frozen=True)
class PatientReportedOutcome:
    """An electronic patient-reported outcome (§15.2): a completed or amended
    QuestionnaireResponse; ``questionnaire`` is its canonical ("" when absent)."""

    ref: str
    on: date
    questionnaire: str = ""


@fast_init  # faster __init__, same dataclass (engine/fast_init.py)
@dataclass(frozen=True)
class PatientRecord:
    """Everything the engine knows about one patient."""

    patient_ref: str
    death: date | None = None
    diagnoses: tuple[Diagnosis, ...] = ()
    exposures: tuple[MedicationExposure, ...] = ()
    order_stops: tuple[OrderStop, ...] = ()
    performance: tuple[PerformanceStatus, ...] = ()
    disease_status: tuple[DiseaseStatus, ...] = ()
    stages: tuple[StageGroup, ...] = ()
    visits: tuple[Visit, ...] = ()
    episodes: tuple[CareEpisode, ...] = ()
    trials: tuple[TrialEnrollment, ...] = ()
    transplants: tuple[Transplant, ...] = ()
    coverages: tuple[CoverageFact, ...] = ()  # §15: the payer selects the payment model
    # §15.2 EOM enhanced services, recorded not billed (fhir/read/enhanced_services.py).
    social_needs_screenings: tuple[SocialNeedsScreening, ...] = ()
    patient_reported_outcomes: tuple[PatientReportedOutcome, ...] = ()
    # Patient.identifier as "system|value" (a bare value without a system): §15.3 matches a
    # CPC+ attribution file's rows by them (Medicare MBI). Identifiers are PHI: never logged.
    identifiers: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())  # what the adapter could not interpret
