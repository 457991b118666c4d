"""Golden tests: the proposal's Appendix A and B, from FHIR bundles to lines (hand-derived).

tests/data/golden/README.md shows how each expected line follows from cpoc-rules.md.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from cpoc_fhir.cli import bundled_examples
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.fhir.read import open_source
from cpoc_fhir.knowledge import Knowledge
from cpoc_fhir.packs.cpoc.payer import PayerSchedule
from cpoc_fhir.service import Evaluator

GOLDEN = Path(__file__).parent / "data" / "golden"
COMPARED = ("code", "component", "level", "month", "start", "end", "status", "amount", "score")


def _timeline(case: str, knowledge: Knowledge, payer: PayerSchedule, as_of: str) -> dict:
    evaluator = Evaluator(knowledge, RuleSettings(), payer)
    source = open_source(bundled_examples() / f"{case}.json")
    [timeline] = list(evaluator.timelines(source, date.fromisoformat(as_of)))
    return timeline.as_json()


@pytest.mark.parametrize("case", ["appendix-a-folfox", "appendix-b-nsclc"])
def test_appendix_case_lines(case: str, knowledge: Knowledge, payer: PayerSchedule) -> None:
    expected = json.loads((GOLDEN / case / "expected.json").read_text())
    got = _timeline(case, knowledge, payer, expected["asOf"])
    assert got["patient"] == expected["patient"]
    projected = [{k: line[k] for k in COMPARED if k in line} for line in got["lines"]]
    assert projected == expected["lines"]


def test_appendix_a_lines_explain_and_cite(knowledge: Knowledge, payer: PayerSchedule) -> None:
    got = _timeline("appendix-a-folfox", knowledge, payer, "2026-03-03")
    by_code_month = {(line["code"], line["month"]): line for line in got["lines"]}
    month_1 = by_code_month[("xx204", 1)]
    assert any("FOLFOX" in text and "4 points" in text for text in month_1["explanation"])
    assert any("ECOG 1" in text for text in month_1["explanation"])
    assert all(
        ref.split("/")[0] in {"MedicationAdministration", "Observation", "Condition"}
        for ref in month_1["evidence"]
    )
    transition = by_code_month[("xx401", 7)]
    assert any("no evidence of disease" in text for text in transition["explanation"])
    assert any(ref.startswith("Encounter/") for ref in transition["evidence"])
    new_patient = by_code_month[("xx100", None)]
    assert new_patient["evidence"][0].startswith("Encounter/")


def test_appendix_b_transition_cites_the_progression(
    knowledge: Knowledge, payer: PayerSchedule
) -> None:
    got = _timeline("appendix-b-nsclc", knowledge, payer, "2025-12-15")
    month_3 = next(line for line in got["lines"] if line["code"] == "xx401" and line["month"] == 3)
    text = " ".join(month_3["explanation"])
    assert "progression documented by a result" in text
    assert "change of drug class" in text and "Docetaxel" in text
    assert any(ref.startswith("Observation/") for ref in month_3["evidence"])
