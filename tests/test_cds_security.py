"""CDS client JWT verification (CDS Hooks 2.0.1 §Trusting CDS Clients), with real crypto."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from jwt.warnings import InsecureKeyLengthWarning

from cds_hooks.security import (
    ClientAuthError,
    ClientVerifier,
    VerifiedClient,
    trusted_issuers_from_json,
)
from cds_hooks.trusted_issuers import TrustedIssuer
from cpoc_fhir.store import open_ledger
from cpoc_fhir.store.hooks import HookLog

NOW = float(int(time.time()))  # near real time: HookLog purges jti rows by the wall clock
ISS = "https://ehr.example.com/"
JWKS_URL = "https://ehr.example.com/.well-known/jwks.json"
BASE = "https://cds.example.org/cds-services"
AUD = f"{BASE}/cpoc-order-sign"
EXPECTED_AUD = f"aud does not match this service (expected {AUD})"
NOT_ACCEPTED = "not accepted: ES384 or RS384 required"
SANDBOX = "https://sandbox.cds-hooks.org"
SANDBOX_JKU = "https://sandbox.cds-hooks.org/.well-known/jwks.json"


# --- keys and tokens -------------------------------------------------------------------------
def public_jwk(key: Any, kid: str, **extra: str) -> dict[str, Any]:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        jwk = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    else:
        jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "use": "sig", **extra}


def jwks(*keys: dict[str, Any]) -> dict[str, Any]:
    return {"keys": list(keys)}


def claims(**changes: Any) -> dict[str, Any]:
    base = {
        "iss": ISS,
        "aud": AUD,
        "iat": int(NOW),
        "exp": int(NOW) + 300,
        "jti": uuid.uuid4().hex,
        "tenant": "org-1",
        "sub": "client-app",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def sign(key: Any, alg: str = "ES384", kid: str = "ec-1", **changes: Any) -> str:
    headers = changes.pop("headers", {})
    return jwt.encode(claims(**changes), key, algorithm=alg, headers={"kid": kid, **headers})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], payload: dict[str, Any], secret: bytes | None) -> str:
    """A token built by hand, as an attacker would: HMAC with any secret, or unsigned."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    digest = hashlib.sha256 if header["alg"] == "HS256" else hashlib.sha512
    mac = b"" if secret is None else hmac.new(secret, signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64(mac)}"


def bearer(token: str) -> str:
    return f"Bearer {token}"


# --- verifier --------------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


