"""The FHIR client against a real FHIR R4 server (sekmet-fhir): open, and with SMART auth."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sekmet_server import SekmetServer, running_sekmet, sekmet_server  # noqa: F401

from cpoc_fhir.fhir.auth import SmartBackendServices
from cpoc_fhir.fhir.client import (
    FhirAuthError,
    FhirClient,
    FhirNotFound,
    FhirPreconditionFailed,
)
from cpoc_fhir.fhir.keys import generate_private_key_pem, public_jwks
from cpoc_fhir.fhir.results import create_entry, update_entry


@pytest.fixture
def system() -> str:
    """An identifier system of this test's own, so tests sharing the server do not collide."""
    return f"urn:uuid:{uuid.uuid4()}"


def charge_item(system: str, value: str, status: str = "billable") -> dict[str, Any]:
    return {
        "resourceType": "ChargeItem",
        "identifier": [{"system": system, "value": value}],
        "status": status,
        "code": {"coding": [{"system": "urn:cpoc:code", "code": "xx204"}]},
        "subject": {"reference": "Patient/p1"},
    }


@pytest.fixture
def client(sekmet_server: SekmetServer) -> Iterator[FhirClient]:  # noqa: F811
    with FhirClient(sekmet_server.base_url) as fhir:
        yield fhir


def test_capabilities_of_a_fhir_r4_server(client):
    assert client.capabilities()["fhirVersion"] == "4.0.1"


def test_conditional_create_then_update_with_if_match(client, system):
    condition = f"identifier={system}|line-1"
    first = client.create(charge_item(system, "line-1"), if_none_exist=condition)
    again = client.create(charge_item(system, "line-1"), if_none_exist=condition)
    assert (first.status, first.version, again.status) == (201, "1", 200)
    assert again.id == first.id
    stored = client.read("ChargeItem", str(first.id))
    updated = client.update({**stored, "status": "billed"}, if_match=first.version)
    assert (updated.status, updated.version) == (200, "2")
    with pytest.raises(FhirPreconditionFailed, match='If-Match W/"1" but current is 2'):
        client.update({**stored, "status": "aborted"}, if_match="1")
    assert client.read("ChargeItem", str(first.id))["status"] == "billed"


def test_search_pages_through_the_servers_next_links(client, system):
    for n in range(5):
        client.create(charge_item(system, f"line-{n}"))
    params = {"identifier": f"{system}|", "_count": "2"}
    bundles = list(client.search_bundles("ChargeItem", params))
    found = list(client.search("ChargeItem", params))
    assert len(bundles) == 3
    assert sorted(r["identifier"][0]["value"] for r in found) == [f"line-{n}" for n in range(5)]


def test_a_batch_reports_each_entry_and_a_transaction_rolls_back(client, system):
    existing = client.create(charge_item(system, "old"))
    stored = client.read("ChargeItem", str(existing.id))
    entries = [
        create_entry(charge_item(system, "a"), f"identifier={system}|a"),
        create_entry(charge_item(system, "old"), f"identifier={system}|old"),
        update_entry({**stored, "status": "billed"}, if_match="7"),
    ]
    results = client.batch(entries)
    assert [(r.status, r.created) for r in results] == [(201, True), (200, False), (412, False)]
    assert results[1].id == existing.id
    assert results[2].outcome is not None and "current is 1" in results[2].outcome
    with pytest.raises(FhirPreconditionFailed, match="transaction Bundle → 412"):
        client.transaction([create_entry(charge_item(system, "b")), entries[2]])
    assert list(client.search("ChargeItem", {"identifier": f"{system}|b"})) == []


def test_reading_a_missing_resource(client):
    with pytest.raises(FhirNotFound, match="not found"):
        client.read("ChargeItem", "no-such-item")


# --- SMART Backend Services against sekmet's token endpoint --------------------------------

CLIENTS = {"RS384": "cpoc-rs384", "ES384": "cpoc-es384"}


