"""The value report over a synthetic practice: every quality measure's denominator and
numerator equals the count derived by hand from the generator's truth (value-and-models §12.2),
with the real measures, ER collector, ratings and adjustment bound as the command binds them."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any, cast

import pytest

from cpoc_fhir.cli import build_parser
from cpoc_fhir.reports import value_cli
from cpoc_fhir.synthetic import PracticeTruth, generate_practice
from cpoc_fhir.value.adjustment import adjustment
from cpoc_fhir.value.er import ErCollector
from cpoc_fhir.value.quality import QUALITY_MEASURES
from cpoc_fhir.value.ratings import rate_er, rate_quality
from cpoc_fhir.value.report import ValueComponents

YEAR = 2025
# the real components, as ``value.components`` is to bind them
COMPONENTS = ValueComponents(
    cast(Any, QUALITY_MEASURES), ErCollector, cast(Any, rate_quality), rate_er, adjustment
)


def _in_year(day: date | None) -> bool:
    return day is not None and day.year == YEAR


def expected(truth: PracticeTruth) -> dict[str, tuple[int, int]]:
    """(denominator, numerator) per measure, from the truth alone:
    Q1 line starts in the year; ECOG on day −30 … 0 of the start.
    Q2 visits in the year with a treatment day within 30 days either side; a pain score.
    Q3 solid tumours first treated in the year; a stage group on or before that day.
    Q4 deaths in the year; non-hormonal therapy on one of the 14 days before death.
    Q5 deaths in the year; hospice starting ≥ 3 days before death.
    Q6 patients with a visit in the year; a PHQ screen in the year.
    (No exclusions: the generator makes no hospice-before-year, no trial patients.)"""
    ps = list(truth.patients.values())
    q1 = [(p, s) for p in ps for s in p.line_starts if _in_year(s)]
    q2 = [
        v
        for p in ps
        for v in p.visits
        if _in_year(v.day) and any(abs((v.day - t).days) <= 30 for t in p.treatment_days)
    ]
    q3 = [p for p in ps if p.solid and _in_year(p.first_treatment)]
    dead = [p for p in ps if _in_year(p.death)]
    q6 = [p for p in ps if any(_in_year(v.day) for v in p.visits)]

    def chemo_14(p: Any) -> bool:
        return not p.hormonal_only and any(0 <= (p.death - t).days <= 14 for t in p.treatment_days)

    return {
        "Q1": (
            len(q1),
            sum(any(s - timedelta(days=30) <= e <= s for e in p.ecog_days) for p, s in q1),
        ),
        "Q2": (len(q2), sum(v.pain_scored for v in q2)),
        "Q3": (
            len(q3),
            sum(
                p.stage_day is not None
                and p.first_treatment is not None
                and p.stage_day <= p.first_treatment
                for p in q3
            ),
        ),
        "Q4": (len(dead), sum(chemo_14(p) for p in dead)),
        "Q5": (
            len(dead),
            sum(
                p.hospice_start is not None and (p.death - p.hospice_start).days >= 3 for p in dead
            ),
        ),
        "Q6": (len(q6), sum(any(_in_year(d) for d in p.phq_days) for p in q6)),
    }


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], PracticeTruth]:
    folder = tmp_path_factory.mktemp("practice")
    truth = generate_practice(folder, 150, seed=7, year=YEAR, claims=False)
    out = folder.parent / "value.json"
    argv = ["report", "value", "--year", str(YEAR), "--format", "json", "--out", str(out)]
    argv += ["--store", f"sqlite:///{folder.parent}/store.sqlite", str(folder)]
    assert value_cli.run(build_parser().parse_args(argv), None, COMPONENTS) == 0
    return json.loads(out.read_text(encoding="utf-8")), truth


def test_quality_counts_follow_from_the_truth(report: tuple[dict[str, Any], PracticeTruth]) -> None:
    value, truth = report
    want = expected(truth)
    got = {m["id"]: (m["denominator"], m["numerator"]) for m in value["measures"]}
    assert got == want
    assert all(m["exclusions"] == 0 for m in value["measures"])
    # every case is there: each measure has a denominator of 10 or more for 150 patients
    assert all(d >= 10 for d, _ in want.values())


def test_practice_location_and_emergency_visits(
    report: tuple[dict[str, Any], PracticeTruth],
) -> None:
    value, truth = report
    assert value["practice"]["location"] == f"Location/{truth.location_id}"
    er = value["er"]
    in_year = [v for p in truth.patients.values() for v in p.er_visits if _in_year(v.day)]
    # ER visits count only in CPOC Treatment / Active Monitoring months (§12.3): at most the
    # year's emergency encounters, and the weights are 1 or 0.5 each
    assert 0 < er["visits"] <= len(in_year)
    assert er["visits"] / 2 <= float(er["weightedVisits"]) <= er["visits"]
    known = sum(p.distance_km is not None for p in truth.patients.values())
    assert er["distance"]["known"] + er["distance"]["unknown"] >= 1
    assert known > 0
