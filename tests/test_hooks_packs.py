"""The CDS Hooks services under payment-model packs (value-and-models §15; issue 15 item 5).

One record — the bundled Appendix A colon-cancer patient (FOLFOX given 2025-03-03 … 2025-08-18)
— with a Medicare Coverage the ``[models]`` settings map to EOM, or no mapping (CPOC). Dates
worked out by hand (engine/episodes.py: an episode runs six billing months from its trigger T;
month k starts on T's day of month k-1 months later; the episode ends the day before S_7):

- EOM episode 1: T = 2025-03-03 (first oxaliplatin), months 03-03, 04-03, … 08-03; it ends
  2025-09-02. No drug after 08-18, so nothing continues it.
- A FOLFIRI order for 2025-11-12 starts episode 2: T = 2025-11-12, month 1 11-12 … 12-11,
  end 2026-05-11 (S_7 = 2026-05-12). Month 1 of 2025 pays $110.00 (eom.toml, 2025 on).
- Signed on 2025-08-10 for 2025-08-17, the order falls in episode 1's month 6 (08-03 … 09-02),
  which the given FOLFOX already bills: unchanged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cds_support import (
    clock_at,
    folfiri_drafts,
    full_prefetch,
    hook_body,
    medication_order,
    record_on,
    server_charge_items,
)
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from sekmet_server import SekmetServer, running_sekmet

from cds_hooks.app import create_app
from cds_hooks.cards import KIND_EXTENSION, CardSource, documentation_card
from cds_hooks.embedded_fhir import load_resources
from cds_hooks.pack_cards import episode_start_card, pack_line_card, pack_month_card
from cds_hooks.settings import CdsSettings, WriteTarget
from cpoc_fhir.cli import main
from cpoc_fhir.config import load_config
from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.episodes import Episode
from cpoc_fhir.engine.lines import BillingLine, LineStatus
from cpoc_fhir.packs.base import PackCode, PaymentModelPack
from cpoc_fhir.packs.registry import load_pack
from cpoc_fhir.packs.settings import ModelSettings

PATIENT = "appendix-a-folfox"
HCPCS = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
SOPT = "urn:oid:2.16.840.1.113883.3.221.5"
EOM = ModelSettings(payers={"Organization/cms": "eom"})
MEOS_DISPLAY = "Monthly enhanced oncology services (EOM MEOS)"


def coverage(cid: str, payer: str, sopt: str, start: str = "2024-01-01") -> dict[str, Any]:
    return {
        "resourceType": "Coverage",
        "id": cid,
        "status": "active",
        "type": {"coding": [{"system": SOPT, "code": sopt}]},
        "beneficiary": {"reference": f"Patient/{PATIENT}"},
        "payor": [{"reference": payer}],
        "order": 1 if sopt == "1" else 2,
        "period": {"start": start},
    }


MEDICARE = coverage("medicare", "Organization/cms", "1")
MEDICAID = coverage("medicaid", "Organization/state", "2")


def app_for(
    tmp_path: Path,
    today: str,
    models: ModelSettings = EOM,
    types: tuple[str, ...] | None = None,
    **cds: Any,
) -> Flask:
    base = load_config(environ={})
    config = dataclasses.replace(
        base,
        models=models,
        rules=dataclasses.replace(base.rules, cpoc_cancer_types=types) if types else base.rules,
        payer_file=None,
    )
    cds.setdefault("auth_enabled", False)
    cds.setdefault("store_url", f"sqlite:///{tmp_path}/cds.sqlite")
    return create_app(
        {
            "CDS_SETTINGS": CdsSettings(**cds),
            "CLOCK": clock_at(today),
            "TESTING": True,
            "CPOC_CONFIG": config,
        }
    )


def call(
    app: Flask,
    hook: str,
    day: str,
    drafts: list[dict[str, Any]],
    extra: tuple[dict[str, Any], ...] = (MEDICARE,),
) -> dict[str, Any]:
    prefetch = full_prefetch([*record_on(PATIENT, day), *extra], PATIENT)
    body = hook_body(hook, PATIENT, drafts, prefetch)
    response = app.test_client().post(f"/cds-services/cpoc-{hook}", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    answer: dict[str, Any] = response.get_json()
    return answer


def kinds(answer: dict[str, Any]) -> list[str]:
    return [card["extension"][KIND_EXTENSION] for card in answer["cards"]]


# --- order-select / order-sign --------------------------------------------------------------


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_an_order_that_starts_an_eom_episode_says_so(tmp_path: Path, hook: str) -> None:
    answer = call(app_for(tmp_path, "2025-11-10"), hook, "2025-11-10", folfiri_drafts(PATIENT))
    # EOM keeps FFS billing and has no Table scoring, documentation gaps or CPOC pathway: the
    # episode card is the only card (the FOLFIRI drafts are identified, so no order gap).
    assert kinds(answer) == ["episode-start"]
    card = answer["cards"][0]
    assert card["summary"] == (
        "This order starts EOM episode 2 (2025-11-12 to 2026-05-11): MEOS M0010 $110.00 in month 1"
    )
    assert card["indicator"] == "info"
    detail = card["detail"]
    assert "**EOM episode 2, month 1: MEOS M0010 $110.00** (2025-11-12 to 2025-12-11)" in detail
    assert "*provisional*" in detail and "Provisional: its trigger is this order's" in detail
    assert "keeps fee-for-service billing" in detail
    assert "CPOC" not in card["summary"] and "xx" not in detail


def test_order_sign_proposes_the_meos_charge_item_with_its_hcpcs_coding(tmp_path: Path) -> None:
    app = app_for(tmp_path, "2025-11-10", review_launch_url="https://review.example/launch")
    answer = call(app, "order-sign", "2025-11-10", folfiri_drafts(PATIENT))
    (link,) = answer["cards"][0]["links"]
    assert link["label"] == "Review EOM lines"
    (action,) = answer["systemActions"]  # episode 1's months are not the order's: not proposed
    assert action["description"] == (
        f"Capture the EOM charge M0010 {MEOS_DISPLAY} (episode 2, month 1) as a planned ChargeItem"
    )
    item = action["resource"]
    assert item["status"] == "planned"
    assert item["code"]["coding"] == [{"system": HCPCS, "code": "M0010", "display": MEOS_DISPLAY}]
    assert item["occurrencePeriod"] == {"start": "2025-11-12", "end": "2025-12-11"}
    assert Decimal(str(item["priceOverride"]["value"])) == Decimal("110.00")
    assert "Proposed to the EHR as planned ChargeItems: M0010." in answer["cards"][0]["detail"]


def test_an_order_inside_an_episode_shows_its_month_unchanged(tmp_path: Path) -> None:
    drafts = [medication_order("ox", PATIENT, "32592", "oxaliplatin", "2025-08-17")]
    answer = call(app_for(tmp_path, "2025-08-10"), "order-select", "2025-08-10", drafts)
    assert kinds(answer) == ["pack-line"]
    assert answer["cards"][0]["summary"] == (
        "EOM episode 1, month 6: MEOS M0010 $110.00; unchanged by this order"
    )


def test_the_same_order_for_a_cpoc_patient_is_unchanged(tmp_path: Path) -> None:
    # No [models] mapping: CPOC, as before packs (tests/test_cds_sekmet.py has the same card).
    app = app_for(tmp_path, "2025-11-10", models=ModelSettings())
    answer = call(app, "order-sign", "2025-11-10", folfiri_drafts(PATIENT))
    assert kinds(answer) == ["treatment-month", "documentation", "pathway"]
    assert answer["cards"][0]["summary"] == (
        "CPOC xx203: Treatment Month 9, level 3 (score 7); this order turns xx303 monitoring "
        "into treatment"
    )
    assert [a["resource"]["code"]["coding"][0]["code"] for a in answer["systemActions"]] == [
        "xx203"
    ]


def test_no_fee_for_service_card_for_an_eom_patient(tmp_path: Path) -> None:
    # CPOC billing only lung: a CPOC colon patient gets the §14.3 fee-for-service card
    # (test_cancer_types_hooks.py). Under EOM that CPOC rule is not the patient's: the
    # episode card, no fee-for-service card.
    app = app_for(tmp_path, "2025-11-10", types=("lung",))
    answer = call(app, "order-sign", "2025-11-10", folfiri_drafts(PATIENT))
    assert kinds(answer) == ["episode-start"]
    cpoc = app_for(
        tmp_path,
        "2025-11-10",
        models=ModelSettings(),
        types=("lung",),
        store_url=f"sqlite:///{tmp_path}/cpoc.sqlite",
    )
    answer = call(cpoc, "order-sign", "2025-11-10", folfiri_drafts(PATIENT))
    assert "fee-for-service" in kinds(answer)


def test_after_a_payer_switch_the_order_starts_the_first_eom_episode(tmp_path: Path) -> None:
    # No Coverage before 2025-10-01 (CPOC by default), Medicare (→ EOM) from then: FOLFOX of
    # March-August fell on CPOC days and starts no EOM episode; the FOLFIRI order on
    # 2025-11-12 starts episode 1 (2025-11-12 to 2026-05-11). CPOC's month 9 (from 11-03) is
    # an EOM day now: no Treatment Month card, no CPOC pathway card, only M0010 proposed.
    medicare = coverage("medicare", "Organization/cms", "1", start="2025-10-01")
    answer = call(
        app_for(tmp_path, "2025-11-10"),
        "order-sign",
        "2025-11-10",
        folfiri_drafts(PATIENT),
        extra=(medicare,),
    )
    assert kinds(answer) == ["episode-start"]
    assert answer["cards"][0]["summary"].startswith(
        "This order starts EOM episode 1 (2025-11-12 to 2026-05-11)"
    )
    codes = [a["resource"]["code"]["coding"][0]["code"] for a in answer["systemActions"]]
    assert codes == ["M0010"]


# --- patient-view ---------------------------------------------------------------------------


def test_patient_view_names_the_episode_month_and_the_missing_services(tmp_path: Path) -> None:
    # 2025-08-10 is in episode 1's month 6 (08-03 … 09-02). The record has no HRSN screening
    # (LOINC 96777-8 …) and no QuestionnaireResponse: both missing.
    answer = call(app_for(tmp_path, "2025-08-10"), "patient-view", "2025-08-10", [])
    assert kinds(answer) == ["pack-month", "enhanced-services"]
    month, services = answer["cards"]
    assert month["summary"] == "EOM episode 1, month 6: MEOS M0010 $110.00 (final)"
    assert services["summary"] == (
        "EOM episode 1: no health-related social needs screening and ePRO on record yet"
    )
    assert services["indicator"] == "info"


def test_patient_view_of_a_dual_eligible_month(tmp_path: Path) -> None:
    # A Medicaid Coverage (SOPT 2) in force on 08-03: $110.00 + $30.00 add-on = $140.00. An
    # ePRO on 2025-07-01 (inside episode 1) leaves only the screening missing.
    epro = {
        "resourceType": "QuestionnaireResponse",
        "id": "epro-1",
        "status": "completed",
        "subject": {"reference": f"Patient/{PATIENT}"},
        "authored": "2025-07-01",
        "questionnaire": "http://example.org/Questionnaire/prom",
    }
    answer = call(
        app_for(tmp_path, "2025-08-10"),
        "patient-view",
        "2025-08-10",
        [],
        extra=(MEDICARE, MEDICAID, epro),
    )
    month, services = answer["cards"]
    assert month["summary"] == "EOM episode 1, month 6: MEOS M0010 $140.00, dual-eligible (final)"
    assert services["summary"] == (
        "EOM episode 1: no health-related social needs screening on record yet"
    )


def test_patient_view_of_a_cpoc_patient_is_unchanged(tmp_path: Path) -> None:
    app = app_for(tmp_path, "2025-11-10", models=ModelSettings())
    answer = call(app, "patient-view", "2025-11-10", [])
    assert kinds(answer) == ["current-month"]
    assert (
        answer["cards"][0]["summary"]
        == "CPOC month 9 (2025-11-03 to 2025-12-02): xx303 provisional"
    )


# --- EOM's dual title reads a structured signal ------------------------------------------------


def _meos(evidence: tuple[str, ...], explanation: tuple[str, ...]) -> BillingLine:
    return BillingLine(
        "M0010", Component.MEOS, None, 3, date(2025, 5, 3), date(2025, 6, 2),
        LineStatus.FINAL, Decimal("140.00"), explanation, evidence, model="eom", episode=1,
    )  # fmt: skip


def test_the_eom_title_reads_the_medicaid_coverage_not_the_explanation_text() -> None:
    pack = load_pack("eom")
    dual = _meos(("MedicationAdministration/a", "Coverage/md"), ("priced",))
    worded = _meos(("MedicationAdministration/a",), ("note: not dual-eligible this month",))
    assert pack.title(dual, "USD") == "EOM episode 1, month 3: MEOS M0010 $140.00, dual-eligible"
    assert pack.title(worded, "USD") == "EOM episode 1, month 3: MEOS M0010 $140.00"


# --- summaries stay within the spec's limit ---------------------------------------------------

SOURCE = CardSource("CPOC", None, None, "p1")


def _pack(title: str, short: str) -> PaymentModelPack:
    return PaymentModelPack(
        id="x", name="X model", short_name=short,
        codes={"X1": PackCode("X1", "x fee", Component.MEOS)},
        bind=lambda env: None,  # type: ignore[arg-type,return-value]
        title=lambda line, currency: title,
    )  # fmt: skip


@settings(max_examples=100, deadline=None)
@given(
    title=st.text(max_size=300),
    short=st.text(min_size=1, max_size=200),
    index=st.integers(1, 10**12),
    amount=st.decimals(0, 10**9, places=2),
)
def test_pack_card_summaries_fit_whatever_the_pack_says(
    title: str, short: str, index: int, amount: Decimal
) -> None:
    pack = _pack(title, short)
    line = dataclasses.replace(
        _meos(("Coverage/x",), ()), code="X1", amount=amount, episode=index, model="x"
    )
    episode = Episode("x", index, date(2025, 1, 1), date(2025, 6, 30), "MedicationRequest/a")
    cards = [
        episode_start_card(SOURCE, pack, episode, line, "USD"),
        pack_line_card(SOURCE, pack, line, None, "EUR"),
        pack_month_card(SOURCE, pack, [line, line], "USD"),
    ]
    for card in cards:
        assert 0 < len(card["summary"]) <= 139


# --- ChargeItem write-back on a real FHIR server -------------------------------------------


@pytest.fixture(scope="module")
def fhir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SekmetServer]:
    with running_sekmet(tmp_path_factory.mktemp("sekmet-packs")) as server:
        record = record_on(PATIENT, "2025-11-10")  # the FOLFIRI order is the hook's draft
        organization = {"resourceType": "Organization", "id": "cms", "name": "Medicare"}
        load_resources(server.base_url, [*record, organization, MEDICARE])
        yield server


def test_order_sign_writes_one_meos_charge_item_once(fhir: SekmetServer, tmp_path: Path) -> None:
    app = app_for(tmp_path, "2025-11-10", write=WriteTarget(fhir.base_url))
    body = hook_body("order-sign", PATIENT, folfiri_drafts(PATIENT), fhirServer=fhir.base_url)
    first = app.test_client().post("/cds-services/cpoc-order-sign", json=body).get_json()
    assert first["cards"][0]["summary"].startswith("This order starts EOM episode 2")
    assert "Charge captured: `ChargeItem/" in first["cards"][0]["detail"]
    assert "systemActions" not in first  # written by the service: not proposed again
    items = server_charge_items(fhir.base_url, PATIENT)
    # Episode 1's months are before the order's: the hook's plan creates only the order's
    # month (docs/exactly-once.md, WriteMode.HOOK).
    assert [(i["code"]["coding"], i["status"], i["occurrencePeriod"]["start"]) for i in items] == [
        (
            [{"system": HCPCS, "code": "M0010", "display": MEOS_DISPLAY}],
            "planned",
            "2025-11-12",
        )
    ]
    assert items[0]["identifier"][0]["value"] == f"{PATIENT}.meos.2025-11-12"
    versions = {i["id"]: i["meta"]["versionId"] for i in items}

    body["hookInstance"] = "second-signing"
    again = app.test_client().post("/cds-services/cpoc-order-sign", json=body).get_json()
    assert "(unchanged)" in again["cards"][0]["detail"]
    after = server_charge_items(fhir.base_url, PATIENT)
    assert {i["id"]: i["meta"]["versionId"] for i in after} == versions
    audit = app.extensions["cpoc"].log.invocations()  # newest first
    assert [[w["outcome"] for w in row["writes"]] for row in audit[:2]] == [
        ["unchanged"],
        ["created"],
    ]


def test_the_month_end_capture_finds_the_meos_item_the_hook_wrote(
    fhir: SekmetServer, tmp_path: Path
) -> None:
    # After the signing above, the EHR stores the signed orders; the capture run (same
    # [models] mapping) builds the same line, identifier <patient>.meos.2025-11-12: no second
    # item.
    signed = [dict(order, status="active") for order in folfiri_drafts(PATIENT)]
    load_resources(fhir.base_url, signed)
    config = tmp_path / "cpoc.toml"
    config.write_text('[models]\npayers = {"Organization/cms" = "eom"}\n')
    code = main(
        [
            "--config", str(config), "capture", "--month", "2025-11", "--fhir-base",
            fhir.base_url, "--patient", PATIENT, "--as-of", "2025-11-12", "--store",
            f"sqlite:///{tmp_path}/ledger.sqlite", "--no-progress",
        ]
    )  # fmt: skip
    assert code == 0
    items = server_charge_items(fhir.base_url, PATIENT)
    november = [i for i in items if i["occurrencePeriod"]["start"] == "2025-11-12"]
    assert [(i["code"]["coding"][0]["code"], i["status"]) for i in november] == [
        ("M0010", "planned")
    ]
    # The run captures November only: episode 1's months (before it) are not created.
    assert [i["identifier"][0]["value"] for i in items] == [f"{PATIENT}.meos.2025-11-12"]


def test_the_documentation_card_names_the_pack_holding_the_order() -> None:
    # One gap that fits whole: "<pack> documentation for this patient: <gap>" (no month: a
    # pack line is no CPOC Treatment Month).
    card = documentation_card(SOURCE, ["MedicationRequest/x: drug not identified"], None, "EOM")
    assert card["summary"] == (
        "EOM documentation for this patient: MedicationRequest/x: drug not identified"
    )
    assert "under EOM" in card["detail"] and "CPOC level" not in card["detail"]
    cpoc = documentation_card(SOURCE, ["a", "b"], None)
    assert cpoc["summary"] == "CPOC: 2 documentation gaps affect this patient"
