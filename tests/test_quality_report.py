"""Q1-Q6 inside ``cpoc report value`` (the reports pipeline with the real measures, ER
collector, ratings and adjustment) over a synthetic practice: each measure's counts in the
report JSON are the ones derived from the generator's truth (tests/test_quality_synthetic.py's
derivations), rates are rounded to 4 places, and a measure's warnings reach the report once."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import UTC
from fractions import Fraction
from typing import Any

import pytest
from test_quality_synthetic import q2, q3, q4, q5, q6

from cpoc_fhir.cli import build_parser
from cpoc_fhir.reports import value_cli
from cpoc_fhir.synthetic import PracticeTruth, generate_practice
from cpoc_fhir.value.adjustment import adjustment
from cpoc_fhir.value.er import ErCollector
from cpoc_fhir.value.model import DENOMINATOR, EXCLUSION, INITIAL_POPULATION, NUMERATOR
from cpoc_fhir.value.quality import QUALITY_MEASURES
from cpoc_fhir.value.ratings import rate_er, rate_quality
from cpoc_fhir.value.report import ValueComponents

COMPONENTS = ValueComponents(QUALITY_MEASURES, ErCollector, rate_quality, rate_er, adjustment)
UNDATED = {
    "resourceType": "Observation",
    "id": "undated-pain",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "72514-3"}]},
    "valueInteger": 3,
}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[PracticeTruth, Any]:
    folder = tmp_path_factory.mktemp("practice")
    truth = generate_practice(folder, patients=80, seed=5, year=2025, claims=False)
    first = sorted(truth.patients)[0]
    with (folder / "Observation.ndjson").open("a", encoding="utf-8") as out:
        # an undated pain score of a patient, and one of a patient with no Patient resource
        for pid, oid in ((first, "undated-pain"), ("ghost", "ghost-pain")):
            out.write(json.dumps(dict(UNDATED, id=oid, subject={"reference": f"Patient/{pid}"})))
            out.write("\n")
    store = tmp_path_factory.mktemp("store") / "s.sqlite"
    argv = ["report", "value", "--store", f"sqlite:///{store}", str(folder), "--year", "2025"]
    args = build_parser().parse_args([*argv, "--format", "json"])
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert value_cli.run(args, UTC, COMPONENTS) == 0
    return truth, json.loads(buffer.getvalue())


def totals(truth: PracticeTruth, derive: Any) -> dict[str, int]:
    out = dict.fromkeys((INITIAL_POPULATION, DENOMINATOR, EXCLUSION, NUMERATOR), 0)
    for p in truth.patients.values():
        for population, cases in derive(p).items():
            out[population] += len(cases)
    return out


@pytest.mark.parametrize(
    ("mid", "derive"), [("Q2", q2), ("Q3", q3), ("Q4", q4), ("Q5", q5), ("Q6", q6)]
)
def test_the_reports_counts_are_the_truths(
    report: tuple[PracticeTruth, Any], mid: str, derive: Any
) -> None:
    truth, shown = report
    [m] = [m for m in shown["measures"] if m["id"] == mid]
    want = totals(truth, derive)
    got = {
        INITIAL_POPULATION: m["initialPopulation"],
        DENOMINATOR: m["denominator"],
        EXCLUSION: m["exclusions"],
        NUMERATOR: m["numerator"],
    }
    assert got == want
    eligible = want[DENOMINATOR] - want[EXCLUSION]
    expected = round(float(Fraction(want[NUMERATOR], eligible)), 4) if eligible else None
    assert m["rate"] == expected


def test_the_measures_shape_in_the_report(report: tuple[PracticeTruth, Any]) -> None:
    _, shown = report
    assert [m["id"] for m in shown["measures"]] == ["Q1", "Q2", "Q3", "Q4", "Q5", "Q6"]
    q4 = shown["measures"][3]
    assert (q4["improvement"], q4["unit"], q4["source"]) == ("decrease", "patients", "NQF 0210")
    for pid, populations in q4["patients"].items():
        assert populations["initial-population"]["cases"] == [f"Patient/{pid}"]


def test_a_measures_warning_reaches_the_report_once(report: tuple[PracticeTruth, Any]) -> None:
    # Q2's warning about the undated score; the ghost's, given by all six measures, once
    _, shown = report
    assert [w for w in shown["warnings"] if "pain" in w or "ghost" in w] == [
        "Observation/undated-pain: pain score without an effective date; not counted",
        "Patient/ghost: no readable Patient resource; left out of Q1-Q6",
    ]
