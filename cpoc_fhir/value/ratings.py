"""Quality and emergency-visit ratings (value-and-models §12.2, §12.3; proposal IV-B, IV-C).

Quality — the proposal's section IV-B.2 table (seed 002, "How Payment Should Support Quality
Measurement and Improvement"), quoted:

    Measurement and Performance on Quality      PHASE 1          PHASE 2        PHASE 3
    by Oncology Practice
    Oncology practice does not collect and      "Appropriate"    "Low"          "Low"
    submit quality measures applicable to all
    patients to a national registry for
    medical oncology (e.g., QOPI*)
    Oncology practice collects and submits      "High" (No       "Appropriate"  "Low"
    measures, and quality measures are more     penalty in
    than one standard deviation below average   Phase 1 for
    for comparable patients                     poor performance
                                                on quality
                                                measures)
    Oncology practice quality measures are      "High"           "Appropriate"  "Appropriate"
    within one standard deviation above or
    below average levels
    Oncology practice quality measures are      "High"           "High"         "High"
    more than one standard deviation above
    average levels

Emergency visits — the proposal's section IV-C.2 table (seed 002, "How Payment Should Support
the Development of Oncology Medical Homes and Minimize the Use of Emergency Rooms"), quoted:

    Oncology Practice Performance in Avoiding    PHASE 1              PHASE 2
    ER Visits
    The practice meets accreditation standards   "High"               No impact on payment
    for oncology medical home                                         (Payment levels
                                                                      determined by rate of
                                                                      emergency room and
                                                                      hospital use)
    The practice's patients have risk-adjusted   "Typical" (unless    "Low" (unless the
    rates of emergency room visits for           the oncology         practice has reduced
    oncology-related conditions that are more    practice meets the   the risk-adjusted rate
    than one standard deviation above average    standards for        of ER visits)
                                                 oncology medical
                                                 homes)
    The practice's patients have risk-adjusted   "High"               "Typical"
    rates of emergency room visits for
    oncology-related conditions that are more
    than one standard deviation above average,
    but the risk-adjusted rate has decreased by
    at least one-half of the difference between
    the prior year's rate and the average
    The practice's patients have risk-adjusted   "Typical"            "Typical"
    rates of oncology-related ER visits that
    are within one standard deviation above or
    below average
    The practice's patients have risk-adjusted   "High" (regardless   "High"
    rates of oncology-related ER visits more     of whether practice
    than one standard deviation below average    meets standards for
                                                 oncology medical
                                                 homes)

How this implementation reads them ("typical" = appropriate):

- Quality (§12.2). Per measure, z = (rate − mean) / sd, negated for a measure whose better
  direction is "decrease" so that a higher z is always better. A measure is reported but left
  out of the composite when its denominator is under ``ValueSettings.minimum_denominator``,
  it has no rate (denominator − exclusions = 0), no benchmark, or a benchmark sd ≤ 0 (z is
  undefined). Composite = the mean of the z of the measures in it, None when none is.
  "More than one SD above/below average" is composite > +1 / composite < −1: a composite of
  exactly +1 or −1 is "within one standard deviation" (§12.2 **Interpretation**). Phase 1:
  submitting → High, not → Appropriate (no benchmark figure is needed). Phase 2: not
  submitting → Low, composite > +1 → High, else Appropriate. Phase 3: not submitting → Low,
  composite < −1 → Low, > +1 → High, else Appropriate. A composite of None (no measure could
  be compared) is "within one SD": Appropriate.
- Emergency visits (§12.3). Lower is better. "More than one SD below" is rate < mean − sd,
  "more than one SD above" is rate > mean + sd: a rate exactly at mean ± sd is within one SD
  (typical). "Reduced" = a prior-year rate is known and prior − rate ≥ (prior − mean) / 2:
  the rate fell by at least half the gap between the prior year's rate and the mean (it can
  only hold when the prior rate was above the mean). Phase 1: medical home → High; below →
  High; above → High if reduced, else Typical; else Typical. Phase 2: the medical home has no
  effect; below → High; above → Typical if reduced, else Low; else Typical.
  Note: the proposal's II-B.1 says "one standard deviation or more below the mean" for ER
  use, IV-C.2 and §12.3 say "more than": this follows §12.3.
- Without a benchmarks file nothing is rated (None), even where a phase needs no figure:
  the value report's ratings and adjustment are null then. A benchmarks file with no quality
  figure at all leaves a submitting practice unrated in Phases 2 and 3 (None). Without an
  ER rate (no CPOC Treatment or Active Monitoring month in the year) ER is not rated, except
  a Phase 1 medical home, which is High whatever its rate.

Every comparison is exact: rates, means and SDs become ``Fraction`` (a Decimal converts
exactly), never float.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Protocol

from cpoc_fhir.errors import CpocError, KnowledgeError
from cpoc_fhir.value.model import ErBenchmarks, MeasureBenchmark, MeasureTally, Rating
from cpoc_fhir.value.settings import ValueSettings

QUALITY_PHASES = (1, 2, 3)
ER_PHASES = (1, 2)
INCREASE, DECREASE = "increase", "decrease"
ONE = Fraction(1)


class RatingError(CpocError, ValueError):
    """A phase, measure or participation year the tables have no place for (bad usage)."""


class MeasureInfo(Protocol):
    """What the rating needs of a measure (``QualityMeasure`` has it): id and better direction."""

    @property
    def id(self) -> str: ...

    @property
    def improvement(self) -> str: ...


@dataclass(frozen=True)
class QualityRating:
    """The quality composite (§12.2) and what it rests on.

    ``z`` per measure id (None when not comparable), ``in_composite`` per id, ``excluded``
    the reason a measure is left out of the composite, ``rating`` None without benchmarks.
    """

    phase: int
    submitting: bool
    z: dict[str, Fraction | None] = field(default_factory=dict)
    in_composite: dict[str, bool] = field(default_factory=dict)
    excluded: dict[str, str] = field(default_factory=dict)
    composite: Fraction | None = None
    rating: Rating | None = None

    def z_json(self, measure_id: str) -> float | None:
        """The z of one measure as the value report writes it (4 decimal places)."""
        return _rounded(self.z.get(measure_id))

    @property
    def composite_json(self) -> float | None:
        return _rounded(self.composite)


def _rounded(value: Fraction | None) -> float | None:
    return None if value is None else round(float(value), 4)


def rate_quality(
    tallies: Sequence[MeasureTally],
    measures: Sequence[MeasureInfo],
    benchmarks: Mapping[str, MeasureBenchmark] | None,
    phase: int,
    submitting: bool,
    settings: ValueSettings,
) -> QualityRating:
    """Per-measure z, the composite and the IV-B rating (module docstring)."""
    if phase not in QUALITY_PHASES:
        raise RatingError(f"quality phase must be 1, 2 or 3, got {phase!r}")
    improvement = {m.id: m.improvement for m in measures}
    z: dict[str, Fraction | None] = {}
    in_composite: dict[str, bool] = {}
    excluded: dict[str, str] = {}
    for tally in tallies:
        if tally.id not in improvement:
            raise RatingError(f"measure {tally.id!r} has no improvement notation")
        bench = benchmarks.get(tally.id) if benchmarks is not None else None
        value = measure_z(tally.rate, bench, improvement[tally.id])
        z[tally.id] = value
        reason = _left_out(tally, bench, value, settings.minimum_denominator)
        in_composite[tally.id] = reason is None
        if reason is not None:
            excluded[tally.id] = reason
    used = [value for mid, value in z.items() if in_composite[mid] and value is not None]
    composite = sum(used, Fraction(0)) / len(used) if used else None
    rating = None
    # A benchmarks file without any quality figure (no [quality] section) cannot rate a
    # submitting practice in Phases 2 and 3: only the composite decides there, and there is
    # nothing to compare with (as a file without [er] leaves ER unrated). Phase 1, and "not
    # submitting" in Phases 2-3, need no figure.
    no_figures = benchmarks is not None and not benchmarks and phase > 1 and submitting
    if benchmarks is not None and not no_figures:
        rating = quality_rating(composite, phase, submitting)
    return QualityRating(phase, submitting, z, in_composite, excluded, composite, rating)


def measure_z(
    rate: Fraction | None, benchmark: MeasureBenchmark | None, improvement: str
) -> Fraction | None:
    """(rate − mean) / sd, sign-corrected so that higher is better; None if not comparable."""
    if improvement not in (INCREASE, DECREASE):
        raise RatingError(f"improvement must be 'increase' or 'decrease', got {improvement!r}")
    if rate is None or benchmark is None or benchmark.sd <= 0:
        return None
    value = (Fraction(rate) - Fraction(benchmark.mean)) / Fraction(benchmark.sd)
    return value if improvement == INCREASE else -value


def _left_out(
    tally: MeasureTally, bench: MeasureBenchmark | None, z: Fraction | None, minimum: int
) -> str | None:
    """Why a measure is reported but not in the composite (§12.2), or None."""
    if tally.denominator < minimum:
        return f"denominator {tally.denominator} is under {minimum}"
    if tally.rate is None:
        return "no rate: every case in the denominator is excluded"
    if bench is None:
        return "no benchmark for the measure"
    if z is None:
        return f"benchmark sd is {bench.sd}: no z-score"
    return None


def quality_rating(composite: Fraction | None, phase: int, submitting: bool) -> Rating:
    """The IV-B table for a composite z (None: no measure could be compared)."""
    if phase == 1:
        return Rating.HIGH if submitting else Rating.APPROPRIATE
    if not submitting:
        return Rating.LOW
    if composite is not None and composite > ONE:
        return Rating.HIGH
    if phase == 3 and composite is not None and composite < -ONE:
        return Rating.LOW
    return Rating.APPROPRIATE


def rate_er(
    rate: Decimal | None,
    prior_rate: Decimal | None,
    benchmarks: ErBenchmarks | None,
    phase: int,
    medical_home: bool,
) -> Rating | None:
    """The IV-C rating of a risk-adjusted ER rate (weighted visits per 100 patient-months)."""
    if phase not in ER_PHASES:
        raise RatingError(f"ER phase must be 1 or 2, got {phase!r}")
    if benchmarks is None:
        return None
    if benchmarks.sd < 0:
        raise KnowledgeError(f"benchmarks: er.sd must not be negative, got {benchmarks.sd}")
    if phase == 1 and medical_home:
        return Rating.HIGH
    if rate is None:
        return None
    r, mean, sd = Fraction(rate), Fraction(benchmarks.mean), Fraction(benchmarks.sd)
    if r < mean - sd:
        return Rating.HIGH
    if r > mean + sd:
        reduced = er_reduced(r, prior_rate, mean)
        if phase == 1:
            return Rating.HIGH if reduced else Rating.APPROPRIATE
        return Rating.APPROPRIATE if reduced else Rating.LOW
    return Rating.APPROPRIATE


def er_reduced(rate: Fraction, prior_rate: Decimal | None, mean: Fraction) -> bool:
    """The rate fell by at least half the gap between the prior year's rate and the mean."""
    if prior_rate is None:
        return False
    prior = Fraction(prior_rate)
    return prior > mean and prior - rate >= (prior - mean) / 2
