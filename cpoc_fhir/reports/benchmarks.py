"""The benchmarks file: prior-year figures across practices that every value measure is rated
against (value-and-models §12: mean, standard deviation and, for pathways, the minimum
expected level; §12.3 the ER reference rate and risk factors).

TOML (or JSON with the same structure)::

    [benchmarks]                  # optional header; adherence files without it stay valid
    year = 2024                   # the year of the practices' figures (Y-1 for ratings of Y)
    illustrative = true
    source = "…"
    available = ["nsclc-stage4-pdl1-high"]      # pathways available to the practice
    [overall]                                   # pooled pathway rate
    mean = 0.80
    sd = 0.08
    minimum_expected = 0.85
    [pathways."nsclc-stage4-pdl1-high"]
    mean = 0.78
    sd = 0.10
    minimum_expected = 0.85
    [quality.Q1]                                # rates as fractions 0-1
    mean = 0.85
    sd = 0.08
    [er]                                        # weighted visits per 100 patient-months
    mean = 6.0
    sd = 1.5
    reference_rate = 6.0
    [er.factors.comorbidity]                    # points → factor
    "0" = 1.0
    [er.factors.performance]
    "0" = 1.0
    [er.factors.toxicity]
    "0" = 1.0
    [[er.distance]]                             # increasing max_km; the last may omit it
    max_km = 25
    factor = 1.0

``available`` may also stand at the top level (the adherence report's older files). Every
problem is an ``InputError`` naming the file and the field.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from cpoc_fhir.errors import InputError
from cpoc_fhir.reports.render import os_reason
from cpoc_fhir.value.model import DistanceBand, ErBenchmarks, MeasureBenchmark

_TOP_KEYS = ("benchmarks", "available", "overall", "pathways", "quality", "er")
_HEADER_KEYS = ("year", "illustrative", "source", "available")
_PATHWAY_KEYS = ("mean", "sd", "minimum_expected")
_QUALITY_KEYS = ("mean", "sd")
_ER_KEYS = ("mean", "sd", "reference_rate", "factors", "distance")
ER_FACTORS = ("comorbidity", "performance", "toxicity")


@dataclass(frozen=True)
class Benchmark:
    """Prior-year adherence of a pathway (or pooled): fractions 0-1, exact decimals."""

    mean: Decimal
    sd: Decimal
    minimum_expected: Decimal

    @property
    def low_below(self) -> Fraction:
        """A rate below this (mean − sd) is "more than one standard deviation below average"."""
        return Fraction(self.mean) - Fraction(self.sd)

    def as_measure(self) -> MeasureBenchmark:
        return MeasureBenchmark(self.mean, self.sd, self.minimum_expected)

    def as_json(self) -> dict[str, float]:
        return {
            "mean": float(self.mean),
            "sd": float(self.sd),
            "minimumExpected": float(self.minimum_expected),
        }


@dataclass(frozen=True)
class Benchmarks:
    """A benchmarks file. ``where``: the file it was read from; ``source``: the header's
    ``source`` (where the figures come from), else the file."""

    where: str
    overall: Benchmark | None = None
    pathways: Mapping[str, Benchmark] = field(default_factory=dict)
    available: tuple[str, ...] = ()
    quality: Mapping[str, MeasureBenchmark] = field(default_factory=dict)
    er: ErBenchmarks | None = None
    year: int | None = None
    illustrative: bool = False
    header_source: str | None = None

    @property
    def source(self) -> str:
        return self.header_source or self.where

    def for_pathway(self, pathway_id: str) -> tuple[Benchmark | None, str | None]:
        """The pathway's benchmark and where it came from ("pathway", "overall" or None)."""
        if pathway_id in self.pathways:
            return self.pathways[pathway_id], "pathway"
        if self.overall is not None:
            return self.overall, "overall"
        return None, None

    def header_json(self) -> dict[str, Any]:
        """The value report's ``benchmarks`` object."""
        return {"year": self.year, "illustrative": self.illustrative, "source": self.source}


EXAMPLE = "benchmarks-example.toml"


