"""SMART Backend Services: the token request, the signed client assertion, caching, refusals."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import jwt
import pytest
import responses

from cpoc_fhir.fhir.auth import ASSERTION_TYPE, BearerToken, NoAuth, SmartBackendServices
from cpoc_fhir.fhir.client import FhirAuthError, FhirClient, FhirResponseError
from cpoc_fhir.fhir.keys import generate_private_key_pem, public_jwks

BASE = "https://ehr.example/fhir"
TOKEN_URL = "https://auth.example/token"
ACCESS = "access-token-7f3a9c"


@pytest.fixture(scope="module")
def keys() -> dict[str, bytes]:
    return {alg: generate_private_key_pem(alg) for alg in ("RS384", "ES384")}


@pytest.fixture
def server() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def token_answer(token: str = ACCESS, expires_in: int = 300, **extra: Any) -> dict[str, Any]:
    return {"access_token": token, "token_type": "bearer", "expires_in": expires_in, **extra}


def sent_form(call: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


@pytest.mark.parametrize("alg", ["RS384", "ES384"])
def test_token_request_carries_a_client_assertion_signed_with_the_key(server, keys, alg):
    server.post(TOKEN_URL, json=token_answer(scope="system/ChargeItem.cruds"))
    auth = SmartBackendServices(BASE, "cpoc", keys[alg], "key-1", alg, token_url=TOKEN_URL)
    assert auth.authorization() == f"Bearer {ACCESS}"
    assert auth.granted_scope == "system/ChargeItem.cruds"
    form = sent_form(server.calls[0])
    assert form.keys() == {"grant_type", "scope", "client_assertion_type", "client_assertion"}
    assert form["grant_type"] == "client_credentials"
    assert form["scope"] == "system/ChargeItem.cruds system/*.rs"
    assert form["client_assertion_type"] == ASSERTION_TYPE
    assertion = form["client_assertion"]
    # As the authorization server would check it: with the registered public JWKS.
    registered = jwt.PyJWKSet.from_dict(public_jwks(keys[alg], "key-1", alg))["key-1"]
    claims = jwt.decode(assertion, registered.key, algorithms=[alg], audience=TOKEN_URL)
    header = jwt.get_unverified_header(assertion)
    assert header == {"alg": alg, "kid": "key-1", "typ": "JWT"}
    assert claims["iss"] == claims["sub"] == "cpoc"
    assert 0 < claims["exp"] - time.time() <= 300
    assert claims["iat"] <= time.time()
    assert uuid.UUID(claims["jti"]).version == 4


def test_the_token_endpoint_is_discovered_from_smart_configuration(server, keys):
    config = {"token_endpoint": TOKEN_URL, "token_endpoint_auth_signing_alg_values_supported":
              ["RS384", "ES384"]}  # fmt: skip
    server.get(f"{BASE}/.well-known/smart-configuration", json=config)
    server.post(TOKEN_URL, json=token_answer())
    auth = SmartBackendServices(BASE + "/", "cpoc", keys["ES384"], "k", "ES384")
    auth.access_token()
    assertion = sent_form(server.calls[1])["client_assertion"]
    assert jwt.decode(assertion, options={"verify_signature": False})["aud"] == TOKEN_URL


def test_discovery_refuses_a_server_that_does_not_take_our_algorithm(server, keys):
    config = {"token_endpoint": TOKEN_URL, "token_endpoint_auth_signing_alg_values_supported":
              ["RS256"]}  # fmt: skip
    server.get(f"{BASE}/.well-known/smart-configuration", json=config)
    auth = SmartBackendServices(BASE, "cpoc", keys["RS384"], "k", "RS384")
    with pytest.raises(FhirResponseError, match=r"\['RS256'\], not RS384"):
        auth.access_token()


def test_the_token_is_cached_until_a_minute_before_it_expires(server, keys):
    server.post(TOKEN_URL, json=token_answer("first", expires_in=300))
    server.post(TOKEN_URL, json=token_answer("second", expires_in=300))
    clock = Clock(1_780_000_000.0)
    auth = SmartBackendServices(BASE, "c", keys["RS384"], "k", token_url=TOKEN_URL, clock=clock)
    assert auth.access_token() == "first"
    clock.now += 239
    assert auth.access_token() == "first"
    clock.now += 1
    assert auth.access_token() == "second"
    assert len(server.calls) == 2


def test_invalidate_forces_a_new_token_with_a_new_jti(server, keys):
    server.post(TOKEN_URL, json=token_answer("first"))
    server.post(TOKEN_URL, json=token_answer("second"))
    auth = SmartBackendServices(BASE, "c", keys["RS384"], "k", token_url=TOKEN_URL)
    assert auth.access_token() == "first"
    auth.invalidate()
    assert auth.access_token() == "second"
    jtis = {
        jwt.decode(sent_form(c)["client_assertion"], options={"verify_signature": False})["jti"]
        for c in server.calls
    }
    assert len(jtis) == 2


def test_the_client_renews_a_smart_token_on_401(server, keys):
    server.post(TOKEN_URL, json=token_answer("first"))
    server.post(TOKEN_URL, json=token_answer("second"))
    server.get(f"{BASE}/Patient/p1", status=401)
    server.get(f"{BASE}/Patient/p1", json={"resourceType": "Patient"})
    auth = SmartBackendServices(BASE, "c", keys["RS384"], "k", token_url=TOKEN_URL)
    FhirClient(BASE, auth=auth).read("Patient", "p1")
    fhir_calls = [c for c in server.calls if "Patient" in c.request.url]
    assert [c.request.headers["Authorization"] for c in fhir_calls] == [
        "Bearer first",
        "Bearer second",
    ]


def test_the_jku_header_is_sent_when_configured(keys):
    auth = SmartBackendServices(
        BASE, "c", keys["RS384"], "k", token_url=TOKEN_URL, jku="https://cpoc.example/jwks"
    )
    header = jwt.get_unverified_header(auth.client_assertion(TOKEN_URL))
    assert header["jku"] == "https://cpoc.example/jwks"


@pytest.mark.parametrize("alg", ["none", "HS256", "RS256", "ES256"])
def test_only_rs384_and_es384_are_allowed(keys, alg):
    with pytest.raises(ValueError, match="RS384 or ES384"):
        SmartBackendServices(BASE, "c", keys["RS384"], "k", alg)


@pytest.mark.parametrize(("key", "alg"), [("ES384", "RS384"), ("RS384", "ES384")])
def test_a_key_that_does_not_fit_the_algorithm_is_refused(keys, key, alg):
    with pytest.raises(ValueError, match="does not fit"):
        SmartBackendServices(BASE, "c", keys[key], "k", alg)


def test_a_refused_assertion_is_an_auth_error_quoting_the_server_not_the_assertion(server, keys):
    answer = {"error": "invalid_client", "error_description": "signature verification failed"}
    server.post(TOKEN_URL, status=401, json=answer)
    auth = SmartBackendServices(BASE, "c", keys["RS384"], "k", token_url=TOKEN_URL)
    with pytest.raises(FhirAuthError) as caught:
        auth.access_token()
    assert str(caught.value) == (
        f"POST {TOKEN_URL} → 401 Unauthorized: invalid_client: signature verification failed"
    )
    assert sent_form(server.calls[0])["client_assertion"] not in str(caught.value)


@pytest.mark.parametrize(
    "answer", [{"token_type": "bearer"}, {"access_token": "x", "token_type": "mac"}]
)
def test_a_token_answer_without_a_bearer_token_is_a_response_error(server, keys, answer):
    server.post(TOKEN_URL, json=answer)
    auth = SmartBackendServices(BASE, "c", keys["RS384"], "k", token_url=TOKEN_URL)
    with pytest.raises(FhirResponseError):
        auth.access_token()


def test_tokens_stay_out_of_reprs_and_logs(server, keys, caplog):
    caplog.set_level(logging.DEBUG)
    server.post(TOKEN_URL, json=token_answer())
    auth = SmartBackendServices(BASE, "c", keys["RS384"], "k", token_url=TOKEN_URL)
    auth.access_token()
    assertion = sent_form(server.calls[0])["client_assertion"]
    for text in (caplog.text, repr(auth), repr(BearerToken(ACCESS))):
        assert ACCESS not in text and assertion not in text
    assert NoAuth().authorization() is None


@pytest.mark.parametrize("token", ["", "two words"])
def test_a_bearer_token_must_be_one_word(token):
    with pytest.raises(ValueError):
        BearerToken(token)
