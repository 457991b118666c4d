"""The CDS Hooks app factory: settings from the environment, refusing unsafe defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from cds_support import make_app

from cds_hooks.app import create_app
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
