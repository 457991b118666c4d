"""Shapes the value measures share (value-and-models §12): a patient's year, what one patient
contributes to a measure, the measure's tally, benchmarks and ratings.

Measures are computed in one pass over the patients (``PatientYear`` each), so that a
10 000-patient practice streams and a distributed engine can sum partial tallies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from functools import cached_property
from typing import Any

from cpoc_fhir.engine.facts import PatientRecord
from cpoc_fhir.engine.lines import PatientTimeline
from cpoc_fhir.fhir.read.resources import PatientResources
from cpoc_fhir.packs.cpoc.context import known_on

# FHIR R4 measure-population codes (http://terminology.hl7.org/CodeSystem/measure-population)
INITIAL_POPULATION = "initial-population"
DENOMINATOR = "denominator"
EXCLUSION = "denominator-exclusion"
NUMERATOR = "numerator"
POPULATIONS = (INITIAL_POPULATION, DENOMINATOR, EXCLUSION, NUMERATOR)


class Rating(Enum):
    """A measure's rating (proposal IV; "typical" = appropriate) and its §12.4 score."""

    HIGH = "high"
    APPROPRIATE = "appropriate"
    LOW = "low"

    @property
    def score(self) -> int:
        return {"high": 1, "appropriate": 0, "low": -1}[self.value]


@dataclass(frozen=True)
class Position:
    """A WGS84 point (FHIR Location.position, the address `geolocation` extension)."""

    latitude: float
    longitude: float


@dataclass(frozen=True)
class PatientYear:
    """Everything a measure may read about one patient for performance year ``year``."""

    patient_id: str
    resources: PatientResources  # the patient's parsed FHIR JSON (read through fhir.read.access)
    record: PatientRecord  # the engine's facts
    timeline: PatientTimeline  # the CPOC lines as of ``as_of``
    year: int
    as_of: date
    practice_position: Position | None = None  # the practice Location's position

    @cached_property
    def known(self) -> PatientRecord:
        """The record as known on ``as_of`` (``engine.context.known_on``): derived once, read
        by the quality measures and the ER collector alike."""
        return known_on(self.record, self.as_of)

    @property
    def start(self) -> date:
        return date(self.year, 1, 1)

    @property
    def end(self) -> date:
        return date(self.year, 12, 31)


@dataclass
class Contribution:
    """One patient's part in one measure.

    ``cases`` per population code: one key per counted case ("Patient/p" for a per-patient
    measure, "Encounter/v1" for a per-visit one, a line start as "MedicationAdministration/m1").
    ``evidence`` per population code: the resources ("Type/id") that put the cases there.
    """

    cases: dict[str, list[str]] = field(default_factory=dict)
    evidence: dict[str, list[str]] = field(default_factory=dict)

    def add(self, population: str, case: str, *evidence: str) -> None:
        self.cases.setdefault(population, []).append(case)
        refs = self.evidence.setdefault(population, [])
        refs.extend(e for e in evidence if e not in refs)


@dataclass
class MeasureTally:
    """A measure's counts over the practice, and each patient's cases and evidence.

    Rate (DEQM proportion scoring) = numerator / (denominator − exclusions); None when that
    is 0. Excluded cases never count in the numerator.
    """

    id: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(POPULATIONS, 0))
    patients: dict[str, Contribution] = field(default_factory=dict)

    def add(self, patient_id: str, contribution: Contribution) -> None:
        if not contribution.cases:
            return
        for population, cases in contribution.cases.items():
            self.counts[population] = self.counts.get(population, 0) + len(cases)
        self.patients[patient_id] = contribution

    @property
    def denominator(self) -> int:
        return self.counts[DENOMINATOR]

    @property
    def exclusions(self) -> int:
        return self.counts[EXCLUSION]

    @property
    def numerator(self) -> int:
        return self.counts[NUMERATOR]

    @property
    def rate(self) -> Fraction | None:
        eligible = self.denominator - self.exclusions
        return Fraction(self.numerator, eligible) if eligible > 0 else None

    def patients_json(self) -> dict[str, Any]:
        return {
            pid: {
                pop: {"cases": c.cases.get(pop, []), "evidence": c.evidence.get(pop, [])}
                for pop in POPULATIONS
                if c.cases.get(pop)
            }
            for pid, c in sorted(self.patients.items())
        }


@dataclass(frozen=True)
class MeasureBenchmark:
    """Prior-year figures across practices for one measure (fractions 0-1 for rates)."""

    mean: Decimal
    sd: Decimal
    minimum_expected: Decimal | None = None  # pathways only (IV-A)


@dataclass(frozen=True)
class DistanceBand:
    """Patients living up to ``max_km`` from the practice (None = farther) get ``factor``."""

    max_km: Decimal | None
    factor: Decimal


@dataclass(frozen=True)
class ErBenchmarks:
    """§12.3: the across-practice rate (weighted visits per 100 patient-months) and the
    indirect-standardisation factors. Factor keys are points (0, 1, 2 …); a point value not
    listed takes the highest listed key below it."""

    mean: Decimal
    sd: Decimal
    reference_rate: Decimal
    comorbidity: dict[int, Decimal] = field(default_factory=dict)
    performance: dict[int, Decimal] = field(default_factory=dict)
    toxicity: dict[int, Decimal] = field(default_factory=dict)
    distance: tuple[DistanceBand, ...] = ()