@pytest.fixture(scope="module")
def smart_keys() -> dict[str, bytes]:
    return {alg: generate_private_key_pem(alg) for alg in CLIENTS}


@pytest.fixture(scope="module")
def smart_server(
    tmp_path_factory: pytest.TempPathFactory, smart_keys: dict[str, bytes]
) -> Iterator[SekmetServer]:
    registered = [
        {
            "client_id": client_id,
            "jwks": public_jwks(smart_keys[alg], f"{client_id}-key", alg),
            "scopes": "system/ChargeItem.cruds system/*.rs",
        }
        for alg, client_id in CLIENTS.items()
    ]
    # Tokens live one second, so a test can see one expire (the client then renews it on 401).
    auth = {"types": ["smart"], "smart_clients": registered, "token_lifetime": 1}
    settings = {"server_auth": auth}
    directory: Path = tmp_path_factory.mktemp("sekmet-smart")
    with running_sekmet(directory, settings) as server:
        yield server


def smart(server: SekmetServer, keys: dict[str, bytes], alg: str) -> SmartBackendServices:
    client_id = CLIENTS[alg]
    return SmartBackendServices(server.base_url, client_id, keys[alg], f"{client_id}-key", alg)


@pytest.mark.parametrize("alg", ["RS384", "ES384"])
def test_smart_backend_services_token_authorises_requests(smart_server, smart_keys, alg):
    auth = smart(smart_server, smart_keys, alg)
    with FhirClient(smart_server.base_url, auth=auth) as fhir:
        created = fhir.create(charge_item("urn:cpoc:smart", alg))
        assert created.status == 201
        assert fhir.read("ChargeItem", str(created.id))["status"] == "billable"
    assert auth.token_url == f"{smart_server.root_url}/auth/token"  # discovered
    assert auth.granted_scope == "system/ChargeItem.cruds system/*.rs"


def test_smart_scopes_are_enforced_by_the_server(smart_server, smart_keys):
    auth = smart(smart_server, smart_keys, "RS384")
    with (
        FhirClient(smart_server.base_url, auth=auth) as fhir,
        pytest.raises(FhirAuthError, match="403 Forbidden"),
    ):
        fhir.create({"resourceType": "Patient"})


def test_without_a_token_the_server_answers_401(smart_server):
    with FhirClient(smart_server.base_url) as fhir, pytest.raises(FhirAuthError, match="401"):
        fhir.read("ChargeItem", "anything")


def test_an_expired_token_is_renewed_after_the_servers_401(smart_server, smart_keys, caplog):
    caplog.set_level(logging.DEBUG, logger="cpoc_fhir")
    frozen = time.time()  # the client's cache will think its token is still fresh
    client_id = CLIENTS["RS384"]
    key = smart_keys["RS384"]
    auth = SmartBackendServices(
        smart_server.base_url, client_id, key, f"{client_id}-key", clock=lambda: frozen
    )
    with FhirClient(smart_server.base_url, auth=auth) as fhir:
        list(fhir.search("ChargeItem", {"_count": "1"}))
        first = auth.access_token()
        time.sleep(1.1)  # the server's one-second token expires
        list(fhir.search("ChargeItem", {"_count": "1"}))
    assert "GET ChargeItem?_count=… → 401" in caplog.text
    assert auth.access_token() != first
    assert first not in caplog.text


def test_an_assertion_signed_with_an_unregistered_key_is_refused(smart_server):
    stranger = generate_private_key_pem("ES384")
    auth = SmartBackendServices(smart_server.base_url, CLIENTS["ES384"], stranger, "x", "ES384")
    with pytest.raises(FhirAuthError, match="invalid_client"):
        auth.access_token()


def test_a_missing_sekmet_skips_with_the_reason(monkeypatch, tmp_path):
    import sekmet_server as module

    monkeypatch.setattr(module, "sekmet_executable", lambda: None)
    with (
        pytest.raises(pytest.skip.Exception, match="sekmet-fhir is not installed"),
        module.running_sekmet(tmp_path),
    ):
        pass
