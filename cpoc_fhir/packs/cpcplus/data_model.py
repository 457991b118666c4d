"""CPC+'s data file, parsed (value-and-models §15.3): amounts per track and tier, model dates,
the Charlson proxy's tier thresholds. Pure: pack.py reads the file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Threshold:
    """The proxy gives ``tier`` from a Charlson index of ``min_score`` or more."""

    track: int
    min_score: int
    tier: int


@dataclass(frozen=True)
class CpcPlusData:
    display: str
    code_format: str  # "CPCP-T{track}-{tier}": the practice's own codes (illustrative)
    model_start: date  # first day of the model's first month
    model_end: date  # last day of its last month
    amounts: Mapping[tuple[int, int], Decimal]  # (track, tier) → per beneficiary per month
    thresholds: tuple[Threshold, ...]  # per track, descending min_score
    charlson_weights: str
    include_cancer: bool
    lookback_days: int
    attribution: str | None = None  # the attribution file, relative to the data file
    source: str = ""

    def code(self, track: int, tier: int) -> str:
        return self.code_format.format(track=track, tier=tier)

    def tiers(self, track: int) -> tuple[int, ...]:
        return tuple(sorted(tier for t, tier in self.amounts if t == track))

    def proxy_tier(self, track: int, score: int) -> tuple[int, int]:
        """(tier, the threshold it reached) for a Charlson index ``score`` on ``track``."""
        for threshold in self.thresholds:
            if threshold.track == track and score >= threshold.min_score:
                return threshold.tier, threshold.min_score
        raise ValueError(f"CPC+ data: no proxy tier for track {track} score {score}")


def _date(value: Any, name: str) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def parse(raw: Mapping[str, Any], where: str) -> CpcPlusData:
    """The data file's content; ValueError naming the file and the problem when it is bad."""
    try:
        cmf = raw["cmf"]
        amounts: dict[tuple[int, int], Decimal] = {}
        for entry in cmf["amounts"]:
            key = (int(entry["track"]), int(entry["tier"]))
            amount = Decimal(str(entry["amount"]))
            if key in amounts or amount < 0:
                raise ValueError(f"track {key[0]} tier {key[1]}: repeated or negative")
            amounts[key] = amount
        thresholds = tuple(
            sorted(
                (
                    Threshold(int(t["track"]), int(t["min_score"]), int(t["tier"]))
                    for t in raw["proxy"]["thresholds"]
                ),
                key=lambda t: (t.track, -t.min_score),
            )
        )
        for t in thresholds:
            if (t.track, t.tier) not in amounts:
                raise ValueError(f"proxy threshold: track {t.track} has no tier {t.tier} amount")
        for track in {t for t, _tier in amounts}:
            if not any(t.track == track and t.min_score <= 0 for t in thresholds):
                raise ValueError(f"proxy: track {track} needs a threshold with min_score 0")
        data = CpcPlusData(
            display=str(cmf.get("display", "CPC+ care management fee")),
            code_format=str(cmf.get("code_format", "CPCP-T{track}-{tier}")),
            model_start=_date(raw["model_start"], "model_start"),
            model_end=_date(raw["model_end"], "model_end"),
            amounts=amounts,
            thresholds=thresholds,
            charlson_weights=str(raw["proxy"].get("charlson_weights", "charlson1987")),
            include_cancer=bool(raw["proxy"].get("include_cancer", True)),
            lookback_days=int(raw["proxy"].get("lookback_days", 365)),
            attribution=str(raw["attribution"]) if raw.get("attribution") else None,
            source=str(raw.get("source", "")),
        )
        data.code(1, 1)  # a bad code_format fails here, not when billing
        if data.model_end < data.model_start:
            raise ValueError("model_end is before model_start")
        return data
    except (KeyError, TypeError, ArithmeticError, ValueError, IndexError) as exc:
        raise ValueError(f"{where}: bad CPC+ data ({exc!r})") from None
