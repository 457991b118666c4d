"""``cpoc report benchmarks VALUE_JSON… --out FILE``: the benchmarks file the next year's ratings
read (value-and-models §12: the mean and standard deviation of each measure across practices,
for pathways also the minimum expected level), from the practices' value reports.

Interpretations (README "Value-based adjustment"):

- SD is the **population** standard deviation: the reports are every participating practice
  of the payer or registry for the year, the whole population rated against, not a sample.
- A quality measure's figures use the practices where it was in the composite (denominator at
  least the minimum, §12.2): a rate of 3 patients would widen the SD for everyone. A report
  written without a benchmark for the measure (the first year: no benchmarks exist yet) has
  it out of the composite for that reason only: its rate counts when the denominator is at
  least the report's ``quality.minimumDenominator`` (default 10).
- Pathways: mean and SD of the practices' pooled rates (``[overall]``); minimum expected level
  = the P-th percentile (``--minimum-percentile``, default 75, linear between ranks).
- ER: mean and SD of the risk-adjusted rates; reference rate = the pooled observed rate of all
  practices (Σ weighted visits / Σ patient-months × 100), the reference of indirect
  standardisation; factors and distance bands are carried over from ``--factors FILE``.
  A report without a risk-adjusted rate (written without benchmarks, so without factors) has
  its rate standardised here from its own patient-months (points, distance) with the factors
  of ``--factors`` (without it every factor is 1 and the rate is the observed rate, §12.3).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from cpoc_fhir.errors import InputError
from cpoc_fhir.reports.benchmarks import ER_FACTORS, Benchmarks, load_benchmarks
from cpoc_fhir.reports.render import os_reason, write_text
from cpoc_fhir.value.er import factor as er_factor
from cpoc_fhir.value.er_distance import band_of
from cpoc_fhir.value.model import ErBenchmarks
from cpoc_fhir.value.settings import ValueSettings

PLACES = Decimal("0.0001")


@dataclass
class Pooled:
    """The figures gathered from the practices' reports."""

    year: int | None = None
    practices: int = 0
    quality: dict[str, list[Decimal]] = field(default_factory=dict)
    pathways: list[Decimal] = field(default_factory=list)
    er: list[Decimal] = field(default_factory=list)
    er_weighted: Decimal = Decimal(0)
    er_months: Decimal = Decimal(0)


