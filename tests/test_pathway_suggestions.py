"""Off-pathway cards through the real CDS Hooks service: off every candidate pathway while a
fact is missing, and the suggestions' orders (per-cancer companions, per-setting doses,
supportive orders) — expected answers derived by hand from pathways/*.toml, the catalog's
doses and supportive-care.toml; every suggested MedicationRequest validated as R4."""

from __future__ import annotations

from typing import Any

import pytest
from cds_support import full_prefetch, hook_body, make_app
from fhir.resources.R4B.medicationrequest import MedicationRequest
from pathway_support import Patient, colon, early_breast, nsclc, prostate

from cds_hooks.pathway_cards import DEVIATION_REASONS, DEVIATION_SYSTEM

Card = dict[str, Any]
Resource = dict[str, Any]
CANONICAL = "https://cpoc-fhir.example.org/fhir/PlanDefinition/"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return make_app(tmp_path_factory.mktemp("suggestions")).test_client()


def sign(client: Any, patient: Patient, drafts: list[Resource]) -> Card:
    body = hook_body(
        "order-sign", patient.pid, drafts, prefetch=full_prefetch(patient.resources, patient.pid)
    )
    response = client.post("/cds-services/cpoc-order-sign", json=body)
    assert response.status_code == 200, response.get_json()
    (card,) = [
        c
        for c in response.get_json()["cards"]
        if c["extension"]["org.cpoc-fhir.card-kind"] == "pathway"
    ]
    for suggestion in card.get("suggestions", []):
        for action in suggestion["actions"]:
            if action["type"] == "create":
                MedicationRequest.model_validate(action["resource"])  # R4 (R4B), never R5
    return card


def suggestion(card: Card, regimen_name: str) -> Card:
    found = [s for s in card["suggestions"] if s["label"].startswith(f"Switch to {regimen_name} (")]
    assert len(found) == 1, [s["label"] for s in card["suggestions"]]
    return found[0]


def created(item: Card, prefix: str = "") -> list[Resource]:
    return [
        a["resource"]
        for a in item["actions"]
        if a["type"] == "create" and a["description"].startswith(prefix)
    ]


def drugs(orders: list[Resource]) -> list[str]:
    return [o["medicationCodeableConcept"]["text"] for o in orders]


def instruction(order: Resource) -> str:
    return str(order["dosageInstruction"][0]["text"])


# ---- off every candidate pathway, histology missing -----------------------------------------


def test_folfox_for_metastatic_nsclc_without_histology_is_off_pathway(client: Any) -> None:
    patient = nsclc(
        "lung-folfox-nohist", histology="Malignant neoplasm of upper lobe, right bronchus or lung"
    )
    card = sign(client, patient, patient.drafts("oxaliplatin", "leucovorin", "fluorouracil"))
    # Stage IV, line 1, no histology, no markers: lung.toml's line-2 pathway fails (line >= 2);
    # the four first-line pathways each lack only unknown facts — histology first — and none
    # lists FOLFOX: off pathway whatever the histology.
    assert card["indicator"] == "warning"
    assert card["summary"].startswith("Off pathway: FOLFOX is not on any of the 4 pathways")
    assert "histology not on record" in card["summary"]
    for missing in (
        "histology not on record",
        "EGFR mutation status not on record",
        "ALK rearrangement status not on record",
        "PD-L1 tumour proportion score not on record",
    ):
        assert f"- {missing}" in card["detail"]
    for title in (
        "NSCLC stage IV non-squamous, EGFR-mutated, first line",
        "NSCLC stage IV non-squamous, ALK-positive, first line",
        "NSCLC stage IV non-squamous, no driver, PD-L1 ≥ 50 %, first line",
        "NSCLC stage IV non-squamous, no driver, PD-L1 < 50 %, first line",
    ):
        assert title in card["detail"]
    assert "NSCLC stage IV, second line" not in card["detail"]
    # The candidates' regimens, each once, in pathway then value order (lung.toml).
    labels = [s["label"].removeprefix("Switch to ").split(" (on pathway if")[0]
              for s in card["suggestions"]]  # fmt: skip
    assert labels == [
        "Osimertinib", "Gefitinib", "Alectinib", "Lorlatinib", "Brigatinib", "Pembrolizumab",
        "Carboplatin + pemetrexed + pembrolizumab", "Pemetrexed + pembrolizumab (maintenance)",
    ]  # fmt: skip
    # Which pathway is not known: none is recommended; each names the pathway(s) it is from.
    assert not any(s["isRecommended"] for s in card["suggestions"])
    assert "(on pathway if: NSCLC stage IV non-squamous, EGFR-mutated" in card["suggestions"][0][
        "label"]  # fmt: skip
    triplet = created(suggestion(card, "Carboplatin + pemetrexed + pembrolizumab"), "Order ")
    assert triplet[0]["instantiatesCanonical"] == [
        f"{CANONICAL}nsclc-stage4-pdl1-high|1.0.0",
        f"{CANONICAL}nsclc-stage4-pdl1-low|1.0.0",
    ]
    codes = [(r["system"], r["code"]) for r in card["overrideReasons"]]
    assert codes == [(DEVIATION_SYSTEM, code) for code, _ in DEVIATION_REASONS]


