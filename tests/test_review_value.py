"""A payer's audit of the value-based adjustment (value-and-models §12): figures that must agree
between the value report JSON, its MeasureReports, the benchmarks file and the table."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from test_measure_reports import REPORT, counts, summaries

from cpoc_fhir.cli import bundled_examples, main
from cpoc_fhir.reports.benchmarks import (
    Benchmark,
    Benchmarks,
    example_benchmarks_path,
    load_benchmarks,
)
from cpoc_fhir.reports.benchmarks_cli import standardised_rate
from cpoc_fhir.reports.render import decimal_text, rate_json
from cpoc_fhir.store.pathways import DecisionFeedback, StoredDecision
from cpoc_fhir.value.measure_input import proportion
from cpoc_fhir.value.measure_reports import measure_reports
from cpoc_fhir.value.model import DENOMINATOR, POPULATIONS, MeasureTally, Rating
from cpoc_fhir.value.pathway_measure import pathway_measure
from cpoc_fhir.value.quality import QUALITY_MEASURES
from cpoc_fhir.value.ratings import rate_quality
from cpoc_fhir.value.settings import ValueSettings

WHEN = datetime(2025, 5, 1, 12, tzinfo=UTC)
PLACES = Decimal("0.0001")
BENCH = Benchmarks(
    "bench.toml", overall=Benchmark(Decimal("0.80"), Decimal("0.10"), Decimal("0.90"))
)


def decision(n: int, cancer: str, status: str, reason: str | None = None) -> StoredDecision:
    feedback = DecisionFeedback("overridden", WHEN, reason_code=reason) if reason else None
    return StoredDecision(
        f"Patient/p{n}|MedicationRequest/m{n}",
        f"p{n}",
        "signed",
        status,
        WHEN,
        pathway_id=f"{cancer}-pathway",
        cancer=cancer,
        feedback=feedback,
    )


def with_pathways(decisions: list[StoredDecision]) -> dict[str, Any]:
    report = copy.deepcopy(REPORT)
    report["pathways"] = pathway_measure(decisions, ValueSettings(), BENCH, phase=2).as_json()
    return report


def strata(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    group = summaries(measure_reports(report))["cpoc-pathways"]["group"][0]
    return {s["value"]["text"]: s for s in group["stratifier"][0]["stratum"]}


def test_a_cancer_types_stratum_counts_its_on_pathway_decisions_despite_trial_deviations() -> None:
    # lung: 7 on pathway, 1 deviation with a reason, 1 clinical-trial deviation (§12.1: out of
    # the denominator). Rate = 7 / (7 + 2 − 1) = 7/8 = 0.875, as the JSON says. The stratum
    # used to take on pathway = decisions − deviations = 8 − 2 = 6 (0.75): the trial deviation
    # was subtracted although it had already left the decisions.
    decisions = [decision(i, "lung", "on-pathway") for i in range(7)]
    decisions += [
        decision(7, "lung", "off-pathway", reason="patient-preference"),
        decision(8, "lung", "off-pathway", reason="clinical-trial"),
    ]
    report = with_pathways(decisions)
    (lung,) = report["pathways"]["byCancer"]
    assert (lung["rate"], lung["decisions"], lung["onPathway"], lung["excludedTrial"]) == (
        "0.8750",
        8,
        7,
        1,
    )
    stratum = strata(report)["lung"]
    assert counts(stratum) == {
        "initial-population": 9,
        "denominator": 9,
        "denominator-exclusion": 1,
        "numerator": 7,
    }
    assert stratum["measureScore"]["value"] == Decimal("0.8750")


def test_a_cancer_type_with_only_trial_deviations_does_not_stop_the_submission() -> None:
    # breast: 2 on pathway. lung: 1 deviation, a clinical trial: 0 decisions left, 1 deviation.
    # The MeasureReports used to refuse the report ("deviations are more than decisions").
    decisions = [decision(i, "breast", "on-pathway") for i in range(2)]
    decisions.append(decision(2, "lung", "off-pathway", reason="clinical-trial"))
    found = strata(with_pathways(decisions))
    assert counts(found["lung"]) == {
        "initial-population": 1,
        "denominator": 1,
        "denominator-exclusion": 1,
        "numerator": 0,
    }
    assert "measureScore" not in found["lung"]  # 0 / 0: no score
    assert counts(found["breast"])["numerator"] == 2


def test_a_report_without_per_cancer_on_pathway_counts_keeps_the_old_reading() -> None:
    # REPORT (written by hand, before byCancer carried onPathway): lung 10 decisions, 2
    # deviations → 8 on pathway.
    lung = strata(REPORT)["lung"]
    assert counts(lung)["numerator"] == 8


# --- the first benchmarks file: from reports written before any benchmarks existed ----------


def first_year_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Two generated practices' value reports of 2024, written without --benchmarks (none
    exist yet: the issue's "a practice checking its own figures before benchmarks exist")."""
    from cpoc_fhir.synthetic import generate_practice

    monkeypatch.setenv("CPOC_STORE_URL", f"sqlite:///{tmp_path}/s.sqlite")
    paths = []
    for seed in (3, 5):
        folder = tmp_path / f"practice{seed}"
        generate_practice(folder, 40, seed=seed, year=2024, claims=False)
        out = tmp_path / f"value{seed}.json"
        argv = ["report", "value", str(folder), "--year", "2024", "--format", "json"]
        assert main([*argv, "--out", str(out)]) == 0
        paths.append(out)
    return paths


