"""The HTML value report of a generated practice (``cpoc_fhir.synthetic``), end to end: the
report's real measures, ER collector, ratings and adjustment, written with ``--format html``;
the page's drill-downs list exactly the patients the JSON and the generator say."""

from __future__ import annotations

import json
import re
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from test_value_html import Page

from cpoc_fhir.cli import build_parser
from cpoc_fhir.reports import value_cli
from cpoc_fhir.reports.html_page import percent, signed_percent
from cpoc_fhir.synthetic import PracticeTruth, generate_practice
from cpoc_fhir.value.adjustment import adjustment
from cpoc_fhir.value.er import ErCollector
from cpoc_fhir.value.quality import QUALITY_MEASURES
from cpoc_fhir.value.ratings import rate_er, rate_quality
from cpoc_fhir.value.report import ValueComponents

BENCHMARKS = (
    Path(__file__).parents[1] / "cpoc_fhir" / "knowledge" / "data" / "benchmarks-example.toml"
)
COMPONENTS = ValueComponents(QUALITY_MEASURES, ErCollector, rate_quality, rate_er, adjustment)


@pytest.fixture(scope="module")
def practice(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PracticeTruth]:
    out = tmp_path_factory.mktemp("html-practice")
    return out, generate_practice(out, 60, seed=5, year=2025)


@pytest.fixture(scope="module")
def outputs(
    practice: tuple[Path, PracticeTruth], tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], str]:
    folder, _ = practice
    tmp = tmp_path_factory.mktemp("html-out")
    written = {}
    for fmt in ("json", "html"):
        out = tmp / f"report.{fmt}"
        argv = ["report", "value", str(folder), "--year", "2025", "--benchmarks", str(BENCHMARKS)]
        argv += ["--participation-year", "3", "--store", f"sqlite:///{tmp}/{fmt}.sqlite"]
        args = build_parser().parse_args([*argv, "--format", fmt, "--out", str(out)])
        assert value_cli.run(args, UTC, COMPONENTS) == 0
        written[fmt] = out.read_text(encoding="utf-8")
    return json.loads(written["json"]), written["html"]


def _row_headers(html: str) -> list[str]:
    return re.findall(r'<th scope="row" class="ref">([^<]+)</th>', html)


def test_each_measure_lists_the_patients_of_its_numerator(
    outputs: tuple[dict[str, Any], str],
) -> None:
    report, html = outputs
    assert len(report["measures"]) == 6
    for measure in report["measures"]:
        anchor = f"measure-{measure['id'].lower()}"
        start = html.index(f'<section id="{anchor}"')
        details = html[start : html.index("</details>", start)]
        expected = sorted(p for p, e in measure["patients"].items() if "numerator" in e)
        assert _row_headers(details) == expected
        assert f"rate {percent(measure['rate'])}" in Page(html[start:]).text


def test_the_er_drill_down_is_the_generator_s_counted_visits(
    outputs: tuple[dict[str, Any], str], practice: tuple[Path, PracticeTruth]
) -> None:
    report, html = outputs
    _, truth = practice
    er = html[html.index('<section id="er"') :]
    er = er[: er.index("</section>")]
    counted = sorted(p for p, e in report["er"]["patients"].items() if e["visits"])
    assert _row_headers(er) == counted
    assert report["er"]["visits"] == sum(
        len(report["er"]["patients"][p]["visits"]) for p in counted
    )
    # every counted visit is one the generator made, with an OP-35 category
    made = {f"Encounter/{v.encounter_id}": v for t in truth.patients.values() for v in t.er_visits}
    shown = re.findall(r"(Encounter/[^ <]+) on (\d{4}-\d\d-\d\d): [^,]+, weight ([\d.]+)", er)
    assert len(shown) == report["er"]["visits"]
    for ref, day, weight in shown:
        assert made[ref].op35_category and made[ref].day.isoformat() == day
        assert weight == ("1.0" if made[ref].near_treatment else "0.5")


def test_ratings_and_adjustment_match_the_json(outputs: tuple[dict[str, Any], str]) -> None:
    report, html = outputs
    ratings = Page(html[html.index('<section id="ratings"') :].split("</section>")[0]).text
    for label, key in (("Pathways (IV-A)", "pathways"), ("Quality (IV-B)", "quality")):
        assert f"{label} {report['ratings'][key]}" in ratings
    assert "ILLUSTRATIVE" in Page(html).text  # the shipped benchmarks are illustrative
    assert f"Adjustment {signed_percent(report['adjustment'])}" in ratings