class Seen:
    """An in-memory first_use that also records what it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, datetime]] = []

    def __call__(self, issuer: str, jti: str, expires_at: datetime) -> bool:
        fresh = all((issuer, jti) != (i, j) for i, j, _ in self.calls)
        self.calls.append((issuer, jti, expires_at))
        return fresh


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def jwks_file(tmp_path: Path, ec_key: Any, rsa_key: Any) -> Path:
    path = tmp_path / "client-jwks.json"
    path.write_text(json.dumps(jwks(public_jwk(ec_key, "ec-1"), public_jwk(rsa_key, "rsa-1"))))
    return path


Make = Callable[..., ClientVerifier]


@pytest.fixture
def make(clock: Clock) -> Make:
    def _make(location: str = JWKS_URL, first_use: Any = None, **options: Any) -> ClientVerifier:
        return ClientVerifier({ISS: location}, first_use or Seen(), clock=clock, **options)

    return _make


def refused(verifier: ClientVerifier, token: str, audience: str = AUD) -> str:
    with pytest.raises(ClientAuthError) as info:
        verifier.verify(bearer(token), audience)
    assert token not in str(info.value)
    return info.value.reason


# --- accepted --------------------------------------------------------------------------------
def test_es384_from_a_jwks_file(make: Make, jwks_file: Path, ec_key: Any) -> None:
    seen = Seen()
    token = sign(ec_key, jti="jti-1")
    client = make(str(jwks_file), first_use=seen).verify(bearer(token), AUD)
    expires = datetime.fromtimestamp(NOW + 300, UTC)
    assert client == VerifiedClient(ISS, "jti-1", expires, "client-app", "org-1")
    assert client.expires_at.tzinfo is UTC
    # the jti is remembered until the token is refused anyway: exp + leeway
    assert seen.calls == [(ISS, "jti-1", datetime.fromtimestamp(NOW + 360, UTC))]


def test_rs384_from_a_jwks_url(make: Make, http: Any, ec_key: Any, rsa_key: Any) -> None:
    http.get(JWKS_URL, json=jwks(public_jwk(ec_key, "ec-1"), public_jwk(rsa_key, "rsa-1")))
    client = make().verify(bearer(sign(rsa_key, "RS384", "rsa-1")), AUD)
    assert client.issuer == ISS
    assert len(http.calls) == 1


def test_file_url_aud_list_lowercase_scheme_and_no_typ(
    make: Make, jwks_file: Path, ec_key: Any
) -> None:
    verifier = make(jwks_file.as_uri())
    token = sign(ec_key, aud=["https://other.example/x", AUD], headers={"typ": None})
    assert "typ" not in jwt.get_unverified_header(token)  # many clients omit it
    assert verifier.verify(f"bearer {token}", AUD).issuer == ISS


def test_jwk_with_its_own_matching_alg_and_jku_equal_to_the_configured_url(
    make: Make, http: Any, ec_key: Any
) -> None:
    http.get(JWKS_URL, json=jwks(public_jwk(ec_key, "ec-1", alg="ES384")))
    token = sign(ec_key, headers={"jku": JWKS_URL})
    assert make().verify(bearer(token), AUD).issuer == ISS


def test_times_within_the_leeway_are_accepted(
    make: Make, jwks_file: Path, ec_key: Any, clock: Clock
) -> None:
    verifier = make(str(jwks_file))
    clock.now = NOW + 330  # expired 30 s ago: inside the 60 s leeway
    assert verifier.verify(bearer(sign(ec_key)), AUD)
    clock.now = NOW - 30  # issued 30 s "in the future": clock skew
    assert verifier.verify(bearer(sign(ec_key)), AUD)


def test_max_lifetime_can_be_disabled(make: Make, jwks_file: Path, ec_key: Any) -> None:
    token = sign(ec_key, exp=int(NOW) + 86_400)
    assert make(str(jwks_file), max_lifetime_s=None).verify(bearer(token), AUD)


# The example of CDS Hooks 2.0.1 §Trusting CDS Clients, verbatim: token and public JWK.
SPEC_TOKEN = (
    "eyJhbGciOiJFUzM4NCIsInR5cCI6IkpXVCIsImtpZCI6ImV4YW1wbGUta2lkIiwiamt1IjoiaHR0cHM6Ly9maGly"
    "LWVoci5leGFtcGxlLmNvbS9qd2tfdXJpIn0.eyJpc3MiOiJodHRwczovL2ZoaXItZWhyLmV4YW1wbGUuY29tLyIs"
    "ImF1ZCI6Imh0dHBzOi8vY2RzLmV4YW1wbGUub3JnL2Nkcy1zZXJ2aWNlcy9zb21lLXNlcnZpY2UiLCJleHAiOjE0"
    "MjI1Njg4NjAsImlhdCI6MTMxMTI4MDk3MCwianRpIjoiZWUyMmIwMjEtZTFiNy00NjExLWJhNWItOGVlYzZhMzNh"
    "YzFlIiwidGVuYW50IjoiMmRkZDZjM2EtOGU5YS00NGM2LWEzMDUtNTIxMTFhZDMwMmEyIn0.d1WfLjGRKlcWB94l9"
    "do4cM8REXeYJLL6SGUBO8VHZhfM8mwKYP70EMxJ67War4TQblEpaQrp11wx5p7oPFm2ETYgCicS84vXWEIYTdjooZd"
    "ooCSDf2L8-i4awdoUwiEb"
)
SPEC_JWK = {
    "kty": "EC",
    "use": "sig",
    "crv": "P-384",
    "kid": "example-kid",
    "x": "46SDH7Znh821wblCBglA61sNE9ZrHYKKt3qRtRTmSXyOI_FIGBLWrWa0GPUkDCEk",
    "y": "XMcRuuoGW7CXjQdy-F5i3FeBE0x9hPLdeFdSoDd3ELmx404tLX0VRRcqzAsPhXcI",
    "alg": "ES384",
}


def test_the_spec_example_token_verifies(http: Any) -> None:
    jku = "https://fhir-ehr.example.com/jwk_uri"
    http.get(jku, json=jwks(SPEC_JWK))
    issuer = "https://fhir-ehr.example.com/"
    # its exp - iat is over three years, so only without the lifetime limit
    verifier = ClientVerifier(
        {issuer: jku}, Seen(), max_lifetime_s=None, clock=lambda: 1_311_280_980.0
    )
    client = verifier.verify(
        bearer(SPEC_TOKEN), "https://cds.example.org/cds-services/some-service"
    )
    assert (client.jti, client.tenant) == (
        "ee22b021-e1b7-4611-ba5b-8eec6a33ac1e",
        "2ddd6c3a-8e9a-44c6-a305-52111ad302a2",
    )
    assert client.expires_at == datetime(2015, 1, 29, 22, 1, tzinfo=UTC)


# --- the header and the algorithm ------------------------------------------------------------
@pytest.mark.parametrize(
    ("authorization", "reason"),
    [
        (None, "missing Authorization header: a CDS client JWT is required"),
        ("", "missing Authorization header: a CDS client JWT is required"),
        ("Basic dXNlcjpwYXNz", "Authorization header must be 'Bearer <JWT>'"),
        ("Bearer", "Authorization header must be 'Bearer <JWT>'"),
        ("Bearer a.b c", "Authorization header must be 'Bearer <JWT>'"),
        ("Bearer not-a-jwt", "token is not a JWT"),
        ("Bearer a.b.c", "token is not a JWT"),
        ("Bearer " + "a." * 9000 + "b", "token is not a JWT"),
    ],
)
def test_malformed_authorization(make: Make, authorization: str | None, reason: str) -> None:
    with pytest.raises(ClientAuthError) as info:
        make().verify(authorization, AUD)
    assert info.value.reason == reason


def test_alg_none_unsigned_token_refused(make: Make, http: Any) -> None:
    token = forge({"alg": "none", "typ": "JWT", "kid": "ec-1"}, claims(), None)
    assert refused(make(), token) == f"algorithm none {NOT_ACCEPTED}"
    assert len(http.calls) == 0  # refused before any key is looked up


def test_hs256_signed_with_the_rsa_public_key_pem_refused(
    make: Make, http: Any, rsa_key: Any
) -> None:
    pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    http.get(JWKS_URL, json=jwks(public_jwk(rsa_key, "rsa-1")))
    token = forge({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}, claims(), pem)
    assert refused(make(), token) == f"algorithm HS256 {NOT_ACCEPTED}"
    assert len(http.calls) == 0


@pytest.mark.parametrize("alg", ["HS256", "HS512"])
def test_hmac_with_any_secret_refused(make: Make, alg: str) -> None:
    token = forge({"alg": alg, "typ": "JWT", "kid": "ec-1"}, claims(), b"s" * 64)
    assert refused(make(), token) == f"algorithm {alg} {NOT_ACCEPTED}"


def test_other_asymmetric_algs_refused(make: Make, rsa_key: Any) -> None:
    assert refused(make(), sign(rsa_key, "RS256", "rsa-1")) == f"algorithm RS256 {NOT_ACCEPTED}"
    assert refused(make(), sign(rsa_key, "PS384", "rsa-1")) == f"algorithm PS384 {NOT_ACCEPTED}"


def test_kid_required_and_typ_must_be_jwt(make: Make, jwks_file: Path, ec_key: Any) -> None:
    verifier = make(str(jwks_file))
    no_kid = jwt.encode(claims(), ec_key, algorithm="ES384")
    assert refused(verifier, no_kid).startswith("kid header missing")
    wrong_typ = sign(ec_key, headers={"typ": "at+jwt"})
    assert refused(verifier, wrong_typ) == "typ header must be JWT"


def test_token_alg_must_match_the_key_type(
    make: Make, jwks_file: Path, ec_key: Any, rsa_key: Any
) -> None:
    verifier = make(str(jwks_file))
    # an RS384 token naming the issuer's EC key, and the other way round
    assert "not an RSA key" in refused(verifier, sign(rsa_key, "RS384", "ec-1"))
    assert "not an EC P-384 key" in refused(verifier, sign(ec_key, "ES384", "rsa-1"))


def test_jwk_declaring_another_alg_refused(make: Make, http: Any, rsa_key: Any) -> None:
    http.get(JWKS_URL, json=jwks(public_jwk(rsa_key, "rsa-1", alg="RS256")))
    reason = refused(make(), sign(rsa_key, "RS384", "rsa-1"))
    assert reason == "the issuer's key for this kid is not for RS384"


def test_p256_key_refused_for_es384(make: Make, http: Any) -> None:
    p256 = ec.generate_private_key(ec.SECP256R1())
    http.get(JWKS_URL, json=jwks(public_jwk(p256, "ec-1")))
    token = forge({"alg": "ES384", "typ": "JWT", "kid": "ec-1"}, claims(), None)
    assert "not an EC P-384 key" in refused(make(), token)


def test_rsa_key_under_2048_bits_refused(make: Make, http: Any) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    http.get(JWKS_URL, json=jwks(public_jwk(weak, "rsa-1")))
    with warnings.catch_warnings():  # PyJWT warns when signing with it; that is the point
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        token = sign(weak, "RS384", "rsa-1")
    assert refused(make(), token) == "the issuer's key is too weak"


# --- issuer, keys and signature --------------------------------------------------------------
def test_unknown_issuer_refused_without_fetching(make: Make, http: Any, ec_key: Any) -> None:
    token = sign(ec_key, iss="https://evil.example/")
    assert refused(make(), token) == "issuer not trusted"
    assert refused(make(), sign(ec_key, iss=None)) == "iss claim missing"
    assert len(http.calls) == 0


def test_signature_by_an_untrusted_key_with_the_right_kid(
    make: Make, jwks_file: Path, ec_key: Any
) -> None:
    attacker = ec.generate_private_key(ec.SECP384R1())
    reason = refused(make(str(jwks_file)), sign(attacker, kid="ec-1"))
    assert reason == "signature does not verify with the issuer's key"


def test_tampered_payload_refused(make: Make, jwks_file: Path, ec_key: Any) -> None:
    head, _, sig = sign(ec_key).split(".")
    other = b64(json.dumps(claims(sub="someone-else")).encode())
    assert refused(make(str(jwks_file)), f"{head}.{other}.{sig}").startswith("signature")


def test_jku_other_than_the_configured_url_refused(make: Make, http: Any, ec_key: Any) -> None:
    token = sign(ec_key, headers={"jku": "https://evil.example/jwks.json"})
    assert refused(make(), token) == "jku is not on this issuer's JWKS URL allow-list"
    assert len(http.calls) == 0  # neither URL fetched


def test_unknown_kid_refetches_once_then_refused(
    make: Make, http: Any, ec_key: Any, clock: Clock
) -> None:
    http.get(JWKS_URL, json=jwks(public_jwk(ec_key, "ec-1")))
    verifier = make()
    verifier.verify(bearer(sign(ec_key)), AUD)
    assert len(http.calls) == 1
    clock.now += 40
    reason = refused(verifier, sign(ec_key, kid="ec-unknown", iat=int(clock.now)))
    assert reason == "no key with this kid in the issuer's JWK Set"
    assert len(http.calls) == 2  # one refetch, in case the client rotated its keys
    # more unknown kids right after: no more fetches (an attacker cannot make us hammer it)
    for _ in range(3):
        refused(verifier, sign(ec_key, kid=f"ec-{uuid.uuid4().hex}", iat=int(clock.now)))
    assert len(http.calls) == 2


def test_unknown_kid_on_a_cold_cache_fetches_once(make: Make, http: Any, ec_key: Any) -> None:
    http.get(JWKS_URL, json=jwks(public_jwk(ec_key, "ec-1")))
    refused(make(), sign(ec_key, kid="ec-2"))
    assert len(http.calls) == 1


def test_key_rotation_picked_up_by_the_refetch(
    make: Make, http: Any, ec_key: Any, rsa_key: Any, clock: Clock
) -> None:
    http.get(JWKS_URL, json=jwks(public_jwk(ec_key, "ec-1")))
    verifier = make()
    verifier.verify(bearer(sign(ec_key)), AUD)
    new = ec.generate_private_key(ec.SECP384R1())
    http.replace(responses.GET, JWKS_URL, json=jwks(public_jwk(new, "ec-2")))
    clock.now += 31
    client = verifier.verify(bearer(sign(new, kid="ec-2", iat=int(clock.now))), AUD)
    assert client.issuer == ISS
    assert len(http.calls) == 2
    # the retired key is gone from the refetched set
    assert "no key" in refused(verifier, sign(ec_key, iat=int(clock.now)))


def test_jwks_is_cached_for_its_ttl(make: Make, http: Any, ec_key: Any, clock: Clock) -> None:
    http.get(JWKS_URL, json=jwks(public_jwk(ec_key, "ec-1")))
    verifier = make(jwks_ttl_s=300)
    verifier.verify(bearer(sign(ec_key)), AUD)
    verifier.verify(bearer(sign(ec_key)), AUD)
    assert len(http.calls) == 1
    clock.now += 301
    verifier.verify(bearer(sign(ec_key, iat=int(clock.now), exp=int(clock.now) + 60)), AUD)
    assert len(http.calls) == 2


def test_unreachable_jwks_url_is_a_refusal_not_a_crash(
    make: Make, http: Any, ec_key: Any, clock: Clock
) -> None:
    http.get(JWKS_URL, body=requests.ConnectionError("connection refused"))
    verifier = make()
    reason = refused(verifier, sign(ec_key))
    assert reason == f"the keys of issuer {ISS} could not be obtained; try again later"
    refused(verifier, sign(ec_key))
    assert len(http.calls) == 1  # requests do not each wait on a host that just failed
    clock.now += 31
    refused(verifier, sign(ec_key, iat=int(clock.now)))
    assert len(http.calls) == 2


@pytest.mark.parametrize(
    "response",
    [{"status": 500, "json": {}}, {"body": "<html>"}, {"json": {"keys": "nope"}}],
)
def test_bad_jwks_responses_are_refusals(
    make: Make, http: Any, ec_key: Any, response: dict[str, Any]
) -> None:
    http.get(JWKS_URL, **response)
    assert "could not be obtained" in refused(make(), sign(ec_key))


def test_last_good_keys_kept_when_a_refresh_fails(
    make: Make, http: Any, ec_key: Any, clock: Clock
) -> None:
    http.get(JWKS_URL, json=jwks(public_jwk(ec_key, "ec-1")))
    verifier = make()
    verifier.verify(bearer(sign(ec_key)), AUD)
    http.replace(responses.GET, JWKS_URL, body=requests.ConnectionError("down"))
    clock.now += 301
    assert verifier.verify(bearer(sign(ec_key, iat=int(clock.now))), AUD)
    assert len(http.calls) == 2


def test_jwks_file_reread_when_it_changes(
    make: Make, jwks_file: Path, ec_key: Any, rsa_key: Any
) -> None:
    verifier = make(str(jwks_file))
    verifier.verify(bearer(sign(ec_key)), AUD)
    new = ec.generate_private_key(ec.SECP384R1())
    jwks_file.write_text(json.dumps(jwks(public_jwk(new, "ec-2"))))
    later = jwks_file.stat().st_mtime_ns + 1_000_000_000
    os.utime(jwks_file, ns=(later, later))
    assert verifier.verify(bearer(sign(new, kid="ec-2")), AUD)
    assert "no key" in refused(verifier, sign(ec_key))


def test_missing_jwks_file_refused(make: Make, tmp_path: Path, ec_key: Any) -> None:
    reason = refused(make(str(tmp_path / "absent.json")), sign(ec_key))
    assert "could not be obtained" in reason


# --- claims ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "aud",
    [f"{BASE}/another-service", BASE, f"{AUD}/", ["https://other.example/x"], "AUD"],
)
def test_wrong_aud_refused(make: Make, jwks_file: Path, ec_key: Any, aud: Any) -> None:
    assert refused(make(str(jwks_file)), sign(ec_key, aud=aud)) == EXPECTED_AUD


def test_service_token_not_accepted_at_discovery(make: Make, jwks_file: Path, ec_key: Any) -> None:
    verifier = make(str(jwks_file))
    reason = refused(verifier, sign(ec_key, aud=AUD), audience=BASE)
    assert reason == f"aud does not match this service (expected {BASE})"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"exp": int(NOW) - 61, "iat": int(NOW) - 400}, "token expired"),
        ({"iat": int(NOW) + 120, "exp": int(NOW) + 400}, "iat is in the future"),
        ({"nbf": int(NOW) + 120}, "token not yet valid (nbf)"),
        ({"exp": int(NOW) + 3601}, "token lifetime (exp - iat) exceeds 3600 s"),
        ({"exp": "tomorrow"}, "exp and iat must be numbers of seconds since the epoch"),
        ({"exp": 10**20}, "exp and iat must be numbers of seconds since the epoch"),
        ({"jti": None}, "jti claim missing"),
        ({"jti": ""}, "jti must be 1 to 255 characters"),
        ({"jti": "x" * 256}, "jti must be 1 to 255 characters"),
        ({"jti": 7}, "jti and sub must be strings"),
        ({"exp": None}, "exp claim missing"),
        ({"iat": None}, "iat claim missing"),
        ({"aud": None}, "aud claim missing"),
    ],
)
def test_bad_claims_refused(
    make: Make, jwks_file: Path, ec_key: Any, changes: dict[str, Any], reason: str
) -> None:
    assert refused(make(str(jwks_file)), sign(ec_key, **changes)) == reason


def test_replayed_jti_refused_by_the_real_hook_log(
    make: Make, jwks_file: Path, ec_key: Any, tmp_path: Path
) -> None:
    ledger = open_ledger(f"sqlite:///{tmp_path}/store.sqlite")
    try:
        verifier = make(str(jwks_file), first_use=HookLog(ledger).first_use)
        token = sign(ec_key)
        verifier.verify(bearer(token), AUD)
        assert refused(verifier, token) == "jti already used (replay)"
        # a freshly signed token reusing the jti is a replay too
        used = jwt.decode(token, options={"verify_signature": False})["jti"]
        assert refused(verifier, sign(ec_key, jti=used)) == "jti already used (replay)"
    finally:
        ledger.close()


# --- nothing secret in reasons or logs -------------------------------------------------------
def test_reasons_and_logs_never_contain_the_token(
    make: Make, http: Any, ec_key: Any, rsa_key: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    http.get(JWKS_URL, body=requests.ConnectionError("down"))
    verifier = make()
    tokens = [
        forge({"alg": "none", "kid": "ec-1"}, claims(), None),
        forge({"alg": "HS256", "kid": "ec-1"}, claims(), b"k" * 64),
        sign(ec_key, aud=f"{AUD}/"),
        sign(ec_key, iss="https://evil.example/"),
        sign(ec_key),  # the JWKS host is down
    ]
    for token in tokens:
        with pytest.raises(ClientAuthError) as info:
            verifier.verify(bearer(token), AUD)
        signature = token.rsplit(".", 1)[1]
        for text in (str(info.value), info.value.reason, repr(info.value), caplog.text):
            assert token not in text
            assert not signature or signature not in text


# --- configuration ---------------------------------------------------------------------------
def test_trusted_issuers_from_json(tmp_path: Path) -> None:
    # The old forms: a URL is an allow-list of one; a file pins keys and allows no jku.
    text = json.dumps({ISS: JWKS_URL, "urn:other": str(tmp_path / "k.json"), "x": "file:///k"})
    assert trusted_issuers_from_json(text) == {
        ISS: TrustedIssuer(jwks_urls=(JWKS_URL,)),
        "urn:other": TrustedIssuer(keys_file=tmp_path / "k.json"),
        "x": TrustedIssuer(keys_file=Path("/k")),
    }
    # The allow-list form: URLs (one or a list) and/or the pinned file.
    text = json.dumps(
        {
            SANDBOX: {"jwks_urls": [SANDBOX_JKU], "keys_file": "/etc/cpoc/sandbox-jwks.json"},
            ISS: {"jwks_urls": JWKS_URL},
            "urn:pinned": {"keys_file": "file:///etc/k.json"},
        }
    )
    assert trusted_issuers_from_json(text) == {
        SANDBOX: TrustedIssuer((SANDBOX_JKU,), Path("/etc/cpoc/sandbox-jwks.json")),
        ISS: TrustedIssuer((JWKS_URL,)),
        "urn:pinned": TrustedIssuer(keys_file=Path("/etc/k.json")),
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "MY_SETTING is not valid JSON"),
        ('["https://ehr.example.com/"]', "MY_SETTING must be a JSON object"),
        ("{}", "MY_SETTING is empty"),
        ('{"https://ehr.example.com/": "jwks.json"}', "must be an http(s) URL"),
        ('{"https://ehr.example.com/": "ftp://h/jwks.json"}', "must be an http(s) URL"),
        ('{"": "https://ehr.example.com/jwks.json"}', "an issuer must be 1 to 512 characters"),
        ('{"i": {}}', "issuer 'i' needs jwks_urls, keys_file or both"),
        ('{"i": {"jwks_url": "https://h/j"}}', "unknown member(s) jwks_url"),
        ('{"i": {"jwks_urls": ["jwks.json"]}}', "jwks_urls of issuer 'i' must be an http(s) URL"),
        ('{"i": {"jwks_urls": [1]}}', "jwks_urls of issuer 'i' must be an http(s) URL"),
        ('{"i": {"keys_file": "k.json"}}', "keys_file of issuer 'i' must be an absolute path"),
        ('{"i": 42}', "must be a string (JWKS URL or file) or an object"),
    ],
)
def test_trusted_issuers_from_json_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match="MY_SETTING") as info:
        trusted_issuers_from_json(text, where="MY_SETTING")
    assert message in str(info.value)


def test_verifier_refuses_a_bad_location() -> None:
    with pytest.raises(ValueError, match="trusted_issuers"):
        ClientVerifier({ISS: "relative/jwks.json"}, Seen())


# --- the jku allow-list, keys pinned from a file ----------------------------------------------
def test_a_listed_jku_verifies_against_the_keys_pinned_from_a_file(
    jwks_file: Path, ec_key: Any, http: Any, clock: Clock
) -> None:
    # The sandbox's shape: every ES384 token names its published jku; the keys are pinned.
    pinned = TrustedIssuer((SANDBOX_JKU,), jwks_file)
    verifier = ClientVerifier({ISS: pinned}, Seen(), clock=clock)
    token = sign(ec_key, headers={"jku": SANDBOX_JKU, "typ": "JWT"})
    assert verifier.verify(bearer(token), AUD).issuer == ISS
    assert verifier.verify(bearer(sign(ec_key)), AUD).issuer == ISS  # no jku: pinned keys
    assert len(http.calls) == 0  # the listed URL is never fetched while keys are pinned


def test_a_jku_off_the_list_is_refused_even_with_pinned_keys(
    jwks_file: Path, ec_key: Any, http: Any, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    verifier = ClientVerifier({ISS: TrustedIssuer((SANDBOX_JKU,), jwks_file)}, Seen(), clock=clock)
    token = sign(ec_key, headers={"jku": "https://sandbox.cds-hooks.org.evil/jwks.json"})
    assert refused(verifier, token) == "jku is not on this issuer's JWKS URL allow-list"
    assert len(http.calls) == 0
    assert "not on its allow-list" in caplog.text and token not in caplog.text


def test_the_old_file_form_allows_no_jku(
    make: Make, jwks_file: Path, ec_key: Any, http: Any
) -> None:
    # A file alone names no URL: a jku is refused (the setting's object form lists it).
    token = sign(ec_key, headers={"jku": SANDBOX_JKU})
    assert refused(make(str(jwks_file)), token) == "jku is not on this issuer's JWKS URL allow-list"
    assert len(http.calls) == 0


def test_listed_urls_are_fetched_only_when_named_and_no_keys_are_pinned(
    ec_key: Any, rsa_key: Any, http: Any, clock: Clock
) -> None:
    first, second = JWKS_URL, "https://keys.ehr.example.com/jwks.json"
    http.get(first, json=jwks(public_jwk(ec_key, "ec-1")))
    http.get(second, json=jwks(public_jwk(rsa_key, "rsa-1")))
    verifier = ClientVerifier({ISS: {"jwks_urls": [first, second]}}, Seen(), clock=clock)
    token = sign(rsa_key, "RS384", "rsa-1", headers={"jku": second})
    assert verifier.verify(bearer(token), AUD).issuer == ISS
    assert [c.request.url for c in http.calls] == [second]
    assert verifier.verify(bearer(sign(ec_key)), AUD).issuer == ISS  # no jku: the first URL
    assert [c.request.url for c in http.calls] == [second, first]
    # A key of one listed set does not verify a token naming the other set.
    wrong = sign(rsa_key, "RS384", "rsa-1", headers={"jku": first})
    assert refused(verifier, wrong) == "no key with this kid in the issuer's JWK Set"


@pytest.mark.parametrize("jku", [["https://a/"], 7, {"url": SANDBOX_JKU}])
def test_a_jku_that_is_no_string_is_refused(make: Make, ec_key: Any, http: Any, jku: Any) -> None:
    assert refused(make(), sign(ec_key, headers={"jku": jku})) == "jku header must be a URL"
    assert len(http.calls) == 0


def test_the_setting_names_the_sandbox_with_its_pinned_keys(jwks_file: Path) -> None:
    from cds_hooks.settings import load_cds_settings

    value = json.dumps({SANDBOX: {"jwks_urls": [SANDBOX_JKU], "keys_file": str(jwks_file)}})
    settings = load_cds_settings({"CPOC_CDS_TRUSTED_ISSUERS": value})
    assert settings.trusted_issuers == {SANDBOX: TrustedIssuer((SANDBOX_JKU,), jwks_file)}
