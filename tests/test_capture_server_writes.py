"""ServerStore writes with `responses`: conditional creates in a batch, If-Match updates, and
a 412 (someone changed the item meanwhile) re-read and re-planned once — never overwriting an
item billing staff have moved on."""

from __future__ import annotations

import json
from typing import Any

import responses

from cpoc_fhir.capture.capabilities import allows_update_create
from cpoc_fhir.capture.ids import charge_item_id
from cpoc_fhir.capture.plan import Action, Plan, Step
from cpoc_fhir.capture.server import ServerStore
from cpoc_fhir.fhir.client import FhirClient
from cpoc_fhir.fhir.write import charge_item_changed

BASE = "http://fhir.test/r4"
SYSTEM = "http://example.org/fhir/sid/cpoc-charge"
ID1, ID2 = charge_item_id(SYSTEM, "p.x.1"), charge_item_id(SYSTEM, "p.x.2")


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


def store(update_create: bool = False, sweep: bool = False) -> ServerStore:
    client = FhirClient(BASE, sleep=lambda _s: None)
    return ServerStore(client, SYSTEM, charge_item_changed, update_create, sweep)


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


def capability(chargeitem: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "CapabilityStatement",
        "rest": [{"mode": "server", "resource": [{"type": "ChargeItem", **chargeitem}]}],
    }


def test_update_create_is_read_from_the_capability_statement() -> None:
    update = {"interaction": [{"code": "update"}, {"code": "create"}]}
    # sekmet-fhir 's statement for ChargeItem says updateCreate true, with update.
    assert allows_update_create(capability({**update, "updateCreate": True}))
    assert not allows_update_create(capability({**update, "updateCreate": False}))
    assert not allows_update_create(capability(update))  # absent: R4's default is false
    assert not allows_update_create(capability({"updateCreate": True}))  # no update at all
    assert not allows_update_create({"resourceType": "CapabilityStatement"})


@responses.activate
def test_the_store_asks_the_server_once_whether_it_allows_update_create() -> None:
    responses.get(
        f"{BASE}/metadata",
        json=capability({"interaction": [{"code": "update"}], "updateCreate": True}),
    )
    server = ServerStore(FhirClient(BASE), SYSTEM, charge_item_changed)
    assert server.update_create and server.update_create
    assert len(responses.calls) == 1


@responses.activate
def test_creates_are_puts_by_deterministic_id_when_the_server_allows_update_create() -> None:
    responses.post(
        BASE,
        json={
            "resourceType": "Bundle",
            "type": "batch-response",
            "entry": [
                {"response": {"status": "201 Created", "location": f"ChargeItem/{ID1}/_history/1"}},
                {"response": {"status": "200 OK", "location": f"ChargeItem/{ID2}/_history/2"}},
            ],
        },
    )
    steps = [
        Step(Action.CREATE, f"p.x.{n}", {"resourceType": "ChargeItem"}, new_id=new_id)
        for n, new_id in ((1, ID1), (2, ID2))
    ]
    outcomes = store(update_create=True).apply("p", Plan(steps))
    sent = json.loads(responses.calls[0].request.body)
    assert [e["request"] for e in sent["entry"]] == [
        {"method": "PUT", "url": f"ChargeItem/{ID1}"},
        {"method": "PUT", "url": f"ChargeItem/{ID2}"},
    ]
    assert [e["resource"]["id"] for e in sent["entry"]] == [ID1, ID2]
    # 200: the id existed (another run, or our own write whose answer was lost).
    assert [(o.outcome, o.chargeitem_id) for o in outcomes] == [("created", ID1), ("existed", ID2)]


@responses.activate
def test_a_line_recreated_without_update_create_is_a_plain_post() -> None:
    """If-None-Exist on the identifier would match the retired item: a plain create, sent once."""
    responses.post(
        f"{BASE}/ChargeItem", status=201, headers={"Location": "ChargeItem/n2/_history/1"}
    )
    step = Step(Action.CREATE, "p.x.1", {"resourceType": "ChargeItem"}, new_id=ID1, recreate=True)
    [outcome] = store().apply("p", Plan([step]))
    assert "If-None-Exist" not in responses.calls[0].request.headers
    assert (outcome.outcome, outcome.chargeitem_id) == ("created", "n2")


def live(item_id: str, version: str = "1") -> dict[str, Any]:
    return {
        "resourceType": "ChargeItem",
        "id": item_id,
        "meta": {"versionId": version},
        "identifier": [{"system": SYSTEM, "value": "p.x.1"}],
        "status": "planned",
        "subject": {"reference": "Patient/p"},
    }


@responses.activate
def test_the_sweep_retires_a_second_live_item_of_a_line_just_created() -> None:
    """Two runs raced a non-atomic conditional create: the sweep keeps the lowest id (the one
    every run keeps) and retires the other with If-Match."""
    responses.post(
        BASE,
        json={
            "resourceType": "Bundle",
            "type": "batch-response",
            "entry": [
                {"response": {"status": "201 Created", "location": "ChargeItem/b/_history/1"}}
            ],
        },
    )
    responses.get(
        f"{BASE}/ChargeItem",
        json={
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [{"resource": live("b")}, {"resource": live("a", "3")}],
        },
    )
    responses.put(f"{BASE}/ChargeItem/b", json=dict(live("b", "2"), status="entered-in-error"))
    step = Step(Action.CREATE, "p.x.1", {"resourceType": "ChargeItem"}, new_id=ID1)
    outcomes = store(sweep=True).apply("p", Plan([step]))
    assert [(o.outcome, o.chargeitem_id) for o in outcomes] == [
        ("created", "b"),
        ("duplicate-retired", "b"),
    ]
    assert "kept ChargeItem/a" in outcomes[1].message
    put = responses.calls[2].request
    assert put.headers["If-Match"] == 'W/"1"'
    assert json.loads(put.body)["status"] == "entered-in-error"
