"""The regimen of a day and of a month (cpoc-rules §5) and the evidence of every line (§11),
on hand-built facts. Each expected figure is derived in a comment from the rules and the
catalog's own figures (so a re-derived Table 3 figure moves the expectation with it)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from conftest import Runner, lines_of
from factories import cancer, cycles, ecog, given, oral, record, status, visit

from cpoc_fhir.engine.facts import DiseaseState, DrugRole
from cpoc_fhir.engine.lines import BillingLine, PatientTimeline
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.knowledge import Knowledge
from cpoc_fhir.knowledge.regimens import RegimenCatalog, ToxicityFigure
from cpoc_fhir.packs.cpoc import tables
from cpoc_fhir.packs.cpoc.payer import PayerSchedule
from cpoc_fhir.packs.cpoc.timeline import evaluate

CPP = ("carboplatin", "pemetrexed", "pembrolizumab")
PP = ("pemetrexed", "pembrolizumab")
FOLFOX = ("oxaliplatin", "leucovorin", "fluorouracil")
LV5FU2 = ("leucovorin", "fluorouracil")


def month(timeline: PatientTimeline, k: int) -> BillingLine:
    return next(line for line in lines_of(timeline, "treatment-month") if line.month == k)


def two_plus(category: int) -> int:
    """Table 4: 2+ infusion days at category c earn 1, 2, 4, 6, 8 for c = 0..4."""
    return {0: 1, 1: 2, 2: 4, 3: 6, 4: 8}[category]


# --- KEYNOTE-189: 4 cycles of carboplatin + pemetrexed + pembrolizumab, then maintenance -----


def keynote_189() -> dict:
    """Metastatic non-squamous NSCLC; q21d from 2025-01-06 (months anchored on the 6th):
    induction 01-06, 01-27, 02-17, 03-10; maintenance 03-31, 04-21, 05-12, 06-02, 06-23."""
    return {
        "diagnoses": [cancer("C34.11", "2024-12-20", cancer_type="lung")],
        "exposures": cycles(CPP, "2025-01-06", 21, 4) + cycles(PP, "2025-03-31", 21, 5),
        "visits": [visit("2024-12-30"), visit("2025-03-28"), visit("2025-05-10")],
        "performance": [ecog("2024-12-30", 1), ecog("2025-03-28", 1), ecog("2025-05-10", 1)],
    }


def test_keynote_189_maintenance_months_score_the_maintenance_regimen(
    run: Runner, knowledge: Knowledge
) -> None:
    induction = knowledge.regimens.regimens["carboplatin-pemetrexed-pembrolizumab"]
    maintenance = knowledge.regimens.regimens["pemetrexed-pembrolizumab"]
    # Catalog 1.1.0: induction 67.2 % grade >= 3 (> 35 %) → T 4, category 3; maintenance
    # 25 % / 50 % / 1 % (>= 20 %) → T 2, category 2 ("single-agent chemo + monoclonal").
    assert induction.toxicity_points > maintenance.toxicity_points
    timeline = run(record(**keynote_189()), "2025-07-10")
    # Month 4 (04-06..05-05): only 04-21, pemetrexed + pembrolizumab. C 0 (no comorbidity),
    # P 0 (ECOG 1), T = the maintenance figure (2), D = one day at category 2 → 2 points.
    # Total 0+0+2+2 = 4 → level 2 (the line's regimen would give 0+0+4+3 = 7 → level 3).
    m4 = month(timeline, 4)
    assert m4.score is not None
    assert m4.score.regimen == "pemetrexed-pembrolizumab"
    assert m4.score.toxicity == maintenance.toxicity_points
    assert m4.score.administration == maintenance.infusion_category
    total = maintenance.toxicity_points + (maintenance.infusion_category or 0)
    assert m4.level == tables.treatment_level(total)
    assert any(
        text.startswith(f"Toxicity: {maintenance.name} (maintenance of line 1: {induction.name})")
        and text.endswith(f"→ {maintenance.toxicity_points} points (Table 3)")
        for text in m4.explanation
    )
    # Month 5 (05-06..06-05): 05-12 and 06-02, both maintenance: 2+ days at category 2.
    m5 = month(timeline, 5)
    assert m5.score is not None and m5.score.toxicity == maintenance.toxicity_points
    assert m5.score.administration == two_plus(maintenance.infusion_category or 0)
    # Months 1-2 are induction only: month 1 has 01-06 and 01-27 (2+ at category 3 → 6).
    m1 = month(timeline, 1)
    assert m1.score is not None and m1.score.regimen == induction.id
    assert (m1.score.toxicity, m1.score.administration) == (
        induction.toxicity_points,
        two_plus(induction.infusion_category or 0),
    )
    # The line of therapy is unchanged: one line, so no class-change Transition for it.
    assert all(t.month == 7 for t in lines_of(timeline, "transition"))  # completion only


def test_mixed_month_takes_the_highest_toxicity_and_each_days_category(
    run: Runner, knowledge: Knowledge
) -> None:
    induction = knowledge.regimens.regimens["carboplatin-pemetrexed-pembrolizumab"]
    maintenance = knowledge.regimens.regimens["pemetrexed-pembrolizumab"]
    # Month 3 (03-06..04-05): 03-10 induction (category 3) and 03-31 maintenance (category 2).
    # T = max(4, 2) = the induction's; D: one day at 3 earns 3, two days at >= 2 earn 4 → 4.
    m3 = month(run(record(**keynote_189()), "2025-07-10"), 3)
    assert m3.score is not None
    assert m3.score.toxicity == max(induction.toxicity_points, maintenance.toxicity_points)
    assert m3.score.regimen == induction.id
    cat_i, cat_m = induction.infusion_category or 0, maintenance.infusion_category or 0
    assert m3.score.administration == max(cat_i, two_plus(min(cat_i, cat_m)))
    text = " ".join(m3.explanation)
    assert "the highest of the month's regimens" in text
    assert f"{maintenance.name} (maintenance of line 1" in text


# --- FOLFOX → LV5FU2: oxaliplatin dropped ------------------------------------------------


def test_folfox_then_lv5fu2_scores_lv5fu2_from_the_first_day_without_oxaliplatin(
    run: Runner, knowledge: Knowledge
) -> None:
    folfox = knowledge.regimens.regimens["folfox"]
    lv5fu2 = knowledge.regimens.regimens["lv5fu2"]
    # q14d from 2025-02-03 (months on the 3rd): FOLFOX 02-03 … 04-14 (6 cycles), then
    # LV5FU2 04-28, 05-12, 05-26, 06-09 (oxaliplatin stopped for neuropathy).
    facts = {
        "diagnoses": [cancer("C18.7", "2025-01-01")],
        "exposures": cycles(FOLFOX, "2025-02-03", 14, 6) + cycles(LV5FU2, "2025-04-28", 14, 4),
        "visits": [visit("2025-01-20")],
        "performance": [ecog("2025-01-20", 0), ecog("2025-04-20", 0)],
    }
    timeline = run(record(**facts), "2025-07-10")
    # Month 3 (04-03..05-02): FOLFOX 04-14 (category 3) + LV5FU2 04-28 (category 2):
    # T = FOLFOX's 4; D = max(3, 2+ at category 2 = 4) = 4.
    m3 = month(timeline, 3)
    assert m3.score is not None and m3.score.regimen == "folfox"
    assert m3.score.toxicity == folfox.toxicity_points
    # Month 4 (05-03..06-02): LV5FU2 05-12 and 05-26 only: T = LV5FU2's (4.7 % / 50 % /
    # 0.5 % → 2), D = 2+ days at category 2 → 4. Total 0+0+2+4 = 6 → level 3 (FOLFOX: 4+6+0+0
    # = 10 → level 4).
    m4 = month(timeline, 4)
    assert m4.score is not None and m4.score.regimen == "lv5fu2"
    assert m4.score.toxicity == lv5fu2.toxicity_points
    assert m4.score.administration == two_plus(lv5fu2.infusion_category or 0)
    assert m4.level == tables.treatment_level(m4.score.total)
    assert any(f"{lv5fu2.name} (maintenance of line 1: FOLFOX)" in e for e in m4.explanation)


# --- lenalidomide alone after Rd: variants of one anti-cancer set --------------------------


@pytest.fixture(scope="module")
def myeloma_knowledge(knowledge: Knowledge) -> Knowledge:
    """The shipped catalog plus a test-local lenalidomide maintenance variant (no companion,
    single-daily; test figures 10 % / 40 % / 0.5 % → T 0), listed after Rd."""
    shipped = knowledge.regimens
    rd = shipped.regimens["lenalidomide-dexamethasone"]
    figure = ToxicityFigure(Decimal("10"), "test figure")
    maintenance = replace(
        rd,
        id="lenalidomide-maintenance-test",
        name="Lenalidomide maintenance",
        companions=(),
        oral_pattern="single-daily",
        hospitalization=figure,
        qol=replace(figure, percent=Decimal("40")),
        death=replace(figure, percent=Decimal("0.5")),
        dosing=(),
    )
    regimens = {k: v for k, v in shipped.regimens.items() if v.drugs != ("lenalidomide",)}
    regimens = {"lenalidomide-dexamethasone": rd, **regimens, maintenance.id: maintenance}
    catalog = RegimenCatalog(drugs=shipped.drugs, regimens=regimens, version="test")
    return replace(knowledge, regimens=catalog)


def rd_then_maintenance() -> dict:
    """Rd: lenalidomide days 1-21 and dexamethasone (a 28-day supply) from 2025-01-06, three
    28-day cycles; then lenalidomide alone, 28-day supplies from 2025-04-01 (months on the 6th:
    month 4 is 04-06..05-05)."""
    exposures = []
    for cycle in range(3):
        start = date(2025, 1, 6) + timedelta(days=28 * cycle)
        exposures.append(oral("lenalidomide", start.isoformat(), 21))
        exposures.append(oral("dexamethasone", start.isoformat(), 28, role=DrugRole.SUPPORTIVE))
    for cycle in range(4):
        start = date(2025, 4, 1) + timedelta(days=28 * cycle)
        exposures.append(oral("lenalidomide", start.isoformat(), 28))
    return {
        "diagnoses": [cancer("C90.00", "2024-12-15", cancer_type="myeloma")],
        "exposures": exposures,
        "visits": [visit("2024-12-30")],
        "performance": [ecog("2024-12-30", 1), ecog("2025-03-30", 1), ecog("2025-06-01", 1)],
    }


def test_lenalidomide_alone_after_rd_is_the_maintenance_variant(
    myeloma_knowledge: Knowledge, payer: PayerSchedule
) -> None:
    catalog = myeloma_knowledge.regimens
    rd = catalog.regimens["lenalidomide-dexamethasone"]
    maintenance = catalog.regimens["lenalidomide-maintenance-test"]
    timeline = evaluate(
        record(**rd_then_maintenance()), myeloma_knowledge, RuleSettings(), payer, date(2025, 8, 1)
    )
    # Month 1 (01-06..02-05): dexamethasone covered with lenalidomide: Rd (its companion is
    # given): T 4; D oral multi-on-off in the line's initial month → 4.
    m1 = month(timeline, 1)
    assert m1.score is not None and m1.score.regimen == rd.id
    assert (m1.score.toxicity, m1.score.administration) == (rd.toxicity_points, 4)
    # Month 4 (04-06..05-05): lenalidomide alone (no dexamethasone since 03-31): the variant
    # with no companion. T 0 (test figures); D single-daily in a later month of the line → 0.
    m4 = month(timeline, 4)
    assert m4.score is not None and m4.score.regimen == maintenance.id
    assert (m4.score.toxicity, m4.score.administration) == (0, 0)
    assert any("oral single-daily (later month)" in e for e in m4.explanation)


def test_lenalidomide_alone_without_a_maintenance_variant_is_the_first_listed(
    run: Runner,
) -> None:
    # The shipped catalog (1.1.0) has only Rd for {lenalidomide}: with no variant lacking
    # companions, the first listed is taken (until the catalog adds the maintenance entry).
    m4 = month(run(record(**rd_then_maintenance()), "2025-08-01"), 4)
    assert m4.score is not None and m4.score.regimen is not None
    assert m4.score.regimen.startswith("lenalidomide")


# --- the catalog's identification of one day ----------------------------------------------


def test_identify_takes_the_largest_subset_then_the_rest_with_a_warning(
    knowledge: Knowledge,
) -> None:
    catalog = knowledge.regimens
    # cisplatin + pemetrexed + pembrolizumab + bevacizumab: no exact set; the largest subset
    # inside it is catalog 1.2.0's cisplatin + pemetrexed + pembrolizumab (KEYNOTE-189), leaving
    # bevacizumab as its own regimen.
    found = catalog.identify({"cisplatin", "pemetrexed", "pembrolizumab", "bevacizumab"})
    ids = [r.id for r in found.regimens]
    assert set(ids) == {"cisplatin-pemetrexed-pembrolizumab", "bevacizumab"}
    # A drug the catalog does not know is left unmatched (scored conservatively), the rest kept.
    unknown = catalog.identify({"cisplatin", "pemetrexed", "pembrolizumab", "bevacizumab", "x"})
    assert {r.id for r in unknown.regimens} == set(ids) and unknown.unmatched == {"x"}
    assert found.unmatched == frozenset()
    assert found.warnings and "no catalog regimen has exactly these drugs" in found.warnings[0]
    # Never a regimen whose drugs were not all given (the line-level match would say FOLFOX).
    partial = catalog.identify({"oxaliplatin", "leucovorin"})
    assert partial.regimens == () and partial.unmatched == {"oxaliplatin", "leucovorin"}
    assert catalog.match({"oxaliplatin", "leucovorin"}).regimens[0].id == "folfox"
    # Supportive drugs never change identity; the result is memoised per drug set.
    exact = catalog.identify({"carboplatin", "pemetrexed", "ondansetron"})
    assert [r.id for r in exact.regimens] == ["carboplatin-pemetrexed"]
    assert catalog.identify({"ondansetron", "pemetrexed", "carboplatin"}) is exact


def test_variant_with_all_companions_given_else_the_one_without(
    myeloma_knowledge: Knowledge,
) -> None:
    catalog = myeloma_knowledge.regimens
    assert catalog.identify({"lenalidomide", "dexamethasone"}).regimens[0].id == (
        "lenalidomide-dexamethasone"
    )
    assert catalog.identify({"lenalidomide"}).regimens[0].id == "lenalidomide-maintenance-test"
    assert catalog.identify({"lenalidomide", "prednisone"}).regimens[0].id == (
        "lenalidomide-maintenance-test"
    )


# --- §11: evidence on every line ----------------------------------------------------------


def test_pause_cites_the_treatment_before_and_after(run: Runner) -> None:
    before = given("docetaxel", "2025-03-15")
    after = given("docetaxel", "2025-05-05")
    facts = {
        "diagnoses": [cancer()],
        # 02-01, 02-22, 03-15 (months 1-2), none in month 3 (04-01..04-30), 05-05 (month 4)
        "exposures": [*cycles(("docetaxel",), "2025-02-01", 21, 2), before, after],
        "visits": [visit("2025-01-20")],
        "disease_status": [status("2025-03-15", DiseaseState.NED)],
    }
    monitoring = lines_of(run(record(**facts), "2025-07-01"), "active-monitoring")
    pause = next(line for line in monitoring if line.month == 3)
    assert pause.code == "xx303"
    assert before.ref in pause.evidence and after.ref in pause.evidence
    assert any("on 2025-03-15 and on 2025-05-05" in e for e in pause.explanation)


def test_month_without_performance_status_cites_what_was_looked_for(run: Runner) -> None:
    facts = {
        "diagnoses": [cancer()],
        "exposures": cycles(FOLFOX, "2025-02-03", 14, 2),
        "visits": [visit("2025-01-20")],
    }
    m1 = month(run(record(**facts), "2025-04-01"), 1)
    # Month 1 is 02-03..03-02; the lookback is the 90 days before its first day (2024-11-05).
    search = (
        "Observation?subject=Patient/test&code=http://loinc.org|89247-1,"
        "http://loinc.org|89243-0&date=ge2024-11-05&date=le2025-03-02"
    )
    assert search in m1.evidence
    assert any("performance status" in w for w in m1.warnings)


def test_every_line_carries_an_explanation_and_evidence(run: Runner) -> None:
    # A record with every kind of line: New Patient without a visit, treatment months,
    # monitoring with an undocumented disease status, a completion Transition without a visit.
    facts = {
        "diagnoses": [cancer()],
        "exposures": cycles(FOLFOX, "2025-02-03", 14, 4),
    }
    timeline = run(record(**facts), "2026-01-10")
    kinds = {line.component.value for line in timeline.lines}
    assert {"new-patient", "treatment-month", "active-monitoring", "transition"} <= kinds
    for line in timeline.lines:
        assert line.explanation, line
        assert line.evidence, line
