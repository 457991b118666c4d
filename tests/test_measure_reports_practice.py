"""The MeasureReports of a generated practice's value report (``cpoc report value
--measure-reports DIR --individual``): counts as the report's, every evaluated resource a
resource of the export."""

from __future__ import annotations

import json
from datetime import UTC
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.measurereport import MeasureReport

from cpoc_fhir.cli import build_parser
from cpoc_fhir.reports import value_cli
from cpoc_fhir.synthetic import PracticeTruth, generate_practice
from cpoc_fhir.value import adjustment, ratings
from cpoc_fhir.value.er import ErCollector
from cpoc_fhir.value.quality import QUALITY_MEASURES
from cpoc_fhir.value.report import ValueComponents

# The real measures, as `cpoc report value` binds them once wired (value/components.py).
REAL = ValueComponents(
    measures=QUALITY_MEASURES,
    er_collector=ErCollector,
    rate_quality=ratings.rate_quality,
    rate_er=ratings.rate_er,
    adjustment=adjustment.adjustment,
)

PATIENTS = 30


@pytest.fixture(scope="module")
def practice(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PracticeTruth]:
    out = tmp_path_factory.mktemp("practice")
    return out, generate_practice(out, PATIENTS, seed=5, year=2025)


def counts(group: dict[str, Any]) -> dict[str, int]:
    return {p["code"]["coding"][0]["code"]: p["count"] for p in group["population"]}


def export_refs(folder: Path) -> set[str]:
    refs = set()
    for path in folder.glob("*.ndjson"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                resource = json.loads(line)
                refs.add(f"{resource['resourceType']}/{resource['id']}")
    return refs


def test_value_report_measure_reports(
    practice: tuple[Path, PracticeTruth], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, truth = practice
    out = tmp_path / "mr"
    argv = [
        "report",
        "value",
        str(folder),
        "--year",
        "2025",
        "--format",
        "json",
        "--store",
        f"sqlite:///{tmp_path}/s.sqlite",
        "--measure-reports",
        str(out),
        "--individual",
    ]
    assert value_cli.run(build_parser().parse_args(argv), UTC, REAL) == 0
    report = json.loads(capsys.readouterr().out)
    written = [
        json.loads(p.read_text(encoding="utf-8"), parse_float=Decimal)
        for p in sorted(out.glob("MeasureReport-*.json"))
    ]
    for resource in written:
        MeasureReport.model_validate(resource)
    summaries = {
        r["identifier"][0]["value"].split(".")[1]: r for r in written if r["type"] == "summary"
    }
    expected = [m["id"] for m in report["measures"]] + ["er"]
    expected += ["pathways"] if report.get("pathways") is not None else []
    assert sorted(summaries) == sorted(expected)
    for m in report["measures"]:
        assert counts(summaries[m["id"]]["group"][0]) == {
            "initial-population": m["initialPopulation"],
            "denominator": m["denominator"],
            "denominator-exclusion": m["exclusions"],
            "numerator": m["numerator"],
        }
        score = summaries[m["id"]]["group"][0].get("measureScore")
        assert (score is None) == (m["rate"] is None)
        if score is not None:
            assert abs(score["value"] - Decimal(str(m["rate"]))) <= Decimal("0.0001")
    er = report["er"]
    assert counts(summaries["er"]["group"][0]) == {
        "initial-population": er["patientMonths"],
        "denominator": er["patientMonths"],
        "numerator": er["visits"],
    }
    # One individual report per patient and measure the report lists them in.
    listed = sorted(
        (f"Patient/{pid}", m["id"]) for m in report["measures"] for pid in m["patients"]
    ) + sorted((f"Patient/{pid}", "er") for pid in er.get("patients", {}))
    individual = [r for r in written if r["type"] == "individual"]
    got = sorted(
        (r["subject"]["reference"], r["identifier"][0]["value"].split(".")[1]) for r in individual
    )
    assert got == sorted(listed) and individual
    assert {s for s, _ in got} <= {f"Patient/{p}" for p in truth.patients}
    known = export_refs(folder)
    for resource in individual:
        for evaluated in resource.get("evaluatedResource", []):
            assert evaluated["reference"] in known
