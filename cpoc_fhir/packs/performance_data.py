"""The payer file of the episode models' performance-based payment (value-and-models §15.1,
§15.2): what it holds, parsed and checked. Pure: the report reads the file (reports/pbp_cli.py).

Per model (``[ocm]``, ``[eom]``): the risk arrangement chosen (``arrangement``) among those it
defines (discount, savings and loss shares, stop-gain and stop-loss limits as fractions of the
period's total benchmark), the codes left out of actual spend (OCM's MEOS), the aggregate
quality score's tiers (score → the share of a PBP kept, and of a recoupment owed), ICD-10-CM
prefixes that type an episode's cancer, and per semi-annual performance period
(``[ocm.periods.2019H1]``): the baseline episode spend (one figure, or by cancer type), the
trend factor, the novel-therapy adjustment (a factor and/or an amount per episode) and the
quality scores (or the multiplier the payer states). Every problem is an ``InputError``
naming the file and the key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from cpoc_fhir.errors import InputError

ONE = Decimal(1)
ZERO = Decimal(0)
_PERIOD = re.compile(r"(\d{4})H([12])")


@dataclass(frozen=True)
class Period:
    """A semi-annual performance period: episodes *starting* from ``start`` to ``end``."""

    name: str  # "2019H1"
    start: date
    end: date

    def holds(self, day: date) -> bool:
        return self.start <= day <= self.end


def parse_period(text: str, where: str = "--period") -> Period:
    """ "2019H1" → episodes starting 2019-01-01 … 2019-06-30; "2019H2" → 07-01 … 12-31."""
    found = _PERIOD.fullmatch(text.strip().upper())
    if found is None:
        raise InputError(where, f"not a performance period (YYYYH1 or YYYYH2): {text!r}")
    year, half = int(found[1]), found[2]
    if half == "1":
        return Period(found[0], date(year, 1, 1), date(year, 6, 30))
    return Period(found[0], date(year, 7, 1), date(year, 12, 31))


@dataclass(frozen=True)
class Arrangement:
    """A risk arrangement: one-sided (no recoupment) or two-sided (value-and-models §15.2)."""

    name: str
    discount: Decimal  # the target price is the benchmark × (1 − discount)
    two_sided: bool
    savings_share: Decimal = ONE  # of (target − actual) when positive
    loss_share: Decimal = ONE  # of (actual − target) when positive, two-sided only
    stop_gain: Decimal | None = None  # PBP ≤ stop_gain × Σ benchmark
    stop_loss: Decimal | None = None  # recoupment ≤ stop_loss × Σ benchmark


@dataclass(frozen=True)
class QualityTier:
    min_score: Decimal  # the aggregate quality score (0-1) from which the tier applies
    multiplier: Decimal  # the share of a PBP kept
    recoupment_multiplier: Decimal = ONE  # the share of a recoupment owed


@dataclass(frozen=True)
class PeriodData:
    """One performance period's figures."""

    period: Period
    baseline: Decimal  # baseline episode spend when the cancer type has none of its own
    baseline_by_cancer: Mapping[str, Decimal]
    trend: Decimal
    novel_factor: Decimal = ONE  # benchmark = baseline × trend × factor + amount
    novel_amount: Decimal = ZERO
    scores: Mapping[str, Decimal] = field(default_factory=dict)  # "OCM-1" → 0-1
    multiplier: Decimal | None = None  # stated by the payer: replaces the tiers
    recoupment_multiplier: Decimal | None = None

    def baseline_for(self, cancer_type: str | None) -> tuple[Decimal, str]:
        """The baseline of ``cancer_type``, else the period's one figure; and which it was."""
        if cancer_type is not None and cancer_type in self.baseline_by_cancer:
            return self.baseline_by_cancer[cancer_type], cancer_type
        return self.baseline, "default"


