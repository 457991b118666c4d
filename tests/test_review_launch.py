"""The review app's SMART launch and security, against the Authlib mock server run for real."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st
from smart_mock import CLIENT_ID, CLIENT_SECRET, SmartMock, running_smart_mock
from sqlalchemy import text
from werkzeug.test import TestResponse

from cds_hooks.app import create_app
from cds_hooks.review.blueprint import page
from cds_hooks.review.launch_cookies import (
    LAUNCHES,
    MAX_PER_KIND,
    SESSIONS,
    CookieKind,
    to_expire,
)
from cds_hooks.review.sessions import (
    COOKIE,
    PENDING_COOKIE,
    current_session,
    key_of,
    pending_cookie_name,
    review_app,
    session_cookie_name,
)
from cds_hooks.review.smart import fhir_client_for
from cds_hooks.settings import (
    EHR_SCOPE,
    STANDALONE_SCOPE,
    CdsSettings,
    ReviewSettings,
    load_review_settings,
)
from cpoc_fhir.errors import InputError

# A non-UTC clock: expiry must be compared as instants.
START = datetime(2025, 11, 10, 9, 0, tzinfo=timezone(timedelta(hours=-5)))


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def smart() -> Iterator[SmartMock]:
    with running_smart_mock() as mock:
        mock.launches["L1"] = {"patient": "p1", "fhirUser": "Practitioner/dr-1"}
        yield mock


@pytest.fixture
def clock() -> Clock:
    return Clock()


def build(tmp_path: Path, clock: Clock, **review: object) -> Flask:
    cds = CdsSettings(auth_enabled=False, store_url=f"sqlite:///{tmp_path}/store.sqlite")
    settings = ReviewSettings(**review)  # type: ignore[arg-type]
    app = create_app(
        {"CDS_SETTINGS": cds, "REVIEW_SETTINGS": settings, "REVIEW_CLOCK": clock, "TESTING": True}
    )

    # Two probes inside the blueprint (endpoint prefix "review."): a page, and a FHIR read
    # with the session's token, as the review pages make.
    def probe() -> object:
        current_session()
        return page("placeholder.html")

    def probe_fhir() -> object:
        with fhir_client_for(current_session()) as client:
            return client.read("Patient", "p1")

    app.add_url_rule("/review/probe", "review.probe", probe)
    app.add_url_rule("/review/probe-fhir", "review.probe_fhir", probe_fhir)
    return app


@pytest.fixture
def app(tmp_path: Path, smart: SmartMock, clock: Clock) -> Flask:
    return build(
        tmp_path,
        clock,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        secret_key="test-secret-key",
        issuers=(smart.iss,),
    )


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def launch(client: FlaskClient, smart: SmartMock, **args: str) -> TestResponse:
    """Launch, let the mock approve, and return the callback's response."""
    started = client.get("/review/launch", query_string=args or {"iss": smart.iss, "launch": "L1"})
    assert started.status_code == 302, started.text
    return callback(client, smart.approve(started.headers["Location"]))


def callback(client: FlaskClient, url: str) -> TestResponse:
    parts = urlsplit(url)
    return client.get(parts.path, query_string=parts.query)


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def csrf_of(response: TestResponse) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', response.text)
    assert match, response.text
    return match.group(1)


# --- the launch -----------------------------------------------------------------------------


def test_ehr_launch_sends_the_browser_to_authorize_with_pkce_s256(
    client: FlaskClient, smart: SmartMock
) -> None:
    response = client.get("/review/launch", query_string={"iss": smart.iss, "launch": "L1"})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(f"{smart.root}/authorize?")
    params = query(location)
    assert params["response_type"] == "code"
    assert params["client_id"] == CLIENT_ID
    assert params["redirect_uri"] == "http://localhost/review/callback"
    assert params["scope"] == EHR_SCOPE
    assert params["aud"] == smart.iss
    assert params["launch"] == "L1"
    assert params["code_challenge_method"] == "S256"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", params["code_challenge"])
    assert len(params["state"]) >= 32
    cookie = response.headers["Set-Cookie"]
    for attribute in ("Secure", "HttpOnly", "SameSite=None", "Partitioned", "Path=/"):
        assert attribute in cookie


