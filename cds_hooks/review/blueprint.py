"""The review app's launch routes (``/review``): SMART launch, callback, home, sign out.

``GET /review/launch`` starts an EHR launch (``iss`` + ``launch``) or a standalone one (``iss``
alone, or none with ``CPOC_REVIEW_STANDALONE_ISS``) and ``GET /review/callback`` finishes it.
The pages (``pages.py``: endpoints ``patient`` and ``queue``) and the actions (``actions.py``:
endpoint ``actions``) register their views on ``blueprint``; until they do, placeholders
answer (``cds_hooks.review.init_review``). Every response gets the CSP and other headers;
every POST needs the session's CSRF token (security.py).
"""

from __future__ import annotations

import logging
import secrets

from flask import Blueprint, g, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from cds_hooks.review import launch_cookies, security
from cds_hooks.review.sessions import (
    COOKIE,
    HANDLE_PARAM,
    NoSession,
    PendingLaunch,
    current_session,
    key_of,
    new_handle,
    new_id,
    pending_cookie_name,
    review_app,
    session_cookie_name,
    session_or_none,
)
from cds_hooks.review.smart import (
    ERROR_CODE,
    SmartError,
    TokenExpired,
    authorize_url,
    can_read,
    discover,
    exchange_code,
)

log = logging.getLogger(__name__)

