"""Performance-based payment of the episode models (value-and-models §15.1 OCM, §15.2 EOM).

Per semi-annual performance period (episodes *starting* in it, performance_data.Period):

- benchmark per episode = baseline episode spend (its cancer type's, else the period's one
  figure) × trend × novel-therapy factor + novel-therapy amount;
- target price = benchmark × (1 − the arrangement's discount) (OCM one-sided: 4 %);
- actual spend per episode = the claim items dated from the episode's start to its end,
  inclusive, at their paid amounts, the model's ``exclude_codes`` left out (OCM: the MEOS
  G9678, which OCM's reconciliation does not count as episode spend);
- the period: savings = Σ target − Σ actual. Positive: PBP = savings × savings share × the
  quality multiplier (the aggregate quality score's tier, or the payer's figure), at most the
  stop-gain × Σ benchmark. Negative: nothing for a one-sided arrangement; for a two-sided one a
  recoupment = −savings × loss share × the recoupment multiplier, at most the stop-loss ×
  Σ benchmark.

Decimal throughout; each figure shown is rounded once, to cents, from the unrounded sums.
Pure: the claims come in as items (``SpendItem``), the episodes from the pack's timelines.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from cpoc_fhir.engine.episodes import Episode
from cpoc_fhir.engine.facts import PatientRecord
from cpoc_fhir.packs.performance_data import (
    ONE,
    ZERO,
    Arrangement,
    ModelPbp,
    PeriodData,
    QualityTier,
)

CENT = Decimal("0.01")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


class SpendItem(Protocol):
    """A claim item as ``economics.claims.ClaimLine`` has it."""

    @property
    def on(self) -> date: ...
    @property
    def code(self) -> str: ...
    @property
    def amount(self) -> Decimal | None: ...
    @property
    def evidence(self) -> str: ...


@dataclass(frozen=True)
class EpisodeResult:
    """One episode of the period: its benchmark, target and actual spend (unrounded)."""

    patient: str
    episode: Episode
    cancer_type: str | None
    baseline_basis: str  # the cancer type whose baseline it took, or "default"
    benchmark: Decimal
    target: Decimal
    actual: Decimal
    items: int  # claim items counted
    excluded: int  # items of an excluded code (MEOS) inside the episode
    unpriced: tuple[str, ...]  # evidence of items with no amount (left out)
    complete: bool  # ended by as-of

    @property
    def savings(self) -> Decimal:
        return self.target - self.actual

    @property
    def not_counted(self) -> str | None:
        """Why the episode is left out of the period's figures; None when it counts: it must
        have ended by as-of and its trigger be on record as given or filled (not planned)."""
        if not self.episode.confirmed:
            return "provisional: its trigger is planned, not given"
        if not self.complete:
            return "open: ends after as-of"
        return None

    def as_json(self) -> dict[str, Any]:
        return {
            "patient": self.patient,
            "episode": self.episode.index,
            "start": self.episode.start.isoformat(),
            "end": self.episode.end.isoformat(),
            "cancerType": self.cancer_type,
            "baselineBasis": self.baseline_basis,
            "benchmark": str(cents(self.benchmark)),
            "target": str(cents(self.target)),
            "actual": str(cents(self.actual)),
            "savings": str(cents(self.savings)),
            "items": self.items,
            "excludedItems": self.excluded,
            "unpriced": list(self.unpriced),
            "complete": self.complete,
            "confirmed": self.episode.confirmed,
            "counted": self.not_counted is None,
            "notCounted": self.not_counted,
        }


def cancer_type(
    record: PatientRecord, episode: Episode, types: Mapping[str, tuple[str, ...]]
) -> str | None:
    """The episode's cancer type: the pack's, else the first of the payer file's types a
    diagnosis active on the episode's start has (ICD-10-CM prefixes), else None."""
    if episode.cancer_type is not None:
        return episode.cancer_type
    for diagnosis in record.diagnoses:
        if not diagnosis.active_during(episode.start, episode.start):
            continue
        for kind, prefixes in types.items():
            if any(code.upper().replace(".", "").startswith(prefixes) for code in diagnosis.icd10):
                return kind
    return None


