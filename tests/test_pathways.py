"""Care pathways at order time: every branch of the shipped pathways, through the
real CDS Hooks service (Flask test client, full prefetch), with the answers derived by hand
from the pathway files' criteria (cpoc_fhir/knowledge/data/pathways/*.toml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cds_support import full_prefetch, hook_body, make_app
from fhir.resources.R4B.medicationrequest import MedicationRequest
from pathway_support import (
    Patient,
    colon,
    dlbcl,
    early_breast,
    metastatic_breast,
    metastatic_colon,
    nsclc,
    prostate,
)

from cds_hooks.pathway_cards import DEVIATION_REASONS, DEVIATION_SYSTEM

Card = dict[str, Any]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return make_app(tmp_path_factory.mktemp("pathways")).test_client()


def sign(
    client: Any, patient: Patient, drafts: list[dict[str, Any]], hook: str = "order-sign"
) -> Card:
    body = hook_body(
        hook, patient.pid, drafts, prefetch=full_prefetch(patient.resources, patient.pid)
    )
    if hook == "order-select":
        body["context"]["selections"] = [f"MedicationRequest/{d['id']}" for d in drafts[:1]]
    response = client.post(f"/cds-services/cpoc-{hook}", json=body)
    assert response.status_code == 200, response.get_json()
    cards = [
        c
        for c in response.get_json()["cards"]
        if c["extension"]["org.cpoc-fhir.card-kind"] == "pathway"
    ]
    assert len(cards) == 1, [c["summary"] for c in response.get_json()["cards"]]
    return cards[0]


def regimens_suggested(card: Card) -> list[str]:
    return [
        s["label"].removeprefix("Switch to ").removesuffix(" (on pathway)")
        for s in card.get("suggestions", [])
    ]


# ---- colorectal ---------------------------------------------------------------------------


def test_colon_stage_iii_folfox_is_on_the_adjuvant_pathway(client: Any) -> None:
    patient = colon("crc-adj-on")
    card = sign(client, patient, patient.drafts("oxaliplatin", "leucovorin", "fluorouracil"))
    assert card["indicator"] == "info"
    assert card["summary"].startswith("On pathway: FOLFOX")
    assert "colon-adjuvant-stage3" in card["detail"]
    assert "suggestions" not in card


def test_colon_stage_iii_folfiri_is_off_pathway_with_capox_then_folfox(client: Any) -> None:
    patient = colon("crc-adj-off")
    drafts = patient.drafts("irinotecan", "leucovorin", "fluorouracil")
    card = sign(client, patient, drafts)
    assert card["indicator"] == "warning"
    assert card["summary"].startswith("Off pathway: FOLFIRI")
    # colorectal.toml lists capox then folfox for colon-adjuvant-stage3.
    assert regimens_suggested(card) == ["CAPOX (XELOX)", "FOLFOX"]
    assert [s["isRecommended"] for s in card["suggestions"]] == [True, False]
    assert card["selectionBehavior"] == "at-most-one"
    codes = [(r["system"], r["code"]) for r in card["overrideReasons"]]
    assert codes == [(DEVIATION_SYSTEM, code) for code, _ in DEVIATION_REASONS]
    assert all(r["display"] for r in card["overrideReasons"])


def test_metastatic_crc_first_and_second_line(client: Any) -> None:
    first = metastatic_colon("crc-m1")
    card = sign(
        client, first, first.drafts("oxaliplatin", "leucovorin", "fluorouracil", "bevacizumab")
    )
    assert (
        card["summary"].startswith("On pathway: FOLFOX + bevacizumab")
        or "crc-metastatic-line1" in card["detail"]
    )
    assert "crc-metastatic-line1" in card["detail"]
    # FOLFOX given after metastasis (2025-02-01), now FOLFIRI: second line since metastasis.
    second = metastatic_colon("crc-m2")
    for day in ("2025-03-03", "2025-03-17", "2025-03-31"):
        for drug in ("oxaliplatin", "leucovorin", "fluorouracil"):
            second.given(drug, day)
    card = sign(client, second, second.drafts("irinotecan", "leucovorin", "fluorouracil"))
    assert card["summary"].startswith("On pathway: FOLFIRI")
    assert "crc-metastatic-line2" in card["detail"]


def test_colon_stage_ii_has_no_pathway_and_says_why(client: Any) -> None:
    patient = colon("crc-stage2", stage="IIA")
    card = sign(client, patient, patient.drafts("capecitabine"))
    assert card["indicator"] == "info"
    assert card["summary"].startswith("No care pathway applies")
    assert "ajcc stage iii" in card["detail"].lower()


# ---- NSCLC ----------------------------------------------------------------------------------


def test_nsclc_egfr_mutated_osimertinib_on_and_chemo_off(client: Any) -> None:
    patient = nsclc("lung-egfr").egfr(True).alk(False)
    card = sign(client, patient, patient.drafts("osimertinib"))
    assert card["summary"].startswith("On pathway: Osimertinib")
    assert "nsclc-stage4-egfr" in card["detail"]
    card = sign(client, patient, patient.drafts("carboplatin", "pemetrexed", "pembrolizumab"))
    assert card["indicator"] == "warning"
    assert regimens_suggested(card)[0].lower().startswith("osimertinib")


def test_nsclc_alk_positive(client: Any) -> None:
    patient = nsclc("lung-alk").egfr(False).alk(True)
    card = sign(client, patient, patient.drafts("alectinib"))
    assert card["summary"].startswith("On pathway:")
    assert "nsclc-stage4-alk" in card["detail"]


def test_nsclc_pdl1_branches(client: Any) -> None:
    high = nsclc("lung-pdl1-high").egfr(False).alk(False).pdl1(80)
    card = sign(client, high, high.drafts("pembrolizumab"))
    assert card["summary"].startswith("On pathway: Pembrolizumab")
    assert "nsclc-stage4-pdl1-high" in card["detail"]
    low = nsclc("lung-pdl1-low").egfr(False).alk(False).pdl1(20)
    card = sign(client, low, low.drafts("pembrolizumab"))
    assert card["indicator"] == "warning"
    assert "nsclc-stage4-pdl1-low" in card["detail"]
    # The boundary: 50 % is "PD-L1 >= 50".
    edge = nsclc("lung-pdl1-50").egfr(False).alk(False).pdl1(50)
    assert "nsclc-stage4-pdl1-high" in sign(client, edge, edge.drafts("pembrolizumab"))["detail"]


def test_nsclc_missing_biomarkers_are_said_plainly(client: Any) -> None:
    none = nsclc("lung-nothing")
    card = sign(client, none, none.drafts("pembrolizumab"))
    assert card["summary"].startswith("Pathway undetermined")
    assert "EGFR mutation status not on record" in card["detail"]
    assert "ALK rearrangement status not on record" in card["detail"]
    only_pdl1 = nsclc("lung-no-pdl1").egfr(False).alk(False)
    card = sign(client, only_pdl1, only_pdl1.drafts("pembrolizumab"))
    assert "PD-L1 tumour proportion score not on record" in card["summary"]
    assert "EGFR mutation status not on record" not in card["detail"]


def test_nsclc_without_histology_is_undetermined(client: Any) -> None:
    patient = nsclc(
        "lung-no-histology", histology="Malignant neoplasm of upper lobe, right bronchus or lung"
    )
    card = sign(client, patient, patient.drafts("osimertinib"))
    assert "histology not on record" in card["detail"]


def test_nsclc_second_line_docetaxel(client: Any) -> None:
    patient = nsclc("lung-2l").egfr(False).alk(False).pdl1(10)
    for day in ("2025-02-03", "2025-02-24", "2025-03-17"):
        for drug in ("carboplatin", "pemetrexed", "pembrolizumab"):
            patient.given(drug, day)
    card = sign(client, patient, patient.drafts("docetaxel"))
    assert card["summary"].startswith("On pathway: Docetaxel")
    assert "nsclc-stage4-line2" in card["detail"]


# ---- breast, prostate, DLBCL, no pathway -------------------------------------------------------


def test_breast_branches(client: Any) -> None:
    hr = early_breast("breast-hr").er(True).pr(False).her2(False)
    card = sign(client, hr, hr.drafts("letrozole"))
    assert "breast-early-hr-pos-her2-neg" in card["detail"] and card["indicator"] == "info"
    her2 = early_breast("breast-her2").er(False).pr(False).her2(True)
    card = sign(client, her2, her2.drafts("docetaxel", "carboplatin", "trastuzumab", "pertuzumab"))
    assert card["summary"].startswith("On pathway:") and "breast-early-her2-pos" in card["detail"]
    met = metastatic_breast("breast-met").er(True).pr(True).her2(False)
    card = sign(client, met, met.drafts("letrozole", "palbociclib"))
    assert (
        card["summary"].startswith("On pathway:") and "breast-metastatic-hr-pos" in card["detail"]
    )
    unknown = early_breast("breast-no-her2").er(True)
    card = sign(client, unknown, unknown.drafts("anastrozole"))
    assert "HER2 status not on record" in card["detail"]


def test_prostate_branches_with_adt_backbone(client: Any) -> None:
    mcspc = prostate("prostate-s", "sensitive")
    mcspc.given("leuprolide", "2025-02-01")
    card = sign(client, mcspc, mcspc.drafts("abiraterone", "prednisone"))
    assert card["summary"].startswith("On pathway:") and "prostate-mcspc" in card["detail"]
    adt_only = prostate("prostate-adt", "sensitive")
    card = sign(client, adt_only, adt_only.drafts("leuprolide"))
    assert card["indicator"] == "info" and "backbone" in card["detail"]
    mcrpc = prostate("prostate-r", "resistant")
    card = sign(client, mcrpc, mcrpc.drafts("cabazitaxel", "prednisone"))
    assert card["summary"].startswith("On pathway:") and "prostate-mcrpc" in card["detail"]
    unknown = prostate("prostate-unknown", None)
    card = sign(client, unknown, unknown.drafts("enzalutamide"))
    assert "castration status" in card["summary"]


def test_dlbcl(client: Any) -> None:
    patient = dlbcl("dlbcl-1")
    card = sign(
        client,
        patient,
        patient.drafts("rituximab", "cyclophosphamide", "doxorubicin", "vincristine", "prednisone"),
    )
    assert card["summary"].startswith("On pathway: R-CHOP")
    off = dlbcl("dlbcl-2")
    card = sign(client, off, off.drafts("bendamustine", "rituximab"))
    assert card["indicator"] == "warning"
    assert regimens_suggested(card)[0] == "R-CHOP"


def test_a_cancer_without_pathways(client: Any) -> None:
    patient = (
        Patient("melanoma-1").condition("C43.9", "Malignant melanoma of skin, unspecified").ecog()
    )
    card = sign(client, patient, patient.drafts("pembrolizumab"))
    assert card["summary"].startswith("No care pathway applies")
    assert "no pathway for melanoma" in card["summary"]


# ---- suggestions: the spec's action rules, complete orders ----------------------------------


def test_suggestion_actions_follow_the_spec_and_orders_validate(client: Any) -> None:
    patient = colon("crc-actions")
    drafts = patient.drafts("irinotecan", "leucovorin", "fluorouracil")
    card = sign(client, patient, drafts, hook="order-select")
    draft_refs = {f"MedicationRequest/{d['id']}" for d in drafts}
    for suggestion in card["suggestions"]:
        assert suggestion["uuid"] and suggestion["label"]
        actions = suggestion["actions"]
        deletes = [a for a in actions if a["type"] == "delete"]
        creates = [a for a in actions if a["type"] == "create"]
        assert len(deletes) + len(creates) == len(actions)
        # Delete: resourceId, never the deprecated id-in-resource (spec §Action).
        assert {a["resourceId"] for a in deletes} == draft_refs
        assert all("resource" not in a and a["description"] for a in deletes)
        assert creates
        for action in creates:
            order = action["resource"]
            MedicationRequest.model_validate(order)  # R4 (R4B models), not R5
            assert order["status"] == "draft" and order["intent"] == "order"
            assert order["subject"] == {"reference": f"Patient/{patient.pid}"}
            assert order["medicationCodeableConcept"]["coding"][0]["code"]
            dosage = order["dosageInstruction"][0]
            assert (
                dosage["text"]
                and dosage["route"]["coding"][0]["system"] == "http://snomed.info/sct"
            )
            assert dosage["timing"]["repeat"]["periodUnit"] == "d"
            assert "doseAndRate" in dosage or dosage.get("additionalInstruction")
            assert order["instantiatesCanonical"][0].startswith("https://")
        # One regimen's orders share a group identifier.
        assert len({a["resource"]["groupIdentifier"]["value"] for a in creates}) == 1
    capox = card["suggestions"][0]["actions"]

    def drugs(prefix: str) -> set[str]:
        return {
            a["resource"]["medicationCodeableConcept"]["text"]
            for a in capox
            if a["type"] == "create" and a["description"].startswith(prefix)
        }

    assert drugs("Order ") == {"oxaliplatin", "capecitabine"}
    # Oxaliplatin is moderately emetogenic (ASCO 2020): 5-HT3 antagonist + dexamethasone.
    assert drugs("Supportive: ") == {"ondansetron", "dexamethasone"}


def test_no_pathway_card_without_an_anticancer_order(client: Any) -> None:
    patient = colon("crc-antiemetic")
    body = hook_body(
        "order-sign",
        patient.pid,
        patient.drafts("ondansetron"),
        prefetch=full_prefetch(patient.resources, patient.pid),
    )
    cards = client.post("/cds-services/cpoc-order-sign", json=body).get_json()["cards"]
    assert all(c["extension"]["org.cpoc-fhir.card-kind"] != "pathway" for c in cards)


def test_practice_pathway_folder_replaces_a_shipped_pathway(tmp_path: Path) -> None:
    from cpoc_fhir.config import Config, load_config

    folder = tmp_path / "pathways"
    folder.mkdir()
    (folder / "colon.toml").write_text(
        'version = "2.0.0"\ncancer = "colorectal"\n'
        '[[pathways]]\nid = "colon-adjuvant-stage3"\ntitle = "Our colon adjuvant pathway"\n'
        'setting = "Adjuvant"\ncriteria = [{ when = "stage = III", says = "Stage III" }]\n'
        '[[pathways.options]]\nregimen = "folfiri"\n',
        encoding="utf-8",
    )
    base = load_config(environ={})
    config = Config(rules=base.rules, payer_file=None, pathways_dir=folder)
    app = make_app(tmp_path)
    app = __import__("cds_hooks.app", fromlist=["create_app"]).create_app(
        {
            **{k: app.config[k] for k in ("CDS_SETTINGS", "CLOCK")},
            "CPOC_CONFIG": config,
            "TESTING": True,
        }
    )
    patient = colon("crc-practice")
    card = sign(
        app.test_client(), patient, patient.drafts("irinotecan", "leucovorin", "fluorouracil")
    )
    assert card["summary"].startswith("On pathway: FOLFIRI — Our colon adjuvant pathway")