blueprint = Blueprint(
    "review",
    __name__,
    url_prefix="/review",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
# Where a standalone launch may land (``/review/launch?next=dashboard``): name → endpoint.
LANDING_PAGES = {"dashboard": ".dashboard", "queue": ".queue"}
NEXT_COOKIE = "cpoc_review_next"
blueprint.before_request(security.check_csrf)
blueprint.after_request(security.add_headers)


@blueprint.context_processor
def _template_globals() -> dict[str, object]:
    session = session_or_none()
    return {
        "csrf_token": security.csrf_token,
        "review_session": session,
        "launch_handle": g.get("launch_handle") if session else None,
    }


# The redirect URI is registered at the EHR as it is: never a handle on it (nor on static).
_NO_HANDLE = frozenset(("review.static", "review.callback", "review.launch"))


@blueprint.url_defaults
def _keep_the_launch(endpoint: str, values: dict[str, object]) -> None:
    """Every link and form of a launch's page carries its handle (``?s=``), so two launches
    in two tabs of one browser each keep their own session (issue 17 item 2b). A GET form
    carries it as a hidden field (``launch_handle`` in the templates)."""
    handle = g.get("launch_handle")
    if handle and endpoint not in _NO_HANDLE and HANDLE_PARAM not in values:
        values[HANDLE_PARAM] = handle


def page(template: str, status: int = 200, **context: object) -> Response:
    """A rendered review page with its status."""
    return Response(render_template(template, **context), status, mimetype="text/html")


@blueprint.get("/launch")
def launch() -> Response:
    """Discover the issuer's endpoints, record the launch and send the browser to authorize."""
    app = review_app()
    settings = app.settings
    if not settings.enabled:
        return page("errors/error.html", 503, title="Review app not set up", reason="setup")
    iss = (request.args.get("iss") or "").strip().rstrip("/") or None
    launch_token = request.args.get("launch") or None
    if iss is None:
        if launch_token is not None or not settings.standalone_iss:
            return page("errors/missing_launch.html", 400, unknown=False)
        iss = settings.standalone_iss.rstrip("/")
    if not settings.allows(iss):
        log.warning("review launch refused: issuer not in CPOC_REVIEW_ISSUERS: %s", iss[:200])
        return page("errors/missing_launch.html", 400, unknown=True)
    try:
        config = discover(iss, app.http)
    except SmartError as exc:
        log.warning("review launch: %s", exc)
        return _unavailable()
    cookie, state, verifier = new_id(), new_id(), secrets.token_urlsafe(64)
    scope = settings.ehr_scope if launch_token else settings.standalone_scope
    pending = PendingLaunch(
        key_of(cookie), iss, config.token_endpoint, _redirect_uri(), scope, verifier
    )
    app.store.start_launch(pending, state, launch_token)
    target = authorize_url(
        config,
        settings.client_id or "",
        pending.redirect_uri,
        scope,
        state,
        iss,
        verifier,
        launch_token,
    )
    response = redirect(target, 302)
    security.set_session_cookie(response, cookie)  # the latest launch (older clients)
    # This launch's own: a second launch in another tab does not replace it.
    max_age = int(settings.launch_timeout.total_seconds())
    security.set_session_cookie(response, cookie, pending_cookie_name(state), max_age)
    launch_cookies.prune(response, app.store, new_launches=1)  # at most 8 per browser
    if not launch_token and request.args.get("next") in LANDING_PAGES:
        # A standalone launch may ask to land on the dashboard: a name from a fixed list,
        # never a URL (no open redirect); home() reads and forgets it.
        response.set_cookie(
            NEXT_COOKIE,
            str(request.args["next"]),
            max_age=600,
            path="/review",
            secure=request.is_secure,
            httponly=True,
            samesite="Lax",
        )
    return response


@blueprint.get("/callback")
def callback() -> Response:
    """Check the state, trade the code for tokens, start the session under a new cookie."""
    app = review_app()
    state = request.args.get("state") or ""
    cookie = request.cookies.get(pending_cookie_name(state)) or request.cookies.get(COOKIE)
    pending = app.store.take_launch(key_of(cookie), state) if cookie and state else None
    if pending is None:
        return page("errors/lost_state.html", 400)
    error = request.args.get("error")
    if error is not None:
        if error == "access_denied":
            return page("errors/denied.html", 403, scopes=False)
        shown = error if ERROR_CODE.fullmatch(error) else "unknown"
        return page("errors/error.html", 400, title="Sign-in refused", reason="refused", code=shown)
    code = request.args.get("code")
    if not code:
        return page("errors/lost_state.html", 400)
    form = {
        "code": code,
        "redirect_uri": pending.redirect_uri,
        "code_verifier": pending.code_verifier,
    }
    try:
        tokens = exchange_code(app, pending.token_endpoint, form, pending.requested_scope)
    except SmartError as exc:
        if exc.kind == "setup":
            return _setup_error(exc)
        log.warning("review callback: %s", exc)
        if exc.kind == "invalid":
            return page("errors/lost_state.html", 400)
        if exc.kind == "denied":
            return page("errors/denied.html", 403, scopes=False)
        return _unavailable()
    if not can_read(tokens.scopes):
        return page("errors/denied.html", 403, scopes=True)
    fresh, handle = new_id(), new_handle()
    app.store.activate(pending, key_of(fresh), tokens)
    response = redirect(url_for(".home", s=handle), 303)
    security.set_session_cookie(response, fresh)
    max_age = int(app.settings.max_age.total_seconds())
    security.set_session_cookie(response, fresh, session_cookie_name(handle), max_age)
    security.clear_session_cookie(response, pending_cookie_name(state))
    launch_cookies.prune(response, app.store, new_sessions=1)
    return response


@blueprint.get("/")
def home() -> Response:
    """The launch's patient, or the practice work queue when there is none."""
    session = current_session()
    if session.patient:
        return redirect(url_for(".patient", patient_id=session.patient), 303)
    landing = LANDING_PAGES.get(request.cookies.get(NEXT_COOKIE, ""), ".queue")
    response = redirect(url_for(landing), 303)
    response.delete_cookie(NEXT_COOKIE, path="/review")
    return response


@blueprint.post("/logout")
def logout() -> Response:
    """End the session here (the EHR's own sign-in is untouched)."""
    session = current_session()
    review_app().store.end(session.session_id)
    handle = g.pop("launch_handle", None)
    response = page("signed_out.html")
    if handle:
        security.clear_session_cookie(response, session_cookie_name(handle))
    latest = request.cookies.get(COOKIE)
    if not handle or (latest and key_of(latest) == session.session_id):
        security.clear_session_cookie(response)
    return response


# --- error pages: no stack traces, no patient data ------------------------------------------


@blueprint.errorhandler(NoSession)
def _no_session(_exc: NoSession) -> Response:
    # The cookie stays: it may be a sign-in still under way in another tab.
    return page("errors/expired.html", 401, reason="session")


@blueprint.errorhandler(TokenExpired)
def _token_expired(_exc: TokenExpired) -> Response:
    """The session was ended while this request ran (its token could not be renewed): the
    page must not offer Sign-out for it, and the browser forgets its cookie."""
    g.pop("review_session", None)
    handle = g.pop("launch_handle", None)
    response = page("errors/expired.html", 401, reason="token")
    security.clear_session_cookie(response)
    if handle:
        security.clear_session_cookie(response, session_cookie_name(handle))
    return response


@blueprint.errorhandler(SmartError)
def _smart_error(exc: SmartError) -> Response:
    if exc.kind == "setup":
        return _setup_error(exc)
    log.warning("review: %s", exc)
    return _unavailable()


def _setup_error(exc: SmartError) -> Response:
    """The EHR's token endpoint refused the app itself (RFC 6749 §5.2: a wrong client secret,
    a grant or scope the registration does not allow): nothing the user can do; the page and
    the log give the administrator the OAuth error code."""
    log.error(
        "review app set-up error at the EHR's token endpoint: %s; check CPOC_REVIEW_CLIENT_ID, "
        "CPOC_REVIEW_CLIENT_SECRET and the scopes against the app's registration at the EHR",
        exc,
    )
    g.pop("review_session", None)
    code = exc.code or "no error code"
    response = page(
        "errors/error.html", 502, title="Review app set-up error", reason="setup-error", code=code
    )
    security.clear_session_cookie(response)
    return response


@blueprint.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    if exc.code == 403:
        return page("errors/forbidden.html", 403)
    title = exc.name if exc.code and exc.code < 500 else "Something went wrong"
    return page("errors/error.html", exc.code or 500, title=title, reason="http")


@blueprint.errorhandler(Exception)
def _unexpected(exc: Exception) -> Response:
    log.exception("review: unexpected error")
    return page("errors/error.html", 500, title="Something went wrong", reason="http")


def _unavailable() -> Response:
    return page("errors/error.html", 502, title="EHR not reachable", reason="unreachable")


def _redirect_uri() -> str:
    base = review_app().settings.base_url
    if base:
        return f"{base}{url_for('.callback')}"
    return url_for(".callback", _external=True)