def test_an_order_on_one_candidate_stays_undetermined(client: Any) -> None:
    patient = nsclc("lung-osi-nohist", histology="Malignant neoplasm of lung, unspecified")
    card = sign(client, patient, patient.drafts("osimertinib"))
    assert card["summary"].startswith("Pathway undetermined")  # on the EGFR pathway, maybe
    assert "suggestions" not in card


# ---- per-cancer companions and per-setting doses ------------------------------------------


def test_docetaxel_suggested_for_lung_cancer_has_no_prednisone(client: Any) -> None:
    # Second line (carboplatin + pemetrexed + pembrolizumab before): pembrolizumab alone is
    # off nsclc-stage4-line2, whose first option is docetaxel.
    patient = nsclc("lung-2l-pembro").egfr(False).alk(False).pdl1(10)
    for day in ("2025-02-03", "2025-02-24", "2025-03-17"):
        for drug in ("carboplatin", "pemetrexed", "pembrolizumab"):
            patient.given(drug, day)
    card = sign(client, patient, patient.drafts("pembrolizumab"))
    assert card["summary"].startswith("Off pathway: Pembrolizumab")
    docetaxel = suggestion(card, "Docetaxel")
    assert docetaxel["isRecommended"]
    assert drugs(created(docetaxel, "Order ")) == ["docetaxel"]
    assert all("rednisone" not in instruction(o) for o in created(docetaxel))
    # Docetaxel premedication (label): dexamethasone 8 mg twice daily for 3 days from the day
    # before; low emetic risk → its single dexamethasone is covered by that premedication.
    assert drugs(created(docetaxel, "Supportive: ")) == ["dexamethasone"]
    assert "twice a day on days 0-2" in instruction(created(docetaxel, "Supportive: ")[0])


def test_docetaxel_suggested_for_prostate_cancer_has_prednisone(client: Any) -> None:
    patient = prostate("prostate-r-carbo", "resistant")
    card = sign(client, patient, patient.drafts("carboplatin"))
    assert card["summary"].startswith("Off pathway: Carboplatin")
    docetaxel = suggestion(card, "Docetaxel")
    assert drugs(created(docetaxel, "Order ")) == ["docetaxel", "prednisone"]
    assert "twice daily" in instruction(created(docetaxel, "Order ")[1])
    # mCRPC: abiraterone with prednisone 5 mg twice daily (COU-AA-302).
    abiraterone = created(suggestion(card, "Abiraterone + prednisone"), "Order ")
    assert drugs(abiraterone) == ["abiraterone", "prednisone"]
    assert abiraterone[1]["dosageInstruction"][0]["timing"]["repeat"]["frequency"] == 2