def benchmark(data: PeriodData, kind: str | None) -> tuple[Decimal, str]:
    baseline, basis = data.baseline_for(kind)
    return baseline * data.trend * data.novel_factor + data.novel_amount, basis


def target_price(bench: Decimal, arrangement: Arrangement) -> Decimal:
    return bench * (ONE - arrangement.discount)


def episode_result(
    patient: str,
    episode: Episode,
    kind: str | None,
    items: Iterable[SpendItem],
    model: ModelPbp,
    data: PeriodData,
    as_of: date,
) -> EpisodeResult:
    """The episode's figures; ``items``: the patient's claim items (any dates)."""
    bench, basis = benchmark(data, kind)
    actual, counted, excluded = ZERO, 0, 0
    unpriced: list[str] = []
    for item in items:
        if not episode.start <= item.on <= episode.end:
            continue
        if item.code in model.exclude_codes:
            excluded += 1
        elif item.amount is None:
            unpriced.append(item.evidence)
        else:
            actual += item.amount
            counted += 1
    return EpisodeResult(
        patient=patient,
        episode=episode,
        cancer_type=kind,
        baseline_basis=basis,
        benchmark=bench,
        target=target_price(bench, model.arrangement),
        actual=actual,
        items=counted,
        excluded=excluded,
        unpriced=tuple(unpriced),
        complete=episode.end <= as_of,
    )


def in_period(episodes: Iterable[Episode], model: str, data: PeriodData) -> list[Episode]:
    """The model's episodes that start in the period (OCM assigned episodes by start)."""
    return [e for e in episodes if e.model == model and data.period.holds(e.start)]


def aggregate_score(scores: Mapping[str, Decimal], measures: Sequence[str]) -> Decimal | None:
    """The mean of the measures' scores (all the period's scores when no list is given)."""
    chosen = [scores[m] for m in measures] if measures else list(scores.values())
    if not chosen:
        return None
    return sum(chosen, ZERO) / len(chosen)


def tier_for(score: Decimal, tiers: Sequence[QualityTier]) -> QualityTier:
    """The highest tier whose minimum the score reaches (tiers ascend from 0)."""
    return [t for t in tiers if t.min_score <= score][-1]


@dataclass(frozen=True)
class Quality:
    score: Decimal | None  # the aggregate quality score; None when the payer states the multiplier
    multiplier: Decimal
    recoupment_multiplier: Decimal
    basis: str

    def as_json(self) -> dict[str, Any]:
        return {
            "aggregateScore": None
            if self.score is None
            else str(self.score.quantize(Decimal("0.0001"))),
            "multiplier": str(self.multiplier),
            "recoupmentMultiplier": str(self.recoupment_multiplier),
            "basis": self.basis,
        }


def quality(model: ModelPbp, data: PeriodData) -> Quality:
    if data.multiplier is not None:
        recoup = data.recoupment_multiplier if data.recoupment_multiplier is not None else ONE
        return Quality(None, data.multiplier, recoup, "stated by the payer")
    score = aggregate_score(data.scores, model.measures)
    if score is None:
        score = ZERO  # no score reported: the lowest tier
    tier = tier_for(score, model.tiers)
    stated = data.recoupment_multiplier
    return Quality(
        score,
        tier.multiplier,
        tier.recoupment_multiplier if stated is None else stated,
        f"tier from aggregate score {tier.min_score}",
    )