def run(args: argparse.Namespace) -> int:
    reports = [(str(p), _read(p)) for p in args.reports]
    factors = load_benchmarks(args.factors) if args.factors else None
    pooled = pool(reports, args.year, factors.er if factors is not None else None)
    text = benchmarks_toml(pooled, args.minimum_percentile, factors, args.source, args.illustrative)
    write_text(args.out, text)
    print(f"{args.out}: benchmarks of {pooled.year} from {pooled.practices} practices")
    return 0


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(str(path), "no such value report") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(str(path), f"cannot read: {os_reason(exc)}") from None
    except json.JSONDecodeError as exc:
        raise InputError(str(path), f"not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("year"), int):
        raise InputError(str(path), "not a value report (cpoc report value --format json)")
    return data


def pool(
    reports: Iterable[tuple[str, Mapping[str, Any]]],
    year: int | None,
    factors: ErBenchmarks | None = None,
) -> Pooled:
    pooled = Pooled(year)
    for where, report in reports:
        if year is not None and report["year"] != year:
            continue
        if pooled.year is None:
            pooled.year = report["year"]
        elif report["year"] != pooled.year:
            raise InputError(
                where, f"year {report['year']}, the others {pooled.year} (choose one: --year)"
            )
        pooled.practices += 1
        minimum = _minimum_denominator(report, where)
        for m in _list(report, "measures", where):
            if m.get("rate") is not None and _comparable(m, minimum, where):
                pooled.quality.setdefault(str(m["id"]), []).append(_dec(m["rate"], where, "rate"))
        pathways = report.get("pathways") or {}
        if pathways.get("rate") is not None:
            pooled.pathways.append(_dec(pathways["rate"], where, "pathways.rate"))
        er = report.get("er") or {}
        if er.get("riskAdjustedRate") is not None:
            pooled.er.append(_dec(er["riskAdjustedRate"], where, "er.riskAdjustedRate"))
        elif er.get("patientMonths"):
            pooled.er.append(standardised_rate(er, factors, where))
        if er.get("patientMonths"):
            pooled.er_weighted += _dec(er.get("weightedVisits", 0), where, "er.weightedVisits")
            pooled.er_months += _dec(er["patientMonths"], where, "er.patientMonths")
    if pooled.practices == 0:
        raise InputError("VALUE_JSON", f"no value report of the year {year}")
    return pooled


def _minimum_denominator(report: Mapping[str, Any], where: str) -> int:
    quality = report.get("quality")
    value = quality.get("minimumDenominator") if isinstance(quality, Mapping) else None
    if value is None:
        return ValueSettings().minimum_denominator
    return int(_dec(value, where, "quality.minimumDenominator"))


def _comparable(measure: Mapping[str, Any], minimum: int, where: str) -> bool:
    """In the composite, or out of it only because no z could be had (no benchmark yet, or a
    benchmark sd of 0) with a denominator at least the minimum (§12.2)."""
    if measure.get("inComposite"):
        return True
    if measure.get("z") is not None or measure.get("denominator") is None:
        return False
    return _dec(measure["denominator"], where, "denominator") >= minimum


def standardised_rate(er: Mapping[str, Any], factors: ErBenchmarks | None, where: str) -> Decimal:
    """§12.3's risk-adjusted rate of a report that has none: observed / expected × reference
    rate = weighted visits × 100 / Σ factors of its patient-months (the reference rate cancels
    out), the factors from ``factors`` by each month's points and its patient's distance."""
    weighted = _dec(er.get("weightedVisits", 0), where, "er.weightedVisits")
    months = _dec(er["patientMonths"], where, "er.patientMonths")
    if factors is None:
        total = months  # every factor 1: the observed rate
    else:
        total = Decimal(0)
        for pid, patient in (er.get("patients") or {}).items():
            km = patient.get("distanceKm") if isinstance(patient, Mapping) else None
            at = f"er.patients.{pid}"
            _, distance = band_of(factors.distance, None if km is None else _dec(km, where, at))
            for month in patient.get("months") or ():
                points = month.get("points") or {}
                total += (
                    er_factor(factors.comorbidity, int(points.get("comorbidity", 0)))
                    * er_factor(factors.performance, int(points.get("performance", 0)))
                    * er_factor(factors.toxicity, int(points.get("toxicity", 0)))
                    * distance
                )
        if not total:
            raise InputError(where, "er.patients: no patient-month to standardise the rate with")
    return weighted * 100 / total


def _list(report: Mapping[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    value = report.get(key, [])
    if not isinstance(value, list):
        raise InputError(where, f"{key}: expected a list")
    return [v for v in value if isinstance(v, dict)]


def _dec(value: Any, where: str, key: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InputError(where, f"{key}: not a number: {value!r}")
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        raise InputError(where, f"{key}: not a number: {value!r}") from None
    if not number.is_finite():
        raise InputError(where, f"{key}: not a number: {value!r}")
    return number


# --- statistics -------------------------------------------------------------------------------
def mean(values: Sequence[Decimal]) -> Decimal:
    return sum(values, Decimal(0)) / len(values)


def population_sd(values: Sequence[Decimal]) -> Decimal:
    m = mean(values)
    return (sum(((v - m) ** 2 for v in values), Decimal(0)) / len(values)).sqrt()


def percentile(values: Sequence[Decimal], p: int) -> Decimal:
    """The p-th percentile, linear between the closest ranks (rank (n − 1) × p / 100)."""
    ordered = sorted(values)
    rank = Decimal(len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _q(value: Decimal) -> str:
    return str(value.quantize(PLACES))


# --- the file ----------------------------------------------------------------------------------
def benchmarks_toml(
    pooled: Pooled,
    minimum_percentile: int,
    factors: Benchmarks | None,
    source: str | None,
    illustrative: bool,
) -> str:
    note = source or (
        f"cpoc report benchmarks: {pooled.practices} practices' value reports of {pooled.year}"
    )
    lines = [
        "# Written by cpoc report benchmarks: population SD across practices; pathway minimum",
        f"# expected level = the {minimum_percentile}th percentile of the practices' rates.",
        "[benchmarks]",
        f"year = {pooled.year}",
        f"illustrative = {'true' if illustrative else 'false'}",
        f"source = {json.dumps(note)}",
    ]
    if factors is not None and factors.available:
        lines.append(f"available = {json.dumps(list(factors.available))}")
    if pooled.pathways:
        lines += [
            "",
            "[overall]",
            f"mean = {_q(mean(pooled.pathways))}",
            f"sd = {_q(population_sd(pooled.pathways))}",
            f"minimum_expected = {_q(percentile(pooled.pathways, minimum_percentile))}",
        ]
    for measure_id in sorted(pooled.quality):
        values = pooled.quality[measure_id]
        lines += [
            "",
            f"[quality.{json.dumps(measure_id)}]",
            f"mean = {_q(mean(values))}",
            f"sd = {_q(population_sd(values))}",
        ]
    if pooled.er:
        reference = (
            pooled.er_weighted / pooled.er_months * 100 if pooled.er_months else mean(pooled.er)
        )
        lines += [
            "",
            "[er]",
            f"mean = {_q(mean(pooled.er))}",
            f"sd = {_q(population_sd(pooled.er))}",
            f"reference_rate = {_q(reference)}",
        ]
        lines += _er_factors(factors)
    return "\n".join(lines) + "\n"


def _er_factors(factors: Benchmarks | None) -> list[str]:
    er = factors.er if factors is not None else None
    lines: list[str] = []
    for name in ER_FACTORS:
        table = getattr(er, name) if er is not None else {}
        lines += ["", f"[er.factors.{name}]"]
        for points, factor in (table or {0: Decimal(1)}).items():
            lines.append(f'"{points}" = {factor}')
    for band in er.distance if er is not None else ():
        lines += ["", "[[er.distance]]"]
        if band.max_km is not None:
            lines.append(f"max_km = {band.max_km}")
        lines.append(f"factor = {band.factor}")
    return lines
