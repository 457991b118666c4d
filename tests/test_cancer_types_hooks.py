"""Option 1 (value-and-models §14.3) in the CDS Hooks services, through the Flask test client:
a patient whose cancer type the payer does not bill under CPOC gets one card saying so, no
CPOC card and no ChargeItem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cds_support import (
    clock_at,
    folfiri_drafts,
    full_prefetch,
    hook_body,
    record_on,
)
from flask import Flask

from cds_hooks.app import create_app
from cds_hooks.cards import KIND_EXTENSION
from cds_hooks.settings import CdsSettings
from cpoc_fhir.config import Config
from cpoc_fhir.engine.settings import RuleSettings

PATIENT = "appendix-a-folfox"  # colon cancer
DAY = "2025-11-10"


def app_for(tmp_path: Path, types: tuple[str, ...] | None) -> Flask:
    settings = CdsSettings(auth_enabled=False, store_url=f"sqlite:///{tmp_path}/cds.sqlite")
    return create_app(
        {
            "CDS_SETTINGS": settings,
            "CLOCK": clock_at(DAY),
            "TESTING": True,
            "CPOC_CONFIG": Config(rules=RuleSettings(cpoc_cancer_types=types), payer_file=None),
        }
    )


def call(app: Flask, hook: str, drafts: list[dict[str, Any]]) -> dict[str, Any]:
    prefetch = full_prefetch(record_on(PATIENT, DAY), PATIENT)
    body = hook_body(hook, PATIENT, drafts, prefetch)
    response = app.test_client().post(f"/cds-services/cpoc-{hook}", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def kinds(answer: dict[str, Any]) -> list[str]:
    return [card["extension"][KIND_EXTENSION] for card in answer["cards"]]


def test_order_sign_for_a_non_cpoc_cancer_type_says_fee_for_service(tmp_path: Path) -> None:
    answer = call(app_for(tmp_path, ("lung", "breast")), "order-sign", folfiri_drafts(PATIENT))
    # The FOLFIRI order still gets its pathway card (care, not billing), but no Treatment
    # Month card, no documentation card and no proposed ChargeItem.
    assert kinds(answer) == ["fee-for-service", "pathway"]
    card = answer["cards"][0]
    assert card["summary"] == "CPOC: billed fee-for-service: not a CPOC cancer type for this payer"
    assert card["indicator"] == "info"
    assert "(colorectal; CPOC covers lung, breast)" in card["detail"]
    assert "systemActions" not in answer


def test_order_sign_for_a_cpoc_cancer_type_is_unchanged(tmp_path: Path) -> None:
    # Colorectal listed: the FOLFIRI order turns month 9 into a Treatment Month as usual.
    answer = call(app_for(tmp_path, ("colorectal",)), "order-sign", folfiri_drafts(PATIENT))
    assert kinds(answer) == ["treatment-month", "documentation", "pathway"]
    assert answer["systemActions"]


def test_patient_view_says_fee_for_service(tmp_path: Path) -> None:
    answer = call(app_for(tmp_path, ("lung",)), "patient-view", [])
    assert kinds(answer) == ["fee-for-service"]
    assert "(colorectal; CPOC covers lung)" in answer["cards"][0]["detail"]
