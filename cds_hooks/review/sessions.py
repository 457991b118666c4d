"""Review app sessions, kept server-side in the store's ``review_sessions`` table.

The browser holds only an opaque random id in a cookie; the table is keyed by its SHA-256, so
a copy of the database gives no usable cookie. A launch is a ``pending`` row found by its
cookie and checked against the callback's ``state``; the callback replaces it with an
``active`` row under a new id (no session fixation). Access and refresh tokens are encrypted
(Fernet) with a key derived from ``CPOC_REVIEW_SECRET_KEY``, and never leave the server.
Kept in the database, not in process memory, so every gunicorn worker sees every session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from cryptography.fernet import Fernet, InvalidToken
from flask import current_app, g, request
from sqlalchemy import delete, select

from cds_hooks.settings import ReviewSettings
from cpoc_fhir.store.ledger import Ledger
from cpoc_fhir.store.models import ReviewSessionRow

log = logging.getLogger(__name__)

# __Host-: Secure, Path=/ and no Domain, enforced by the browser (Chromium also on http://127.0.0.1).
COOKIE = "__Host-cpoc_review"
# Several launches in one browser (issue 17 item 2b): each launch's pending row has a cookie of
# its own, named after its state; each signed-in session has a cookie named after its launch
# handle, which the app's URLs carry as ``?s=`` (blueprint.url_defaults). ``COOKIE`` keeps the
# latest session too, for a URL without a handle.
PENDING_COOKIE = "__Host-cpoc_launch_"
HANDLE_PARAM = "s"
_HANDLE = re.compile(r"[A-Za-z0-9_\-]{8,32}")
# Expired rows are purged at most this often (per process).
_PURGE_EVERY = timedelta(minutes=10)

Clock = Callable[[], datetime]


class NoSession(Exception):
    """The request carries no live review session (never launched, expired or signed out)."""


@dataclass(frozen=True)
class ReviewSession:
    """A signed-in review session. ``session_id`` is the store key (a hash), not the cookie."""

    session_id: str
    iss: str
    fhir_base: str
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime
    scopes: frozenset[str]
    patient: str | None
    fhir_user: str | None
    can_write: bool
    csrf_token: str = field(default="", repr=False)


@dataclass(frozen=True)
class PendingLaunch:
    """A launch waiting for its callback."""

    key: str
    iss: str
    token_endpoint: str
    redirect_uri: str
    requested_scope: str
    code_verifier: str = field(repr=False)


def new_id() -> str:
    """A fresh opaque id (256 random bits) for a cookie, a state or a CSRF token."""
    return secrets.token_urlsafe(32)


def new_handle() -> str:
    """A launch handle for URLs (96 random bits; the cookie it names is the secret)."""
    return secrets.token_urlsafe(12)


def launch_handle() -> str | None:
    """The request's launch handle (``?s=``), when it is well-formed."""
    value = request.args.get(HANDLE_PARAM) or ""
    return value if _HANDLE.fullmatch(value) else None


def session_cookie_name(handle: str | None) -> str:
    """The cookie holding the session of launch ``handle`` (None: the latest session's)."""
    return f"{COOKIE}_{handle}" if handle else COOKIE


def pending_cookie_name(state: str) -> str:
    """The cookie of the launch waiting for the callback with ``state``."""
    return PENDING_COOKIE + hashlib.sha256(state.encode()).hexdigest()[:16]


def key_of(cookie_value: str) -> str:
    """The store key of a session cookie's value."""
    return hashlib.sha256(cookie_value.encode()).hexdigest()


