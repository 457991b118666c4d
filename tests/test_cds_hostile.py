"""Hostile and malformed hook bodies: every refusal is a 4xx JSON body naming where, never 5xx.

Each test is one finding of the fuzzing and real-client trials (deep nesting, a searchset entry
whose ``search`` is a list, no limits, another patient's Patient, drafts dated in 1899, media
types, methods). Bodies are built from the Appendix A record, whose valid order-sign is 200.
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from cds_support import full_prefetch, hook_body, make_app, medication_order, record_on
from flask import Flask
from flask.testing import FlaskClient

PID = "appendix-a-folfox"
DAY = "2025-03-03"
SIGN = "/cds-services/cpoc-order-sign"
SELECT = "/cds-services/cpoc-order-select"
VIEW = "/cds-services/cpoc-patient-view"
FEEDBACK = "/cds-services/cpoc-order-sign/feedback"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    return make_app(
        tmp_path_factory.mktemp("hostile"),
        today=DAY,
        max_body_bytes=2_000_000,
        max_bundle_entries=300,
    )


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def valid_sign() -> dict[str, Any]:
    drafts = [
        medication_order("ox", PID, "32592", "oxaliplatin", DAY),
        medication_order("lv", PID, "6313", "leucovorin", DAY),
        medication_order("fu", PID, "4492", "fluorouracil", DAY),
    ]
    return hook_body("order-sign", PID, drafts, full_prefetch(record_on(PID, DAY), PID))


def refused(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) >= {"error", "message"}
    return dict(body)


def test_the_valid_body_is_answered(client: FlaskClient) -> None:
    assert client.post(SIGN, json=valid_sign()).status_code == 200


# --- nesting, encoding ----------------------------------------------------------------------


@pytest.mark.parametrize("depth", [65, 5_000, 200_000])
def test_deeply_nested_json_is_a_400_naming_the_limit(client: FlaskClient, depth: int) -> None:
    # 200 000 levels made json.loads raise RecursionError (a 500); 65 is one above the limit.
    text = '{"hook": "order-sign", "x": ' + "[" * depth + "]" * depth + "}"
    body = refused(client.post(SIGN, data=text, content_type="application/json"), 400)
    assert body["where"] == "$" and "64" in body["message"]


def test_nesting_inside_strings_does_not_count(client: FlaskClient) -> None:
    body = valid_sign()
    body["context"]["note"] = "[" * 10_000
    assert client.post(SIGN, json=body).status_code == 200


def test_an_unpaired_surrogate_escape_is_refused_before_it_reaches_a_card(
    client: FlaskClient,
) -> None:
    body = valid_sign()
    body["context"]["draftOrders"]["entry"][0]["resource"]["medicationCodeableConcept"]["text"] = (
        "SURROGATE"
    )
    text = json.dumps(body).replace("SURROGATE", "\\ud800x")
    answer = refused(client.post(SIGN, data=text, content_type="application/json"), 400)
    assert answer["where"] == "$" and "ud800" not in json.dumps(answer)


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e400", "-2.5E+999"])
def test_numbers_json_does_not_have_are_a_400(client: FlaskClient, token: str) -> None:
    # Python's json reads NaN/Infinity (not JSON) and turns 1e400 into inf: either would fail
    # only when a card or ChargeItem is written (allow_nan=False), i.e. as a 500.
    text = json.dumps(valid_sign()).replace('"2025-03-03"', token, 1)
    answer = refused(client.post(SIGN, data=text, content_type="application/json"), 400)
    assert answer["where"] == "$"
    assert answer["message"] == "the JSON holds a number beyond a double's range, NaN or Infinity"


@pytest.mark.parametrize("bad", [b"\xff", b"\xed\xa6\x81", b"\xc0\xaf"])
@pytest.mark.parametrize("path", [SIGN, FEEDBACK])
def test_invalid_utf8_is_a_400(client: FlaskClient, bad: bytes, path: str) -> None:
    # \xed\xa6\x81 is an encoded lone surrogate: json.loads(bytes) let it through, and the
    # audit store then failed to write it (a 500 on feedback, found by scripts/fuzz_hooks.py).
    body = valid_sign() if path == SIGN else {"feedback": [{"card": "CARD", "outcome": "x"}]}
    data = json.dumps(body).encode().replace(b"oxaliplatin", b"oxali" + bad + b"platin")
    data = data.replace(b"CARD", b"card" + bad)
    refused(client.post(path, data=data, content_type="application/json"), 400)


# --- prefetch shapes --------------------------------------------------------------------------


@pytest.mark.parametrize("search", [["match"], "match", 7, {"mode": ["match"]}])
def test_a_searchset_entry_with_a_malformed_search_is_not_a_500(
    client: FlaskClient, search: Any
) -> None:
    body = valid_sign()
    body["prefetch"]["conditions"]["entry"][0]["search"] = search
    response = client.post(SIGN, json=body)
    assert response.status_code < 500
    if response.status_code != 200:
        assert refused(response, response.status_code)["where"].startswith(
            "$.prefetch.conditions.entry[0].search"
        )


def test_prefetch_patient_of_another_patient_is_a_400(client: FlaskClient) -> None:
    body = valid_sign()
    body["prefetch"]["patient"] = {"resourceType": "Patient", "id": "someone-else"}
    answer = refused(client.post(SIGN, json=body), 400)
    assert answer["where"] == "$.prefetch.patient"
    assert "someone-else" not in json.dumps(answer)


def test_prefetch_patient_that_is_no_patient_is_a_400(client: FlaskClient) -> None:
    body = valid_sign()
    body["prefetch"]["patient"] = {"resourceType": "Observation", "id": PID}
    assert refused(client.post(SIGN, json=body), 400)["where"] == "$.prefetch.patient"


# --- limits -----------------------------------------------------------------------------------


def test_a_body_over_the_limit_is_a_413_naming_the_limit(client: FlaskClient) -> None:
    body = valid_sign()
    body["context"]["note"] = "x" * 2_000_001
    answer = refused(client.post(SIGN, json=body), 413)
    assert answer["error"] == "too-large"
    assert "2000000 bytes" in answer["message"]


def test_a_bundle_over_the_entry_limit_is_a_413_naming_it(client: FlaskClient) -> None:
    body = valid_sign()
    entry = body["prefetch"]["observations"]["entry"][0]
    body["prefetch"]["observations"]["entry"] = [copy.deepcopy(entry) for _ in range(301)]
    answer = refused(client.post(SIGN, json=body), 413)
    assert answer["where"] == "$.prefetch.observations.entry"
    assert "300" in answer["message"]


def test_draft_orders_over_the_entry_limit_are_a_413(client: FlaskClient) -> None:
    body = valid_sign()
    entries = body["context"]["draftOrders"]["entry"]
    body["context"]["draftOrders"]["entry"] = [copy.deepcopy(entries[0]) for _ in range(301)]
    answer = refused(client.post(SIGN, json=body), 413)
    assert answer["where"] == "$.context.draftOrders.entry"


def test_the_limits_come_from_the_environment_with_defaults() -> None:
    from cds_hooks.settings import load_cds_settings

    defaults = load_cds_settings({"CPOC_CDS_AUTH": "off"})
    assert defaults.max_body_bytes == 16 * 1024 * 1024
    assert (defaults.max_depth, defaults.max_bundle_entries) == (64, 5000)
    assert (defaults.draft_days_back, defaults.draft_days_ahead) == (366, 366)
    given = load_cds_settings(
        {
            "CPOC_CDS_AUTH": "off",
            "CPOC_CDS_MAX_BODY_BYTES": "1000",
            "CPOC_CDS_MAX_DEPTH": "40",
            "CPOC_CDS_MAX_BUNDLE_ENTRIES": "20",
            "CPOC_CDS_DRAFT_DAYS_BACK": "30",
            "CPOC_CDS_DRAFT_DAYS_AHEAD": "90",
        }
    )
    assert (given.max_body_bytes, given.max_depth, given.max_bundle_entries) == (1000, 40, 20)
    assert (given.draft_days_back, given.draft_days_ahead) == (30, 90)
    from cpoc_fhir.errors import InputError

    with pytest.raises(InputError, match="CPOC_CDS_MAX_DEPTH"):
        load_cds_settings({"CPOC_CDS_AUTH": "off", "CPOC_CDS_MAX_DEPTH": "deep"})


# --- draft dates --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "why"),
    [
        ("1899-03-03", "before the patient's birth"),  # birthDate 1961-05-14
        ("1960-01-01", "before the patient's birth"),
        ("2024-03-01", "more than 366 days before today"),  # today 2025-03-03
        ("2026-03-05", "more than 366 days after today"),
        ("9999-12-31", "more than 366 days after today"),
    ],
)
def test_a_draft_dated_before_birth_or_far_from_today_is_a_400_naming_its_path(
    client: FlaskClient, day: str, why: str
) -> None:
    body = valid_sign()
    body["context"]["draftOrders"]["entry"][1]["resource"]["dosageInstruction"][0]["timing"] = {
        "event": [DAY, day]
    }
    answer = refused(client.post(SIGN, json=body), 400)
    assert answer["where"] == (
        "$.context.draftOrders.entry[1].resource.dosageInstruction[0].timing.event[1]"
    )
    assert why in answer["message"] and day not in json.dumps(answer)


def test_a_draft_authored_in_1899_is_refused(client: FlaskClient) -> None:
    body = valid_sign()
    body["hook"] = "order-select"
    body["context"]["draftOrders"]["entry"][0]["resource"]["authoredOn"] = "1899-12-31"
    answer = refused(client.post(SELECT, json=body), 400)
    assert answer["where"] == "$.context.draftOrders.entry[0].resource.authoredOn"


def test_drafts_within_the_window_are_answered(client: FlaskClient) -> None:
    body = valid_sign()
    resource = body["context"]["draftOrders"]["entry"][0]["resource"]
    resource["dosageInstruction"][0]["timing"] = {
        "repeat": {"boundsPeriod": {"start": "2025-03-17", "end": "2025-09-01"}}
    }
    assert client.post(SIGN, json=body).status_code == 200


# --- anything else the reader cannot interpret -------------------------------------------------


def test_a_resource_the_reader_cannot_interpret_is_a_4xx_naming_its_path(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    # ``status`` as an object made the readers raise TypeError: unhashable (a 500). Whether the
    # readers refuse it or skip it with a warning, the caller never sees a 500, and a refusal
    # names the resource's path, never its values.
    body = valid_sign()
    entries = body["prefetch"]["encounters"]["entry"]
    entries[0]["resource"]["status"] = {"secret": "Jane Doe"}
    with caplog.at_level(logging.ERROR):
        response = client.post(SIGN, json=body)
    assert response.status_code < 500
    if response.status_code != 200:
        answer = refused(response, response.status_code)
        assert answer["where"] == "$.prefetch.encounters.entry[0].resource"
        assert "Jane Doe" not in json.dumps(answer)
    assert "Jane Doe" not in caplog.text


# --- media types, methods ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("hook=order-sign", "application/x-www-form-urlencoded"),
        ("{}", "text/plain"),
        ("", "text/plain"),
        ("", None),
    ],
)
def test_a_body_that_is_not_json_is_always_415(
    client: FlaskClient, data: str, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    answer = refused(client.post(SIGN, data=data, headers=headers), 415)
    assert answer["error"] == "unsupported-media-type"


def test_an_empty_json_body_is_a_400(client: FlaskClient) -> None:
    refused(client.post(SIGN, data="", content_type="application/json"), 400)


@pytest.mark.parametrize("path", [SIGN, FEEDBACK])
def test_get_on_a_hook_is_405_with_allow(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    answer = refused(response, 405)
    assert answer["error"] == "method-not-allowed"
    assert "POST" in response.headers["Allow"]


def test_an_unknown_path_is_a_json_404(client: FlaskClient) -> None:
    assert refused(client.get("/cds-services/x/y/z"), 404)["error"] == "not-found"


def test_feedback_body_limits_hold_too(client: FlaskClient) -> None:
    text = '{"feedback": ' + "[" * 100 + "]" * 100 + "}"
    refused(client.post(FEEDBACK, data=text, content_type="application/json"), 400)
    refused(client.post(FEEDBACK, data="feedback", content_type="text/plain"), 415)


def test_patient_view_refuses_another_patients_prefetch(client: FlaskClient) -> None:
    body = hook_body("patient-view", PID, prefetch=full_prefetch(record_on(PID, DAY), PID))
    assert client.post(VIEW, json=body).status_code == 200
    body["prefetch"]["patient"]["id"] = "x"
    refused(client.post(VIEW, json=body), 400)


def test_a_large_valid_body_under_the_limit_is_read(tmp_path: Path) -> None:
    # The default limit (16 MiB) reads what real records send: a 3 MB prefetch is fine.
    app = make_app(tmp_path, today=DAY)
    body = valid_sign()
    body["context"]["note"] = "y" * 3_000_000
    assert app.test_client().post(SIGN, json=body).status_code == 200