@dataclass(frozen=True)
class ModelPbp:
    """One model's part of the payer file."""

    model: str
    arrangement: Arrangement
    arrangements: Mapping[str, Arrangement]
    periods: Mapping[str, PeriodData]
    tiers: tuple[QualityTier, ...]  # ascending min_score
    measures: tuple[str, ...]  # the quality measures the score averages (equal weights)
    exclude_codes: frozenset[str]  # left out of actual spend
    cancer_types: Mapping[str, tuple[str, ...]]  # type → ICD-10-CM prefixes (no dot)

    def period(self, name: str, where: str) -> PeriodData:
        found = self.periods.get(name)
        if found is None:
            known = ", ".join(sorted(self.periods)) or "none"
            raise InputError(where, f"[{self.model}.periods] has no {name!r} (known: {known})")
        return found


@dataclass(frozen=True)
class PbpFile:
    where: str
    version: str
    source: str
    illustrative: bool
    currency: str
    models: Mapping[str, ModelPbp]

    def model(self, model: str) -> ModelPbp:
        found = self.models.get(model)
        if found is None:
            known = ", ".join(sorted(self.models)) or "none"
            raise InputError(self.where, f"no [{model}] table (models here: {known})")
        return found


_TOP_KEYS = {"version", "source", "illustrative", "currency", "ocm", "eom"}


def parse(raw: Mapping[str, Any], where: str) -> PbpFile:
    """The payer file from its TOML tables; ``InputError(where, "key: problem")``."""
    reader = _Reader(where)
    models = {
        name: _model(reader, name, raw[name])
        for name in ("ocm", "eom")
        if name in raw and reader.table(raw, name, name)
    }
    others = sorted(k for k in raw if k not in _TOP_KEYS)
    if others:
        raise InputError(where, f"{others[0]}: not a known key ({', '.join(sorted(_TOP_KEYS))})")
    if not models:
        raise InputError(where, "no [ocm] or [eom] table")
    return PbpFile(
        where=where,
        version=reader.text(raw, "version", "version", ""),
        source=reader.text(raw, "source", "source", ""),
        illustrative=reader.flag(raw, "illustrative", "illustrative", False),
        currency=reader.text(raw, "currency", "currency", "USD"),
        models=models,
    )


_MODEL_KEYS = {"arrangement", "arrangements", "exclude_codes", "quality", "cancer_types", "periods"}
_ARRANGEMENT_KEYS = {
    "discount",
    "two_sided",
    "savings_share",
    "loss_share",
    "stop_gain",
    "stop_loss",
}
_PERIOD_KEYS = {"trend", "baseline", "novel_therapy_factor", "novel_therapy_amount", "quality"}
_TIER_KEYS = {"min_score", "multiplier", "recoupment_multiplier"}


def _model(reader: _Reader, name: str, raw: dict[str, Any]) -> ModelPbp:
    reader.only(raw, _MODEL_KEYS, name)
    arrangements_raw = reader.table(raw, "arrangements", f"{name}.arrangements", required=True)
    arrangements = {
        key: _arrangement(
            reader,
            f"{name}.arrangements.{key}",
            key,
            reader.table(arrangements_raw, key, f"{name}.arrangements.{key}"),
        )
        for key in arrangements_raw
    }
    chosen = reader.text(raw, "arrangement", f"{name}.arrangement")
    if chosen not in arrangements:
        raise InputError(
            reader.where,
            f"{name}.arrangement: {chosen!r} is not one of [{name}.arrangements] "
            f"({', '.join(sorted(arrangements)) or 'none'})",
        )
    quality = reader.table(raw, "quality", f"{name}.quality")
    tiers = _tiers(reader, name, quality)
    measures = tuple(reader.texts(quality, "measures", f"{name}.quality.measures"))
    periods_raw = reader.table(raw, "periods", f"{name}.periods", required=True)
    periods = {
        key: _period(reader, name, key, reader.table(periods_raw, key, f"{name}.periods.{key}"))
        for key in periods_raw
    }
    for key, data in periods.items():
        if data.multiplier is None and not tiers:
            raise InputError(
                reader.where, f"{name}.periods.{key}: no multiplier and no [[{name}.quality.tiers]]"
            )
        if data.multiplier is None and not data.scores:
            raise InputError(
                reader.where, f"{name}.periods.{key}.quality: no scores and no multiplier"
            )
        missing = [m for m in measures if m not in data.scores]
        if data.multiplier is None and missing:
            raise InputError(
                reader.where, f"{name}.periods.{key}.quality: no score for {missing[0]!r}"
            )
    cancers_raw = reader.table(raw, "cancer_types", f"{name}.cancer_types")
    cancers = {
        kind: tuple(
            p.replace(".", "").upper()
            for p in reader.texts(cancers_raw, kind, f"{name}.cancer_types.{kind}")
        )
        for kind in cancers_raw
    }
    return ModelPbp(
        model=name,
        arrangement=arrangements[chosen],
        arrangements=arrangements,
        periods=periods,
        tiers=tiers,
        measures=measures,
        exclude_codes=frozenset(reader.texts(raw, "exclude_codes", f"{name}.exclude_codes")),
        cancer_types=cancers,
    )


