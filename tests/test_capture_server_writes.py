"""ServerStore writes with `responses`: conditional creates in a batch, If-Match updates, and
a 412 (someone changed the item meanwhile) re-read and re-planned once — never overwriting an
item billing staff have moved on."""

from __future__ import annotations

import json
from typing import Any

import responses

from cpoc_fhir.capture.plan import Action, Plan, Step
from cpoc_fhir.capture.server import ServerStore
from cpoc_fhir.fhir.client import FhirClient
from cpoc_fhir.fhir.write import charge_item_changed

BASE = "http://fhir.test/r4"
SYSTEM = "http://example.org/fhir/sid/cpoc-charge"


def item(status: str, level: str = "xx202", version: str = "1") -> dict[str, Any]:
    return {
        "resourceType": "ChargeItem",
        "id": "ci1",
        "meta": {"versionId": version},
        "identifier": [{"system": SYSTEM, "value": "p.treatment-month.2025-09-01"}],
        "status": status,
        "code": {"coding": [{"code": level}]},
        "subject": {"reference": "Patient/p"},
    }


def store() -> ServerStore:
    return ServerStore(FhirClient(BASE, sleep=lambda _s: None), SYSTEM, charge_item_changed)


def update_step(version: str = "1") -> Step:
    desired = {k: v for k, v in item("billable", "xx203").items() if k != "meta"}
    return Step(Action.UPDATE, "p.treatment-month.2025-09-01", desired, "ci1", version)


@responses.activate
def test_creates_are_conditional_in_one_batch() -> None:
    responses.post(
        BASE,
        json={
            "resourceType": "Bundle",
            "type": "batch-response",
            "entry": [
                {"response": {"status": "201 Created", "location": "ChargeItem/a/_history/1"}},
                {"response": {"status": "200 OK", "location": "ChargeItem/b/_history/3"}},
            ],
        },
    )
    steps = [Step(Action.CREATE, f"p.x.{n}", {"resourceType": "ChargeItem"}) for n in (1, 2)]
    outcomes = store().apply("p", Plan(steps))
    sent = json.loads(responses.calls[0].request.body)
    assert [e["request"]["ifNoneExist"] for e in sent["entry"]] == [
        f"identifier={SYSTEM}|p.x.1",
        f"identifier={SYSTEM}|p.x.2",
    ]
    assert [(o.outcome, o.chargeitem_id, o.version_id) for o in outcomes] == [
        ("created", "a", "1"),
        ("existed", "b", "3"),
    ]


@responses.activate
def test_update_sends_if_match() -> None:
    responses.put(
        f"{BASE}/ChargeItem/ci1", json=item("billable", "xx203", "2"), headers={"ETag": 'W/"2"'}
    )
    [outcome] = store().apply("p", Plan([update_step()]))
    assert responses.calls[0].request.headers["If-Match"] == 'W/"1"'
    assert (outcome.outcome, outcome.version_id) == ("updated", "2")


@responses.activate
def test_412_then_item_billed_by_staff_is_left_alone() -> None:
    responses.put(
        f"{BASE}/ChargeItem/ci1",
        status=412,
        json={
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "conflict", "diagnostics": "version conflict"}],
        },
    )
    responses.get(f"{BASE}/ChargeItem/ci1", json=item("billed", version="2"))
    [outcome] = store().apply("p", Plan([update_step()]))
    assert outcome.outcome == "unchanged" and "billing staff" in outcome.message
    assert [c.request.method for c in responses.calls] == ["PUT", "GET"]  # no second PUT


@responses.activate
def test_412_then_still_planned_is_retried_once_on_the_new_version() -> None:
    responses.put(
        f"{BASE}/ChargeItem/ci1", status=412, json={"resourceType": "OperationOutcome", "issue": []}
    )
    responses.get(f"{BASE}/ChargeItem/ci1", json=item("planned", version="2"))
    responses.put(
        f"{BASE}/ChargeItem/ci1", json=item("billable", "xx203", "3"), headers={"ETag": 'W/"3"'}
    )
    [outcome] = store().apply("p", Plan([update_step()]))
    assert outcome.outcome == "updated"
    assert responses.calls[2].request.headers["If-Match"] == 'W/"2"'
