"""The emergency-visit collector inside ``cpoc report value`` (value-and-models §12.3, §12.4):
the real components — quality measures, ``ErCollector``, ratings, adjustment — over a
synthetic practice, with the shipped illustrative benchmarks.

The report's ``"er"`` object is the collector's own figures for the same patients (one pass,
every patient once); its ER rating is ``rate_er`` of that risk-adjusted rate; the
MeasureReports written from the report carry the same counts.
"""

from __future__ import annotations

import json
from datetime import UTC, date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cpoc_fhir.cli import build_parser
from cpoc_fhir.config import load_payer
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.fhir.read.record import read_record
from cpoc_fhir.fhir.read.references import patient_id
from cpoc_fhir.fhir.read.sources import NdjsonSource
from cpoc_fhir.knowledge.loader import load_knowledge
from cpoc_fhir.packs.cpoc.timeline import evaluate
from cpoc_fhir.reports import value_cli
from cpoc_fhir.reports.benchmarks import load_benchmarks
from cpoc_fhir.synthetic import PracticeTruth, generate_practice
from cpoc_fhir.value.adjustment import adjustment
from cpoc_fhir.value.er import ErCollector
from cpoc_fhir.value.model import PatientYear, Position, Rating
from cpoc_fhir.value.quality import QUALITY_MEASURES
from cpoc_fhir.value.ratings import rate_er, rate_quality
from cpoc_fhir.value.report import ValueComponents
from cpoc_fhir.value.settings import ValueSettings

BENCHMARKS = (
    Path(__file__).resolve().parents[1] / "cpoc_fhir/knowledge/data/benchmarks-example.toml"
)
# The quality side's frozen measures and rating do not yet satisfy the report's Protocols for
# mypy (read-only attributes); at run time they fit.
REAL = ValueComponents(
    measures=QUALITY_MEASURES,  # type: ignore[arg-type]
    er_collector=ErCollector,
    rate_quality=rate_quality,  # type: ignore[arg-type]
    rate_er=rate_er,
    adjustment=adjustment,
)


@pytest.fixture(scope="module")
def practice(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PracticeTruth]:
    out = tmp_path_factory.mktemp("practice")
    return out, generate_practice(out, 60, seed=5, year=2025, claims=False)


def report(folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> Any:
    args = build_parser().parse_args(
        [
            *("report", "value", "--store", f"sqlite:///{tmp_path}/s.sqlite", str(folder)),
            *("--year", "2025", "--format", "json", *extra),
        ]
    )
    assert value_cli.run(args, UTC, REAL) == 0
    return json.loads(capsys.readouterr().out)


def direct(folder: Path, truth: PracticeTruth) -> dict[str, Any]:
    """The collector fed by hand, the same patients, as of the year's end."""
    source = NdjsonSource(folder)
    knowledge, payer = load_knowledge(), load_payer(None)
    where = Position(truth.latitude, truth.longitude)
    bench = load_benchmarks(BENCHMARKS).er
    collector = ErCollector(ValueSettings(), bench)
    as_of = date(2025, 12, 31)
    for resources in source.patients():
        record = read_record(resources, knowledge)
        timeline = evaluate(record, knowledge, RuleSettings(), payer, as_of)
        pid = patient_id(resources.patient_ref)
        collector.add(PatientYear(pid, resources, record, timeline, 2025, as_of, where))
    return collector.result().as_json()


def test_the_reports_er_is_the_collectors(
    practice: tuple[Path, PracticeTruth], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, truth = practice
    out = report(folder, tmp_path, capsys, "--benchmarks", str(BENCHMARKS), "--phase", "er=2")
    er = out["er"]
    assert er == direct(folder, truth)
    assert er["visits"] > 0 and er["riskAdjustedRate"] is not None
    assert er["distance"]["known"] > 0 and er["distance"]["unknown"] > 0
    bench = load_benchmarks(BENCHMARKS).er
    expected = rate_er(Decimal(er["riskAdjustedRate"]), None, bench, 2, False)
    assert expected is not None
    assert out["ratings"]["er"] == expected.value
    assert out["ratings"]["er"] in {r.value for r in Rating}


def test_without_benchmarks_the_er_is_observed_only(
    practice: tuple[Path, PracticeTruth], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _ = practice
    er = report(folder, tmp_path, capsys)["er"]
    assert er["observedRate"] is not None
    assert er["expectedRate"] is None and er["riskAdjustedRate"] is None


def test_measure_reports_carry_the_er_counts(
    practice: tuple[Path, PracticeTruth], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _ = practice
    reports = tmp_path / "mr"
    out = report(
        folder, tmp_path, capsys, "--benchmarks", str(BENCHMARKS), "--measure-reports", str(reports)
    )
    er = out["er"]
    # one MeasureReport a file
    resources = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(reports.rglob("*.json"))]
    summaries = [
        r
        for r in resources
        if r.get("resourceType") == "MeasureReport"
        and r.get("type") == "summary"
        and any(g.get("code", {}).get("text") == "risk-adjusted" for g in r.get("group", []))
    ]
    assert len(summaries) == 1
    (risk,) = [g for g in summaries[0]["group"] if g["code"]["text"] == "risk-adjusted"]
    assert Decimal(str(risk["measureScore"]["value"])) == Decimal(er["riskAdjustedRate"])
    strata = risk["stratifier"][0]["stratum"]
    assert [s["value"]["text"] for s in strata] == [q["quarter"] for q in er["quarters"]]
