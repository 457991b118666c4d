"""Client JWT attacks against the running app (CDS Hooks 2.0.1 §Trusting CDS Clients).

Auth is ON here: every service and feedback call must carry a JWT signed by a trusted issuer's
key (ES384 or RS384), for the exact URL called, used once. Refusals answer 401 with a JSON body
that never repeats the token, and leave one audit row with outcome ``unauthorized``.
tests/test_cds_security.py checks the verifier itself; this file checks it at the HTTP level.

``COVERED`` names the service requirements (ids of the CDS Hooks service requirements CSV) each
test checks; test_cds_conformance.py accounts for them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from cds_support import full_prefetch, hook_body, make_app, medication_order
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask import Flask
from flask.testing import FlaskClient
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from werkzeug.test import TestResponse

from cpoc_fhir.cli import bundled_examples

COVERED: dict[str, tuple[int, ...]] = {
    "test_signed_tokens_of_a_trusted_issuer_are_accepted": (176, 199, 205),
    "test_refused_tokens_are_401_json_with_one_audit_row": (176, 195, 199, 201, 203),
    "test_a_replayed_token_is_refused": (176,),
    "test_audience_may_be_an_array_naming_the_service": (176,),
    "test_feedback_accepts_the_feedback_or_the_service_url_as_audience": (148, 176),
    "test_discovery_answers_without_a_token": (4, 5),
}

ISS = "https://ehr.example/"
BASE = "http://localhost"  # Flask's test client calls host localhost
SIGN_URL = f"{BASE}/cds-services/cpoc-order-sign"
SELECT_URL = f"{BASE}/cds-services/cpoc-order-select"
DISCOVERY_URL = f"{BASE}/cds-services"
PID = "appendix-a-folfox"
EC_KID, RSA_KID = "ehr-es384-1", "ehr-rs384-1"


# --- keys, JWKS, app ------------------------------------------------------------------------
@pytest.fixture
def jwks_file(
    tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey, rsa_key: rsa.RSAPrivateKey
) -> Path:
    ec_jwk = ECAlgorithm.to_jwk(ec_key.public_key(), as_dict=True)
    rsa_jwk = RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True)
    keys = [
        {**ec_jwk, "kid": EC_KID, "alg": "ES384", "use": "sig"},
        {**rsa_jwk, "kid": RSA_KID, "alg": "RS384", "use": "sig"},
    ]
    path = tmp_path / "ehr-jwks.json"
    path.write_text(json.dumps({"keys": keys}), encoding="utf-8")
    return path


@pytest.fixture
def app(tmp_path: Path, jwks_file: Path) -> Flask:
    return make_app(
        tmp_path,
        today="2025-11-10",
        auth_enabled=True,
        trusted_issuers={ISS: str(jwks_file)},
        base_url=BASE,
    )


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def audit(app: Flask) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = app.extensions["cpoc"].log.invocations(limit=10_000)
    return rows


# --- tokens ---------------------------------------------------------------------------------
def claims(aud: Any = SIGN_URL, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISS,
        "aud": aud,
        "iat": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
        "tenant": "example-oncology-practice",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}  # None: leave the claim out


def es384(key: ec.EllipticCurvePrivateKey, aud: Any = SIGN_URL, **changes: Any) -> str:
    headers = {"kid": EC_KID, "typ": "JWT"}
    return jwt.encode(claims(aud, **changes), key, algorithm="ES384", headers=headers)


def rs384(key: rsa.RSAPrivateKey, aud: Any = SIGN_URL, **changes: Any) -> str:
    headers = {"kid": RSA_KID, "typ": "JWT"}
    return jwt.encode(claims(aud, **changes), key, algorithm="RS384", headers=headers)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _segments(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"


def unsigned(kid: str = EC_KID) -> str:
    """alg "none": an unsecured JWS (RFC 7518 §3.6), empty signature."""
    return _segments({"alg": "none", "typ": "JWT", "kid": kid}, claims()) + "."


def hs256_with_public_key(key: rsa.RSAPrivateKey) -> str:
    """The classic key-confusion forgery: HMAC with the issuer's RSA public key PEM as secret."""
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = _segments({"alg": "HS256", "typ": "JWT", "kid": RSA_KID}, claims())
    signature = hmac.new(pem, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


# --- the request ----------------------------------------------------------------------------
def _example() -> list[dict[str, Any]]:
    bundle = json.loads((bundled_examples() / f"{PID}.json").read_text(encoding="utf-8"))
    return [entry["resource"] for entry in bundle["entry"]]


def sign_body() -> dict[str, Any]:
    """order-sign of a FOLFIRI cycle on 2025-11-12 for the Appendix A patient."""
    drafts = [
        medication_order("draft-irinotecan", PID, "51499", "irinotecan", "2025-11-12"),
        medication_order("draft-leucovorin", PID, "6313", "leucovorin", "2025-11-12"),
        medication_order("draft-fluorouracil", PID, "4492", "fluorouracil", "2025-11-12"),
    ]
    return hook_body("order-sign", PID, drafts, full_prefetch(_example(), PID))


def call(
    client: FlaskClient,
    token: str | None,
    path: str = "/cds-services/cpoc-order-sign",
    body: Any = None,
) -> TestResponse:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.post(path, json=sign_body() if body is None else body, headers=headers)


FEEDBACK = {
    "feedback": [
        {
            "card": "9368d37b-283f-44a0-93ea-547cebab93ed",
            "outcome": "overridden",
            "outcomeTimestamp": "2025-11-10T15:04:05Z",
        }
    ]
}


# --- accepted -------------------------------------------------------------------------------
@pytest.mark.parametrize("alg", ["ES384", "RS384"])
def test_signed_tokens_of_a_trusted_issuer_are_accepted(
    app: Flask,
    client: FlaskClient,
    ec_key: ec.EllipticCurvePrivateKey,
    rsa_key: rsa.RSAPrivateKey,
    alg: str,
) -> None:
    # The JWK Set was given out of band (the trusted-issuer file), the token names no jku.
    token = es384(ec_key) if alg == "ES384" else rs384(rsa_key)
    response = call(client, token)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["cards"]
    [row] = audit(app)
    assert (row["httpStatus"], row["outcome"], row["client"]) == (200, "cards", ISS)


def test_audience_may_be_an_array_naming_the_service(
    client: FlaskClient, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    assert call(client, es384(ec_key, aud=[SIGN_URL])).status_code == 200


def test_discovery_answers_without_a_token(app: Flask, client: FlaskClient) -> None:
    response = client.get("/cds-services")
    assert response.status_code == 200
    ids = {s["id"] for s in response.get_json()["services"]}
    assert ids == {"cpoc-order-select", "cpoc-order-sign", "cpoc-patient-view"}


def test_feedback_accepts_the_feedback_or_the_service_url_as_audience(
    app: Flask, client: FlaskClient, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    path = "/cds-services/cpoc-order-sign/feedback"
    for aud in (f"{SIGN_URL}/feedback", SIGN_URL):
        response = call(client, es384(ec_key, aud=aud), path, FEEDBACK)
        assert response.status_code == 200, (aud, response.get_data(as_text=True))
    # Another service's URL is not this feedback endpoint's audience.
    refused = call(client, es384(ec_key, aud=SELECT_URL), path, FEEDBACK)
    assert refused.status_code == 401
    assert len(app.extensions["cpoc"].log.feedback()) == 1  # the same feedback, stored once
    statuses = [(r["hook"], r["httpStatus"], r["outcome"]) for r in reversed(audit(app))]
    assert statuses == [
        ("feedback", 200, "feedback"),
        ("feedback", 200, "feedback"),
        ("feedback", 401, "unauthorized"),
    ]
    assert [r["client"] for r in reversed(audit(app))] == [ISS, ISS, None]


# --- refused --------------------------------------------------------------------------------
Keys = tuple[ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey]

Forge = Callable[[Keys], str | None]
# case -> (the token sent, what the 401 message says)
REFUSED: dict[str, tuple[Forge, str]] = {
    "no Authorization header": (lambda keys: None, "missing Authorization header"),
    "alg none": (lambda keys: unsigned(), "algorithm none not accepted"),
    "HS256 with the RSA public key as secret": (
        lambda keys: hs256_with_public_key(keys[1]),
        "algorithm HS256 not accepted",
    ),
    "aud another service's URL": (
        lambda keys: es384(keys[0], aud=SELECT_URL),
        "aud does not match",
    ),
    "aud the discovery URL": (
        lambda keys: es384(keys[0], aud=DISCOVERY_URL),
        "aud does not match",
    ),
    "aud the https URL of this service": (
        lambda keys: es384(keys[0], aud="https://localhost/cds-services/cpoc-order-sign"),
        "aud does not match",
    ),
    "expired": (
        lambda keys: es384(keys[0], iat=int(time.time()) - 1200, exp=int(time.time()) - 600),
        "expired",
    ),
    "unknown issuer": (
        lambda keys: es384(keys[0], iss="https://attacker.example/"),
        "issuer not trusted",
    ),
    "signed by another key under a trusted kid": (
        lambda keys: es384(ec.generate_private_key(ec.SECP384R1())),
        "signature does not verify",
    ),
    "RS384 header on the EC key's kid": (
        lambda keys: jwt.encode(
            claims(), keys[1], algorithm="RS384", headers={"kid": EC_KID, "typ": "JWT"}
        ),
        "not for RS384",
    ),
    "jku pointing elsewhere": (
        lambda keys: jwt.encode(
            claims(),
            keys[0],
            algorithm="ES384",
            headers={"kid": EC_KID, "typ": "JWT", "jku": "https://attacker.example/jwks.json"},
        ),
        "jku",
    ),
    "no jti": (lambda keys: es384(keys[0], jti=None), "jti claim missing"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_refused_tokens_are_401_json_with_one_audit_row(
    app: Flask,
    client: FlaskClient,
    ec_key: ec.EllipticCurvePrivateKey,
    rsa_key: rsa.RSAPrivateKey,
    case: str,
) -> None:
    forge, reason = REFUSED[case]
    token = forge((ec_key, rsa_key))
    response = call(client, token)
    text = response.get_data(as_text=True)
    assert response.status_code == 401, text
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["error"] == "unauthorized"
    assert reason in body["message"]
    assert "Traceback" not in text
    if token:
        assert token not in text
        for segment in token.split("."):
            assert not segment or segment not in text
    [row] = audit(app)
    assert (row["httpStatus"], row["outcome"], row["service"]) == (
        401,
        "unauthorized",
        "cpoc-order-sign",
    )
    assert row["client"] is None
    assert row["hookInstance"] is None and row["patient"] is None  # the body was never read
    assert row["latencyMs"] > 0


def test_a_replayed_token_is_refused(
    app: Flask, client: FlaskClient, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    token = es384(ec_key)
    first = call(client, token)
    second = call(client, token)
    assert first.status_code == 200
    assert second.status_code == 401
    assert second.get_json()["error"] == "unauthorized"
    assert "replay" in second.get_json()["message"]
    assert token not in second.get_data(as_text=True)
    outcomes = [(r["httpStatus"], r["outcome"]) for r in reversed(audit(app))]
    assert outcomes == [(200, "cards"), (401, "unauthorized")]