def test_the_callback_trades_the_code_with_the_verifier_and_lands_on_the_patient(
    client: FlaskClient, smart: SmartMock
) -> None:
    started = client.get("/review/launch", query_string={"iss": smart.iss, "launch": "L1"})
    first_cookie = client.get_cookie(COOKIE)
    assert first_cookie is not None
    done = callback(client, smart.approve(started.headers["Location"]))
    # home, with the launch's handle (issue 17 item 2b: a session per launch)
    assert done.status_code == 303 and done.headers["Location"].startswith("/review/?s=")
    # A new session id after sign-in (no fixation); the old one is gone.
    after = client.get_cookie(COOKIE)
    assert after is not None and after.value != first_cookie.value
    assert "Partitioned" in done.headers["Set-Cookie"]
    home = client.get("/review/")
    assert home.status_code == 303 and home.headers["Location"] == "/review/patient/p1"
    # The mock requires PKCE: the exchange succeeded, so the verifier matched. Check it anyway.
    exchange = smart.token_requests[-1]
    assert exchange["form"]["grant_type"] == "authorization_code"
    verifier = exchange["form"]["code_verifier"]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    assert challenge.decode() == query(started.headers["Location"])["code_challenge"]
    user, _, password = base64.b64decode(exchange["authorization"][6:]).decode().partition(":")
    assert (unquote(user), unquote(password)) == (CLIENT_ID, CLIENT_SECRET)
    assert "client_secret" not in exchange["form"]


def test_tokens_never_reach_the_browser_and_are_encrypted_at_rest(
    app: Flask, client: FlaskClient, smart: SmartMock
) -> None:
    responses = [launch(client, smart)]
    responses += [client.get("/review/"), client.get("/review/probe"), client.get("/review/probe")]
    secrets = [t.access_token for t in smart.tokens.values()]
    secrets += [t.refresh_token for t in smart.tokens.values() if t.refresh_token]
    assert secrets
    for response in responses:
        exposed = response.get_data(as_text=True) + str(response.headers)
        assert not any(secret in exposed for secret in secrets)
    with review_app_engine(app).connect() as conn:
        stored = " ".join(str(v) for v in conn.execute(text("SELECT * FROM review_sessions")).one())
    assert not any(secret in stored for secret in secrets)


def review_app_engine(app: Flask):  # type: ignore[no-untyped-def]
    with app.app_context():
        return review_app().store.ledger.engine


def test_a_standalone_launch_asks_for_user_scopes_and_opens_the_work_queue(
    client: FlaskClient, smart: SmartMock
) -> None:
    started = client.get("/review/launch", query_string={"iss": smart.iss})
    params = query(started.headers["Location"])
    assert params["scope"] == STANDALONE_SCOPE
    assert "launch" not in params
    assert callback(client, smart.approve(started.headers["Location"])).status_code == 303
    home = client.get("/review/")
    assert home.headers["Location"] == "/review/queue"


def test_the_configured_standalone_issuer_needs_no_parameters(
    tmp_path: Path, smart: SmartMock, clock: Clock
) -> None:
    app = build(
        tmp_path,
        clock,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        secret_key="k",
        standalone_iss=smart.iss,
    )
    started = app.test_client().get("/review/launch")
    assert started.status_code == 302
    assert query(started.headers["Location"])["aud"] == smart.iss


# --- the error pages ------------------------------------------------------------------------


@pytest.mark.parametrize("args", [{}, {"launch": "L1"}])
def test_a_launch_without_an_issuer_shows_the_missing_launch_page(
    client: FlaskClient, args: dict[str, str]
) -> None:
    response = client.get("/review/launch", query_string=args)
    assert response.status_code == 400
    assert "Open this app from the EHR" in response.text
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_an_issuer_not_allowed_is_refused_before_any_request(
    client: FlaskClient, smart: SmartMock
) -> None:
    response = client.get(
        "/review/launch", query_string={"iss": "https://evil.example/fhir", "launch": "L1"}
    )
    assert response.status_code == 400
    assert "not one it is set up for" in response.text
    assert client.get_cookie(COOKIE) is None


def test_a_callback_with_an_unknown_state_shows_the_lost_state_page(
    client: FlaskClient, smart: SmartMock
) -> None:
    started = client.get("/review/launch", query_string={"iss": smart.iss, "launch": "L1"})
    back = smart.approve(started.headers["Location"])
    forged = re.sub(r"state=[^&]+", "state=forged", back)
    response = callback(client, forged)
    assert response.status_code == 400
    assert "Sign-in could not be completed" in response.text
    # The launch is used up: the genuine callback no longer works either.
    assert callback(client, back).status_code == 400
    assert [r["form"]["grant_type"] for r in smart.token_requests] == []