def example_benchmarks_path() -> Path:
    """The shipped ILLUSTRATIVE benchmarks file (every section filled, figures made up)."""
    from importlib import resources

    return Path(str(resources.files("cpoc_fhir.knowledge") / "data" / EXAMPLE))


def load_benchmarks(path: Path) -> Benchmarks:
    """Read and check a benchmarks file (``.json``: JSON, anything else: TOML)."""
    return benchmarks_from_data(read_table_file(path, "benchmark file"), str(path))


def read_table_file(path: Path, what: str) -> Any:
    """A TOML or JSON file's data, numbers as exact decimals; errors name the file."""
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(where, f"no such {what}") from None
    except IsADirectoryError:
        raise InputError(where, f"is a folder, not a {what}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(where, f"cannot read {what}: {os_reason(exc)}") from None
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise InputError(where, f"not valid JSON: {exc}") from None
    try:
        return tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(where, f"not valid TOML: {exc}") from None


def benchmarks_from_data(data: Any, where: str) -> Benchmarks:
    if not isinstance(data, dict):
        raise InputError(where, "a benchmark file is a table/object at the top level")
    _known(data, _TOP_KEYS, None, where)
    header = _table(data.get("benchmarks", {}), "benchmarks", where)
    _known(header, _HEADER_KEYS, "benchmarks", where)
    year = _year(header.get("year"), where)
    illustrative = _bool(header.get("illustrative", False), "benchmarks.illustrative", where)
    source = _text(header.get("source"), "benchmarks.source", where)
    overall = _pathway(data["overall"], "overall", where) if "overall" in data else None
    pathways_data = _table(data.get("pathways", {}), "pathways", where)
    pathways = {
        str(pid): _pathway(value, f'pathways."{pid}"', where)
        for pid, value in pathways_data.items()
    }
    available = _available(data.get("available", []), "available", where)
    available += _available(header.get("available", []), "benchmarks.available", where)
    quality_data = _table(data.get("quality", {}), "quality", where)
    quality = {
        str(mid): _quality(value, f"quality.{mid}", where) for mid, value in quality_data.items()
    }
    er = _er(data["er"], where) if "er" in data else None
    if overall is None and not pathways and not available and not quality and er is None:
        raise InputError(
            where, "no overall, pathways, available, quality or er: nothing to rate against"
        )
    return Benchmarks(
        where=where,
        overall=overall,
        pathways=pathways,
        available=tuple(dict.fromkeys(available)),
        quality=quality,
        er=er,
        year=year,
        illustrative=illustrative,
        header_source=source,
    )


# --- sections -------------------------------------------------------------------------------
def _pathway(value: Any, key: str, where: str) -> Benchmark:
    table = _table(value, key, where, "a table with mean, sd and minimum_expected")
    _known(table, _PATHWAY_KEYS, key, where)
    numbers = {
        name: _fraction(_required(table, name, key, where), f"{key}.{name}", where)
        for name in _PATHWAY_KEYS
    }
    return Benchmark(**numbers)


def _quality(value: Any, key: str, where: str) -> MeasureBenchmark:
    table = _table(value, key, where, "a table with mean and sd")
    _known(table, _QUALITY_KEYS, key, where)
    mean = _fraction(_required(table, "mean", key, where), f"{key}.mean", where)
    sd = _fraction(_required(table, "sd", key, where), f"{key}.sd", where)
    return MeasureBenchmark(mean, sd)


def _er(value: Any, where: str) -> ErBenchmarks:
    table = _table(value, "er", where, "a table with mean, sd and reference_rate")
    _known(table, _ER_KEYS, "er", where)
    mean = _number(_required(table, "mean", "er", where), "er.mean", where)
    sd = _number(_required(table, "sd", "er", where), "er.sd", where)
    reference = _number(
        _required(table, "reference_rate", "er", where), "er.reference_rate", where, positive=True
    )
    factors_data = _table(table.get("factors", {}), "er.factors", where)
    _known(factors_data, ER_FACTORS, "er.factors", where)
    factors = {
        name: _points(factors_data.get(name, {}), f"er.factors.{name}", where)
        for name in ER_FACTORS
    }
    return ErBenchmarks(
        mean=mean,
        sd=sd,
        reference_rate=reference,
        comorbidity=factors["comorbidity"],
        performance=factors["performance"],
        toxicity=factors["toxicity"],
        distance=_distance(table.get("distance", []), where),
    )


def _points(value: Any, key: str, where: str) -> dict[int, Decimal]:
    table = _table(value, key, where, 'a table of points to factors ("0" = 1.0)')
    out: dict[int, Decimal] = {}
    for points, factor in table.items():
        text = str(points).strip()
        if not text.isdigit():
            raise InputError(where, f"{key}.{points}: a key is a whole number of points ≥ 0")
        out[int(text)] = _number(factor, f'{key}."{points}"', where, positive=True)
    return dict(sorted(out.items()))


def _distance(value: Any, where: str) -> tuple[DistanceBand, ...]:
    if not isinstance(value, list):
        raise InputError(where, "er.distance: must be a list of bands ([[er.distance]])")
    bands: list[DistanceBand] = []
    for i, band in enumerate(value):
        key = f"er.distance[{i}]"
        table = _table(band, key, where, "a table with max_km and factor")
        _known(table, ("max_km", "factor"), key, where)
        factor = _number(
            _required(table, "factor", key, where), f"{key}.factor", where, positive=True
        )
        if "max_km" not in table:
            if i != len(value) - 1:
                raise InputError(where, f"{key}.max_km: only the last band may omit max_km")
            bands.append(DistanceBand(None, factor))
            continue
        max_km = _number(table["max_km"], f"{key}.max_km", where, positive=True)
        previous = bands[-1].max_km if bands else None
        if previous is not None and max_km <= previous:
            raise InputError(
                where, f"{key}.max_km: bands go in increasing max_km ({max_km} after {previous})"
            )
        bands.append(DistanceBand(max_km, factor))
    return tuple(bands)


# --- values ---------------------------------------------------------------------------------
def _known(table: Mapping[str, Any], keys: tuple[str, ...], key: str | None, where: str) -> None:
    unknown = sorted(set(table) - set(keys))
    if unknown:
        expected = f"(expected {', '.join(keys)})"
        if key is None:
            raise InputError(where, f"unknown key {unknown[0]!r} {expected}")
        raise InputError(where, f"{key}.{unknown[0]}: unknown key {expected}")


def _table(value: Any, key: str, where: str, what: str = "a table") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InputError(where, f"{key}: must be {what}")
    return value


def _required(table: Mapping[str, Any], name: str, key: str, where: str) -> Any:
    if name not in table:
        raise InputError(where, f"{key}.{name}: missing")
    return table[name]


def _available(value: Any, key: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(a, str) and a.strip() for a in value):
        raise InputError(where, f"{key}: must be a list of pathway ids (strings)")
    return tuple(a.strip() for a in value)


def _decimal(value: Any, key: str, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise InputError(where, f"{key}: not a number: {value!r}")
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        raise InputError(where, f"{key}: not a finite number: {value!r}")
    return number


def _fraction(value: Any, key: str, where: str) -> Decimal:
    number = _decimal(value, key, where)
    if number < 0:
        raise InputError(where, f"{key}: must be a fraction between 0 and 1, got {value}")
    if number > 1:
        raise InputError(
            where,
            f"{key}: must be a fraction between 0 and 1 (write {number / 100}, not {value})",
        )
    return number


def _number(value: Any, key: str, where: str, positive: bool = False) -> Decimal:
    number = _decimal(value, key, where)
    if number < 0 or (positive and number == 0):
        limit = "more than 0" if positive else "0 or more"
        raise InputError(where, f"{key}: must be {limit}, got {value}")
    return number


def _year(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1900 <= value <= 2999:
        raise InputError(where, f"benchmarks.year: must be a year such as 2024, got {value!r}")
    return value


def _bool(value: Any, key: str, where: str) -> bool:
    if not isinstance(value, bool):
        raise InputError(where, f"{key}: must be true or false, got {value!r}")
    return value


def _text(value: Any, key: str, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InputError(where, f"{key}: must be text, got {value!r}")
    return value.strip()