@dataclass(frozen=True)
class Settlement:
    """The period's outcome: what the payer pays (pbp) or recoups, rounded once."""

    benchmark: Decimal
    target: Decimal
    actual: Decimal
    savings: Decimal
    pbp: Decimal
    recoupment: Decimal
    capped: str = ""  # which limit applied, when one did
    reason: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "benchmark": str(cents(self.benchmark)),
            "target": str(cents(self.target)),
            "actual": str(cents(self.actual)),
            "savings": str(cents(self.savings)),
            "pbp": str(cents(self.pbp)),
            "recoupment": str(cents(self.recoupment)),
            "capped": self.capped or None,
            "reason": self.reason,
        }


def settle(
    benchmark_total: Decimal,
    target_total: Decimal,
    actual_total: Decimal,
    arrangement: Arrangement,
    grade: Quality,
) -> Settlement:
    """PBP or recoupment of the period's sums (unrounded in, rounded once out)."""
    savings = target_total - actual_total
    pbp = recoupment = ZERO
    capped = ""
    if savings > 0:
        pbp = savings * arrangement.savings_share * grade.multiplier
        reason = (
            f"savings × share {arrangement.savings_share} × quality multiplier {grade.multiplier}"
        )
        if arrangement.stop_gain is not None and pbp > arrangement.stop_gain * benchmark_total:
            pbp = arrangement.stop_gain * benchmark_total
            capped = f"stop-gain: {arrangement.stop_gain} of the total benchmark"
    elif savings < 0 and arrangement.two_sided:
        recoupment = -savings * arrangement.loss_share * grade.recoupment_multiplier
        reason = (
            f"losses × share {arrangement.loss_share} × recoupment multiplier "
            f"{grade.recoupment_multiplier}"
        )
        limit = arrangement.stop_loss
        if limit is not None and recoupment > limit * benchmark_total:
            recoupment = limit * benchmark_total
            capped = f"stop-loss: {limit} of the total benchmark"
    elif savings < 0:
        reason = "actual spend above target: one-sided risk, nothing owed"
    else:
        reason = "actual spend equals target"
    return Settlement(
        cents(benchmark_total),
        cents(target_total),
        cents(actual_total),
        cents(savings),
        cents(pbp),
        cents(recoupment),
        capped,
        reason,
    )


@dataclass
class PeriodResult:
    model: str
    period: str
    arrangement: Arrangement
    quality: Quality
    episodes: list[EpisodeResult] = field(default_factory=list)
    settlement: Settlement | None = None

    def as_json(self) -> dict[str, Any]:
        counted = [e for e in self.episodes if e.not_counted is None]
        return {
            "model": self.model,
            "period": self.period,
            "arrangement": {
                "name": self.arrangement.name,
                "discount": str(self.arrangement.discount),
                "twoSided": self.arrangement.two_sided,
                "savingsShare": str(self.arrangement.savings_share),
                "lossShare": str(self.arrangement.loss_share),
                "stopGain": _text(self.arrangement.stop_gain),
                "stopLoss": _text(self.arrangement.stop_loss),
            },
            "quality": self.quality.as_json(),
            "episodes": [e.as_json() for e in self.episodes],
            "counted": len(counted),
            "notCountedEpisodes": len(self.episodes) - len(counted),
            "settlement": None if self.settlement is None else self.settlement.as_json(),
        }


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def period_result(
    model: ModelPbp, data: PeriodData, episodes: Iterable[EpisodeResult]
) -> PeriodResult:
    """The period's episodes and settlement: only episodes ended by as-of and confirmed are
    counted (``EpisodeResult.not_counted``)."""
    grade = quality(model, data)
    result = PeriodResult(model.model, data.period.name, model.arrangement, grade)
    result.episodes = sorted(episodes, key=lambda e: (e.episode.start, e.patient, e.episode.index))
    counted = [e for e in result.episodes if e.not_counted is None]
    result.settlement = settle(
        sum((e.benchmark for e in counted), ZERO),
        sum((e.target for e in counted), ZERO),
        sum((e.actual for e in counted), ZERO),
        model.arrangement,
        grade,
    )
    if not counted:
        result.settlement = replace(result.settlement, reason="no episode of the period counted")
    return result
