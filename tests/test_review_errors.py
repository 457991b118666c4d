"""The review app's set-up errors and ended sessions, against the Authlib mock server run for
real: what staff see (no OAuth jargon, no dead buttons) and what the administrator is told."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from smart_mock import CLIENT_ID, CLIENT_SECRET, SmartMock, running_smart_mock
from test_review_launch import Clock, build, launch

from cds_hooks.review.sessions import review_app
from cds_hooks.review.smart import _error_kind
from cpoc_fhir.store.models import ReviewSessionRow


@pytest.fixture
def smart() -> Iterator[SmartMock]:
    with running_smart_mock() as mock:
        mock.launches["L1"] = {"patient": "p1", "fhirUser": "Practitioner/dr-1"}
        yield mock


@pytest.fixture
def clock() -> Clock:
    return Clock()


def app_with_secret(tmp_path: Path, clock: Clock, smart: SmartMock, secret: str) -> Flask:
    return build(
        tmp_path,
        clock,
        client_id=CLIENT_ID,
        client_secret=secret,
        secret_key="test-secret-key",
        issuers=(smart.iss,),
    )


@pytest.fixture
def client(tmp_path: Path, smart: SmartMock, clock: Clock) -> FlaskClient:
    return app_with_secret(tmp_path, clock, smart, CLIENT_SECRET).test_client()


def test_a_wrong_client_secret_shows_the_setup_error_page_with_the_code(
    tmp_path: Path, smart: SmartMock, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    # Authlib answers a bad client_secret_basic with 401 {"error": "invalid_client"}
    # (RFC 6749 §5.2): the registration is wrong, the user declined nothing.
    client = app_with_secret(tmp_path, clock, smart, "not-the-secret").test_client()
    with caplog.at_level(logging.WARNING, logger="cds_hooks.review"):
        response = launch(client, smart)
    assert response.status_code == 502
    assert "Review app set-up error" in response.text
    assert "<code>invalid_client</code>" in response.text
    assert "declined" not in response.text and "Access not granted" not in response.text
    assert "Sign out" not in response.text
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "invalid_client" in errors[0].getMessage()
    assert "CPOC_REVIEW_CLIENT_SECRET" in errors[0].getMessage()
    assert "not-the-secret" not in caplog.text
    assert client.get("/review/").status_code == 401  # no session was started


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (401, "invalid_client", "setup"),
        (400, "unauthorized_client", "setup"),
        (400, "unsupported_grant_type", "setup"),
        (400, "invalid_scope", "setup"),
        (401, "", "setup"),  # a 401 without a code: the client's credentials
        (400, "invalid_grant", "invalid"),
        (400, "invalid_request", "invalid"),
        (403, "access_denied", "denied"),
        (503, "invalid_client", "unreachable"),
    ],
)
def test_token_endpoint_errors_are_told_apart(status: int, code: str, kind: str) -> None:
    assert _error_kind(status, code) == kind


def test_a_failed_refresh_is_a_warning_with_the_reason_and_never_the_token(
    client: FlaskClient, smart: SmartMock, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    launch(client, smart)
    tokens = [(t.access_token, t.refresh_token) for t in smart.tokens.values()]
    smart.refresh_fails = True  # the mock answers 400 invalid_grant
    clock.advance(minutes=59, seconds=30)
    with caplog.at_level(logging.INFO, logger="cds_hooks.review"):
        response = client.get("/review/probe-fhir")
    assert response.status_code == 401
    failed = [r for r in caplog.records if "refresh failed" in r.getMessage()]
    assert [r.levelno for r in failed] == [logging.WARNING]
    assert "invalid_grant" in failed[0].getMessage()
    for access, refresh in tokens:
        assert access not in caplog.text and (refresh or "-") not in caplog.text


def test_the_access_expired_page_offers_no_sign_out_for_the_ended_session(
    client: FlaskClient, smart: SmartMock, clock: Clock
) -> None:
    launch(client, smart)
    assert "Sign out" in client.get("/review/probe").text
    smart.refresh_fails = True
    clock.advance(minutes=59, seconds=30)
    response = client.get("/review/probe-fhir")
    assert "Your access has expired" in response.text
    assert "Sign out" not in response.text and "csrf_token" not in response.text
    assert "Max-Age=0" in response.headers["Set-Cookie"]


def test_a_session_without_a_refresh_token_ends_when_its_token_expires(
    client: FlaskClient, smart: SmartMock, clock: Clock
) -> None:
    launch(client, smart)
    with client.application.app_context(), review_app().store.ledger.transaction() as db:
        for row in db.query(ReviewSessionRow).all():
            row.refresh_token = None  # a grant without offline/online access
    clock.advance(minutes=59, seconds=30)
    response = client.get("/review/probe-fhir")
    assert response.status_code == 401 and "Sign out" not in response.text
    assert client.get("/review/").status_code == 401


def test_a_refresh_refused_for_the_apps_credentials_shows_the_setup_error(
    client: FlaskClient, smart: SmartMock, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    launch(client, smart)
    # The secret was rotated at the EHR but not here: the refresh gets invalid_client.
    state = client.application.extensions["cpoc_review"]
    state.settings = dataclasses.replace(state.settings, client_secret="rotated-away")
    clock.advance(minutes=59, seconds=30)
    with caplog.at_level(logging.WARNING, logger="cds_hooks.review"):
        response = client.get("/review/probe-fhir")
    assert response.status_code == 502
    assert "<code>invalid_client</code>" in response.text and "Sign out" not in response.text
    assert any(
        r.levelno == logging.WARNING and "refresh failed (setup)" in r.getMessage()
        for r in caplog.records
    )
    assert client.get("/review/").status_code == 401  # the session ended
