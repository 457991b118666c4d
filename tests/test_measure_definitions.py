"""The value measures' FHIR R4 Measures (value-and-models §12.1-§12.3) and their publication."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from fhir.resources.R4B.measure import Measure

from cpoc_fhir.cli import main
from cpoc_fhir.fhir.write import PublishSettings
from cpoc_fhir.value.measure_definitions import (
    ALL_SPECS,
    POPULATION_SYSTEM,
    measure,
    measures,
    write_measures,
)
from cpoc_fhir.value.quality import QUALITY_MEASURES

SETTINGS = PublishSettings(
    codesystem_url="https://billing.example-practice.org/fhir/CodeSystem/cpoc",
    definition_base="https://billing.example-practice.org/fhir/ChargeItemDefinition/",
    version="2.3.0",
)


def by_id(resources: list[dict]) -> dict[str, dict]:
    return {r["id"]: r for r in resources}


def populations(resource: dict, group: int = 0) -> list[str]:
    return [p["code"]["coding"][0]["code"] for p in resource["group"][group]["population"]]


def test_eight_measures_under_the_canonical_base() -> None:
    found = by_id(measures(SETTINGS))
    assert sorted(found) == sorted(
        [f"cpoc-q{i}" for i in range(1, 7)] + ["cpoc-er", "cpoc-pathways"]
    )
    # The base is definition_base's parent: …/fhir/ChargeItemDefinition/ → …/fhir/Measure.
    assert found["cpoc-q4"]["url"] == "https://billing.example-practice.org/fhir/Measure/cpoc-q4"
    for resource in found.values():
        Measure.model_validate(resource)
        assert resource["version"] == "2.3.0"
        assert resource["status"] == "active"
        assert resource["date"] == "2026-12-02"
        assert "no CQL library" in resource["description"]


def test_measure_base_setting_overrides_the_derived_base() -> None:
    settings = PublishSettings(measure_base="https://registry.example.org/Measure/")
    assert measure(ALL_SPECS[0], settings)["url"] == "https://registry.example.org/Measure/cpoc-q1"


def test_quality_measures_follow_the_12_2_table() -> None:
    found = by_id(measures(PublishSettings()))
    # §12.2: Q4 (chemotherapy in the last 14 days, NQF 0210) is the one where lower is better.
    notation = {
        k: v["improvementNotation"]["coding"][0]["code"]
        for k, v in found.items()
        if k.startswith("cpoc-q")
    }
    assert notation == {
        "cpoc-q1": "increase",
        "cpoc-q2": "increase",
        "cpoc-q3": "increase",
        "cpoc-q4": "decrease",
        "cpoc-q5": "increase",
        "cpoc-q6": "increase",
    }
    sources = {k: v["relatedArtifact"][0]["display"] for k, v in found.items()}
    assert sources["cpoc-q2"] == "NQF 0384 / CMS 157"
    assert sources["cpoc-q4"] == "NQF 0210"
    assert sources["cpoc-q6"] == "CMS 2 / OCM-5"
    for key in (f"cpoc-q{i}" for i in range(1, 7)):
        resource = found[key]
        assert resource["scoring"]["coding"][0] == {
            "system": "http://terminology.hl7.org/CodeSystem/measure-scoring",
            "code": "proportion",
        }
        assert populations(resource) == [
            "initial-population",
            "denominator",
            "denominator-exclusion",
            "numerator",
        ]
        for population in resource["group"][0]["population"]:
            assert population["code"]["coding"][0]["system"] == POPULATION_SYSTEM
            assert population["criteria"]["language"] == "text/plain"
    assert "14 days before death" in found["cpoc-q4"]["group"][0]["population"][3]["description"]
    # Q3's denominator is narrower than its initial population (solid tumours only), Q6 has
    # CMS 2's exclusions, Q4 none (NQF 0210).
    q3 = [p["description"] for p in found["cpoc-q3"]["group"][0]["population"]]
    assert "solid tumour" in q3[1] and "solid" not in q3[0]
    assert "bipolar" in found["cpoc-q6"]["group"][0]["population"][2]["description"]
    assert (
        "NQF 0210 lists no exclusions"
        in found["cpoc-q4"]["group"][0]["population"][2]["description"]
    )


def test_quality_measures_are_those_the_value_report_computes() -> None:
    # Title, source, improvement and unit come from quality.QUALITY_MEASURES, one list.
    found = by_id(measures(PublishSettings()))
    for q in QUALITY_MEASURES:
        resource = found[f"cpoc-{q.id.lower()}"]
        assert resource["title"] == q.title
        assert resource["relatedArtifact"][0]["display"] == q.source
        assert resource["improvementNotation"]["coding"][0]["code"] == q.improvement
        assert f"Unit of measurement: {q.unit}." in resource["description"]
    assert "72514-3" in found["cpoc-q2"]["group"][0]["population"][3]["description"]


def test_er_measure_is_a_ratio_with_observed_and_risk_adjusted_groups() -> None:
    er = by_id(measures(PublishSettings()))["cpoc-er"]
    assert er["scoring"]["coding"][0]["code"] == "ratio"
    assert er["improvementNotation"]["coding"][0]["code"] == "decrease"
    assert [g["code"]["text"] for g in er["group"]] == ["observed", "risk-adjusted"]
    assert populations(er, 1) == ["initial-population", "denominator", "numerator"]
    assert er["group"][0]["stratifier"][0]["code"]["text"] == "quarter"
    assert "OP-35" in er["group"][0]["population"][2]["description"]


def test_pathway_measure_excludes_trial_deviations() -> None:
    pathways = by_id(measures(PublishSettings()))["cpoc-pathways"]
    assert pathways["scoring"]["coding"][0]["code"] == "proportion"
    assert "clinical trial" in pathways["group"][0]["population"][2]["description"]
    assert pathways["group"][0]["stratifier"][0]["code"]["text"] == "cancer"


def test_write_measures_is_deterministic(tmp_path: Path) -> None:
    paths = write_measures(SETTINGS, tmp_path)
    assert len(paths) == 8
    before = {p: p.read_bytes() for p in paths}
    write_measures(SETTINGS, tmp_path)
    assert {p: p.read_bytes() for p in paths} == before
    data = json.loads(paths[0].read_text(encoding="utf-8"), parse_float=Decimal)
    Measure.model_validate(data)


def test_fhir_resources_publishes_the_measures_with_the_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "cpoc.toml"
    config.write_text('[publish]\nmeasure_base = "https://fhir.example-oncology.org/Measure"\n')
    out = tmp_path / "out"
    assert main(["--config", str(config), "fhir-resources", "--out", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert str(out / "Measure-cpoc-pathways.json") in printed
    q1 = json.loads((out / "Measure-cpoc-q1.json").read_text(encoding="utf-8"))
    assert q1["url"] == "https://fhir.example-oncology.org/Measure/cpoc-q1"
