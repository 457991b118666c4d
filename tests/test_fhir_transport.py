"""FHIR client retries, backoff, Retry-After, 401 renewal and what reaches the logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from email.utils import formatdate
from typing import Any

import pytest
import requests
import responses
from responses import matchers

from cpoc_fhir.fhir.auth import BearerToken
from cpoc_fhir.fhir.client import (
    FhirAuthError,
    FhirClient,
    FhirConnectionError,
    FhirServerError,
)
from cpoc_fhir.fhir.results import create_entry
from cpoc_fhir.fhir.transport import loggable, retry_after_seconds

BASE = "https://ehr.example/fhir"
NOW = 1_780_000_000.0  # a fixed clock for Retry-After dates
SECRET = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2Vu.c2ln"
BUSY = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "transient",
        "diagnostics": "Server busy"}]}  # fmt: skip
ITEM = {"resourceType": "ChargeItem", "status": "billable"}


@pytest.fixture
def server() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def waits() -> list[float]:
    return []


def make_client(waits: list[float], **options: Any) -> FhirClient:
    options.setdefault("jitter", lambda: 1.0)  # no randomness: the full backoff
    return FhirClient(BASE, sleep=waits.append, clock=lambda: NOW, **options)


def test_503_is_retried_with_exponential_backoff_then_succeeds(server, waits):
    url = f"{BASE}/Patient/p1"
    server.get(url, status=503, json=BUSY)
    server.get(url, status=503, json=BUSY)
    server.get(url, json={"resourceType": "Patient", "id": "p1"})
    assert make_client(waits).read("Patient", "p1")["id"] == "p1"
    assert waits == [0.5, 1.0]


def test_jitter_takes_between_half_and_all_of_the_backoff(server, waits):
    server.get(f"{BASE}/metadata", status=502)
    server.get(f"{BASE}/metadata", json={"resourceType": "CapabilityStatement"})
    make_client(waits, jitter=lambda: 0.0, backoff=2.0).capabilities()
    assert waits == [1.0]


def test_retry_after_in_seconds_is_honoured(server, waits):
    server.get(f"{BASE}/metadata", status=429, headers={"Retry-After": "7"})
    server.get(f"{BASE}/metadata", json={"resourceType": "CapabilityStatement"})
    make_client(waits).capabilities()
    assert waits == [7.0]


def test_retry_after_as_an_http_date_is_honoured(server, waits):
    server.get(
        f"{BASE}/metadata", status=503, headers={"Retry-After": formatdate(NOW + 30, usegmt=True)}
    )
    server.get(f"{BASE}/metadata", json={"resourceType": "CapabilityStatement"})
    make_client(waits).capabilities()
    assert waits == [30.0]


def test_retry_after_longer_than_we_wait_gives_up_at_once(server, waits):
    server.get(f"{BASE}/metadata", status=429, headers={"Retry-After": "3600"}, json=BUSY)
    with pytest.raises(FhirServerError, match="429 Too Many Requests: Server busy"):
        make_client(waits, max_wait=60).capabilities()
    assert waits == []


def test_exhausted_retries_raise_the_last_error_and_backoff_is_capped(server, waits):
    for _ in range(5):
        server.get(f"{BASE}/metadata", status=500, json=BUSY)
    with pytest.raises(FhirServerError) as caught:
        make_client(waits, max_retries=4, backoff=1.0, max_wait=3.0).capabilities()
    assert caught.value.status == 500
    assert waits == [1.0, 2.0, 3.0, 3.0]


@pytest.mark.parametrize("status", [400, 403, 404, 409, 412, 422])
def test_other_client_errors_are_not_retried(server, waits, status):
    server.get(f"{BASE}/Patient/p1", status=status, json=BUSY)
    with pytest.raises(FhirServerError):
        make_client(waits).read("Patient", "p1")
    assert (len(server.calls), waits) == (1, [])


def test_connection_errors_are_retried_then_reported(server, waits):
    for _ in range(3):
        server.get(f"{BASE}/Patient", body=requests.ConnectionError("refused"))
    with pytest.raises(FhirConnectionError) as caught:
        list(make_client(waits, max_retries=2).search("Patient", {"identifier": "urn:mrn|123456"}))
    assert str(caught.value) == (
        "GET Patient?identifier=…: no answer (ConnectionError) after 3 attempts"
    )
    assert waits == [0.5, 1.0]


def test_a_plain_post_is_not_retried_after_a_read_timeout(server, waits):
    server.post(f"{BASE}/ChargeItem", body=requests.ReadTimeout("slow"))
    with pytest.raises(FhirConnectionError, match="ReadTimeout"):
        make_client(waits).create(ITEM)
    assert (len(server.calls), waits) == (1, [])


def test_a_plain_post_is_not_retried_after_a_500_but_is_after_429(server, waits):
    server.post(f"{BASE}/ChargeItem", status=429)
    server.post(f"{BASE}/ChargeItem", status=500, json=BUSY)
    with pytest.raises(FhirServerError, match="500"):
        make_client(waits).create(ITEM)
    assert (len(server.calls), waits) == (2, [0.5])


def test_a_plain_post_is_retried_when_the_connection_was_never_made(server, waits):
    server.post(f"{BASE}/ChargeItem", body=requests.ConnectTimeout("no route"))
    server.post(f"{BASE}/ChargeItem", status=201, headers={"Location": "ChargeItem/c1/_history/1"})
    assert make_client(waits).create(ITEM).id == "c1"


def test_a_conditional_create_is_retried_after_a_timeout(server, waits):
    server.post(f"{BASE}/ChargeItem", body=requests.ReadTimeout("slow"))
    server.post(f"{BASE}/ChargeItem", status=200, headers={"Location": "ChargeItem/c1/_history/1"})
    result = make_client(waits).create(ITEM, if_none_exist="identifier=urn:x|1")
    assert (result.status, result.id) == (200, "c1")


def test_a_batch_of_conditional_creates_is_retried_but_not_one_with_a_plain_post(server, waits):
    answer = {"resourceType": "Bundle", "type": "batch-response",
              "entry": [{"response": {"status": "201"}}]}  # fmt: skip
    server.post(BASE, status=502)
    server.post(BASE, json=answer)
    server.post(BASE, status=502)
    client = make_client(waits)
    assert client.batch([create_entry(ITEM, "identifier=urn:x|1")])[0].status == 201
    with pytest.raises(FhirServerError, match="POST batch Bundle → 502"):
        client.batch([create_entry(ITEM)])
    assert waits == [0.5]


class RenewingToken:
    """A token provider that hands out t1, then t2 after invalidate()."""

    def __init__(self) -> None:
        self.issued = 1
        self.invalidated = 0

    def authorization(self) -> str | None:
        return f"Bearer t{self.issued}"

    def invalidate(self) -> None:
        self.invalidated += 1
        self.issued += 1


def test_401_renews_the_token_and_sends_once_more(server, waits):
    url = f"{BASE}/Patient/p1"
    server.get(url, status=401, match=[matchers.header_matcher({"Authorization": "Bearer t1"})])
    server.get(url, json={"resourceType": "Patient"},
               match=[matchers.header_matcher({"Authorization": "Bearer t2"})])  # fmt: skip
    auth = RenewingToken()
    make_client(waits, auth=auth).read("Patient", "p1")
    assert auth.invalidated == 1 and waits == []


def test_a_second_401_is_an_auth_error(server, waits):
    server.get(f"{BASE}/Patient/p1", status=401, json=BUSY)
    server.get(f"{BASE}/Patient/p1", status=401, json=BUSY)
    auth = RenewingToken()
    with pytest.raises(FhirAuthError, match="401 Unauthorized"):
        make_client(waits, auth=auth).read("Patient", "p1")
    assert auth.invalidated == 1


def test_a_static_token_refused_with_401_is_not_resent(server, waits):
    server.get(f"{BASE}/Patient/p1", status=401)
    with pytest.raises(FhirAuthError):
        make_client(waits, auth=BearerToken(SECRET)).read("Patient", "p1")
    assert len(server.calls) == 1


def test_the_token_and_identifier_values_never_reach_logs_or_errors(server, waits, caplog):
    caplog.set_level(logging.DEBUG)
    server.get(f"{BASE}/Patient", status=503, json=BUSY)
    server.get(f"{BASE}/Patient", status=403, json=BUSY)
    client = make_client(waits, auth=BearerToken(SECRET))
    with pytest.raises(FhirAuthError) as caught:
        list(client.search("Patient", {"identifier": "urn:mrn|123456"}))
    assert server.calls[0].request.headers["Authorization"] == f"Bearer {SECRET}"
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("cpoc_fhir")]
    assert "GET Patient?identifier=…: 503; retry 1/4 in 0.50 s" in ours
    assert "GET Patient?identifier=… → 403" in ours
    for text in (caplog.text, str(caught.value), repr(client)):
        assert SECRET not in text and "123456" not in text


def test_loggable_keeps_the_path_and_query_names_only():
    url = f"{BASE}/Patient?identifier=urn%3Amrn%7C1&_count=2"
    assert loggable(BASE, url, {"family": "Doe"}) == "Patient?identifier=…&_count=…&family=…"
    assert loggable(BASE, BASE) == "/"


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        ("Thu, 01 Jan 1970 00:02:00 GMT", 60.0),
        ("Thu, 01 Jan 1970 00:02:00 -0000", 60.0),
        ("Thu, 01 Jan 1970 00:00:10 GMT", 0.0),  # in the past: now
        ("soon", None),
        ("1.5", None),
    ],
)
def test_retry_after_values(header, seconds):
    assert retry_after_seconds(header, now=60.0) == seconds