def _arrangement(reader: _Reader, at: str, name: str, raw: dict[str, Any]) -> Arrangement:
    reader.only(raw, _ARRANGEMENT_KEYS, at)
    two_sided = reader.flag(raw, "two_sided", f"{at}.two_sided", False)
    stop_loss = reader.fraction(raw, "stop_loss", f"{at}.stop_loss", None)
    if stop_loss is not None and not two_sided:
        raise InputError(reader.where, f"{at}.stop_loss: a one-sided arrangement owes nothing")
    return Arrangement(
        name=name,
        discount=reader.fraction(raw, "discount", f"{at}.discount"),
        two_sided=two_sided,
        savings_share=reader.fraction(raw, "savings_share", f"{at}.savings_share", ONE),
        loss_share=reader.fraction(raw, "loss_share", f"{at}.loss_share", ONE),
        stop_gain=reader.fraction(raw, "stop_gain", f"{at}.stop_gain", None),
        stop_loss=stop_loss,
    )


def _tiers(reader: _Reader, name: str, quality: dict[str, Any]) -> tuple[QualityTier, ...]:
    raw = quality.get("tiers", [])
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        raise InputError(reader.where, f"{name}.quality.tiers: not an array of tables")
    tiers = []
    for index, tier in enumerate(raw):
        at = f"{name}.quality.tiers[{index}]"
        reader.only(tier, _TIER_KEYS, at)
        tiers.append(
            QualityTier(
                reader.fraction(tier, "min_score", f"{at}.min_score"),
                reader.fraction(tier, "multiplier", f"{at}.multiplier"),
                reader.fraction(tier, "recoupment_multiplier", f"{at}.recoupment_multiplier", ONE),
            )
        )
    tiers.sort(key=lambda t: t.min_score)
    if tiers and tiers[0].min_score != ZERO:
        raise InputError(reader.where, f"{name}.quality.tiers: the lowest min_score must be 0")
    return tuple(tiers)


def _period(reader: _Reader, model: str, key: str, raw: dict[str, Any]) -> PeriodData:
    at = f"{model}.periods.{key}"
    reader.only(raw, _PERIOD_KEYS, at)
    try:
        period = parse_period(key, at)
    except InputError as exc:
        raise InputError(reader.where, f"{at}: {exc.problem}") from None
    baseline_raw = raw.get("baseline")
    if isinstance(baseline_raw, dict):
        by_cancer = {
            kind: reader.money(baseline_raw, kind, f"{at}.baseline.{kind}")
            for kind in baseline_raw
            if kind != "default"
        }
        baseline = reader.money(baseline_raw, "default", f"{at}.baseline.default")
    else:
        by_cancer = {}
        baseline = reader.money(raw, "baseline", f"{at}.baseline")
    quality = reader.table(raw, "quality", f"{at}.quality")
    multiplier = reader.fraction(quality, "multiplier", f"{at}.quality.multiplier", None)
    recoup = reader.fraction(
        quality, "recoupment_multiplier", f"{at}.quality.recoupment_multiplier", None
    )
    scores = {
        measure: reader.fraction(quality, measure, f"{at}.quality.{measure}")
        for measure in quality
        if measure not in ("multiplier", "recoupment_multiplier")
    }
    return PeriodData(
        period=period,
        baseline=baseline,
        baseline_by_cancer=by_cancer,
        trend=reader.positive(raw, "trend", f"{at}.trend"),
        novel_factor=reader.positive(
            raw, "novel_therapy_factor", f"{at}.novel_therapy_factor", ONE
        ),
        novel_amount=reader.decimal(
            raw, "novel_therapy_amount", f"{at}.novel_therapy_amount", ZERO
        ),
        scores=scores,
        multiplier=multiplier,
        recoupment_multiplier=recoup,
    )


