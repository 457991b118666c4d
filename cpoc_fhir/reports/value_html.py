"""The value report as one HTML page (value-and-models §12; the report JSON's shape is the
value report's, ``cpoc report value --format json``).

Reads only the report JSON: each quality measure's rate against the benchmark mean and its
±1 SD band, the avoidable-ER rates by quarter, pathway adherence by cancer type, the ratings and
the §12.4 adjustment, and per measure the patients behind the numerator (resource ids only).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cpoc_fhir.reports.html_charts import (
    Chart,
    DotBand,
    Point,
    bars,
    dot_band,
    responsive_chart,
    series_by_period,
)
from cpoc_fhir.reports.html_page import PageHeader, percent, render_page, to_decimal, unique_ids

NUMERATOR = "numerator"
EXCLUSION = "denominator-exclusion"
SECTIONS = (
    ("ratings", "Ratings and adjustment"),
    ("quality", "Quality measures"),
    ("er", "Emergency visits"),
    ("pathways", "Pathways"),
)
SCORES = {"high": 1, "appropriate": 0, "low": -1}  # §12.4
ER_SERIES = ("observed", "expected", "risk-adjusted")
# The keys the page reads (the report JSON's shape); a key the JSON lacks reads as null.
QUALITY_KEYS = ("composite", "submitting")
ER_KEYS = (
    "visits",
    "weightedVisits",
    "patientMonths",
    "expectedVisits",
    "observedRate",
    "expectedRate",
    "riskAdjustedRate",
    "referenceRate",
    "distance",
    "weights",
    "excluded",
)
QUARTER_KEYS = ("quarter", *ER_KEYS[:7])
PATHWAY_KEYS = ("rate", "decisions", "onPathway", "excludedTrial", "rating")
CANCER_KEYS = ("cancer", "rate", "decisions", "deviations", "withReason", "uses", "rating")


@dataclass(frozen=True)
class PatientRow:
    """One patient behind a population: the cases counted and the resources behind them."""

    patient: str
    cases: tuple[str, ...]
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class ErPatientRow:
    """A patient behind the emergency-visit numerator (§12.3)."""

    patient: str
    visits: tuple[str, ...]
    evidence: tuple[str, ...]
    patient_months: Any
    distance: str


@dataclass(frozen=True)
class MeasureView:
    """A quality measure as the page shows it."""

    anchor: str
    id: str
    title: str
    source: str
    improvement: str
    unit: str
    initial_population: Any
    denominator: Any
    exclusions: Any
    numerator: Any
    rate: Decimal | None
    in_composite: bool
    mean: Decimal | None
    sd: Decimal | None
    z: Decimal | None
    numerator_patients: tuple[PatientRow, ...]
    excluded_patients: tuple[PatientRow, ...]

    @property
    def better(self) -> str:
        return "lower" if self.improvement == "decrease" else "higher"

    @property
    def label(self) -> str:
        """The chart's label: short, so that it fits a phone; the arrow says which way is
        better (the caption and the table say it in words)."""
        return f"{self.id} {'↓' if self.improvement == 'decrease' else '↑'}"


@dataclass(frozen=True)
class RatingRow:
    """One line of the rating table (§12.4)."""

    measure: str
    phase: Any
    basis: str
    rating: str | None

    @property
    def score(self) -> str:
        if self.rating not in SCORES:
            return "—"
        return f"{SCORES[self.rating]:+d}" if SCORES[self.rating] else "0"


def render_value_html(report_json: Mapping[str, Any]) -> str:
    """The value report JSON as one self-contained HTML page."""
    report = _mapping(report_json, "value report")
    measures = _measures(report)
    raw_er = _mapping(report.get("er") or {}, "er")
    raw_pathways = _mapping(report.get("pathways") or {}, "pathways")
    er = _fields(raw_er, ER_KEYS)
    pathways = _fields(raw_pathways, PATHWAY_KEYS)
    quality = _fields(_mapping(report.get("quality") or {}, "quality"), QUALITY_KEYS)
    ratings = report.get("ratings")
    ratings = _mapping(ratings, "ratings") if ratings is not None else None
    quarters = [
        _fields(_mapping(q, f"er.quarters[{i}]"), QUARTER_KEYS)
        for i, q in enumerate(raw_er.get("quarters") or [])
    ]
    by_cancer = [
        _fields(_mapping(c, f"pathways.byCancer[{i}]"), CANCER_KEYS)
        for i, c in enumerate(raw_pathways.get("byCancer") or [])
    ]
    rating_rows = _rating_rows(report, ratings, quality, er, pathways)
    return render_page(
        "value.html",
        _header(report),
        report=report,
        measures=measures,
        measures_chart=_measures_chart(measures),
        quality=quality,
        er=er,
        quarters=quarters,
        er_chart=_er_chart(quarters),
        er_patients=_er_patients(raw_er.get("patients")),
        pathways=pathways,
        by_cancer=by_cancer,
        pathways_chart=_pathways_chart(by_cancer, pathways.get("rate")),
        rating_rows=rating_rows,
        score_sum=_score_sum(rating_rows),
        rated=ratings is not None,
        adjustment=report.get("adjustment"),
        next_year=_next_year(report.get("year")),
        warnings=report.get("warnings"),
    )


def _header(report: Mapping[str, Any]) -> PageHeader:
    year = report.get("year")
    benchmarks = report.get("benchmarks")
    facts: list[tuple[str, str]] = []
    practice = report.get("practice") or {}
    if isinstance(practice, Mapping) and practice.get("location"):
        facts.append(("Practice", str(practice["location"])))
    if report.get("participationYear") is not None:
        facts.append(("Participation year", str(report["participationYear"])))
    phases = report.get("phases") or {}
    if isinstance(phases, Mapping) and phases:
        facts.append(("Phases", ", ".join(f"{k} {v}" for k, v in phases.items())))
    illustrative: tuple[str, ...] = ()
    if isinstance(benchmarks, Mapping):
        origin = benchmarks.get("source") or "source not given"
        source = f"{benchmarks.get('year', '?')} figures — {origin}"
        if benchmarks.get("illustrative"):
            illustrative = (
                "The benchmarks are illustrative: the ratings and the adjustment are "
                "examples, not a payer's.",
            )
    else:
        source = "none given: rates only, not rated"
    as_of = report.get("asOf")
    period = f"Performance year {year}" + (f", as of {as_of}" if as_of else "")
    return PageHeader(
        title="Value-based adjustment report",
        period=period,
        source=source,
        illustrative=illustrative,
        facts=tuple(facts),
        sections=SECTIONS,
    )


def _measures(report: Mapping[str, Any]) -> list[MeasureView]:
    raw = report.get("measures")
    if not isinstance(raw, list):
        raise ValueError("value report: measures: expected a list")
    items = [_mapping(m, f"measures[{i}]") for i, m in enumerate(raw)]
    anchors = unique_ids((str(m.get("id", "")) for m in items), "measure")
    return [
        _measure(m, anchor, f"measures[{i}]")
        for i, (m, anchor) in enumerate(zip(items, anchors, strict=True))
    ]


def _measure(m: Mapping[str, Any], anchor: str, where: str) -> MeasureView:
    bench = m.get("benchmark")
    bench = _mapping(bench, f"{where}.benchmark") if bench is not None else {}
    patients = _mapping(m.get("patients") or {}, f"{where}.patients")
    return MeasureView(
        anchor=anchor,
        id=str(m.get("id", "")),
        title=str(m.get("title", "")),
        source=str(m.get("source", "")),
        improvement=str(m.get("improvement", "increase")),
        unit=str(m.get("unit", "")),
        initial_population=m.get("initialPopulation"),
        denominator=m.get("denominator"),
        exclusions=m.get("exclusions"),
        numerator=m.get("numerator"),
        rate=to_decimal(m.get("rate"), f"{where}.rate"),
        in_composite=bool(m.get("inComposite")),
        mean=to_decimal(bench.get("mean"), f"{where}.benchmark.mean"),
        sd=to_decimal(bench.get("sd"), f"{where}.benchmark.sd"),
        z=to_decimal(m.get("z"), f"{where}.z"),
        numerator_patients=_patients_in(patients, NUMERATOR, f"{where}.patients"),
        excluded_patients=_patients_in(patients, EXCLUSION, f"{where}.patients"),
    )


def _patients_in(
    patients: Mapping[str, Any], population: str, where: str
) -> tuple[PatientRow, ...]:
    rows = []
    for pid, populations in sorted(patients.items()):
        entry = _mapping(populations, f"{where}.{pid}").get(population)
        if not entry:
            continue
        entry = _mapping(entry, f"{where}.{pid}.{population}")
        rows.append(
            PatientRow(str(pid), _strings(entry.get("cases")), _strings(entry.get("evidence")))
        )
    return tuple(rows)


def _er_patients(raw: Any) -> list[ErPatientRow]:
    """The patients with a counted emergency visit, each visit with its weight and evidence
    (the ER result lists every patient with exposure months; those without a visit add
    nothing to the numerator and are left out here)."""
    if not isinstance(raw, Mapping):
        return []
    rows = []
    for pid, entry in sorted(raw.items()):
        entry = _mapping(entry, f"er.patients.{pid}")
        visits = [_mapping(v, f"er.patients.{pid}.visits") for v in entry.get("visits") or []]
        if not visits:
            continue
        evidence: list[str] = []
        for visit in visits:
            evidence += [e for e in _strings(visit.get("evidence")) if e not in evidence]
        rows.append(
            ErPatientRow(
                patient=str(pid),
                visits=tuple(_visit_text(v) for v in visits),
                evidence=tuple(evidence),
                patient_months=entry.get("patientMonths"),
                distance=_distance_text(entry),
            )
        )
    return rows


def _visit_text(visit: Mapping[str, Any]) -> str:
    near = " (within the window after a treatment day)" if visit.get("nearTreatment") else ""
    return (
        f"{visit.get('encounter')} on {visit.get('date')}: {visit.get('category')}, "
        f"weight {visit.get('weight')}{near}"
    )


def _distance_text(entry: Mapping[str, Any]) -> str:
    km = entry.get("distanceKm")
    if km is None:
        return "unknown"
    factor = entry.get("distanceFactor")  # the band's factor; null without benchmarks
    return f"{km} km" + (f", factor {factor}" if factor is not None else "")


def _rating_rows(
    report: Mapping[str, Any],
    ratings: Mapping[str, Any] | None,
    quality: Mapping[str, Any],
    er: Mapping[str, Any],
    pathways: Mapping[str, Any],
) -> list[RatingRow]:
    phases = report.get("phases") or {}
    rated = ratings or {}
    composite = to_decimal(quality.get("composite"), "quality.composite")
    submitting = "submitting" if quality.get("submitting") else "not submitting"
    composite_text = "no composite" if composite is None else f"composite z {composite:+.2f}"
    er_rate = er.get("riskAdjustedRate")
    er_text = (
        "no risk-adjusted rate"
        if er_rate is None
        else f"risk-adjusted rate {er_rate} weighted visits per 100 patient-months"
    )
    pathway_text = (
        f"pooled adherence {percent(pathways.get('rate'))} of "
        f"{pathways.get('decisions', 0)} decisions"
    )
    # §12.1: low when any cancer type with a pathway is not used, whatever the pooled rate.
    by_cancer = (report.get("pathways") or {}).get("byCancer") or []
    unused = [
        str(c.get("cancer"))
        for c in by_cancer
        if isinstance(c, Mapping) and c.get("rating") == "low" and c.get("uses") is False
    ]
    if unused:
        pathway_text += f"; a pathway not used for {', '.join(unused)}"
    return [
        RatingRow(
            "Pathways (IV-A)",
            phases.get("pathways"),
            pathway_text,
            _rating(rated.get("pathways")),
        ),
        RatingRow(
            "Quality (IV-B)",
            phases.get("quality"),
            f"{composite_text}, {submitting}",
            _rating(rated.get("quality")),
        ),
        RatingRow("Emergency visits (IV-C)", phases.get("er"), er_text, _rating(rated.get("er"))),
    ]


def _score_sum(rows: Sequence[RatingRow]) -> str:
    """The §12.4 sum of the scores, signed; "—" unless every measure is rated."""
    if any(row.rating not in SCORES for row in rows):
        return "—"
    total = sum(SCORES[str(row.rating)] for row in rows)
    return f"{total:+d}" if total else "0"


def _rating(value: Any) -> str | None:
    return str(value) if value in SCORES else None


def _next_year(year: Any) -> str:
    return (
        str(year + 1) if isinstance(year, int) and not isinstance(year, bool) else "the next year"
    )


# --- Charts (Vega-Lite specs, drawn by the page kit) ----------------------------------------


def _measures_chart(measures: Sequence[MeasureView]) -> Chart | None:
    """Dot-and-band: the practice's rate (dot), the benchmark mean (tick) and mean ± 1 SD."""
    if not measures:
        return None
    rows = [DotBand(m.label, m.rate, m.mean, m.sd) for m in measures]
    described = "; ".join(
        f"{m.id} rate {percent(m.rate)}"
        + (f", benchmark {percent(m.mean)} ± {percent(m.sd)}" if m.mean is not None else "")
        for m in measures
    )
    return responsive_chart(
        lambda width: dot_band(rows, "rate", width=width),
        "chart-measures",
        "Quality measures: rate against the benchmark",
        described,
    )


