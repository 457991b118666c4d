"""SMART App Launch 2 for the review app: discovery, PKCE, the token endpoint, scopes.

The app is a confidential client (client_secret_basic, RFC 6749 §2.3.1) using the
authorization code grant with PKCE S256 (RFC 7636). Tokens stay on the server: the browser
sees only the session cookie. https://hl7.org/fhir/smart-app-launch/app-launch.html
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import requests
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from cds_hooks.review.sessions import ReviewApp, ReviewSession, review_app
from cpoc_fhir.fhir.client import FhirClient

log = logging.getLogger(__name__)

TIMEOUT = (5, 20)
DISCOVERY_TTL_S = 3600.0
# A token this close to its expiry is refreshed before use.
EXPIRY_MARGIN = timedelta(seconds=60)
# SMART makes expires_in required; a server that omits it gets the spec's suggested 5 minutes.
DEFAULT_EXPIRES_IN = 300
# Token endpoint errors that mean the app's registration or settings are wrong (RFC 6749 §5.2).
SETUP_ERRORS = frozenset(
    ("invalid_client", "unauthorized_client", "unsupported_grant_type", "invalid_scope")
)
# An OAuth error code as shown and logged: anything else is not echoed.
ERROR_CODE = re.compile(r"[a-z_]{1,40}")


class SmartError(Exception):
    """The authorization server could not be used: ``kind`` is ``unreachable`` (network,
    5xx, bad discovery), ``denied`` (the user or server refused), ``invalid`` (a code or
    refresh token it no longer accepts) or ``setup`` (the app's registration at the EHR is
    wrong: a bad client secret, a grant or scope the client may not use). ``code`` is the
    OAuth error code (RFC 6749 §5.2) when the server gave one. The message carries no token."""

    def __init__(self, kind: str, message: str, code: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code


class TokenExpired(Exception):
    """The session's access token expired and could not be refreshed: launch again."""


@dataclass(frozen=True)
class SmartConfiguration:
    """The endpoints of ``{iss}/.well-known/smart-configuration`` the app uses."""

    authorization_endpoint: str
    token_endpoint: str
    code_challenge_methods: tuple[str, ...] = ()


@dataclass(frozen=True)
class TokenSet:
    """A token response, as the session keeps it."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime
    scopes: frozenset[str]
    patient: str | None = None
    fhir_user: str | None = None


_discovered: dict[str, tuple[float, SmartConfiguration]] = {}
_discovery_lock = threading.Lock()


def discover(iss: str, http: requests.Session) -> SmartConfiguration:
    """The issuer's SMART configuration (cached for an hour per process)."""
    with _discovery_lock:
        hit = _discovered.get(iss)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
    url = f"{iss.rstrip('/')}/.well-known/smart-configuration"
    try:
        response = http.get(url, headers={"Accept": "application/json"}, timeout=TIMEOUT)
        body = response.json() if response.ok else None
    except (requests.RequestException, ValueError) as exc:
        raise SmartError("unreachable", f"SMART discovery at {url} failed: {exc}") from None
    config = _configuration(body, url)
    with _discovery_lock:
        _discovered[iss] = (time.monotonic() + DISCOVERY_TTL_S, config)
    return config


def _configuration(body: Any, url: str) -> SmartConfiguration:
    if not isinstance(body, dict):
        raise SmartError("unreachable", f"SMART discovery at {url}: no JSON object")
    auth, token = body.get("authorization_endpoint"), body.get("token_endpoint")
    if not isinstance(auth, str) or not isinstance(token, str):
        raise SmartError("unreachable", f"SMART discovery at {url}: endpoints missing")
    listed = body.get("code_challenge_methods_supported") or []
    methods = tuple(m for m in listed if isinstance(m, str))
    if methods and "S256" not in methods:
        raise SmartError("unreachable", f"SMART discovery at {url}: PKCE S256 not supported")
    return SmartConfiguration(auth, token, methods)