def test_abiraterone_in_mcspc_suggests_prednisone_5_mg_once_daily(client: Any) -> None:
    patient = prostate("prostate-s-cabazitaxel", "sensitive")
    card = sign(client, patient, patient.drafts("cabazitaxel", "prednisone"))
    assert card["summary"].startswith("Off pathway: Cabazitaxel")
    abiraterone = suggestion(card, "Abiraterone + prednisone")
    assert abiraterone["isRecommended"]  # prostate-mcspc lists it first
    orders = created(abiraterone, "Order ")
    assert drugs(orders) == ["abiraterone", "prednisone"]
    prednisone = orders[1]["dosageInstruction"][0]
    assert prednisone["timing"]["repeat"] == {"frequency": 1, "period": 1, "periodUnit": "d"}
    assert prednisone["doseAndRate"][0]["doseQuantity"]["value"] == 5
    assert "once daily" in prednisone["text"] and "LATITUDE" in prednisone["text"]
    assert created(abiraterone, "Supportive: ") == []  # oral: no antiemetic prophylaxis


# ---- supportive orders in the suggestions --------------------------------------------------


def test_early_breast_suggestions_carry_g_csf_antiemetics_and_premedication(client: Any) -> None:
    patient = early_breast("breast-cape").er(True).pr(False).her2(False)
    card = sign(client, patient, patient.drafts("capecitabine"))
    assert card["summary"].startswith("Off pathway: Capecitabine")
    # TC: FN risk >= 20 % (NCCN) → pegfilgrastim 6 mg SC on day 2 of each 21-day cycle.
    tc = created(suggestion(card, "TC (docetaxel + cyclophosphamide)"), "Supportive: ")
    assert drugs(tc) == ["dexamethasone", "ondansetron", "pegfilgrastim"]
    assert "day 2 of each 21-day cycle" in instruction(tc[2])
    # AC: anthracycline + cyclophosphamide is high risk → NK1 + 5-HT3 + dexamethasone
    # (day 1 only) + olanzapine; no G-CSF every 21 days.
    ac = created(suggestion(card, "AC (doxorubicin + cyclophosphamide)"), "Supportive: ")
    assert drugs(ac) == ["aprepitant", "aprepitant", "ondansetron", "dexamethasone", "olanzapine"]
    # Weekly paclitaxel: dexamethasone + diphenhydramine + H2 antagonist before each dose.
    weekly = created(suggestion(card, "Paclitaxel (weekly)"), "Supportive: ")
    assert drugs(weekly) == ["dexamethasone", "diphenhydramine", "famotidine"]
    # Endocrine therapy: none.
    assert created(suggestion(card, "Anastrozole"), "Supportive: ") == []
    assert (
        "- TC (docetaxel + cyclophosphamide) (emetogenic risk moderate): dexamethasone, "
        "ondansetron, pegfilgrastim" in card["detail"]
    )
    assert "- Anastrozole (no parenteral chemotherapy): none" in card["detail"]
    # One order set per suggestion: supportive orders share the regimen's group.
    for item in card["suggestions"]:
        assert len({o["groupIdentifier"]["value"] for o in created(item)}) == 1


def test_folfox_suggestion_has_moderate_antiemetics_and_no_g_csf(client: Any) -> None:
    patient = colon("crc-folfiri-supportive")
    card = sign(client, patient, patient.drafts("irinotecan", "leucovorin", "fluorouracil"))
    folfox = created(suggestion(card, "FOLFOX"), "Supportive: ")
    assert drugs(folfox) == ["ondansetron", "dexamethasone"]
    assert all("pegfilgrastim" not in instruction(o).lower() for o in created(
        suggestion(card, "FOLFOX")))  # fmt: skip


# ---- accepting a suggestion -------------------------------------------------------------


def test_signing_an_accepted_suggestion_is_on_pathway(client: Any) -> None:
    """The supportive orders (folic acid, vitamin B12: not catalog drugs) neither make the
    regimen unidentified nor count as anti-cancer drugs."""
    patient = nsclc("lung-accept").egfr(False).alk(False).pdl1(20)
    card = sign(client, patient, patient.drafts("pembrolizumab"))
    assert card["summary"].startswith("Off pathway: Pembrolizumab")  # nsclc-stage4-pdl1-low
    accepted = suggestion(card, "Carboplatin + pemetrexed + pembrolizumab")
    assert accepted["isRecommended"]
    assert {"folic acid", "vitamin B12 (cyanocobalamin)"} <= set(drugs(created(accepted)))
    card = sign(client, patient, created(accepted))
    assert card["summary"].startswith("On pathway: Carboplatin + pemetrexed + pembrolizumab")
    assert "not in the regimen catalog" not in card["detail"]
