"""Verify the JWT a CDS Client sends with every call (CDS Hooks 2.0.1 §Trusting CDS Clients).

The client signs a JWT with its private key and sends ``Authorization: Bearer <jwt>``; we check
it against the JWK Set of an issuer we were told to trust: an allow-list of ``iss`` and, per
issuer, of the ``jku`` URLs it may name, with keys fetched from them or pinned from a file
(cds_hooks/trusted_issuers.py). Only ES384 and RS384 are accepted: the spec forbids ``none``
and every symmetric algorithm, and these two are the ones it recommends. The ``aud`` must be
the exact URL of the endpoint being called, and each ``jti`` is accepted once (replay).

Refusals raise :class:`ClientAuthError`, whose ``reason`` is safe to return to the caller: it
never contains the token or key material. Nothing here logs the token either.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import requests
from jwt.exceptions import InvalidJTIError, InvalidSubjectError
from jwt.types import Options

from cds_hooks.trusted_issuers import TrustedIssuer, file_path, trusted_issuer

log = logging.getLogger(__name__)

ACCEPTED_ALGS = ("ES384", "RS384")
# The JWK a token's alg needs: key type and curve. Checked by us so the token never picks the
# key type (an RSA public key must never be usable as, say, an HMAC secret).
_KEY_SHAPE: dict[str, tuple[str, str | None]] = {"ES384": ("EC", "P-384"), "RS384": ("RSA", None)}
# Unknown-kid refetches (key rotation) and retries after a failed fetch, per issuer.
REFETCH_MIN_INTERVAL_S = 30.0
_MAX_TOKEN_CHARS = 16_384  # far above any real client JWT; refuses junk before parsing it
_MAX_JTI_CHARS = 255  # the replay table's column width
_MAX_JKU_LOGGED = 200
_LAST_EPOCH = 253_402_300_799  # 9999-12-31T23:59:59Z: beyond it a datetime cannot hold exp
_DECODE_OPTIONS: Options = {
    "require": ["iss", "aud", "exp", "iat", "jti"],
    # Times are checked against the injected clock in _check_times, not PyJWT's wall clock.
    "verify_exp": False,
    "verify_iat": False,
    "verify_nbf": False,
    # Refuse (rather than warn about) RSA keys under 2048 bits.
    "enforce_minimum_key_length": True,
}


class ClientAuthError(Exception):
    """The CDS Client could not be authenticated; ``reason`` is safe to send back."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class VerifiedClient:
    issuer: str
    jti: str
    expires_at: datetime
    subject: str | None
    tenant: str | None


