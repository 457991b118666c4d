"""Prefetch, fetch from the client's FHIR server, or 412 (CDS Hooks 2.0.1 §Prefetch Template).

The FHIR server is a `responses` double here; tests/test_cds_sekmet.py does the same against a
real server.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from cds_support import example_resources, full_prefetch, hook_body, make_app, searchset

from cpoc_fhir.fhir.record_queries import RECORD_QUERIES

BASE = "https://ehr.example/fhir"
TOKEN = "tok-3f9a-secret-value"
PATIENT = "appendix-b-nsclc"
TODAY = "2025-07-15"


def record() -> list[dict[str, Any]]:
    return example_resources(PATIENT)


def serve_record(resources: list[dict[str, Any]], fail: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    """Answer the Patient read and each type-level search from ``resources``."""
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    responses.get(f"{BASE}/Patient/{PATIENT}", json=patient)
    for query in RECORD_QUERIES:
        kind = query.resource_type
        if kind in fail:
            responses.get(f"{BASE}/{kind}", status=503, json={"resourceType": "OperationOutcome"})
            continue
        found = [r for r in resources if r["resourceType"] == kind]
        responses.get(f"{BASE}/{kind}", json=searchset(found))


def calls_to(kind: str) -> list[Any]:
    return [c for c in responses.calls if urlsplit(c.request.url).path.endswith(f"/{kind}")]


def post(tmp_path: Path, body: dict[str, Any]) -> Any:
    tmp_path.mkdir(exist_ok=True)
    app = make_app(tmp_path, today=TODAY)
    return app, app.test_client().post("/cds-services/cpoc-patient-view", json=body)


@responses.activate
def test_without_prefetch_the_record_is_read_with_the_clients_token(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    serve_record(record())
    auth = {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 300, "scope": "x"}
    body = hook_body("patient-view", PATIENT, fhirServer=BASE, fhirAuthorization=auth)
    app, response = post(tmp_path, body)
    assert response.status_code == 200
    assert response.get_json()["cards"][0]["summary"].startswith("CPOC month 4")
    assert len(responses.calls) == 1 + len(RECORD_QUERIES)
    assert {c.request.headers["Authorization"] for c in responses.calls} == {f"Bearer {TOKEN}"}
    observations = calls_to("Observation")[0].request.url
    assert "http://loinc.org|89247-1" in parse_qs(urlsplit(observations).query)["code"][0]
    # The token appears in no log record and no audit row.
    assert TOKEN not in caplog.text
    assert TOKEN not in json.dumps(app.extensions["cpoc"].log.invocations(), default=str)


@responses.activate
def test_only_missing_keys_are_fetched_and_null_means_no_data(tmp_path: Path) -> None:
    serve_record(record())
    prefetch = full_prefetch(record(), PATIENT)
    del prefetch["observations"]  # not sent: the service reads it
    prefetch["procedures"] = None  # sent as null: the client has none, nothing to read
    prefetch["encounters"] = {"resourceType": "OperationOutcome", "issue": []}  # client failed
    body = hook_body("patient-view", PATIENT, prefetch=prefetch, fhirServer=BASE)
    _, response = post(tmp_path, body)
    assert response.status_code == 200
    fetched = sorted(urlsplit(c.request.url).path.rsplit("/", 1)[-1] for c in responses.calls)
    assert fetched == ["Encounter", "Observation"]


def test_missing_prefetch_without_a_fhir_server_is_412_naming_the_keys(tmp_path: Path) -> None:
    prefetch = full_prefetch(record(), PATIENT)
    del prefetch["conditions"], prefetch["encounters"]
    _, response = post(tmp_path, hook_body("patient-view", PATIENT, prefetch=prefetch))
    assert response.status_code == 412
    body = response.get_json()
    assert body["error"] == "precondition-failed"
    assert "conditions" in body["message"] and "encounters" in body["message"]


@responses.activate
def test_a_failing_fhir_server_is_412_not_500(tmp_path: Path) -> None:
    serve_record(record(), fail={"Condition"})
    _, response = post(tmp_path, hook_body("patient-view", PATIENT, fhirServer=BASE))
    assert response.status_code == 412
    assert "could not be read" in response.get_json()["message"]


@responses.activate
def test_a_paginated_prefetch_is_read_to_the_end(tmp_path: Path) -> None:
    resources = record()
    administrations = [r for r in resources if r["resourceType"] == "MedicationAdministration"]
    first, rest = administrations[:3], administrations[3:]
    page_two = f"{BASE}/MedicationAdministration?page=2"
    prefetch = full_prefetch(resources, PATIENT)
    prefetch["medicationAdministrations"] = {
        **searchset(first),
        "link": [{"relation": "next", "url": page_two}],
    }
    responses.get(page_two, json=searchset(rest))
    body = hook_body("patient-view", PATIENT, prefetch=prefetch, fhirServer=BASE)
    _, complete = post(tmp_path / "a", body)
    assert complete.status_code == 200
    assert len(responses.calls) == 1
    expected = post(
        tmp_path / "b",
        hook_body("patient-view", PATIENT, prefetch=full_prefetch(resources, PATIENT)),
    )[1]
    assert complete.get_json()["cards"][0]["summary"] == expected.get_json()["cards"][0]["summary"]
    del body["fhirServer"]
    _, partial = post(tmp_path / "c", body)
    assert partial.status_code == 412
    assert "paginated" in partial.get_json()["message"]


@responses.activate
def test_medications_referenced_by_orders_are_read(tmp_path: Path) -> None:
    resources = record()
    orders = [r for r in resources if r["resourceType"] == "MedicationRequest"]
    concept = orders[0].pop("medicationCodeableConcept")
    orders[0]["medicationReference"] = {"reference": "Medication/med-1"}
    medication = {"resourceType": "Medication", "id": "med-1", "code": concept}
    responses.get(f"{BASE}/Medication/med-1", json=medication)
    body = hook_body(
        "patient-view", PATIENT, prefetch=full_prefetch(resources, PATIENT), fhirServer=BASE
    )
    _, response = post(tmp_path, body)
    assert response.status_code == 200
    assert [c.request.url for c in responses.calls] == [f"{BASE}/Medication/med-1"]