def test_the_first_benchmarks_come_from_reports_written_without_benchmarks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = first_year_reports(tmp_path, monkeypatch)
    reports = [json.loads(p.read_text()) for p in paths]
    assert all(r["quality"]["minimumDenominator"] == 10 for r in reports)
    assert not any(m["inComposite"] for r in reports for m in r["measures"])  # no benchmark
    assert all(r["er"]["riskAdjustedRate"] is None for r in reports)  # no factors
    out = tmp_path / "benchmarks-2024.toml"
    assert main(["report", "benchmarks", *map(str, paths), "--out", str(out)]) == 0
    capsys.readouterr()
    b = load_benchmarks(out)
    # Every measure with a denominator of 10 or more in a practice and a rate: the practices'
    # mean. The file used to have no [quality] and no [er] at all (nothing "in the composite").
    expected: dict[str, list[Decimal]] = {}
    for r in reports:
        for m in r["measures"]:
            if m["denominator"] >= 10 and m["rate"] is not None:
                expected.setdefault(m["id"], []).append(Decimal(str(m["rate"])))
    assert expected  # the generated practices have such measures
    assert set(b.quality) == set(expected)
    for mid, rates in expected.items():
        assert b.quality[mid].mean == (sum(rates, Decimal(0)) / len(rates)).quantize(PLACES)
    # ER without factors: every factor 1, the risk-adjusted rate is the observed rate (§12.3),
    # weighted visits × 100 / patient-months (unrounded: the report's observedRate is rounded)
    observed = [
        Decimal(r["er"]["weightedVisits"]) * 100 / r["er"]["patientMonths"] for r in reports
    ]
    assert [o.quantize(PLACES) for o in observed] == [
        Decimal(r["er"]["observedRate"]) for r in reports
    ]
    assert b.er is not None
    assert b.er.mean == (sum(observed, Decimal(0)) / 2).quantize(PLACES)


def test_a_report_without_a_risk_adjusted_rate_is_standardised_with_the_given_factors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = first_year_reports(tmp_path, monkeypatch)
    example = load_benchmarks(example_benchmarks_path())
    assert example.er is not None
    for path in paths:
        plain = json.loads(path.read_text())
        # The same practice's report with the example's factors: its own risk-adjusted rate.
        folder = tmp_path / path.stem.replace("value", "practice")
        argv = ["report", "value", str(folder), "--year", "2024", "--format", "json"]
        assert main([*argv, "--benchmarks", str(example_benchmarks_path())]) == 0
        rated = json.loads(capsys.readouterr().out)
        computed = standardised_rate(plain["er"], example.er, str(path))
        assert computed.quantize(PLACES) == Decimal(rated["er"]["riskAdjustedRate"])


# --- the prior year's report (§12.3 "reduced") --------------------------------------------------


def test_the_prior_report_must_be_of_the_year_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The ER rating's "reduced" compares this year's rate with the prior year's (§12.3): a
    # report of the same year (or any other) was read as the prior one without a word.
    monkeypatch.setenv("CPOC_STORE_URL", f"sqlite:///{tmp_path}/s.sqlite")
    prior = tmp_path / "prior.json"
    for year, code in ((2025, 2), (2023, 2), (2024, 0)):
        prior.write_text(json.dumps({"year": year, "er": {"riskAdjustedRate": "9.0000"}}))
        argv = ["report", "value", str(bundled_examples()), "--year", "2025", "--format", "json"]
        assert main([*argv, "--prior", str(prior)]) == code
        err = capsys.readouterr().err
        if code:
            assert f"prior.json: year: {year}, expected 2024 (the year before 2025)" in err


def test_benchmarks_of_another_year_than_the_one_before_are_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # §12: payments of Y+1 carry the adjustment of Y "rated against benchmarks of year Y−1".
    # The example file holds 2024's figures: right for 2025, not for 2024 or 2026.
    monkeypatch.setenv("CPOC_STORE_URL", f"sqlite:///{tmp_path}/s.sqlite")
    example = str(example_benchmarks_path())
    said = {}
    for year in (2024, 2025, 2026):
        argv = ["report", "value", str(bundled_examples()), "--year", str(year)]
        assert main([*argv, "--format", "json", "--benchmarks", example]) == 0
        warnings = json.loads(capsys.readouterr().out)["warnings"]
        said[year] = [w for w in warnings if "§12 rates" in w]
    assert said[2025] == []
    assert said[2024] == [
        "the benchmarks (cpoc-fhir illustrative example (made-up figures), 2025-12-01) are of "
        "2024: §12 rates 2024 against the practices' figures of 2023"
    ]
    assert (
        len(said[2026]) == 1
        and "§12 rates 2026 against the practices' figures of 2025" in (said[2026][0])
    )


