"""The Appendix cases as hook requests: the cards an oncologist sees, derived by hand.

Each case is the example patient's record as it stood on the order day, with the order itself
as a draft, sent with full prefetch. Expected values come from cpoc-rules §5 Tables 1-4 and
the regimen catalog's figures, worked out in the comments — not from running the service.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cds_support import (
    full_prefetch,
    hook_body,
    make_app,
    medication_order,
    record_on,
)

from cds_hooks.cards import KIND_EXTENSION, shorten

Resource = dict[str, Any]


def sign(tmp_path: Path, name: str, day: str, drafts: list[Resource], **settings: Any) -> Any:
    resources = record_on(name, day)
    app = make_app(tmp_path, today=day, **settings)
    body = hook_body("order-sign", name, drafts, full_prefetch(resources, name))
    response = app.test_client().post("/cds-services/cpoc-order-sign", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def kinds(answer: dict[str, Any]) -> list[str]:
    return [card["extension"][KIND_EXTENSION] for card in answer["cards"]]


def folfox(patient: str, day: str) -> list[Resource]:
    return [
        medication_order("ox", patient, "32592", "oxaliplatin", day),
        medication_order("lv", patient, "6313", "leucovorin", day),
        medication_order("fu", patient, "4492", "fluorouracil", day),
    ]


def folfiri(patient: str, day: str) -> list[Resource]:
    return [
        medication_order("iri", patient, "51499", "irinotecan", day),
        medication_order("lv", patient, "6313", "leucovorin", day),
        medication_order("fu", patient, "4492", "fluorouracil", day),
    ]


def test_appendix_a_first_folfox_cycle_starts_treatment_month_1_at_level_3(
    tmp_path: Path,
) -> None:
    # Month 1 is anchored on the first treatment day: 2025-03-03 to 2025-04-02.
    # C: E11.9 diabetes = Charlson 1 (I10 is no Charlson condition) → 0 (Table 1, 0-3).
    # P: ECOG 1 on 2025-03-03 → 0 (Table 2). T: FOLFOX hospitalisation 41.1 % > 35 % → 4.
    # D: one infusion day at FOLFOX's category 3, fewer than 2 days → 3 points.
    # 0 + 0 + 4 + 3 = 7 → level 3 (6-8): xx203.
    answer = sign(
        tmp_path, "appendix-a-folfox", "2025-03-03", folfox("appendix-a-folfox", "2025-03-03")
    )
    # Pathway (colorectal.toml): C18.7 colon, stage IIIB without metastasis, first line →
    # colon-adjuvant-stage3, where FOLFOX is option 2: on pathway.
    assert kinds(answer) == ["treatment-month", "pathway"]
    card = answer["cards"][0]
    assert card["summary"] == (
        "CPOC xx203: Treatment Month 1, level 3 (score 7); this order starts it"
    )
    assert answer["cards"][1]["summary"] == (
        "On pathway: FOLFOX — Colon cancer, stage III, adjuvant"
    )
    assert card["indicator"] == "info"
    detail = card["detail"]
    assert "| Comorbidity | 0 |" in detail and "| Performance | 0 |" in detail
    assert "| Toxicity | 4 |" in detail and "| Administration | 3 |" in detail
    assert "2025-03-03 to 2025-04-02" in detail and "*provisional" in detail
    assert "`Observation/appendix-a-folfox-observation-42`" in detail  # the ECOG it rests on
    # The New Patient line (visit 2025-02-18, oncology episode) was already billable.
    assert all("xx100" not in c["summary"] for c in answer["cards"])
    (action,) = answer["systemActions"]
    item = action["resource"]
    assert (action["type"], item["status"]) == ("create", "planned")
    assert item["code"]["coding"][0]["code"] == "xx203"
    assert item["occurrencePeriod"] == {"start": "2025-03-03", "end": "2025-04-02"}


def test_appendix_a_folfiri_after_progression_turns_monitoring_month_9_into_treatment(
    tmp_path: Path,
) -> None:
    # Month 9: 2025-11-03 to 2025-12-02, Active Monitoring level 3 before the order.
    # C 0 (as above). P: last ECOG 2025-08-03 is more than 90 days before 2025-11-03 → 0 and
    # a warning. T: FOLFIRI hospitalisation 45 % > 35 % → 4. D: one day at category 3 → 3.
    # 0 + 0 + 4 + 3 = 7 → xx203. FOLFOX → FOLFIRI share fluorouracil: no class change.
    answer = sign(
        tmp_path, "appendix-a-folfox", "2025-11-10", folfiri("appendix-a-folfox", "2025-11-12")
    )
    # Pathway: stage IIIB, no metastasis on record, FOLFIRI is the second line: the adjuvant
    # pathway needs the first line, the metastatic ones metastatic disease → none applies.
    assert kinds(answer) == ["treatment-month", "documentation", "pathway"]
    treatment, documentation, pathway = answer["cards"]
    assert pathway["summary"] == (
        "No care pathway applies to FOLFIRI: Colon cancer, stage III, adjuvant needs: First "
        "line of therapy"
    )
    assert treatment["summary"] == (
        "CPOC xx203: Treatment Month 9, level 3 (score 7); this order turns xx303 monitoring "
        "into treatment"
    )
    assert "Without this order the month would bill **xx303" in treatment["detail"]
    assert documentation["indicator"] == "warning"
    assert "no ECOG/Karnofsky in the month or the 90 days before it" in documentation["detail"]
    assert {r["code"] for r in documentation["overrideReasons"]} >= {"documented-elsewhere"}
    assert all(r["display"] for r in documentation["overrideReasons"])


def test_appendix_b_docetaxel_after_progression_is_month_3_level_3_with_its_transition(
    tmp_path: Path,
) -> None:
    # Calendar-anchored months (first treatment 2025-04-01): month 3 is June.
    # C: Charlson 4 (COPD, CHF, renal) → 1. P: ECOG 1 on 2025-03-28, within 90 days of
    # 2025-06-01 → 0. T: docetaxel grade 3-5 40 % (estimate, > 35 %) → 4.
    # D: one day at category 2 → 2. 1 + 0 + 4 + 2 = 7 → level 3 (6-8): xx203.
    # Progression documented 2025-06-06 makes June a Transition level 1 with or without the
    # order: it is listed with the month, not as a line the order brings.
    drafts = [medication_order("doc", "appendix-b-nsclc", "72962", "docetaxel", "2025-06-08")]
    answer = sign(tmp_path, "appendix-b-nsclc", "2025-06-08", drafts)
    treatment = answer["cards"][0]
    assert treatment["summary"].startswith("CPOC xx203: Treatment Month 3, level 3 (score 7)")
    assert "| Comorbidity | 1 |" in treatment["detail"]
    assert (
        "Also billed this month: xx401 Transition of Treatment Payment, level 1"
        in (treatment["detail"])
    )
    codes = [a["resource"]["code"]["coding"][0]["code"] for a in answer["systemActions"]]
    assert codes == ["xx203", "xx401"]


def test_a_first_order_for_a_consultation_patient_brings_the_new_patient_line(
    tmp_path: Path,
) -> None:
    # Without the oncology EpisodeOfCare, the 2025-02-18 visit was a consultation (cpoc-rules
    # §4): no xx100. Ordering treatment makes the practice manage the care: xx100 on the visit.
    resources = [
        r
        for r in record_on("appendix-a-folfox", "2025-03-03")
        if r["resourceType"] != "EpisodeOfCare"
    ]
    app = make_app(tmp_path, today="2025-03-03")
    drafts = folfox("appendix-a-folfox", "2025-03-03")
    body = hook_body("order-sign", "appendix-a-folfox", drafts, full_prefetch(resources, "x"))
    answer = app.test_client().post("/cds-services/cpoc-order-sign", json=body).get_json()
    assert kinds(answer) == ["treatment-month", "new-patient", "pathway"]
    assert answer["cards"][1]["summary"].startswith("CPOC xx100: New Patient Payment on 2025-02-18")
    codes = sorted(a["resource"]["code"]["coding"][0]["code"] for a in answer["systemActions"])
    assert codes == ["xx100", "xx203"]


def test_order_select_is_about_the_selected_orders_only(tmp_path: Path) -> None:
    # Two drafts: FOLFIRI in month 9 and a docetaxel planned in month 10 (2025-12-05); the
    # user has just selected the docetaxel one.
    patient = "appendix-a-folfox"
    drafts = [
        *folfiri(patient, "2025-11-12"),
        medication_order("doc", patient, "72962", "docetaxel", "2025-12-05"),
    ]
    resources = record_on(patient, "2025-11-10")
    body = hook_body("order-select", patient, drafts, full_prefetch(resources, patient))
    body["context"]["selections"] = ["MedicationRequest/doc"]
    app = make_app(tmp_path, today="2025-11-10")
    answer = app.test_client().post("/cds-services/cpoc-order-select", json=body).get_json()
    months = [c["summary"] for c in answer["cards"] if "Treatment Month" in c["summary"]]
    assert len(months) == 1 and "Treatment Month 10" in months[0]
    assert "systemActions" not in answer  # order-select proposes no charge


def test_a_draft_with_no_anticancer_drug_gets_no_cards(tmp_path: Path) -> None:
    patient = "appendix-a-folfox"
    drafts = [medication_order("amox", patient, "723", "amoxicillin", "2025-11-12", "oral")]
    answer = sign(tmp_path, patient, "2025-11-10", drafts)
    assert answer == {"cards": []}


def test_patient_view_shows_the_current_month_and_its_status(tmp_path: Path) -> None:
    patient = "appendix-b-nsclc"
    resources = record_on(patient, "2025-07-15")
    app = make_app(tmp_path, today="2025-07-15", review_launch_url="https://review.example/launch")
    body = hook_body("patient-view", patient, prefetch=full_prefetch(resources, patient))
    answer = app.test_client().post("/cds-services/cpoc-patient-view", json=body).get_json()
    (card,) = answer["cards"]
    # Month 4 (July): docetaxel on 07-01 and 07-15? Only what is recorded by 07-15 counts;
    # the month is open, so its line is provisional.
    assert card["summary"].startswith("CPOC month 4 (2025-07-01 to 2025-07-31): xx20")
    assert "provisional" in card["summary"]
    (link,) = card["links"]
    assert (link["type"], link["url"]) == ("smart", "https://review.example/launch")
    assert json.loads(link["appContext"]) == {"patient": patient, "month": "2025-07-01"}


@pytest.mark.parametrize(
    ("text", "expected_length"),
    [("short", 5), ("word " * 60, 139)],
)
def test_summaries_stay_under_140_characters(text: str, expected_length: int) -> None:
    out = shorten(text)
    assert len(out) <= expected_length
    assert len(out) < 140
    if len(text.strip()) > 139:
        assert out.endswith("…")
