"""The value report of a performance year (value-and-models §12): one pass over the patients,
a ``PatientYear`` each handed to every collector (quality measures §12.2, emergency visits
§12.3), then the pathway measure (§12.1), the ratings and the adjustment (§12.4), as the JSON
the HTML page, the MeasureReports and ``cpoc report benchmarks`` read.

The measures, the ER collector and the rating functions are parameters (``ValueComponents``):
``cpoc_fhir.value.components`` binds the real ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from cpoc_fhir.fhir.read.gc_pass import relaxed_gc
from cpoc_fhir.reports.benchmarks import Benchmarks
from cpoc_fhir.reports.render import rate_json
from cpoc_fhir.value.model import (
    INITIAL_POPULATION,
    Contribution,
    ErBenchmarks,
    MeasureBenchmark,
    MeasureTally,
    PatientYear,
    Rating,
)
from cpoc_fhir.value.pathway_measure import PathwayMeasure
from cpoc_fhir.value.settings import ValueSettings

PHASE_LIMITS = {"pathways": 2, "quality": 3, "er": 2}  # IV-A, IV-B, IV-C tables


class QualityMeasure(Protocol):
    """A quality measure (``value.quality.QualityMeasure``)."""

    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def improvement(self) -> str: ...  # "increase" | "decrease"
    @property
    def unit(self) -> str: ...
    @property
    def source(self) -> str: ...

    def evaluate(self, py: PatientYear, settings: ValueSettings) -> Contribution: ...


class ErResultLike(Protocol):
    risk_adjusted_rate: Decimal | None

    def as_json(self) -> dict[str, Any]: ...


class ErCollectorLike(Protocol):
    def add(self, py: PatientYear) -> None: ...

    def result(self) -> Any: ...


class QualityRatingLike(Protocol):
    """What the quality rating gives the report (``value.ratings.QualityRating``): whether each
    measure is in the composite, its z and the composite as written (4 places), the rating
    (None without benchmarks)."""

    @property
    def in_composite(self) -> Mapping[str, bool]: ...
    @property
    def rating(self) -> Rating | None: ...

    @property
    def composite_json(self) -> float | None: ...

    def z_json(self, measure_id: str) -> float | None: ...


RateQuality = Callable[
    [
        Sequence[MeasureTally],
        Sequence[QualityMeasure],
        Mapping[str, MeasureBenchmark] | None,
        int,
        bool,
        ValueSettings,
    ],
    QualityRatingLike,
]
RateEr = Callable[[Decimal | None, Decimal | None, ErBenchmarks | None, int, bool], Rating | None]
Adjustment = Callable[[int, tuple[Rating, Rating, Rating]], Decimal]


@dataclass(frozen=True)
class ValueComponents:
    measures: Sequence[QualityMeasure]
    er_collector: Callable[[ValueSettings, ErBenchmarks | None], ErCollectorLike]
    rate_quality: RateQuality
    rate_er: RateEr
    adjustment: Adjustment


@dataclass(frozen=True)
class Phases:
    pathways: int = 1
    quality: int = 1
    er: int = 1

    @classmethod
    def parse(cls, text: str | None) -> Phases:
        """``pathways=1,quality=2,er=1`` (any subset; the others stay 1)."""
        values: dict[str, int] = {}
        for part in (text or "").split(","):
            if not part.strip():
                continue
            name, _, number = part.partition("=")
            name = name.strip()
            if name not in PHASE_LIMITS:
                raise ValueError(f"unknown measure {name!r} (expected pathways, quality, er)")
            if name in values:  # "quality=1,quality=3": which one was meant is not ours to pick
                raise ValueError(f"{name}: given twice")
            if not number.strip().isdigit() or not 1 <= int(number) <= PHASE_LIMITS[name]:
                raise ValueError(f"{name}: phase 1 to {PHASE_LIMITS[name]}, not {number!r}")
            values[name] = int(number)
        return cls(**values)

    def as_json(self) -> dict[str, int]:
        return {"pathways": self.pathways, "quality": self.quality, "er": self.er}


@dataclass(frozen=True)
class ValueInputs:
    """Everything about the year other than the patients."""

    year: int
    as_of: date
    participation_year: int
    phases: Phases
    settings: ValueSettings
    benchmarks: Benchmarks | None
    submitting: bool
    location: str | None  # "Location/x"
    prior_er_rate: Decimal | None = None
    warnings: Sequence[str] = ()


@dataclass
class Collected:
    """The pass over the patients: one tally per quality measure and the ER collector."""

    tallies: list[MeasureTally]
    er: ErCollectorLike
    patients: int = 0
    # §14.3 (Option 1): patients billed fee-for-service, not of a CPOC cancer type; still in
    # the quality measures (their care is the practice's), never in the ER exposure (no CPOC
    # month), and counted apart
    fee_for_service: int = 0
    warnings: list[str] = field(default_factory=list)


def collect(
    patients: Iterable[PatientYear], components: ValueComponents, inputs: ValueInputs
) -> Collected:
    """Feed every collector each patient's year, once."""
    er_bench = inputs.benchmarks.er if inputs.benchmarks else None
    collected = Collected(
        [MeasureTally(m.id) for m in components.measures],
        components.er_collector(inputs.settings, er_bench),
    )
    seen: set[str] = set()
    with relaxed_gc():  # one pass over thousands of patients (gc_pass: why)
        for py in patients:
            collected.patients += 1
            if py.timeline.fee_for_service is not None:
                collected.fee_for_service += 1
            for measure, tally in zip(components.measures, collected.tallies, strict=True):
                contribution = measure.evaluate(py, inputs.settings)
                tally.add(py.patient_id, contribution)
                # a measure's reading problems (resource ids and elements only, never PHI), once
                for warning in getattr(contribution, "warnings", ()):
                    if warning not in seen:
                        seen.add(warning)
                        collected.warnings.append(warning)
            collected.er.add(py)
    return collected