def trusted_issuers_from_json(
    text: str, where: str = "CPOC_CDS_TRUSTED_ISSUERS"
) -> dict[str, TrustedIssuer]:
    """Parse the setting: a JSON object mapping each trusted issuer to its JWKS URL, its
    pinned JWKS file, or ``{"jwks_urls": [...], "keys_file": "..."}``."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where} is not valid JSON ({exc.msg} at position {exc.pos})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be a JSON object mapping issuer to JWKS URL or file path")
    if not data:
        raise ValueError(f"{where} is empty: name at least one trusted CDS client issuer")
    return {issuer: trusted_issuer(issuer, spec, where) for issuer, spec in data.items()}


@dataclass(frozen=True)
class _KeySet:
    keys: Mapping[str, Mapping[str, Any]]  # kid -> JWK
    fresh_until: float  # clock time after which a URL's set is fetched again
    stamp: tuple[int, int] | None = None  # a file's (mtime_ns, size) when read


class ClientVerifier:
    """Checks client JWTs against trusted issuers' JWK Sets; one per app (it caches keys)."""

    def __init__(
        self,
        trusted_issuers: Mapping[str, str | TrustedIssuer | Mapping[str, Any]],
        first_use: Callable[[str, str, datetime], bool],
        *,
        leeway_s: int = 60,
        max_lifetime_s: int | None = 3600,
        jwks_ttl_s: int = 300,
        fetch_timeout_s: float = 5.0,
        clock: Callable[[], float] = time.time,
        session: requests.Session | None = None,
    ) -> None:
        self._issuers = {
            issuer: trusted_issuer(issuer, spec, "trusted_issuers")
            for issuer, spec in trusted_issuers.items()
        }
        self._first_use = first_use
        self._leeway = leeway_s
        self._max_lifetime = max_lifetime_s
        self._ttl = jwks_ttl_s
        self._timeout = fetch_timeout_s
        self._clock = clock
        self._session = session or requests.Session()
        # Per key source (URL or file), guarded by its issuer's lock (requests run on threads).
        self._locks = {issuer: threading.Lock() for issuer in self._issuers}
        self._sets: dict[str, _KeySet] = {}
        self._last_fetch: dict[str, float] = {}

    def verify(self, authorization: str | None, audience: str) -> VerifiedClient:
        """The verified client, or ClientAuthError saying why it is refused."""
        token = _bearer_token(authorization)
        header = _checked_header(token)
        alg, kid = header["alg"], header["kid"]
        issuer, source = self._trusted_issuer(token, header)
        key = _public_key(self._jwk(issuer, source, kid), alg)
        claims = _decode(token, key, alg, audience, issuer)
        exp = self._check_times(claims)
        jti = claims["jti"]
        if not jti or len(jti) > _MAX_JTI_CHARS:
            raise ClientAuthError(f"jti must be 1 to {_MAX_JTI_CHARS} characters")
        # Remember the jti until the token is refused anyway (exp + leeway): purging it at exp
        # would let a copy be replayed inside the leeway.
        remember_until = datetime.fromtimestamp(min(exp + self._leeway, _LAST_EPOCH), UTC)
        if not self._first_use(issuer, jti, remember_until):
            raise ClientAuthError("jti already used (replay)")
        return VerifiedClient(
            issuer=issuer,
            jti=jti,
            expires_at=datetime.fromtimestamp(exp, UTC),
            subject=_optional_str(claims, "sub"),
            tenant=_optional_str(claims, "tenant"),
        )

    def _trusted_issuer(self, token: str, header: Mapping[str, Any]) -> tuple[str, str]:
        """The issuer and where its keys for this token come from (its jku checked)."""
        # Unverified claims only choose whose keys to check against; jwt.decode re-checks iss.
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise ClientAuthError("token is not a JWT") from None
        issuer = unverified.get("iss")
        if issuer is None:
            raise ClientAuthError("iss claim missing")
        if not isinstance(issuer, str) or issuer not in self._issuers:
            raise ClientAuthError("issuer not trusted")
        jku = header.get("jku")
        if jku is not None and not isinstance(jku, str):
            raise ClientAuthError("jku header must be a URL")
        # Never fetch a jku that is not on the issuer's allow-list (spec §Trusting CDS Clients).
        source = self._issuers[issuer].source(jku)
        if source is None:
            log.warning(
                "CDS client issuer %s: token names jku %r, not on its allow-list (jwks_urls)",
                issuer,
                str(jku)[:_MAX_JKU_LOGGED],
            )
            raise ClientAuthError("jku is not on this issuer's JWKS URL allow-list")
        return issuer, source

    def _check_times(self, claims: Mapping[str, Any]) -> float:
        exp, iat = _epoch(claims["exp"]), _epoch(claims["iat"])
        if exp is None or iat is None:
            raise ClientAuthError("exp and iat must be numbers of seconds since the epoch")
        now = self._clock()
        if exp <= now - self._leeway:
            raise ClientAuthError("token expired")
        if iat > now + self._leeway:
            raise ClientAuthError("iat is in the future")
        if "nbf" in claims:
            nbf = _epoch(claims["nbf"])
            if nbf is None or nbf > now + self._leeway:
                raise ClientAuthError("token not yet valid (nbf)")
        if self._max_lifetime is not None and exp - iat > self._max_lifetime:
            raise ClientAuthError(f"token lifetime (exp - iat) exceeds {self._max_lifetime} s")
        return exp

    def issuers_without_keys(self) -> list[str]:
        """The trusted issuers some of whose key sources give no keys now (``/readyz``).

        Each source (the pinned file, else every listed JWKS URL) is loaded as a call would
        load it: from the cache while fresh, a URL fetched at most every
        ``REFETCH_MIN_INTERVAL_S`` after a failure, the last good keys kept when a refetch
        fails. So a readiness probe warms the cache and never hammers a client's server.
        """
        missing = []
        for issuer, trusted in self._issuers.items():
            sources = [str(trusted.keys_file)] if trusted.keys_file else list(trusted.jwks_urls)
            try:
                with self._locks[issuer]:
                    for source in sources:
                        self._key_set(issuer, source)
            except ClientAuthError:
                missing.append(issuer)
        return missing

    # --- JWK Sets -------------------------------------------------------------------------
    def _jwk(self, issuer: str, source: str, kid: str) -> Mapping[str, Any]:
        # One load per issuer at a time: concurrent requests wait for its result, not refetch.
        with self._locks[issuer]:
            keys = self._key_set(issuer, source)
            if kid not in keys.keys and self._may_refetch(source):
                keys = self._fetch_set(issuer, source, keys)  # the client may have rotated keys
        if kid not in keys.keys:
            raise ClientAuthError("no key with this kid in the issuer's JWK Set")
        return keys.keys[kid]

    def _key_set(self, issuer: str, source: str) -> _KeySet:
        cached = self._sets.get(source)
        path = file_path(source)
        if path is not None:
            return self._file_set(issuer, source, path, cached)
        if cached is not None and self._clock() < cached.fresh_until:
            return cached
        if cached is None and not self._may_refetch(source):
            raise _keys_unavailable(issuer)  # failed a moment ago: don't make each call wait
        return self._fetch_set(issuer, source, cached)

    def _may_refetch(self, source: str) -> bool:
        if file_path(source) is not None:
            return False  # files are re-read whenever they change
        last = self._last_fetch.get(source)
        return last is None or self._clock() - last >= REFETCH_MIN_INTERVAL_S

    def _fetch_set(self, issuer: str, source: str, cached: _KeySet | None) -> _KeySet:
        now = self._clock()
        self._last_fetch[source] = now
        try:
            response = self._session.get(source, timeout=self._timeout)
            response.raise_for_status()
            keys = _parse_jwks(response.json())
        except (requests.RequestException, ValueError) as exc:
            log.warning("JWK Set of CDS client issuer %s not fetched: %s", issuer, exc)
            if cached is None:
                raise _keys_unavailable(issuer) from None
            # Keep the last good keys rather than refuse every client; try again in a while.
            self._sets[source] = _KeySet(cached.keys, now + REFETCH_MIN_INTERVAL_S)
            return self._sets[source]
        self._sets[source] = _KeySet(keys, now + self._ttl)
        return self._sets[source]

    def _file_set(self, issuer: str, source: str, path: Path, cached: _KeySet | None) -> _KeySet:
        try:
            info = path.stat()
            stamp = (info.st_mtime_ns, info.st_size)
            if cached is not None and cached.stamp == stamp:
                return cached
            keys = _parse_jwks(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            log.warning("JWK Set file of CDS client issuer %s not read: %s", issuer, exc)
            if cached is None:
                raise _keys_unavailable(issuer) from None
            return cached  # its old stamp makes the next call read the file again
        self._sets[source] = _KeySet(keys, 0.0, stamp)
        return self._sets[source]


def _keys_unavailable(issuer: str) -> ClientAuthError:
    return ClientAuthError(f"the keys of issuer {issuer} could not be obtained; try again later")


def _parse_jwks(data: Any) -> dict[str, Mapping[str, Any]]:
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise ValueError("not a JWK Set (a JSON object with a 'keys' list)")
    keys = [k for k in data["keys"] if isinstance(k, dict) and isinstance(k.get("kid"), str)]
    kids = [k["kid"] for k in keys]
    # A kid must be unique in the set (spec); an ambiguous one is never used.
    return {k["kid"]: k for k in keys if kids.count(k["kid"]) == 1}


def _bearer_token(authorization: str | None) -> str:
    if not authorization or not authorization.strip():
        raise ClientAuthError("missing Authorization header: a CDS client JWT is required")
    parts = authorization.split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        raise ClientAuthError("Authorization header must be 'Bearer <JWT>'")
    token = parts[1]
    if len(token) > _MAX_TOKEN_CHARS or token.count(".") != 2:
        raise ClientAuthError("token is not a JWT")
    return token


def _checked_header(token: str) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise ClientAuthError("token is not a JWT") from None
    alg = header.get("alg")
    # First, before any key is looked up: the token must not choose how it is verified.
    if alg not in ACCEPTED_ALGS:
        shown = alg if isinstance(alg, str) and alg.isalnum() and len(alg) <= 16 else "given"
        raise ClientAuthError(f"algorithm {shown} not accepted: ES384 or RS384 required")
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        raise ClientAuthError("kid header missing: the client must name its signing key")
    typ = header.get("typ")  # REQUIRED by the spec, but many clients omit it
    if typ is not None and (not isinstance(typ, str) or typ.upper() != "JWT"):
        raise ClientAuthError("typ header must be JWT")
    return header


def _public_key(jwk: Mapping[str, Any], alg: str) -> jwt.PyJWK:
    kty, crv = _KEY_SHAPE[alg]
    if jwk.get("alg", alg) != alg:
        raise ClientAuthError(f"the issuer's key for this kid is not for {alg}")
    if jwk.get("kty") != kty or (crv is not None and jwk.get("crv") != crv):
        shape = f"{kty} {crv}" if crv else kty
        raise ClientAuthError(f"the issuer's key for this kid is not an {shape} key ({alg})")
    if jwk.get("use", "sig") != "sig":
        raise ClientAuthError("the issuer's key for this kid is not a signing key")
    try:
        return jwt.PyJWK(dict(jwk), algorithm=alg)
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
        raise ClientAuthError("the issuer's key for this kid is not a usable public key") from None


def _decode(token: str, key: jwt.PyJWK, alg: str, audience: str, issuer: str) -> dict[str, Any]:
    try:
        return jwt.decode(
            token, key, algorithms=[alg], audience=audience, issuer=issuer, options=_DECODE_OPTIONS
        )
    except jwt.MissingRequiredClaimError as exc:
        raise ClientAuthError(f"{exc.claim} claim missing") from None
    except jwt.InvalidAudienceError:
        raise ClientAuthError(f"aud does not match this service (expected {audience})") from None
    except jwt.InvalidSignatureError:
        raise ClientAuthError("signature does not verify with the issuer's key") from None
    except jwt.InvalidKeyError:
        raise ClientAuthError("the issuer's key is too weak") from None
    except (InvalidJTIError, InvalidSubjectError):
        raise ClientAuthError("jti and sub must be strings") from None
    except jwt.PyJWTError:
        raise ClientAuthError("token is not a valid JWT") from None


def _epoch(value: Any) -> float | None:
    """A NumericDate claim as float, or None if it is not one a datetime can hold."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and 0 <= value <= _LAST_EPOCH else None


def _optional_str(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    return value if isinstance(value, str) else None
