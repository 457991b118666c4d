"""The pathway measure of the value report (value-and-models §12.1, proposal IV-A).

From the pathway decisions store (``cpoc_fhir.store.pathways``), the decisions of the year:

- a **decision** is a signed order assessed against a care pathway (on- or off-pathway);
  orders for which no pathway exists or none could be determined are no decision (they make
  a cancer type "no pathway exists", table row 1); orders never signed are not counted;
- **on pathway**: on-pathway decisions and switches (an off-pathway order replaced by an
  accepted on-pathway suggestion of the card; §12.1 "switches count as on-pathway");
- a **deviation**: an off-pathway decision not switched; "with a reason": the card was
  overridden with a coded reason or a comment;
- **clinical trial** (Interpretation, §12.1, *(config)* ``trial_deviations_excluded``): a
  deviation whose override reason is the pathway card's code ``clinical-trial`` leaves the
  denominator (counted in ``excludedTrial``); it stays a deviation with a reason for "uses";
- rate = on pathway / decisions (after the exclusion), pooled and per cancer type;
- a cancer type is **used** when it has ≥ 1 decision in the year and reasons for at least
  ``pathway_reason_share`` (80 %) of its deviations *(config)*; no deviation → 100 %;
- ratings (``pathway_rating``): per cancer type, and for the practice from the pooled rate
  against the pooled ``[overall]`` benchmark, **low** if any cancer type with a pathway is
  not used. Per cancer type the benchmark is ``[overall]`` too (the file's pathway entries are
  per pathway, a cancer type may have several).

Cancer types "with a pathway" (Interpretation): the cancer types of the pathways the
benchmarks file lists as ``available`` (found in the practice's pathway library), else of every
pathway in the library, together with every cancer type that had a decision.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from cpoc_fhir.reports.benchmarks import Benchmarks
from cpoc_fhir.reports.render import decimal_text
from cpoc_fhir.store.pathways import StoredDecision
from cpoc_fhir.value import pathway_rating
from cpoc_fhir.value.pathway_rating import NO_PATHWAY, PathwayRating
from cpoc_fhir.value.settings import ValueSettings

TRIAL_REASON = "clinical-trial"  # cds_hooks.pathway_cards.DEVIATION_REASONS
UNKNOWN_CANCER = "(cancer not known)"


@dataclass
class CancerPathways:
    """One cancer type's decisions of the year."""

    cancer: str
    has_pathway: bool = False
    on: int = 0  # on-pathway decisions and switches
    deviations: int = 0  # in the denominator or not (trial)
    with_reason: int = 0
    excluded_trial: int = 0
    no_pathway: int = 0  # signed orders with no pathway or an undetermined one
    rating: PathwayRating | None = None

    @property
    def decisions(self) -> int:
        """The denominator: on pathway + deviations, less those of a clinical trial."""
        return self.on + self.deviations - self.excluded_trial

    @property
    def rate(self) -> Fraction | None:
        return Fraction(self.on, self.decisions) if self.decisions else None

    def reason_share(self) -> Fraction:
        return Fraction(self.with_reason, self.deviations) if self.deviations else Fraction(1)

    def uses(self, share: Decimal) -> bool:
        return self.on + self.deviations > 0 and self.reason_share() >= Fraction(share)


@dataclass
class PathwayMeasure:
    cancers: list[CancerPathways] = field(default_factory=list)
    rating: PathwayRating | None = None
    reason_share: Decimal = Decimal("0.80")

    @property
    def on(self) -> int:
        return sum(c.on for c in self.cancers)

    @property
    def decisions(self) -> int:
        return sum(c.decisions for c in self.cancers)

    @property
    def excluded_trial(self) -> int:
        return sum(c.excluded_trial for c in self.cancers)

    @property
    def rate(self) -> Fraction | None:
        return Fraction(self.on, self.decisions) if self.decisions else None

    def as_json(self) -> dict[str, Any]:
        """The value report's ``pathways`` object."""
        return {
            "rate": decimal_text(self.rate),
            "decisions": self.decisions,
            "onPathway": self.on,
            "excludedTrial": self.excluded_trial,
            "byCancer": [
                {
                    "cancer": c.cancer,
                    "rate": decimal_text(c.rate),
                    "decisions": c.decisions,
                    "onPathway": c.on,
                    "excludedTrial": c.excluded_trial,
                    "deviations": c.deviations,
                    "withReason": c.with_reason,
                    "uses": c.uses(self.reason_share),
                    "rating": _value(c.rating),
                }
                for c in self.cancers
            ],
            "rating": _value(self.rating),
        }


