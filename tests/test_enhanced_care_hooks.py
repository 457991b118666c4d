"""The xx600 line (value-and-models §13.1) on the order-sign card, through the Flask test
client: an opted-in payer's Treatment Month card lists the supplement with its amount and the
hook proposes its ChargeItem; it has no card of its own; not opted in, the card is as before."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cds_support import clock_at, full_prefetch, hook_body, medication_order, record_on
from flask import Flask
from test_enhanced_care import opted_in_payer_file

from cds_hooks.app import create_app
from cds_hooks.cards import KIND_EXTENSION
from cds_hooks.settings import CdsSettings
from cpoc_fhir.config import Config
from cpoc_fhir.engine.settings import RuleSettings

PATIENT = "appendix-a-folfox"
DAY = "2025-03-03"


def app_for(tmp_path: Path, payer: Path | None) -> Flask:
    settings = CdsSettings(auth_enabled=False, store_url=f"sqlite:///{tmp_path}/cds.sqlite")
    return create_app(
        {
            "CDS_SETTINGS": settings,
            "CLOCK": clock_at(DAY),
            "TESTING": True,
            "CPOC_CONFIG": Config(rules=RuleSettings(), payer_file=payer),
        }
    )


def sign(app: Flask) -> dict[str, Any]:
    drafts = [
        medication_order("ox", PATIENT, "32592", "oxaliplatin", DAY),
        medication_order("lv", PATIENT, "6313", "leucovorin", DAY),
        medication_order("fu", PATIENT, "4492", "fluorouracil", DAY),
    ]
    body = hook_body("order-sign", PATIENT, drafts, full_prefetch(record_on(PATIENT, DAY), PATIENT))
    response = app.test_client().post("/cds-services/cpoc-order-sign", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_the_order_sign_card_lists_the_supplement(tmp_path: Path) -> None:
    answer = sign(app_for(tmp_path, opted_in_payer_file(tmp_path)))
    # test_cds_orders: the first FOLFOX cycle starts Treatment Month 1 at level 3 (xx203);
    # with the payer opted in, month 1 also bills xx600 at s = 50.00, provisional as its
    # xx203 (the month is open): one line more on the same card, no card more.
    kinds = [card["extension"][KIND_EXTENSION] for card in answer["cards"]]
    assert kinds == ["treatment-month", "pathway"]
    detail = answer["cards"][0]["detail"]
    assert (
        "Also billed this month: xx600 Supplemental Payment for Enhanced Patient-Centered Care "
        "(provisional, 50.00; payer opted in, II-B.2)."
    ) in detail
    codes = [a["resource"]["code"]["coding"][0]["code"] for a in answer["systemActions"]]
    assert codes == ["xx203", "xx600"]
    supplement = answer["systemActions"][1]["resource"]
    assert supplement["priceOverride"] == {"value": 50.0, "currency": "USD"}
    assert supplement["occurrencePeriod"] == {"start": "2025-03-03", "end": "2025-04-02"}


def test_not_opted_in_the_card_is_unchanged(tmp_path: Path) -> None:
    answer = sign(app_for(tmp_path, None))
    assert "xx600" not in answer["cards"][0]["detail"]
    assert "Also billed this month" not in answer["cards"][0]["detail"]
    assert [a["resource"]["code"]["coding"][0]["code"] for a in answer["systemActions"]] == [
        "xx203"
    ]
