"""The care pathway rating: the proposal's IV-A.2 table (seed 002, "How Payment Should Support
the Implementation and Use of Care Pathways"), value-and-models §12.1. Quoted:

    Availability of Care   How an Oncology Practice Uses Pathways        PHASE 1       PHASE 2
    Pathway(s)
    No Pathway exists for                                                "Appropriate" "Appropriate"
    a particular type of
    cancer
    One or more Care       The practice does not use any available       "Low"         "Low"
    Pathways exist for a   pathway
    particular type of     The practice uses a pathway and reports on    "Appropriate" N/A
    cancer                 its adherence and reasons for deviation.
                           The practice uses a pathway and its           "Appropriate" "Low"
                           adherence rate is more than one standard
                           deviation below average
                           The practice uses a pathway and its           "Appropriate" "Appropriate"
                           adherence rate is less than one standard
                           deviation below average
                           The practice uses a pathway and its           "Appropriate" "High"
                           adherence rate is at or above the minimum
                           expected level

Phase 2, gaps and overlaps: a rate exactly at mean − sd is not "more than one SD below" →
Appropriate (or High); when minimum_expected is below mean − sd, a rate between the two is
Low (Low wins); a rate above the mean but below minimum_expected is Appropriate. Comparisons
are exact (rationals, not floats). Used by the adherence report (per pathway and overall) and
the value report's pathway measure (per cancer type and for the practice).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from cpoc_fhir.reports.benchmarks import Benchmark
from cpoc_fhir.reports.render import pct
from cpoc_fhir.value.model import Rating

HIGH, APPROPRIATE, LOW, NOT_RATED = "High", "Appropriate", "Low", "not rated"
_VALUES = {HIGH: Rating.HIGH, APPROPRIATE: Rating.APPROPRIATE, LOW: Rating.LOW}


@dataclass(frozen=True)
class PathwayRating:
    """A rating with the reason for it. ``rating``: High | Appropriate | Low | not rated."""

    rating: str
    why: str
    note: str | None = None  # "not used", "no benchmark file", …

    @property
    def label(self) -> str:
        return f"{self.rating} ({self.note})" if self.note else self.rating

    @property
    def value(self) -> Rating | None:
        """The §12.4 rating (None when not rated)."""
        return _VALUES.get(self.rating)

    def as_json(self) -> dict[str, Any]:
        return {"rating": self.rating, "note": self.note, "why": self.why}


UNRATED = PathwayRating(
    NOT_RATED, "no benchmark file given (--benchmarks): rates only", "no benchmark file"
)
NO_PATHWAY = PathwayRating(
    APPROPRIATE,
    "no pathway exists for these orders (IV-A table, first row; both phases)",
    "no pathway exists",
)


def not_used(why: str) -> PathwayRating:
    """IV-A row 2: the practice does not use an available pathway (Low in both phases)."""
    return PathwayRating(LOW, f"{why}: the practice does not use an available pathway", "not used")


def used(why: str) -> PathwayRating:
    """Phase 1, the practice uses a pathway and reports adherence and reasons: Appropriate."""
    return PathwayRating(APPROPRIATE, f"uses the pathway and reports adherence: {why}")


def phase2(rate: Fraction, bench: Benchmark, source: str) -> PathwayRating:
    """Phase 2 for a used pathway: Low below mean − sd, High at or above the minimum expected
    level, else Appropriate (Low wins where the two overlap)."""
    low = bench.low_below
    minimum = Fraction(bench.minimum_expected)
    figures = (
        f"rate {pct(rate)}; {source} benchmark mean {pct(bench.mean)}, sd {pct(bench.sd)}, "
        f"minimum expected {pct(bench.minimum_expected)}"
    )
    if rate < low:
        return PathwayRating(LOW, f"{figures}: more than one SD below the mean (< {pct(low)})")
    if rate >= minimum:
        return PathwayRating(HIGH, f"{figures}: at or above the minimum expected level")
    return PathwayRating(
        APPROPRIATE,
        f"{figures}: not more than one SD below the mean, below the minimum expected level",
    )


def rate_used(
    phase: int, rate: Fraction | None, bench: Benchmark | None, source: str, why: str
) -> PathwayRating:
    """The rating of a pathway (or cancer type, or practice) the practice uses."""
    if phase == 1:
        return used(why)
    if rate is None:
        return PathwayRating(NOT_RATED, "no decision in the rate", "no decisions")
    if bench is None:
        return PathwayRating(NOT_RATED, f"no {source} benchmark", "no benchmark")
    return phase2(rate, bench, source)
