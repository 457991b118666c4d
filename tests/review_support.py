"""Shared by the review app's end-to-end tests: a sekmet seeded by a capture run, the mock
SMART server in front of it, and the Flask app configured for both."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from flask import Flask
from sekmet_server import SekmetServer, running_sekmet
from smart_mock import CLIENT_ID, CLIENT_SECRET, SmartMock, running_smart_mock

from cds_hooks.app import create_app
from cds_hooks.embedded_fhir import load_resources
from cds_hooks.settings import CdsSettings, ReviewSettings
from cpoc_fhir.cli import bundled_examples, main
from cpoc_fhir.fhir.client import FhirClient

# The capture ran as of 2025-10-05; the app's clock says the same day.
NOW = datetime(2025, 10, 5, 9, 0, tzinfo=timezone(timedelta(hours=2)))
USER = "Practitioner/dr-1"


@contextmanager
def seeded_sekmet(directory: Path) -> Iterator[SekmetServer]:
    """The bundled examples with September 2025 captured as of 2025-10-05."""
    with running_sekmet(directory / "sekmet") as server:
        resources: list[dict[str, Any]] = []
        for path in sorted(bundled_examples().glob("*.json")):
            resources += [e["resource"] for e in json.loads(path.read_text())["entry"]]
        load_resources(server.base_url, resources)
        store = f"sqlite:///{directory / 'ledger.sqlite'}"
        args = ["capture", "--fhir-base", server.base_url, "--store", store, "--no-progress"]
        assert main([*args, "--month", "2025-09", "--as-of", "2025-10-05"]) == 0
        yield server


@contextmanager
def smart_in_front_of(server: SekmetServer) -> Iterator[SmartMock]:
    """The mock SMART server whose ``iss`` forwards FHIR requests to ``server``."""
    with running_smart_mock(SmartMock(upstream=server.base_url)) as mock:
        for patient in ("appendix-a-folfox", "declined-treatment", "oral-capecitabine-trial"):
            mock.launches[patient] = {"patient": patient, "fhirUser": USER}
        yield mock


def review_flask_app(store: Path, smart: SmartMock, **config: Any) -> Flask:
    cds = CdsSettings(auth_enabled=False, store_url=f"sqlite:///{store}")
    review = ReviewSettings(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        secret_key="test-secret-key",
        issuers=(smart.iss,),
    )
    return create_app(
        {
            "CDS_SETTINGS": cds,
            "REVIEW_SETTINGS": review,
            "CLOCK": lambda: NOW,
            "TESTING": True,
            **config,
        }
    )


def items_of(server: SekmetServer, patient: str, **params: str) -> list[dict[str, Any]]:
    with FhirClient(server.base_url) as client:
        return list(client.search("ChargeItem", {"subject": f"Patient/{patient}", **params}))


def provenances_of(server: SekmetServer, item_id: str) -> list[dict[str, Any]]:
    with FhirClient(server.base_url) as client:
        return [
            p
            for p in client.search("Provenance", {"_count": "200"})
            if any(
                t.get("reference", "").startswith(f"ChargeItem/{item_id}/")
                for t in p.get("target") or []
            )
        ]
