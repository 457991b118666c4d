"""Timelines over the public external data (mCODE, Synthea, clinosim): what a reader of each
data set's README (../shared/data/external/README.md) would expect."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from cpoc_fhir.engine.lines import PatientTimeline
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.fhir.read import open_source
from cpoc_fhir.knowledge import Knowledge
from cpoc_fhir.packs.cpoc.payer import PayerSchedule
from cpoc_fhir.service import Evaluator

AS_OF = date(2026, 11, 23)


def timelines(path: Path, knowledge: Knowledge, payer: PayerSchedule) -> list[PatientTimeline]:
    evaluator = Evaluator(knowledge, RuleSettings(), payer)
    return list(evaluator.timelines(open_source(path), AS_OF))


def regimens(timeline: PatientTimeline) -> set[str | None]:
    return {line.score.regimen for line in timeline.lines if line.score is not None}


def test_clinosim_regimens_are_recognised(
    external: Path, knowledge: Knowledge, payer: PayerSchedule
) -> None:
    found = {
        frozenset(r for r in regimens(t) if r): t
        for t in timelines(external / "clinosim_us_generated", knowledge, payer)
    }
    # folfox_esophagus (RxNorm coded), carbopem_lung (text only), trastuzumab_breast
    assert set(found) == {
        frozenset({"folfox"}),
        frozenset({"carboplatin-pemetrexed"}),
        frozenset({"trastuzumab"}),
    }
    lung = found[frozenset({"carboplatin-pemetrexed"})]
    # the clinosim defect: Alendronate coded as RxNorm 3002 (cyclophosphamide) is refused
    assert any("3002" in w and "Alendronate" in w for w in lung.warnings)
    folfox = found[frozenset({"folfox"})]
    first_month = next(line for line in folfox.lines if line.component.value == "treatment-month")
    assert first_month.status.value == "final"  # administrations recorded
    assert any(ref.startswith("MedicationAdministration/") for ref in first_month.evidence)


def test_synthea_bulk_orders_without_administrations_stay_provisional(
    external: Path, knowledge: Knowledge, payer: PayerSchedule
) -> None:
    [sumiko] = timelines(external / "synthea_bulk_10pt_subset", knowledge, payer)
    months = [line for line in sumiko.lines if line.component.value == "treatment-month"]
    assert months and regimens(sumiko) == {"cisplatin-paclitaxel"}  # product codes resolved
    assert all(line.status.value == "provisional" for line in months)
    assert all(any("not yet recorded as given" in e for e in line.explanation) for line in months)


def test_synthea_colon_partial_folfox_is_flagged(
    external: Path, knowledge: Knowledge, payer: PayerSchedule
) -> None:
    path = next((external / "synthea_r4_transaction").glob("Gabriela_Streich_*.json"))
    [gabriela] = timelines(path, knowledge, payer)
    # The line of therapy is still FOLFOX (pathways), but a day is scored as the regimen of the
    # drugs given that day (cpoc-rules §5): oxaliplatin + leucovorin is no catalog regimen and
    # has no catalog subset, so it scores T 0 (conservative) with a warning, not FOLFOX's T 4.
    assert regimens(gabriela) == {None}
    assert "matched FOLFOX without fluorouracil" in gabriela.warnings
    months = [line for line in gabriela.lines if line.score is not None]
    assert all(line.score.toxicity == 0 for line in months if line.score)
    assert any("no catalog regimen" in w for line in months for w in line.warnings)


def test_mcode_examples_read_their_regimens_and_performance(
    external: Path, knowledge: Knowledge, payer: PayerSchedule
) -> None:
    by_patient = {
        t.patient_ref: t for t in timelines(external / "mcode_stu4_examples", knowledge, payer)
    }
    jenny = by_patient["Patient/cancer-patient-jenny-m"]
    assert {"ac", "anastrozole"} <= regimens(jenny)
    john = by_patient["Patient/cancer-patient-john-anyperson"]
    assert "gefitinib" in regimens(john)
    brian = by_patient["Patient/cancer-patient-brian-l"]  # paediatric ALL: not in the catalog
    assert any("matches no catalog regimen" in w for w in brian.warnings)


@pytest.mark.parametrize("name", ["Andy_Schaden", "Austin_Franecki", "Sherman_McGlynn"])
def test_synthea_transaction_bundles(
    name: str, external: Path, knowledge: Knowledge, payer: PayerSchedule
) -> None:
    path = next((external / "synthea_r4_transaction").glob(f"{name}_*.json"))
    [timeline] = timelines(path, knowledge, payer)
    assert any(line.component.value == "treatment-month" for line in timeline.lines)
    if name == "Austin_Franecki":  # died in 1989: nothing after his death
        last = max(line.start for line in timeline.lines)
        assert last.year <= 1989