def value_report(
    collected: Collected,
    pathways: PathwayMeasure,
    components: ValueComponents,
    inputs: ValueInputs,
) -> dict[str, Any]:
    """The value report JSON (README "Value-based adjustment": its shape)."""
    bench = inputs.benchmarks
    warnings = [*inputs.warnings, *collected.warnings]
    quality_bench = bench.quality if bench is not None else None
    quality = components.rate_quality(
        collected.tallies,
        components.measures,
        quality_bench,
        inputs.phases.quality,
        inputs.submitting,
        inputs.settings,
    )
    er_result = collected.er.result()
    warnings.extend(getattr(er_result, "warnings", ()))  # the ER collector's, when it has some
    er_rating = None
    if bench is not None:
        er_rating = components.rate_er(
            er_result.risk_adjusted_rate,
            inputs.prior_er_rate,
            bench.er,
            inputs.phases.er,
            inputs.settings.medical_home,
        )
    pathway_rating = pathways.rating.value if pathways.rating is not None else None
    ratings = None
    adjustment = None
    if bench is not None:
        ratings = {
            "pathways": _name(pathway_rating),
            "quality": _name(quality.rating),
            "er": _name(er_rating),
        }
        if pathway_rating and quality.rating and er_rating:
            value = components.adjustment(
                inputs.participation_year, (pathway_rating, quality.rating, er_rating)
            )
            adjustment = str(value)
        else:
            missing = [k for k, v in ratings.items() if v is None]
            warnings.append(
                f"no adjustment: {', '.join(missing)} not rated (the benchmarks file lacks "
                "its figures, or there is nothing to rate)"
            )
        if bench.year is not None and bench.year != inputs.year - 1:
            # §12: year Y is rated against the figures of Y−1, known before Y began.
            warnings.append(
                f"the benchmarks ({bench.source}) are of {bench.year}: §12 rates {inputs.year} "
                f"against the practices' figures of {inputs.year - 1}"
            )
        if bench.illustrative:
            warnings.append(
                f"the benchmarks ({bench.source}) are illustrative: the ratings and the "
                "adjustment are examples, not a payer's figures"
            )
    else:
        warnings.append("no benchmarks file (--benchmarks): measures only, nothing rated")
    return {
        "year": inputs.year,
        "participationYear": inputs.participation_year,
        "asOf": inputs.as_of.isoformat(),
        "practice": {"location": inputs.location},
        "benchmarks": bench.header_json() if bench is not None else None,
        "phases": inputs.phases.as_json(),
        "patients": {"evaluated": collected.patients, "feeForService": collected.fee_for_service},
        "measures": [
            _measure_json(m, t, quality, quality_bench)
            for m, t in zip(components.measures, collected.tallies, strict=True)
        ],
        "quality": {
            "composite": quality.composite_json,
            "submitting": inputs.submitting,
            # what "under the minimum" meant (§12.2), for `cpoc report benchmarks`
            "minimumDenominator": inputs.settings.minimum_denominator,
        },
        "er": er_result.as_json(),
        "pathways": pathways.as_json(),
        "ratings": ratings,
        "adjustment": adjustment,
        "warnings": warnings,
    }


def _measure_json(
    measure: QualityMeasure,
    tally: MeasureTally,
    quality: QualityRatingLike,
    benchmarks: Mapping[str, MeasureBenchmark] | None,
) -> dict[str, Any]:
    bench = benchmarks.get(measure.id) if benchmarks is not None else None
    return {
        "id": measure.id,
        "title": measure.title,
        "source": measure.source,
        "improvement": measure.improvement,
        "unit": measure.unit,
        "initialPopulation": tally.counts.get(INITIAL_POPULATION, 0),
        "denominator": tally.denominator,
        "exclusions": tally.exclusions,
        "numerator": tally.numerator,
        "rate": rate_json(tally.rate),
        "inComposite": bool(quality.in_composite.get(measure.id, False)),
        "benchmark": None if bench is None else {"mean": str(bench.mean), "sd": str(bench.sd)},
        "z": quality.z_json(measure.id),
        "patients": tally.patients_json(),
    }


def _name(rating: Rating | None) -> str | None:
    return None if rating is None else rating.value


def prior_er_rate(report: Mapping[str, Any], where: str, year: int | None = None) -> Decimal | None:
    """Last year's risk-adjusted ER rate from its value report JSON (§12.3 "fell by at least
    half the gap between the prior year's rate and the mean"). With ``year`` (the performance
    year), the report must be of the year before: another year's rate would decide "reduced"
    against the wrong year."""
    from cpoc_fhir.errors import InputError

    if year is not None:
        found = report.get("year") if isinstance(report, Mapping) else None
        if found != year - 1:
            raise InputError(
                where, f"year: {found!r}, expected {year - 1} (the year before {year})"
            )
    er = report.get("er") if isinstance(report, Mapping) else None
    if not isinstance(er, Mapping):
        raise InputError(where, 'er: missing (expected a value report with an "er" object)')
    value = er.get("riskAdjustedRate")
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        raise InputError(where, f"er.riskAdjustedRate: not a number: {value!r}") from None
