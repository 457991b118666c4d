"""``cpoc report value`` over a generated practice (``cpoc_fhir.synthetic``): every expected
count is derived from the generator's own choices (``PracticeTruth``)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, timedelta
from pathlib import Path
from typing import Any

import pytest
from test_value_report import COMPONENTS, CountingEr

from cpoc_fhir.cli import build_parser, main
from cpoc_fhir.reports import value_cli
from cpoc_fhir.reports.benchmarks import example_benchmarks_path
from cpoc_fhir.synthetic import PracticeTruth, generate_practice
from cpoc_fhir.value.model import PatientYear, Position
from cpoc_fhir.value.report import ValueComponents

PATIENTS = 40


@pytest.fixture(scope="module")
def practice(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PracticeTruth]:
    out = tmp_path_factory.mktemp("practice")
    return out, generate_practice(out, PATIENTS, seed=11, year=2025)


def run(
    argv: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    components: ValueComponents | None = COMPONENTS,
) -> Any:
    store = f"sqlite:///{tmp_path}/s.sqlite"
    args = build_parser().parse_args(["report", "value", "--store", store, *argv])
    assert value_cli.run(args, UTC, components) == 0
    return json.loads(capsys.readouterr().out)


def test_every_patient_once_and_the_practice_location(
    practice: tuple[Path, PracticeTruth], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, truth = practice
    report = run([str(folder), "--year", "2025", "--format", "json"], tmp_path, capsys)
    # the only Location of the export is the practice's
    assert report["practice"] == {"location": f"Location/{truth.location_id}"}
    (m,) = report["measures"]
    assert m["denominator"] == len(truth.patients) == PATIENTS
    assert sorted(m["patients"]) == sorted(truth.patients)
    assert report["er"]["patientMonths"] == PATIENTS  # the test collector: one per patient


def test_each_patient_year_carries_the_practice_position(
    practice: tuple[Path, PracticeTruth], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, truth = practice
    seen: list[Any] = []

    class Positions(CountingEr):
        def add(self, py: PatientYear) -> None:
            seen.append((py.year, py.as_of, py.practice_position))
            super().add(py)

    components = replace(COMPONENTS, er_collector=Positions)
    run([str(folder), "--year", "2025", "--format", "json"], tmp_path, capsys, components)
    assert set(seen) == {(2025, date(2025, 12, 31), Position(truth.latitude, truth.longitude))}


# --- the real measures, the command end to end ------------------------------------------------
def in_year(day: date | None) -> bool:
    return day is not None and date(2025, 1, 1) <= day <= date(2025, 12, 31)


def test_the_command_with_the_real_measures_follows_the_truth(
    practice: tuple[Path, PracticeTruth],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder, truth = practice
    monkeypatch.setenv("CPOC_STORE_URL", f"sqlite:///{tmp_path}/s.sqlite")
    bench = str(example_benchmarks_path())
    assert main(["report", "value", str(folder), "--year", "2025", "--format", "json",
                 "--benchmarks", bench, "--phase", "quality=2"]) == 0  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    measures = {m["id"]: m for m in report["measures"]}
    assert list(measures) == ["Q1", "Q2", "Q3", "Q4", "Q5", "Q6"]
    # Q4 / Q5 (tests/test_quality_synthetic.py restates §12.2 on the truth): the deaths of the
    # year; Q4 numerator: a non-hormonal treatment day in death − 14 … death; Q5: hospice
    # starting on or before death − 3
    dead = [p for p in truth.patients.values() if in_year(p.death)]
    late = [
        p for p in dead
        if not p.hormonal_only and p.death is not None
        and any(p.death - timedelta(days=14) <= d <= p.death for d in p.treatment_days)
    ]  # fmt: skip
    early = [
        p for p in dead
        if p.hospice_start is not None and p.death is not None
        and p.hospice_start <= p.death - timedelta(days=3)
    ]  # fmt: skip
    assert (measures["Q4"]["denominator"], measures["Q4"]["numerator"]) == (len(dead), len(late))
    assert (measures["Q5"]["denominator"], measures["Q5"]["numerator"]) == (len(dead), len(early))
    # Q6: patients with a visit in the year; numerator a PHQ screen in the year
    seen = [p for p in truth.patients.values() if any(in_year(v.day) for v in p.visits)]
    screened = [p for p in seen if any(in_year(d) for d in p.phq_days)]
    assert (measures["Q6"]["denominator"], measures["Q6"]["numerator"]) == (
        len(seen),
        len(screened),
    )
    for m in measures.values():  # z and the composite membership against the example file
        assert m["benchmark"] is not None
        assert m["inComposite"] == (m["denominator"] >= 10 and m["rate"] is not None)
    # ER: every counted visit is one the generator gave an OP-35 category, weighted 1.0
    # exactly when it placed it 0-30 days after a treatment day; distances as generated
    er_truth = {
        f"Encounter/{v.encounter_id}": v for p in truth.patients.values() for v in p.er_visits
    }
    counted = [v for p in report["er"]["patients"].values() for v in p["visits"]]
    assert report["er"]["visits"] == len(counted) > 0
    for v in counted:
        made = er_truth[v["encounter"]]
        assert made.op35_category is not None
        assert v["weight"] == ("1.0" if made.near_treatment else "0.5")
    for pid, p in report["er"]["patients"].items():
        km = truth.patients[pid].distance_km
        if km is None:
            assert p["distanceKm"] is None
        else:
            assert abs(float(p["distanceKm"]) - km) < 0.5
    # ratings from the example benchmarks; an adjustment once the three are rated
    assert set(report["ratings"]) == {"pathways", "quality", "er"}
    assert report["ratings"]["quality"] == "low"  # phase 2, not submitting (IV-B)
    assert report["adjustment"] is not None


def test_html_and_measure_reports_of_the_practice(
    practice: tuple[Path, PracticeTruth],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder, _truth = practice
    monkeypatch.setenv("CPOC_STORE_URL", f"sqlite:///{tmp_path}/s.sqlite")
    page, reports = tmp_path / "value.html", tmp_path / "mr"
    assert main(["report", "value", str(folder), "--year", "2025", "--format", "html",
                 "--out", str(page), "--measure-reports", str(reports),
                 "--benchmarks", str(example_benchmarks_path())]) == 0  # fmt: skip
    err = capsys.readouterr().err
    html = page.read_text()
    assert html.lstrip().lower().startswith("<!doctype html") and "Q4" in html
    written = sorted(reports.glob("MeasureReport-*.json"))
    assert f"{len(written)} MeasureReports written to {reports}" in err
    resources = [json.loads(p.read_text()) for p in written]
    assert {r["resourceType"] for r in resources} == {"MeasureReport"}
    assert {r["type"] for r in resources} == {"summary"}
    assert len(resources) >= 6  # a summary per quality measure at least (Q1-Q6)
