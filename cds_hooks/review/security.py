"""The review app's browser-facing protections: CSP and other headers, the session cookie,
CSRF tokens on every state-changing request.

The app runs in a cross-site EHR iframe, so its cookie is ``SameSite=None; Secure;
Partitioned`` (CHIPS: stored per top-level site) and SameSite cannot stop cross-site POSTs:
every POST, PUT, PATCH or DELETE must carry the session's CSRF token (a hidden form field or
an ``X-CSRF-Token`` header) and, when the browser sends an Origin, come from this origin.
"""

from __future__ import annotations

import hmac

from flask import abort, request
from werkzeug.wrappers import Response

from cds_hooks.review.sessions import COOKIE, NoSession, current_session, review_app

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def content_security_policy(frame_ancestors: tuple[str, ...]) -> str:
    """Same-origin everything, no inline script or style, framed only by the EHRs."""
    ancestors = " ".join(frame_ancestors) or "'none'"
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self'",
            "connect-src 'self'",
            "form-action 'self'",
            "base-uri 'none'",
            "object-src 'none'",
            f"frame-ancestors {ancestors}",
        ]
    )


def add_headers(response: Response) -> Response:
    """After every review request: CSP, no caching of patient pages, no referrer to other
    origins (URLs carry codes and patient ids), no MIME sniffing. No X-Frame-Options:
    frame-ancestors rules. ``same-origin``, not ``no-referrer``: under ``no-referrer`` a
    browser sends ``Origin: null`` on a form POST, which the CSRF origin check refuses."""
    ancestors = review_app().settings.ancestors
    response.headers["Content-Security-Policy"] = content_security_policy(ancestors)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    return response


def set_session_cookie(
    response: Response, value: str, name: str = COOKIE, max_age: int | None = None
) -> None:
    """The opaque session id: HttpOnly, Secure, SameSite=None, Partitioned, whole host
    (``name``: a launch's own cookie, sessions.py)."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=True,
        httponly=True,
        samesite="None",
        partitioned=True,
    )


def clear_session_cookie(response: Response, name: str = COOKIE) -> None:
    response.set_cookie(
        name,
        "",
        max_age=0,
        path="/",
        secure=True,
        httponly=True,
        samesite="None",
        partitioned=True,
    )


def check_csrf() -> None:
    """Before every review request: refuse (403) an unsafe one without the session's token."""
    if request.method not in UNSAFE_METHODS:
        return
    origin = request.headers.get("Origin")
    if origin is not None and origin != _own_origin():
        abort(403)
    sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD) or ""
    try:
        expected = current_session().csrf_token
    except NoSession:
        abort(403)
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        abort(403)


def csrf_token() -> str:
    """The session's CSRF token for a form (empty without a session)."""
    try:
        return current_session().csrf_token
    except NoSession:
        return ""


def _own_origin() -> str:
    base = review_app().settings.base_url
    if base:
        scheme, _, rest = base.partition("://")
        return f"{scheme}://{rest.split('/')[0]}"
    return request.host_url.rstrip("/")