def test_the_table_says_the_adjustment_as_cpoc_vba_does_and_why_a_measure_is_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The bundled examples rated in participation year 3 with the example benchmarks: pathways
    # low (available pathways without a decision), quality low (phase 3, not submitting), ER
    # high (no visit: 0 is more than one SD below the mean 6.0) → −1 → II-C.2 year 3: −1 %.
    monkeypatch.setenv("CPOC_STORE_URL", f"sqlite:///{tmp_path}/s.sqlite")
    argv = ["report", "value", str(bundled_examples()), "--year", "2025"]
    argv += ["--benchmarks", str(example_benchmarks_path()), "--participation-year", "3"]
    assert main([*argv, "--phase", "pathways=2,quality=3,er=2"]) == 0
    table = capsys.readouterr().out
    assert "Ratings: pathways low, quality low, er high" in table
    assert "Adjustment: -1% (-0.01)" in table  # was "-1.00%"; `cpoc vba` says "-1%"
    vba = ["vba", "--participation-year", "3", "--pathways", "low", "--quality", "low"]
    assert main([*vba, "--er", "high"]) == 0
    assert capsys.readouterr().out.strip() == "-1%"
    # every measure is out of the composite, here for its small denominator; the footnote no
    # longer gives that as the only reason (no benchmark, no rate are the others)
    assert "* not in the composite (§12.2): denominator under 10, no rate, or no benchmark" in table


# --- a benchmarks file without quality figures --------------------------------------------------


def test_no_quality_figures_leave_a_submitting_practice_unrated_in_phases_2_and_3() -> None:
    # Used to be "appropriate" (score 0) without any comparison, silently; a file without
    # [er] leaves ER unrated, and the value report says so and writes no adjustment.
    tallies = [MeasureTally("Q1", {**dict.fromkeys(POPULATIONS, 0), DENOMINATOR: 20})]
    for phase, submitting, expected in (
        (1, True, Rating.HIGH),  # Phase 1: submitting is enough
        (2, False, Rating.LOW),  # not submitting: no figure needed
        (3, False, Rating.LOW),
        (2, True, None),
        (3, True, None),
    ):
        result = rate_quality(tallies, QUALITY_MEASURES, {}, phase, submitting, ValueSettings())
        assert result.rating is expected, (phase, submitting)


def test_the_value_report_writes_no_adjustment_without_quality_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CPOC_STORE_URL", f"sqlite:///{tmp_path}/s.sqlite")
    text = example_benchmarks_path().read_text()
    start, end = text.index("[quality.Q1]"), text.index("# Avoidable emergency visits")
    no_quality = tmp_path / "no-quality.toml"
    no_quality.write_text(text[:start] + text[end:])
    assert not load_benchmarks(no_quality).quality
    argv = ["report", "value", str(bundled_examples()), "--year", "2025", "--format", "json"]
    argv += ["--benchmarks", str(no_quality), "--phase", "quality=3"]
    assert main([*argv, "--measure-reports", str(tmp_path / "mr")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ratings"]["quality"] is None and report["adjustment"] is None
    assert any(w.startswith("no adjustment: quality not rated") for w in report["warnings"])


def test_the_html_rating_row_names_the_cancer_type_whose_pathway_is_not_used() -> None:
    # lung 3 on pathway (100 %); prostate 1 deviation without a reason: not used → the
    # practice is low (§12.1) although its pooled rate is 75 %. The row gave only the pooled
    # rate, which reads as if adherence had made it low.
    from cpoc_fhir.reports.value_html import render_value_html

    decisions = [decision(i, "lung", "on-pathway") for i in range(3)]
    decisions.append(decision(3, "prostate", "off-pathway"))
    report = with_pathways(decisions)
    report["ratings"] = {"pathways": "low", "quality": "high", "er": "appropriate"}
    report["adjustment"] = "0"
    report["er"]["patients"] = {}  # the hand-written REPORT's ER patients are not the real shape
    assert report["pathways"]["rating"] == "low"
    page = render_value_html(report)
    assert "pooled adherence 75.0% of 4 decisions; a pathway not used for prostate" in page


# --- one rounding rule for a rate, wherever it is written ---------------------------------------


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (1, 32, "0.0313"),  # 0.03125: a tie; float round() gave 0.0312
        (5, 32, "0.1563"),  # 0.15625: float round() gave 0.1562
        (1, 160, "0.0063"),  # 0.00625: decimal_text (half-even) gave 0.0062
        (7, 160, "0.0438"),  # 0.04375: float round() gave 0.0437
        (2, 3, "0.6667"),
        (1, 3, "0.3333"),
    ],
)
def test_a_rate_reads_the_same_in_the_json_and_in_its_measure_report(
    numerator: int, denominator: int, expected: str
) -> None:
    rate = Fraction(numerator, denominator)
    assert rate_json(rate) == float(expected)
    assert decimal_text(rate) == expected
    assert proportion(numerator, denominator) == Decimal(expected)  # measureScore
