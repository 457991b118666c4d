"""Avoidable emergency visits (value-and-models §12.3; proposal IV-C): the weighted count,
its exposure in CPOC months, indirect standardisation, and the calendar quarters.

Readings the rules leave open, each decided here (docs/value-based-adjustment.md repeats them):

- **Exposure months**: the patient's Treatment Month and Active Monitoring lines with status
  ``final`` or ``provisional`` (lines that are or will be billed); ``not-billable`` lines are no
  CPOC month. A month counts whole in the year, and the calendar quarter, its **first day**
  falls in — the period a billing month is billed in (capture, ``cpoc model``): a month from
  20 December to 19 January is a December month of its year, and its visits go with it.
- **A visit counts** when its day falls inside such a month; a visit outside every CPOC month,
  or after ``as_of``, does not.
- **Near treatment** (weight 1.0): the visit falls on day 0…30 after a treatment day — the day
  of an anti-cancer drug given (MedicationAdministration) or covered by an oral supply; the
  treatment day itself is day 0 and counts (FHIR dates carry no reliable order within a day);
  day 31 and later, or no earlier treatment day, weigh 0.5. Window and weights: ValueSettings.
- **Risk points of a month**: a Treatment Month's C, P and T are its line's score (Tables 1-3);
  an Active Monitoring month's C and P are the engine's own scoring of that month (Charlson
  conditions active in it; worst ECOG in it, else the latest in the lookback), T = 0: no
  regimen is given in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.facts import DrugRole, ExposureKind, PatientRecord
from cpoc_fhir.engine.lines import BillingLine, LineStatus
from cpoc_fhir.engine.months import BillingMonth
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.knowledge import Knowledge
from cpoc_fhir.packs.cpoc import scoring
from cpoc_fhir.value.er_distance import band_of, distance_km, home_position
from cpoc_fhir.value.er_visits import EmergencyVisit, Op35, emergency_visits
from cpoc_fhir.value.model import ErBenchmarks, PatientYear
from cpoc_fhir.value.settings import ValueSettings

EXPOSURE_COMPONENTS = frozenset({Component.TREATMENT_MONTH, Component.ACTIVE_MONITORING})
COUNTED_STATUSES = frozenset({LineStatus.FINAL, LineStatus.PROVISIONAL})
RATE = Decimal("0.0001")
HUNDRED = Decimal(100)


def quarter_of(day: date) -> int:
    return (day.month - 1) // 3 + 1


def rate(value: Decimal | None) -> str | None:
    """A rate as the report writes it: a decimal string with 4 places, or null."""
    return None if value is None else str(value.quantize(RATE, rounding=ROUND_HALF_UP))


def factor(table: Mapping[int, Decimal], points: int) -> Decimal:
    """The factor for ``points``: the highest key not above it; none listed → 1
    (ErBenchmarks' convention)."""
    keys = [k for k in table if k <= points]
    return table[max(keys)] if keys else Decimal(1)


@dataclass
class Figures:
    """Counts of one period (the year or a quarter) and the rates they give."""

    visits: int = 0
    weighted: Decimal = Decimal(0)
    months: int = 0
    treatment_months: int = 0  # of ``months``; §13.1 speaks of visits per treatment months
    expected: Decimal = Decimal(0)

    def observed_rate(self) -> Decimal | None:
        """Weighted visits per 100 patient-months."""
        return self.weighted * HUNDRED / self.months if self.months else None

    def expected_rate(self, benchmarks: ErBenchmarks | None) -> Decimal | None:
        if benchmarks is None or not self.months:
            return None
        return self.expected * HUNDRED / self.months

    def risk_adjusted_rate(self, benchmarks: ErBenchmarks | None) -> Decimal | None:
        """observed / expected × reference rate (§12.3), rounded to 4 places once."""
        if benchmarks is None or not self.months or not self.expected:
            return None
        # weighted × ref / expected, multiplied first: with every factor 1 the quotient is
        # exactly weighted × 100 / months, the observed rate, to the last digit.
        value = self.weighted * benchmarks.reference_rate / self.expected
        return value.quantize(RATE, rounding=ROUND_HALF_UP)

    def as_json(self, benchmarks: ErBenchmarks | None) -> dict[str, Any]:
        return {
            "visits": self.visits,
            "weightedVisits": str(self.weighted),
            "patientMonths": self.months,
            "treatmentMonths": self.treatment_months,
            "expectedVisits": rate(self.expected) if benchmarks is not None else None,
            "observedRate": rate(self.observed_rate()),
            "expectedRate": rate(self.expected_rate(benchmarks)),
            "riskAdjustedRate": rate(self.risk_adjusted_rate(benchmarks)),
        }


@dataclass(frozen=True)
class ErResult:
    """The practice's avoidable emergency visits for a year: the value report's ``"er"``."""

    year: int | None
    total: Figures
    quarters: tuple[Figures, ...]
    benchmarks: ErBenchmarks | None
    distance_known: int
    distance_unknown: int
    not_oncology_related: int
    outside_months: int
    settings: ValueSettings
    patients: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def visits(self) -> int:
        return self.total.visits

    @property
    def weighted_visits(self) -> Decimal:
        return self.total.weighted

    @property
    def patient_months(self) -> int:
        return self.total.months

    @property
    def observed_rate(self) -> Decimal | None:
        value = self.total.observed_rate()
        return None if value is None else value.quantize(RATE, rounding=ROUND_HALF_UP)

    @property
    def expected_rate(self) -> Decimal | None:
        value = self.total.expected_rate(self.benchmarks)
        return None if value is None else value.quantize(RATE, rounding=ROUND_HALF_UP)

    @property
    def risk_adjusted_rate(self) -> Decimal | None:
        """What the §12.3 rating and the §13.1 target read (the figure the report shows)."""
        return self.total.risk_adjusted_rate(self.benchmarks)

    def quarter_rates(self) -> dict[str, Decimal | None]:
        """Risk-adjusted rate per quarter ("2025-Q1" → rate): what §13.1 reconciles on."""
        return {
            f"{self.year}-Q{n}": q.risk_adjusted_rate(self.benchmarks)
            for n, q in enumerate(self.quarters, start=1)
        }

    def as_json(self) -> dict[str, Any]:
        out = self.total.as_json(self.benchmarks)
        ref = self.benchmarks.reference_rate if self.benchmarks is not None else None
        out["referenceRate"] = str(ref) if ref is not None else None
        out["quarters"] = [
            {"quarter": f"{self.year}-Q{n}", **q.as_json(self.benchmarks)}
            for n, q in enumerate(self.quarters, start=1)
        ]
        out["distance"] = {"known": self.distance_known, "unknown": self.distance_unknown}
        out["excluded"] = {
            "notOncologyRelated": self.not_oncology_related,
            "outsideCpocMonths": self.outside_months,
        }
        out["weights"] = {
            "nearTreatment": str(self.settings.er_weight_near_treatment),
            "other": str(self.settings.er_weight_other),
            "windowDays": self.settings.er_window_days,
        }
        out["patients"] = {pid: self.patients[pid] for pid in sorted(self.patients)}
        return out


class ErCollector:
    """Takes each ``PatientYear`` of the one pass over the practice (``add``), then gives the
    year's ``ErResult``. ``knowledge`` and ``rules`` score Active Monitoring months the way
    the engine scores Treatment Months (defaults: the bundled knowledge, default rules)."""

    def __init__(
        self,
        settings: ValueSettings,
        benchmarks: ErBenchmarks | None,
        *,
        knowledge: Knowledge | None = None,
        rules: RuleSettings | None = None,
        year: int | None = None,
    ) -> None:
        self.settings = settings
        self.benchmarks = benchmarks
        self._knowledge = knowledge
        self.rules = rules or RuleSettings()
        self.year = year
        self.op35 = Op35.bundled()
        self.total = Figures()
        self.quarters = tuple(Figures() for _ in range(4))
        self.known = self.unknown = self.unrelated = self.outside = 0
        self.patients: dict[str, dict[str, Any]] = {}
        self.warnings: list[str] = []
        self._risks: dict[tuple[int, int, int], Decimal] = {}

    @property
    def knowledge(self) -> Knowledge:
        if self._knowledge is None:
            from cpoc_fhir.knowledge.loader import load_knowledge  # the data files, once

            self._knowledge = load_knowledge()
        return self._knowledge

    def add(self, py: PatientYear) -> None:
        if self.year is None:
            self.year = py.year
        elif py.year != self.year:
            raise ValueError(f"Patient/{py.patient_id}: year {py.year}, collecting {self.year}")
        record = py.known
        lines = [
            line
            for line in py.timeline.lines
            if line.component in EXPOSURE_COMPONENTS and line.status in COUNTED_STATUSES
        ]
        months = sorted(
            {line.start: line for line in lines if py.start <= line.start <= py.end}.values(),
            key=lambda line: line.start,
        )
        warnings: list[str] = []
        visits = emergency_visits(py.resources, py.as_of, warnings, self.op35)
        self.warnings.extend(warnings)
        if not months and not visits:
            return
        km = None
        if py.practice_position is not None:
            home = home_position(py.resources.patient, py.year)
            km = distance_km(home, py.practice_position) if home is not None else None
        bands = self.benchmarks.distance if self.benchmarks is not None else ()
        band, distance_factor = band_of(bands, km)
        month_rows = [self._month(record, line, distance_factor) for line in months]
        visit_rows = [
            row
            for visit in visits
            if (row := self._visit(record, visit, lines, py.start, py.end)) is not None
        ]
        if not month_rows and not visit_rows:
            return
        if month_rows:
            if km is None:
                self.unknown += 1
            else:
                self.known += 1
        self.patients[py.patient_id] = {
            "patientMonths": len(month_rows),
            "weightedVisits": str(sum((Decimal(v["weight"]) for v in visit_rows), Decimal(0))),
            "months": month_rows,
            "visits": visit_rows,
            "distanceKm": str(km) if km is not None else None,
            "distanceBand": band,
            "distanceFactor": str(distance_factor) if self.benchmarks is not None else None,
        }

    def _month(self, record: PatientRecord, line: BillingLine, distance: Decimal) -> dict[str, Any]:
        c, p, t = self._points(record, line)
        q = quarter_of(line.start)
        expected: Decimal | None = None
        treatment = line.component is Component.TREATMENT_MONTH
        for figures in (self.total, self.quarters[q - 1]):
            figures.months += 1
            figures.treatment_months += treatment
        if self.benchmarks is not None:
            # (reference rate / 100 × the three factors) × distance: the same operations in
            # the same order as written out, the left part looked up once per (c, p, t)
            expected = self._risk(c, p, t) * distance
            self.total.expected += expected
            self.quarters[q - 1].expected += expected
        return {
            "start": line.start.isoformat(),
            "end": line.end.isoformat(),
            "code": line.code,
            "component": line.component.value,
            "status": line.status.value,
            "quarter": q,
            "points": {"comorbidity": c, "performance": p, "toxicity": t},
            "expected": rate(expected),
        }

    def _risk(self, c: int, p: int, t: int) -> Decimal:
        found = self._risks.get((c, p, t))
        if found is None:
            b = self.benchmarks
            assert b is not None
            found = (
                b.reference_rate
                / HUNDRED
                * factor(b.comorbidity, c)
                * factor(b.performance, p)
                * factor(b.toxicity, t)
            )
            self._risks[(c, p, t)] = found
        return found

    def _points(self, record: PatientRecord, line: BillingLine) -> tuple[int, int, int]:
        if line.component is Component.TREATMENT_MONTH and line.score is not None:
            s = line.score
            return s.comorbidity, s.performance, s.toxicity
        month = BillingMonth(line.month or 0, line.start, line.end)
        c = scoring.comorbidity(record, month, self.knowledge, self.rules).points
        p = scoring.performance(record, month, self.rules).points
        return c, p, 0

    def _visit(
        self,
        record: PatientRecord,
        visit: EmergencyVisit,
        lines: list[BillingLine],
        start: date,
        end: date,
    ) -> dict[str, Any] | None:
        month = next((m for m in lines if m.start <= visit.day <= m.end), None)
        if month is None or not start <= month.start <= end:
            # Outside every CPOC month, or in a month of another year (counted there).
            if month is None and start <= visit.day <= end and visit.categories:
                self.outside += 1
            return None
        if not visit.categories:
            self.unrelated += 1
            return None
        treated = last_treatment(record, visit.day)
        near = treated is not None and (visit.day - treated[0]).days <= self.settings.er_window_days
        weight = self.settings.er_weight_near_treatment if near else self.settings.er_weight_other
        q = quarter_of(month.start)
        for figures in (self.total, self.quarters[q - 1]):
            figures.visits += 1
            figures.weighted += weight
        evidence = list(visit.evidence)
        if near and treated is not None and treated[1] not in evidence:
            evidence.append(treated[1])
        return {
            "encounter": visit.ref,
            "date": visit.day.isoformat(),
            "category": visit.category,
            "categories": list(visit.categories),
            "weight": str(weight),
            "nearTreatment": near,
            "lastTreatment": treated[0].isoformat() if treated is not None else None,
            "month": month.start.isoformat(),
            "quarter": q,
            "evidence": evidence,
        }

    def result(self) -> ErResult:
        return ErResult(
            year=self.year,
            total=self.total,
            quarters=self.quarters if self.year is not None else (),
            benchmarks=self.benchmarks,
            distance_known=self.known,
            distance_unknown=self.unknown,
            not_oncology_related=self.unrelated,
            outside_months=self.outside,
            settings=self.settings,
            patients=dict(self.patients),
            warnings=tuple(self.warnings),
        )


def last_treatment(record: PatientRecord, day: date) -> tuple[date, str] | None:
    """The latest treatment day on or before ``day`` and the exposure behind it: an
    anti-cancer drug administered, or covered by an oral supply (planned infusions are not
    given yet; supportive drugs are not the chemotherapy OP-35 follows)."""
    best: tuple[date, str] | None = None
    for exposure in record.exposures:
        if exposure.role is not DrugRole.ANTICANCER or exposure.kind is ExposureKind.PLANNED:
            continue
        if exposure.start > day:
            continue
        last = min(exposure.end, day)
        if best is None or last > best[0] or (last == best[0] and exposure.ref < best[1]):
            best = (last, exposure.ref)
    return best