def authorize_url(
    config: SmartConfiguration,
    client_id: str,
    redirect_uri: str,
    scope: str,
    state: str,
    aud: str,
    code_verifier: str,
    launch: str | None,
) -> str:
    """The authorization request (SMART App Launch §Obtain authorization code)."""
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": state,
        "aud": aud,
        "code_challenge": create_s256_code_challenge(code_verifier),
        "code_challenge_method": "S256",
    }
    if launch is not None:
        params["launch"] = launch
    separator = "&" if "?" in config.authorization_endpoint else "?"
    return f"{config.authorization_endpoint}{separator}{urlencode(params)}"


def exchange_code(
    app: ReviewApp, token_endpoint: str, form: Mapping[str, str], requested_scope: str
) -> TokenSet:
    """Trade an authorization code (``form``: code, redirect_uri, code_verifier) for tokens."""
    body = _token_request(app, token_endpoint, {"grant_type": "authorization_code", **form})
    return token_set(body, app, requested_scope)


def refresh(app: ReviewApp, token_endpoint: str, refresh_token: str, granted: str) -> TokenSet:
    """New tokens for a refresh token (RFC 6749 §6); no scope in the answer: ``granted``."""
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return token_set(_token_request(app, token_endpoint, form), app, granted)


def _token_request(app: ReviewApp, url: str, form: Mapping[str, str]) -> dict[str, Any]:
    settings = app.settings
    # client_secret_basic: both parts form-urlencoded before base64 (RFC 6749 §2.3.1).
    user, password = settings.client_id or "", settings.client_secret or ""
    pair = f"{quote(user, safe='')}:{quote(password, safe='')}"
    headers = {
        "Authorization": "Basic " + base64.b64encode(pair.encode()).decode(),
        "Accept": "application/json",
    }
    try:
        response = app.http.post(url, data=dict(form), headers=headers, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise SmartError("unreachable", f"token endpoint {url}: {type(exc).__name__}") from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise SmartError("unreachable", f"token endpoint {url}: HTTP {response.status_code}")
    if response.status_code >= 400 or "error" in body:
        error = str(body.get("error", ""))
        code = error if ERROR_CODE.fullmatch(error) else ""
        kind = _error_kind(response.status_code, code)
        raise SmartError(
            kind, f"token endpoint {url}: HTTP {response.status_code} {code or '(no code)'}", code
        )
    return body


def _error_kind(status: int, code: str) -> str:
    """What a token endpoint error means for the user. RFC 6749 §5.2: ``invalid_client`` (a
    wrong secret, answered with 401), ``unauthorized_client``, ``unsupported_grant_type`` and
    ``invalid_scope`` are the registration's fault, not the user's: the administrator's."""
    if status >= 500:
        return "unreachable"
    if code in SETUP_ERRORS or (status == 401 and not code):
        return "setup"
    return "invalid" if code in ("invalid_grant", "invalid_request") else "denied"


def token_set(body: Mapping[str, Any], app: ReviewApp, requested_scope: str | None) -> TokenSet:
    """The tokens of a token response; ``scope`` absent means as requested (RFC 6749 §5.1)."""
    access = body.get("access_token")
    if not isinstance(access, str) or not access:
        raise SmartError("unreachable", "token response without an access_token")
    if str(body.get("token_type", "")).lower() != "bearer":
        raise SmartError("unreachable", "token response: token_type is not Bearer")
    expires_in = body.get("expires_in")
    seconds = expires_in if isinstance(expires_in, int) and expires_in > 0 else DEFAULT_EXPIRES_IN
    scope = body.get("scope") if isinstance(body.get("scope"), str) else requested_scope
    refresh_token = body.get("refresh_token")
    patient = body.get("patient")
    return TokenSet(
        access_token=access,
        refresh_token=refresh_token if isinstance(refresh_token, str) else None,
        expires_at=app.clock() + timedelta(seconds=seconds),
        scopes=frozenset((scope or "").split()),
        patient=patient if isinstance(patient, str) else None,
        fhir_user=_fhir_user(body, app.settings.client_id),
    )


def _fhir_user(body: Mapping[str, Any], client_id: str | None) -> str | None:
    """fhirUser from the response or its id_token. The id_token came straight from the token
    endpoint over TLS, which OpenID Connect Core §3.1.3.7 accepts in place of its signature;
    its audience is still checked."""
    if isinstance(body.get("fhirUser"), str):
        return str(body["fhirUser"])
    id_token = body.get("id_token")
    if not isinstance(id_token, str) or id_token.count(".") != 2:
        return None
    try:
        payload = id_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return None
    if not isinstance(claims, dict):
        return None
    aud = claims.get("aud")
    if client_id not in (aud if isinstance(aud, list) else [aud]):
        return None
    user = claims.get("fhirUser")
    return user if isinstance(user, str) else None


# --- scopes (SMART App Launch 2 §Scopes, v1 names accepted) ---------------------------------


def _permissions(scope: str, resource: str) -> str:
    """The permission letters ``scope`` grants on ``resource`` for a user or patient."""
    context, _, rest = scope.partition("/")
    if context not in ("user", "patient") or "." not in rest:
        return ""
    kind, _, perms = rest.partition(".")
    if kind not in (resource, "*"):
        return ""
    perms = perms.split("?")[0]
    v1 = {"read": "rs", "write": "cud", "*": "cruds"}
    return v1.get(perms, perms)


def can_write(scopes: frozenset[str]) -> bool:
    """Whether the grant lets the user create and update ChargeItems."""
    letters = "".join(_permissions(s, "ChargeItem") for s in scopes)
    return "c" in letters and "u" in letters


def can_read(scopes: frozenset[str]) -> bool:
    """Whether the grant lets the app read anything at all (else: the denied page)."""
    return any("r" in _permissions(s, s.partition("/")[2].partition(".")[0]) for s in scopes)


# --- the FHIR client of a session -----------------------------------------------------------


class SessionToken:
    """The TokenProvider of a review session: refreshes near expiry or after a 401, and
    raises ``TokenExpired`` when it cannot."""

    def __init__(self, session: ReviewSession, app: ReviewApp) -> None:
        self._session = session
        self._app = app
        self._stale = False

    def __repr__(self) -> str:
        return "SessionToken(<redacted>)"

    def authorization(self) -> str | None:
        if self._stale or self._app.clock() >= self._session.expires_at - EXPIRY_MARGIN:
            self._session = self._renewed()
            self._stale = False
        return f"Bearer {self._session.access_token}"

    def invalidate(self) -> None:
        self._stale = True

    def _renewed(self) -> ReviewSession:
        app, key = self._app, self._session.session_id
        granted = " ".join(sorted(self._session.scopes))
        endpoint = app.store.token_endpoint(key)
        if endpoint is None or self._session.refresh_token is None:
            # Expired and nothing to renew it with: the session is over.
            app.store.end(key)
            raise TokenExpired()
        try:
            fresh = app.store.renew(
                key,
                self._session.access_token,
                lambda token: refresh(app, endpoint, token, granted),
            )
        except SmartError as exc:
            # The reason only (kind, endpoint, HTTP status, OAuth code): never a token.
            log.warning("review session refresh failed (%s): %s", exc.kind, exc)
            if exc.kind == "unreachable":
                raise  # perhaps for a moment: the session stays
            app.store.end(key)
            if exc.kind == "setup":
                raise  # the setup-error page, for the administrator
            raise TokenExpired() from None
        if fresh is None:
            app.store.end(key)
            raise TokenExpired()
        return fresh


def fhir_client_for(session: ReviewSession) -> FhirClient:
    """A FHIR client of the session's server with its token, refreshed when near expiry."""
    app = review_app()
    return FhirClient(session.fhir_base, auth=SessionToken(session, app))