_REQUIRED: Any = object()


class _Reader:
    """Typed reads of TOML values, each failure an InputError naming the file and key."""

    def __init__(self, where: str) -> None:
        self.where = where

    def _fail(self, at: str, problem: str) -> InputError:
        return InputError(self.where, f"{at}: {problem}")

    def only(self, raw: Mapping[str, Any], known: set[str], at: str) -> None:
        """A key the format does not know is refused (a misspelt limit would be dropped)."""
        unknown = sorted(k for k in raw if k not in known)
        if unknown:
            raise self._fail(f"{at}.{unknown[0]}", f"not a known key ({', '.join(sorted(known))})")

    def table(
        self, raw: Mapping[str, Any], key: str, at: str, required: bool = False
    ) -> dict[str, Any]:
        value = raw.get(key)
        if value is None and not required:
            return {}
        if not isinstance(value, dict):
            raise self._fail(at, "missing" if value is None else "not a table")
        return value

    def text(self, raw: Mapping[str, Any], key: str, at: str, default: Any = _REQUIRED) -> str:
        value = raw.get(key, default)
        if value is _REQUIRED:
            raise self._fail(at, "missing")
        if not isinstance(value, str):
            raise self._fail(at, "not a string")
        return value

    def texts(self, raw: Mapping[str, Any], key: str, at: str) -> list[str]:
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._fail(at, "not a list of strings")
        return value

    def flag(self, raw: Mapping[str, Any], key: str, at: str, default: bool) -> bool:
        value = raw.get(key, default)
        if not isinstance(value, bool):
            raise self._fail(at, "not true or false")
        return value

    def decimal(self, raw: Mapping[str, Any], key: str, at: str, default: Any = _REQUIRED) -> Any:
        value = raw.get(key, default)
        if value is _REQUIRED:
            raise self._fail(at, "missing")
        if value is None or isinstance(value, Decimal):
            return value
        # Amounts as strings ("25000.00"): a TOML float is binary, not the payer's digits.
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise self._fail(at, f'not a number in a string (e.g. "0.04"): {value!r}')
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise self._fail(at, f"not a number: {value!r}") from None
        if not number.is_finite():
            raise self._fail(at, f"not a finite number: {value!r}")
        return number

    def money(self, raw: Mapping[str, Any], key: str, at: str) -> Decimal:
        value: Decimal = self.decimal(raw, key, at)
        if value < 0:
            raise self._fail(at, f"negative: {value}")
        return value

    def positive(
        self, raw: Mapping[str, Any], key: str, at: str, default: Any = _REQUIRED
    ) -> Decimal:
        value: Decimal = self.decimal(raw, key, at, default)
        if value <= 0:
            raise self._fail(at, f"not above 0: {value}")
        return value

    def fraction(self, raw: Mapping[str, Any], key: str, at: str, default: Any = _REQUIRED) -> Any:
        value = self.decimal(raw, key, at, default)
        if value is not None and not ZERO <= value <= ONE:
            raise self._fail(at, f"not a fraction 0-1: {value}")
        return value
