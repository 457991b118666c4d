"""Authorization for the FHIR client: none, a static bearer token, or SMART Backend Services.

SMART Backend Services (SMART App Launch 2.x): the client signs a short JWT with its private key
(private_key_jwt) and trades it at the token endpoint for an access token (client_credentials).
https://hl7.org/fhir/smart-app-launch/backend-services.html
https://hl7.org/fhir/smart-app-launch/client-confidential-asymmetric.html
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

import jwt
import requests

from .errors import FhirAuthError, FhirConnectionError, FhirResponseError, error_for, json_body
from .keys import load_private_key

log = logging.getLogger("cpoc_fhir.fhir.auth")

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEFAULT_SCOPE = "system/ChargeItem.cruds system/*.rs"
# The spec caps the assertion's exp at five minutes ahead; four leave a minute for clock skew.
ASSERTION_LIFETIME = 240
# A cached access token is renewed this long before the server says it expires.
EXPIRY_MARGIN = 60
# SMART makes expires_in required; a server that omits it gets the spec's suggested 5 minutes.
DEFAULT_EXPIRES_IN = 300


class TokenProvider(Protocol):
    """What the client asks for the Authorization header, and tells when the server refused it."""

    def authorization(self) -> str | None:
        """The Authorization header value, or None to send none."""
        ...

    def invalidate(self) -> None:
        """Forget any cached credential: the server answered 401 to it."""
        ...


class NoAuth:
    """No Authorization header (an open test server)."""

    def authorization(self) -> str | None:
        return None

    def invalidate(self) -> None:
        return None

    def __repr__(self) -> str:
        return "NoAuth()"


class BearerToken:
    """A fixed bearer token, obtained elsewhere; it cannot be renewed."""

    def __init__(self, token: str) -> None:
        if not token or any(ch.isspace() for ch in token):
            raise ValueError("a bearer token must be a non-empty string without spaces")
        self._token = token

    def authorization(self) -> str | None:
        return f"Bearer {self._token}"

    def invalidate(self) -> None:
        return None

    def __repr__(self) -> str:
        return "BearerToken(<redacted>)"


class SmartBackendServices:
    """SMART Backend Services client: a signed client assertion for a cached access token."""

    def __init__(
        self,
        fhir_base: str,
        client_id: str,
        private_key_pem: bytes,
        kid: str,
        alg: str = "RS384",
        scope: str = DEFAULT_SCOPE,
        token_url: str | None = None,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
        jku: str | None = None,
        timeout: float | tuple[float, float] = (5, 30),
    ) -> None:
        self._key = load_private_key(private_key_pem, alg)
        self.fhir_base = fhir_base.rstrip("/")
        self.client_id = client_id
        self.kid = kid
        self.alg = alg
        self.scope = scope
        self.jku = jku
        self._token_url = token_url
        self._session = session or requests.Session()
        self._clock = clock
        self._timeout = timeout
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self.granted_scope: str | None = None

    def __repr__(self) -> str:
        return f"SmartBackendServices(client_id={self.client_id!r}, kid={self.kid!r})"

    def authorization(self) -> str | None:
        return f"Bearer {self.access_token()}"

    def invalidate(self) -> None:
        with self._lock:
            self._token = None
            self._expires_at = 0.0

    def access_token(self) -> str:
        """The cached access token, or a new one when it is missing or about to expire."""
        with self._lock:
            if self._token is None or self._clock() >= self._expires_at:
                self._token, self._expires_at = self._request_token()
            return self._token

    @property
    def token_url(self) -> str:
        """The token endpoint: as configured, else from the server's smart-configuration."""
        if self._token_url is None:
            self._token_url = self._discover()
        return self._token_url

    def client_assertion(self, audience: str) -> str:
        """A fresh signed JWT naming this client, for the token endpoint `audience`."""
        now = int(self._clock())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": audience,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
            "jti": str(uuid.uuid4()),
        }
        headers = {"kid": self.kid, "typ": "JWT"}
        if self.jku:
            headers["jku"] = self.jku
        return jwt.encode(claims, self._key, algorithm=self.alg, headers=headers)

    def _request_token(self) -> tuple[str, float]:
        url = self.token_url
        form = {
            "grant_type": "client_credentials",
            "scope": self.scope,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.client_assertion(url),
        }
        sent_at = self._clock()
        response = self._post(url, form)
        if response.status_code != 200:
            raise error_for("POST", url, response, FhirAuthError)
        body = json_body(response) or {}
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise FhirResponseError(f"token response from {url} has no access_token")
        if str(body.get("token_type", "")).lower() != "bearer":
            raise FhirResponseError(f"token response from {url} is not a bearer token")
        lifetime = _expires_in(body)
        self.granted_scope = body.get("scope") if isinstance(body.get("scope"), str) else None
        log.debug(
            "access token for %s: scope %s, %d s", self.client_id, self.granted_scope, lifetime
        )
        return token, sent_at + max(lifetime - EXPIRY_MARGIN, lifetime / 2)

    def _post(self, url: str, form: dict[str, str]) -> requests.Response:
        try:
            return self._session.post(
                url, data=form, headers={"Accept": "application/json"}, timeout=self._timeout
            )
        except requests.RequestException as exc:
            # The exception text names the URL and the socket problem, never the form.
            raise FhirConnectionError(f"token request to {url} failed: {exc}") from None

    def _discover(self) -> str:
        url = f"{self.fhir_base}/.well-known/smart-configuration"
        try:
            response = self._session.get(
                url, headers={"Accept": "application/json"}, timeout=self._timeout
            )
        except requests.RequestException as exc:
            raise FhirConnectionError(f"GET {url} failed: {exc}") from None
        if response.status_code != 200:
            raise error_for("GET", url, response)
        config = json_body(response) or {}
        return _token_endpoint(url, config, self.alg)


def _token_endpoint(url: str, config: dict[str, Any], alg: str) -> str:
    endpoint = config.get("token_endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        raise FhirResponseError(f"{url} names no token_endpoint")
    algs = config.get("token_endpoint_auth_signing_alg_values_supported")
    if isinstance(algs, list) and algs and alg not in algs:
        raise FhirResponseError(f"{url} accepts client assertions signed with {algs}, not {alg}")
    return endpoint


def _expires_in(body: dict[str, Any]) -> float:
    value = body.get("expires_in", DEFAULT_EXPIRES_IN)
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = DEFAULT_EXPIRES_IN
    return max(seconds, 0.0)
