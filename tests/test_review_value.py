"""A payer's audit of the value-based adjustment (value-and-models §12): figures that must agree
between the value report JSON, its MeasureReports, the benchmarks file and the table."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from test_measure_reports import REPORT, counts, summaries

from cpoc_fhir.reports.benchmarks import Benchmark, Benchmarks
from cpoc_fhir.store.pathways import DecisionFeedback, StoredDecision
from cpoc_fhir.value.measure_reports import measure_reports
from cpoc_fhir.value.pathway_measure import pathway_measure
from cpoc_fhir.value.settings import ValueSettings

WHEN = datetime(2025, 5, 1, 12, tzinfo=UTC)
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