class TokenCipher:
    """Encrypts tokens at rest; a token that no longer decrypts reads as None (expired)."""

    def __init__(self, secret: str | None) -> None:
        # No key: a random one per process (``init_review`` warns when the app is on).
        secret = secret or secrets.token_urlsafe(32)
        digest = hashlib.sha256(b"cpoc-review-tokens\0" + secret.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def seal(self, value: str | None) -> str | None:
        return None if value is None else self._fernet.encrypt(value.encode()).decode()

    def open(self, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return self._fernet.decrypt(value.encode()).decode()
        except InvalidToken:
            return None


@dataclass
class ReviewApp:
    """What the review blueprint needs, built once by ``init_review``."""

    settings: ReviewSettings
    store: SessionStore
    http: requests.Session
    clock: Clock


def review_app() -> ReviewApp:
    """The current Flask app's review app."""
    app: ReviewApp = current_app.extensions["cpoc_review"]
    return app


def current_session() -> ReviewSession:
    """The request's review session (cached for the request); ``NoSession`` when none."""
    cached = g.get("review_session")
    if isinstance(cached, ReviewSession):
        return cached
    # A URL with a handle is that launch's, never another's: no fallback to ``COOKIE``.
    handle = launch_handle()
    cookie = request.cookies.get(session_cookie_name(handle))
    if not cookie:
        raise NoSession()
    session = review_app().store.active(key_of(cookie))
    if session is None:
        raise NoSession()
    g.review_session = session
    g.launch_handle = handle
    return session


def session_or_none() -> ReviewSession | None:
    """The request's review session, or None (for templates)."""
    try:
        return current_session()
    except NoSession:
        return None


@dataclass
class SessionStore:
    """The ``review_sessions`` rows of a ledger."""

    ledger: Ledger
    cipher: TokenCipher
    settings: ReviewSettings
    clock: Clock
    can_write: Callable[[frozenset[str]], bool]
    _last_purge: datetime | None = field(default=None, repr=False)

    def now(self) -> datetime:
        return self.clock().astimezone(UTC)

    def start_launch(self, launch: PendingLaunch, state: str, launch_token: str | None) -> None:
        """Record a pending launch under ``launch.key`` (the hash of its new cookie)."""
        now = self.now()
        self._purge(now)
        with self.ledger.transaction() as db:
            db.add(
                ReviewSessionRow(
                    id=launch.key,
                    status="pending",
                    state=state,
                    iss=launch.iss,
                    token_endpoint=launch.token_endpoint,
                    redirect_uri=launch.redirect_uri,
                    requested_scope=launch.requested_scope,
                    launch=launch_token,
                    code_verifier=launch.code_verifier,
                    csrf_token=new_id(),
                    created_at=now,
                    last_seen_at=now,
                    ends_at=now + self.settings.launch_timeout,
                )
            )

    def take_launch(self, key: str, state: str) -> PendingLaunch | None:
        """The pending launch of cookie ``key`` if ``state`` is its state; it is used up."""
        with self.ledger.transaction() as db:
            row = db.get(ReviewSessionRow, key)
            if row is None or row.status != "pending" or row.state is None:
                return None
            db.delete(row)
            if row.ends_at <= self.now() or not hmac.compare_digest(row.state, state):
                return None
            return PendingLaunch(
                key,
                row.iss,
                row.token_endpoint,
                row.redirect_uri,
                row.requested_scope,
                row.code_verifier or "",
            )

    def activate(self, launch: PendingLaunch, key: str, tokens: Any) -> None:
        """Store a signed-in session under ``key`` (the hash of a new cookie)."""
        now = self.now()
        with self.ledger.transaction() as db:
            db.add(
                ReviewSessionRow(
                    id=key,
                    status="active",
                    iss=launch.iss,
                    token_endpoint=launch.token_endpoint,
                    redirect_uri=launch.redirect_uri,
                    requested_scope=launch.requested_scope,
                    access_token=self.cipher.seal(tokens.access_token),
                    refresh_token=self.cipher.seal(tokens.refresh_token),
                    expires_at=tokens.expires_at,
                    scope=" ".join(sorted(tokens.scopes)),
                    patient=tokens.patient,
                    fhir_user=tokens.fhir_user,
                    csrf_token=new_id(),
                    created_at=now,
                    last_seen_at=now,
                    ends_at=now + self.settings.max_age,
                )
            )

    def active(self, key: str) -> ReviewSession | None:
        """The live session of ``key``, its idle timer restarted; None when none or ended."""
        now = self.now()
        with self.ledger.transaction() as db:
            row = db.get(ReviewSessionRow, key)
            if row is None or row.status != "active":
                return None
            if row.ends_at <= now or row.last_seen_at + self.settings.idle_timeout <= now:
                db.delete(row)
                return None
            row.last_seen_at = now
            return self._session(row)

    def token_endpoint(self, key: str) -> str | None:
        with self.ledger.transaction() as db:
            row = db.get(ReviewSessionRow, key)
            return row.token_endpoint if row is not None else None

    def renew(
        self, key: str, seen_access: str, refresh: Callable[[str], Any]
    ) -> ReviewSession | None:
        """Refresh the session's tokens with ``refresh(refresh_token)`` under the row's lock;
        when another request already renewed them (the stored token is no longer
        ``seen_access``), that session is returned without a second refresh. None when the
        session is gone or has no refresh token; ``refresh`` may raise."""
        with self.ledger.transaction() as db:
            row = db.get(ReviewSessionRow, key, with_for_update=True)
            if row is None or row.status != "active":
                return None
            current = self.cipher.open(row.access_token)
            if current is not None and current != seen_access:
                return self._session(row)
            refresh_token = self.cipher.open(row.refresh_token)
            if refresh_token is None:
                return None
            tokens = refresh(refresh_token)
            row.access_token = self.cipher.seal(tokens.access_token)
            row.refresh_token = self.cipher.seal(tokens.refresh_token or refresh_token)
            row.expires_at = tokens.expires_at
            row.scope = " ".join(sorted(tokens.scopes))
            return self._session(row)

    def end(self, key: str) -> None:
        """Forget the session (sign out, or its refresh failed)."""
        with self.ledger.transaction() as db:
            db.execute(delete(ReviewSessionRow).where(ReviewSessionRow.id == key))

    def live(self, keys: Collection[str]) -> dict[str, datetime]:
        """Of ``keys``, the launches still waiting and the sessions still live (not past their
        end nor idle), each with when it started. Reads only: no idle timer is restarted
        (the cookie pruning of launch_cookies.py asks about cookies the user is not using)."""
        if not keys:
            return {}
        now = self.now()
        with self.ledger.transaction() as db:
            rows = db.scalars(select(ReviewSessionRow).where(ReviewSessionRow.id.in_(list(keys))))
            return {
                row.id: row.created_at
                for row in rows
                if row.ends_at > now and row.last_seen_at + self.settings.idle_timeout > now
            }

    def end_all(self, keys: Collection[str]) -> None:
        """Forget these launches and sessions (their cookies were expired)."""
        if keys:
            with self.ledger.transaction() as db:
                db.execute(delete(ReviewSessionRow).where(ReviewSessionRow.id.in_(list(keys))))

    def _session(self, row: ReviewSessionRow) -> ReviewSession | None:
        access = self.cipher.open(row.access_token)
        if access is None or row.expires_at is None:
            return None
        scopes = frozenset((row.scope or "").split())
        return ReviewSession(
            session_id=row.id,
            iss=row.iss,
            fhir_base=row.iss,
            access_token=access,
            refresh_token=self.cipher.open(row.refresh_token),
            expires_at=row.expires_at,
            scopes=scopes,
            patient=row.patient,
            fhir_user=row.fhir_user,
            can_write=self.can_write(scopes),
            csrf_token=row.csrf_token,
        )

    def _purge(self, now: datetime) -> None:
        if self._last_purge is not None and now - self._last_purge < _PURGE_EVERY:
            return
        self._last_purge = now
        idle = ReviewSessionRow.last_seen_at < now - self.settings.idle_timeout
        with self.ledger.transaction() as db:
            db.execute(delete(ReviewSessionRow).where((ReviewSessionRow.ends_at <= now) | idle))