def _er_chart(quarters: Sequence[Mapping[str, Any]]) -> Chart | None:
    """Observed, expected and risk-adjusted rates by quarter (§12.3)."""
    keys = dict(zip(ER_SERIES, ("observedRate", "expectedRate", "riskAdjustedRate"), strict=True))
    points = [
        Point(str(q.get("quarter")), series, to_decimal(q.get(key), f"er.quarters[{i}].{key}"))
        for i, q in enumerate(quarters)
        for series, key in keys.items()
    ]
    if all(p.value is None for p in points):
        return None
    periods = [str(q.get("quarter")) for q in quarters]
    axis = "weighted visits per 100 patient-months"
    described = "; ".join(f"{p.period} {p.series} {p.value}" for p in points if p.value is not None)
    return responsive_chart(
        lambda width: series_by_period(points, periods, ER_SERIES, axis, width=width),
        "chart-er",
        "Avoidable emergency visits by quarter",
        described,
    )


def _pathways_chart(by_cancer: Sequence[Mapping[str, Any]], pooled: Any) -> Chart | None:
    """Adherence by cancer type (bars), the practice's pooled rate as a dashed rule."""
    rows = []
    for i, c in enumerate(by_cancer):
        rate = to_decimal(c.get("rate"), f"pathways.byCancer[{i}].rate")
        if rate is not None:
            rows.append((str(c.get("cancer")), rate))
    if not rows:
        return None
    pooled_rate = to_decimal(pooled, "pathways.rate")
    described = "; ".join(f"{cancer} {percent(rate)}" for cancer, rate in rows)
    if pooled_rate is not None:
        described += f"; pooled {percent(pooled_rate)}"
    return responsive_chart(
        lambda width: bars(rows, "on-pathway decisions", True, pooled_rate, width=width),
        "chart-pathways",
        "Pathway adherence by cancer type",
        described,
    )


# --- Reading the JSON -----------------------------------------------------------------------


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _fields(value: Mapping[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    return {key: value.get(key) for key in keys}


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)