def test_a_callback_without_the_launch_cookie_shows_the_lost_state_page(
    app: Flask, smart: SmartMock
) -> None:
    started = app.test_client().get(
        "/review/launch", query_string={"iss": smart.iss, "launch": "L1"}
    )
    back = smart.approve(started.headers["Location"])
    response = callback(app.test_client(), back)  # another browser: no cookie
    assert response.status_code == 400
    assert "blocked this app's cookie" in response.text


def test_a_launch_too_old_shows_the_lost_state_page(
    client: FlaskClient, smart: SmartMock, clock: Clock
) -> None:
    started = client.get("/review/launch", query_string={"iss": smart.iss, "launch": "L1"})
    back = smart.approve(started.headers["Location"])
    clock.advance(minutes=11)
    assert callback(client, back).status_code == 400


def test_a_refusal_at_the_ehr_shows_the_denied_page(client: FlaskClient, smart: SmartMock) -> None:
    smart.deny_all = True
    response = launch(client, smart)
    assert response.status_code == 403
    assert "Access not granted" in response.text
    assert client.get("/review/").status_code == 401


def test_without_chargeitem_write_the_session_is_read_only_and_says_so(
    client: FlaskClient, smart: SmartMock
) -> None:
    smart.deny_scopes = {"user/ChargeItem.cruds"}
    assert launch(client, smart).status_code == 303
    page_ = client.get("/review/probe")
    assert page_.status_code == 200
    assert 'id="read-only-notice"' in page_.text
    with client.application.test_request_context(
        "/review/probe",
        headers={"Cookie": f"{COOKIE}={client.get_cookie(COOKIE).value}"},  # type: ignore[union-attr]
    ):
        session = current_session()
        assert not session.can_write
        assert "patient/*.rs" in session.scopes


def test_with_chargeitem_write_there_is_no_read_only_notice(
    client: FlaskClient, smart: SmartMock
) -> None:
    launch(client, smart)
    assert "read-only-notice" not in client.get("/review/probe").text


def test_a_grant_without_any_read_scope_shows_the_denied_page(
    client: FlaskClient, smart: SmartMock
) -> None:
    smart.deny_scopes = {"patient/*.rs", "user/ChargeItem.cruds"}
    response = launch(client, smart)
    assert response.status_code == 403
    assert "did not allow this app to read" in response.text


def test_no_session_shows_the_session_ended_page(client: FlaskClient) -> None:
    response = client.get("/review/")
    assert response.status_code == 401
    assert "Your session has ended" in response.text


def test_an_idle_session_ends(client: FlaskClient, smart: SmartMock, clock: Clock) -> None:
    launch(client, smart)
    clock.advance(minutes=61)
    assert client.get("/review/").status_code == 401


def test_the_app_not_set_up_says_so(tmp_path: Path, clock: Clock) -> None:
    response = build(tmp_path, clock).test_client().get("/review/launch?iss=x&launch=y")
    assert response.status_code == 503
    assert "not been set up" in response.text


# --- tokens: refresh and expiry ---------------------------------------------------------------


def test_an_expired_access_token_is_refreshed_with_the_refresh_token(
    client: FlaskClient, smart: SmartMock, clock: Clock
) -> None:
    smart.expires_in = 300
    launch(client, smart)
    first = smart.current_access_tokens()
    clock.advance(minutes=5)
    response = client.get("/review/probe-fhir")
    assert response.status_code == 200, response.text
    assert response.get_json() == {"resourceType": "Patient", "id": "p1"}
    assert smart.token_requests[-1]["form"]["grant_type"] == "refresh_token"
    assert smart.current_access_tokens() != first
    # The new token was kept: the next read needs no refresh.
    count = len(smart.token_requests)
    assert client.get("/review/probe-fhir").status_code == 200
    assert len(smart.token_requests) == count


def test_a_token_the_server_refuses_is_refreshed_once(
    client: FlaskClient, smart: SmartMock
) -> None:
    launch(client, smart)
    for token in smart.tokens.values():
        token.expires_at = 0  # the FHIR server now answers 401 to it
    assert client.get("/review/probe-fhir").status_code == 200
    assert smart.token_requests[-1]["form"]["grant_type"] == "refresh_token"


def test_when_the_refresh_fails_the_expired_page_shows_and_the_session_ends(
    client: FlaskClient, smart: SmartMock, clock: Clock
) -> None:
    launch(client, smart)
    smart.refresh_fails = True
    clock.advance(minutes=59, seconds=30)  # within the idle limit, past the token's hour
    response = client.get("/review/probe-fhir")
    assert response.status_code == 401
    assert "Your access has expired" in response.text
    assert client.get("/review/").status_code == 401