def _value(rating: PathwayRating | None) -> str | None:
    value = rating.value if rating is not None else None
    return value.value if value is not None else None


def is_trial_deviation(decision: StoredDecision) -> bool:
    fb = decision.feedback
    return fb is not None and fb.outcome == "overridden" and fb.reason_code == TRIAL_REASON


def pathway_cancers(benchmarks: Benchmarks | None, library: Mapping[str, str]) -> set[str]:
    """The cancer types with a pathway: of the ``available`` pathways (``library``: pathway
    id → cancer type), else of every pathway in the library."""
    if benchmarks is not None and benchmarks.available:
        return {library[p] for p in benchmarks.available if p in library}
    return set(library.values())


def pathway_measure(
    decisions: Iterable[StoredDecision],
    settings: ValueSettings,
    benchmarks: Benchmarks | None,
    phase: int,
    with_pathway: Iterable[str] = (),
) -> PathwayMeasure:
    """Count the year's decisions (assumed to be in it) and rate them (nothing is rated
    without a benchmarks file)."""
    rows: dict[str, CancerPathways] = {c: CancerPathways(c, True) for c in with_pathway}
    for d in decisions:
        if not d.signed:
            continue
        cancer = d.cancer or UNKNOWN_CANCER
        row = rows.setdefault(cancer, CancerPathways(cancer))
        if d.status not in ("on-pathway", "off-pathway"):
            row.no_pathway += 1
            continue
        row.has_pathway = True
        if d.status == "on-pathway" or d.accepted:
            row.on += 1
            continue
        row.deviations += 1
        row.with_reason += d.override_reason
        if settings.trial_deviations_excluded and is_trial_deviation(d):
            row.excluded_trial += 1
    measure = PathwayMeasure(
        sorted(rows.values(), key=lambda c: c.cancer), reason_share=settings.pathway_reason_share
    )
    if benchmarks is not None:
        _rate(measure, benchmarks, phase, settings.pathway_reason_share)
    return measure


def _rate(measure: PathwayMeasure, benchmarks: Benchmarks, phase: int, share: Decimal) -> None:
    pooled = benchmarks.overall
    unused = []
    for c in measure.cancers:
        if not c.has_pathway:
            c.rating = NO_PATHWAY
        elif not c.uses(share):
            unused.append(c.cancer)
            c.rating = pathway_rating.not_used(_unused_why(c, share))
        else:
            c.rating = pathway_rating.rate_used(phase, c.rate, pooled, "overall", _why(c))
    if unused:
        measure.rating = pathway_rating.not_used(
            f"a cancer type with a pathway not used in the year ({', '.join(unused)})"
        )
    elif not any(c.has_pathway for c in measure.cancers):
        # Only orders for which no pathway exists (IV-A row 1), or no order at all.
        measure.rating = NO_PATHWAY if measure.cancers else None
    else:
        why = f"{measure.decisions} decisions, rate {decimal_text(measure.rate)}"
        measure.rating = pathway_rating.rate_used(phase, measure.rate, pooled, "overall", why)


def _why(c: CancerPathways) -> str:
    return f"{c.decisions} decisions, {c.deviations} deviations ({c.with_reason} with a reason)"


def _unused_why(c: CancerPathways, share: Decimal) -> str:
    if c.on + c.deviations == 0:
        return f"{c.cancer}: a pathway exists but no decision was made against it in the year"
    return (
        f"{c.cancer}: reasons given for {c.with_reason} of {c.deviations} deviations, under "
        f"{share:%} of them"
    )
