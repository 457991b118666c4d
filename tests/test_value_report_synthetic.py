"""``cpoc report value`` over a generated practice (``cpoc_fhir.synthetic``): every expected
count is derived from the generator's own choices (``PracticeTruth``)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date
from pathlib import Path
from typing import Any

import pytest
from test_value_report import COMPONENTS, CountingEr

from cpoc_fhir.cli import build_parser
from cpoc_fhir.reports import value_cli
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
