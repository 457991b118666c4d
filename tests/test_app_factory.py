"""The CDS Hooks app factory: settings from the environment, refusing unsafe defaults."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest
from cds_support import make_app

from cds_hooks.app import create_app
from cds_hooks.settings import CdsSettings, ReviewSettings
from cpoc_fhir.errors import InputError


def test_discovery_lists_the_three_services(tmp_path: Path) -> None:
    response = make_app(tmp_path).test_client().get("/cds-services")
    assert response.status_code == 200
    services = response.get_json()["services"]
    assert [(s["id"], s["hook"]) for s in services] == [
        ("cpoc-order-select", "order-select"),
        ("cpoc-order-sign", "order-sign"),
        ("cpoc-patient-view", "patient-view"),
    ]


def test_verification_is_on_unless_turned_off_and_needs_trusted_issuers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CPOC_STORE_URL", f"sqlite:///{tmp_path}/s.sqlite")
    monkeypatch.delenv("CPOC_CDS_AUTH", raising=False)
    monkeypatch.delenv("CPOC_CDS_TRUSTED_ISSUERS", raising=False)
    with pytest.raises(InputError, match="CPOC_CDS_TRUSTED_ISSUERS"):
        create_app()
    monkeypatch.setenv("CPOC_CDS_AUTH", "off")
    assert create_app().extensions["cpoc"].verifier is None
    monkeypatch.setenv("CPOC_CDS_AUTH", "maybe")
    with pytest.raises(InputError, match="CPOC_CDS_AUTH"):
        create_app()


def test_the_review_secret_key_warning_only_when_the_review_app_is_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cds = CdsSettings(auth_enabled=False, store_url=f"sqlite:///{tmp_path}/s.sqlite")
    with caplog.at_level(logging.WARNING):
        create_app({"CDS_SETTINGS": cds, "REVIEW_SETTINGS": ReviewSettings()})
    assert "CPOC_REVIEW_SECRET_KEY" not in caplog.text  # the review app is off
    on = ReviewSettings(client_id="app", client_secret="s", issuers=("https://ehr.example",))
    with caplog.at_level(logging.WARNING):
        create_app({"CDS_SETTINGS": cds, "REVIEW_SETTINGS": on})
    assert caplog.text.count("CPOC_REVIEW_SECRET_KEY is not set") == 1
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        keyed = dataclasses.replace(on, secret_key="k")
        create_app({"CDS_SETTINGS": cds, "REVIEW_SETTINGS": keyed})
    assert "CPOC_REVIEW_SECRET_KEY" not in caplog.text


def test_an_unknown_cds_variable_stops_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CPOC_STORE_URL", f"sqlite:///{tmp_path}/s.sqlite")
    monkeypatch.setenv("CPOC_CDS_AUTH", "off")
    monkeypatch.setenv("CPOC_CDS_WRITE_FHIR_BSE", "http://127.0.0.1:1/fhir")
    with pytest.raises(InputError, match=r"CPOC_CDS_WRITE_FHIR_BSE: unknown variable \(did you"):
        create_app()