# --- CSRF, CSP, cookies -------------------------------------------------------------------------


def test_a_post_without_the_csrf_token_is_refused(client: FlaskClient, smart: SmartMock) -> None:
    launch(client, smart)
    for path in ("/review/logout", "/review/actions"):
        response = client.post(path, data={"action": "approve"})
        assert response.status_code == 403
        assert "Action refused" in response.text
    assert client.post("/review/logout", data={"csrf_token": "wrong"}).status_code == 403
    assert client.get("/review/probe").status_code == 200  # still signed in


def test_a_post_from_another_origin_is_refused_even_with_the_token(
    client: FlaskClient, smart: SmartMock
) -> None:
    launch(client, smart)
    token = csrf_of(client.get("/review/probe"))
    response = client.post(
        "/review/logout", data={"csrf_token": token}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403


def test_sign_out_with_the_csrf_token_ends_the_session(
    client: FlaskClient, smart: SmartMock
) -> None:
    launch(client, smart)
    token = csrf_of(client.get("/review/probe"))
    response = client.post(
        "/review/logout", data={"csrf_token": token}, headers={"Origin": "http://localhost"}
    )
    assert response.status_code == 200
    assert "Signed out" in response.text
    assert "Max-Age=0" in response.headers["Set-Cookie"]
    assert client.get("/review/").status_code == 401


def test_every_page_has_a_strict_csp_that_lets_the_ehr_frame_it(
    client: FlaskClient, smart: SmartMock
) -> None:
    responses = [
        client.get("/review/launch"),
        client.get("/review/callback?state=x&code=y"),
        client.get("/review/"),
        client.post("/review/logout"),
        launch(client, smart),
        client.get("/review/probe"),
        client.get("/review/static/review.css"),
    ]
    for response in responses:
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp
        assert "'unsafe-inline'" not in csp
        assert f"frame-ancestors 'self' {smart.root}" in csp
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert "X-Frame-Options" not in response.headers
        response.close()


def test_pages_load_nothing_from_elsewhere(client: FlaskClient, smart: SmartMock) -> None:
    launch(client, smart)
    html = client.get("/review/probe").text
    assert "<script" not in html and "style=" not in html and "<style" not in html
    assert re.findall(r'(?:href|src)="(https?:)?//', html) == []
    assert '<meta name="viewport"' in html


# --- settings -----------------------------------------------------------------------------------


def test_review_settings_from_the_environment() -> None:
    settings = load_review_settings(
        {
            "CPOC_REVIEW_CLIENT_ID": "app",
            "CPOC_REVIEW_CLIENT_SECRET": "s",
            "CPOC_REVIEW_ISSUERS": "https://ehr.example/fhir/, https://b.example/r4",
            "CPOC_REVIEW_SESSION_MINUTES": "30",
        }
    )
    assert settings.enabled and settings.allows("https://ehr.example/fhir")
    assert not settings.allows("https://evil.example/fhir")
    assert settings.ancestors == ("'self'", "https://ehr.example", "https://b.example")
    assert settings.idle_timeout == timedelta(minutes=30)
    assert "client_secret" not in repr(settings) and "secret_key" not in repr(settings)
    assert not load_review_settings({}).enabled


@pytest.mark.parametrize(
    ("environ", "name"),
    [
        ({"CPOC_REVIEW_CLIENT_ID": "app"}, "CPOC_REVIEW_CLIENT_SECRET"),
        ({"CPOC_REVIEW_CLIENT_ID": "app", "CPOC_REVIEW_CLIENT_SECRET": "s"}, "CPOC_REVIEW_ISSUERS"),
        ({"CPOC_REVIEW_ISSUERS": "ehr.example"}, "CPOC_REVIEW_ISSUERS"),
        ({"CPOC_REVIEW_SESSION_MINUTES": "0"}, "CPOC_REVIEW_SESSION_MINUTES"),
    ],
)
def test_review_settings_refuse_an_unsafe_setup(environ: dict[str, str], name: str) -> None:
    with pytest.raises(InputError, match=name):
        load_review_settings(environ)


# --- per-launch cookies kept few (launch_cookies.py) --------------------------------------------


def _jar(client: FlaskClient, kind: CookieKind) -> dict[str, str]:
    """The client's cookies of ``kind`` (werkzeug drops a cookie set with Max-Age=0)."""
    jar = client._cookies or {}  # the test client's jar: no public listing
    return kind.of({cookie.key: cookie.value for cookie in jar.values()})


def _expired(response: TestResponse) -> set[str]:
    return {
        header.split("=", 1)[0]
        for header in response.headers.getlist("Set-Cookie")
        if "Max-Age=0" in header
    }


def test_many_launches_keep_the_newest_eight_launch_cookies_the_oldest_expire_first(
    client: FlaskClient, smart: SmartMock, clock: Clock
) -> None:
    callbacks: list[str] = []
    names: list[str] = []
    for n in range(11):
        clock.advance(seconds=5)  # each launch newer than the one before
        started = client.get("/review/launch", query_string={"iss": smart.iss, "launch": "L1"})
        assert started.status_code == 302
        callbacks.append(smart.approve(started.headers["Location"]))
        names.append(pending_cookie_name(query(started.headers["Location"])["state"]))
        # launches 9, 10, 11 each expire the then oldest: 1, 2, 3
        assert _expired(started) == ({names[n - 8]} if n >= 8 else set())
        assert len(_jar(client, LAUNCHES)) == min(n + 1, MAX_PER_KIND)
    assert set(_jar(client, LAUNCHES)) == set(names[3:])
    # a kept launch still signs in; the oldest (cookie and launch gone) cannot
    assert callback(client, callbacks[3]).status_code == 303
    assert callback(client, callbacks[0]).status_code == 400


def test_many_sign_ins_keep_the_newest_eight_sessions_and_end_the_oldest(
    app: Flask, client: FlaskClient, smart: SmartMock, clock: Clock
) -> None:
    handles: list[str] = []
    values: list[str] = []
    for n in range(10):
        clock.advance(seconds=5)
        done = launch(client, smart)
        assert done.status_code == 303
        handles.append(query(done.headers["Location"])["s"])
        cookie = client.get_cookie(session_cookie_name(handles[-1]))
        assert cookie is not None
        values.append(cookie.value)
        assert _expired(done) - {n for n in _expired(done) if n.startswith(PENDING_COOKIE)} == (
            {session_cookie_name(handles[n - 8])} if n >= 8 else set()
        )
        assert len(_jar(client, SESSIONS)) == min(n + 1, MAX_PER_KIND)
    assert set(_jar(client, SESSIONS)) == {session_cookie_name(h) for h in handles[2:]}
    for handle in handles[:2]:  # the two oldest: no cookie, and their sessions ended
        assert client.get("/review/", query_string={"s": handle}).status_code == 401
    for handle in handles[2:]:
        assert client.get("/review/", query_string={"s": handle}).status_code == 303
    with app.app_context():
        store = review_app().store
        assert set(store.live([key_of(v) for v in values])) == {key_of(v) for v in values[2:]}


def test_cookies_of_ended_launches_and_sessions_expire_at_the_next_launch(
    client: FlaskClient, smart: SmartMock
) -> None:
    stale_launch, stale_session = pending_cookie_name("gone"), session_cookie_name("h" * 16)
    client.set_cookie(stale_launch, "no-such-launch")
    client.set_cookie(stale_session, "no-such-session")
    client.set_cookie("__Host-cpoc_launch_not-ours", "x")  # not a launch cookie's name: kept
    started = client.get("/review/launch", query_string={"iss": smart.iss, "launch": "L1"})
    assert {stale_launch, stale_session} <= _expired(started)
    assert client.get_cookie("__Host-cpoc_launch_not-ours") is not None
    assert set(_jar(client, LAUNCHES)) == {
        pending_cookie_name(query(started.headers["Location"])["state"])
    }


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.text("abcdef", min_size=1, max_size=4),
        st.tuples(st.booleans(), st.integers(0, 50)),
        max_size=20,
    ),
    st.integers(0, 2),
)
def test_pruning_expires_the_dead_and_keeps_the_newest_live(
    cookies: dict[str, tuple[bool, int]], adding: int
) -> None:
    keys = {name: f"key-{name}" for name in cookies}
    start = datetime(2025, 1, 1, tzinfo=UTC)
    live = {
        f"key-{name}": start + timedelta(seconds=age)
        for name, (alive, age) in cookies.items()
        if alive
    }
    expired = set(to_expire(keys, live, adding))
    kept = set(keys) - expired
    assert all(keys[name] in live for name in kept)  # every dead one expires
    assert len(kept) == min(len(live), MAX_PER_KIND - adding)
    # none expired live is newer than one kept
    for gone in expired:
        if keys[gone] in live:
            assert all((live[keys[gone]], gone) < (live[keys[k]], k) for k in kept)
