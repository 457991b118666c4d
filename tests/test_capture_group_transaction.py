"""A group's creates in one transaction Bundle (``ServerStore._group_creates``, ``cpoc capture
--workers N``): sent when the server's CapabilityStatement lists ``transaction``; refused as a
whole, the same entries go in a batch so a bad entry fails alone; no answer, each patient's
own batch as before. HTTP with ``responses``; the refused transaction also against sekmet."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from capture_support import creates
from sekmet_server import SekmetServer, running_sekmet

from cpoc_fhir.capture.capabilities import allows_transaction
from cpoc_fhir.capture.plan import Action, Plan, Step
from cpoc_fhir.capture.server import ServerStore
from cpoc_fhir.fhir.client import FhirClient
from cpoc_fhir.fhir.errors import FhirServerError
from cpoc_fhir.fhir.write import charge_item_changed

BASE = "http://fhir.test/r4"
SYSTEM = "http://example.org/fhir/sid/cpoc-charge"


def statement(*system_interactions: str) -> dict[str, Any]:
    chargeitem = {
        "type": "ChargeItem",
        "updateCreate": True,
        "interaction": [{"code": "update"}, {"code": "create"}],
    }
    return {
        "resourceType": "CapabilityStatement",
        "rest": [
            {
                "mode": "server",
                "interaction": [{"code": c} for c in system_interactions],
                "resource": [chargeitem],
            }
        ],
    }


class Server:
    """Answers POSTed Bundles: ``refuse`` (status) for a transaction, else 201 per entry
    except the urls in ``bad`` (412); records each Bundle's type and urls."""

    def __init__(self, refuse: int | None = None, bad: tuple[str, ...] = ()) -> None:
        self.refuse = refuse
        self.bad = bad
        self.bundles: list[tuple[str, list[str]]] = []

    def __call__(self, request: Any) -> tuple[int, dict[str, str], str]:
        bundle = json.loads(request.body)
        urls = [e["request"]["url"] for e in bundle["entry"]]
        self.bundles.append((bundle["type"], urls))
        if bundle["type"] == "transaction" and self.refuse is not None:
            outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error"}]}
            return self.refuse, {}, json.dumps(outcome)
        entries = [
            {"response": {"status": "412 Precondition Failed"}}
            if url in self.bad
            else {"response": {"status": "201 Created", "location": f"{url}/_history/1"}}
            for url in urls
        ]
        answer = {"resourceType": "Bundle", "type": f"{bundle['type']}-response", "entry": entries}
        return 200, {}, json.dumps(answer)


def serve(server: Server, capabilities: dict[str, Any]) -> None:
    responses.get(f"{BASE}/metadata", json=capabilities)
    responses.add_callback(responses.POST, BASE, callback=server)
    # The sweeps' reads: no other item of any line.
    responses.get(f"{BASE}/ChargeItem", json={"resourceType": "Bundle", "type": "searchset"})


def store() -> ServerStore:
    client = FhirClient(BASE, sleep=lambda _s: None)
    return ServerStore(client, SYSTEM, charge_item_changed)


def outcomes(out: list[Any]) -> list[list[tuple[str, str]]]:
    return [[(o.identifier.split(".")[0], o.outcome) for o in one] for one in out]


def test_the_capability_statement_says_whether_the_server_takes_transactions() -> None:
    assert allows_transaction(statement("transaction", "batch"))
    assert not allows_transaction(statement("batch"))
    assert not allows_transaction(statement())
    assert not allows_transaction({"resourceType": "CapabilityStatement"})
    client_mode = {"rest": [{"mode": "client", "interaction": [{"code": "transaction"}]}]}
    assert not allows_transaction(client_mode)  # what the server does as a client: not this


@responses.activate
def test_a_groups_creates_go_in_one_transaction_when_the_server_takes_them() -> None:
    server = Server()
    serve(server, statement("transaction", "batch"))
    out = store().apply_many([creates("a", 2), ("b", Plan()), creates("c", 1)])
    # One transaction with every patient's PUTs in patient order (a: 2, c: 1), no batch.
    assert server.bundles == [
        ("transaction", ["ChargeItem/cpoc-a-1", "ChargeItem/cpoc-a-2", "ChargeItem/cpoc-c-1"])
    ]
    assert outcomes(out) == [[("a", "created"), ("a", "created")], [], [("c", "created")]]
    # updateCreate and transactions are both read from one GET metadata.
    assert [c.request.url for c in responses.calls].count(f"{BASE}/metadata") == 1


@responses.activate
def test_without_transaction_in_the_statement_the_group_goes_in_a_batch() -> None:
    server = Server()
    serve(server, statement("batch"))
    out = store().apply_many([creates("a", 1), creates("b", 1)])
    assert server.bundles == [("batch", ["ChargeItem/cpoc-a-1", "ChargeItem/cpoc-b-1"])]
    assert outcomes(out) == [[("a", "created")], [("b", "created")]]


@responses.activate
def test_a_transaction_refused_for_one_entry_is_sent_as_a_batch_where_that_entry_fails_alone() -> (
    None
):
    # The server refuses the transaction (412: as sekmet does when a conditional create
    # matches two items); the batch of the same entries fails b's entry alone. Transactions
    # stay on: the next group is sent as a transaction again.
    server = Server(refuse=412, bad=("ChargeItem/cpoc-b-1",))
    serve(server, statement("transaction", "batch"))
    writer = store()
    out = writer.apply_many([creates("a", 1), creates("b", 1), creates("c", 1)])
    sent = ["ChargeItem/cpoc-a-1", "ChargeItem/cpoc-b-1", "ChargeItem/cpoc-c-1"]
    assert server.bundles == [("transaction", sent), ("batch", sent)]
    assert outcomes(out) == [[("a", "created")], [("b", "failed")], [("c", "created")]]
    writer.apply_many([creates("d", 1), creates("e", 1)])
    assert [kind for kind, _ in server.bundles[2:]] == ["transaction", "batch"]


@responses.activate
def test_a_server_refusing_transactions_as_such_gets_batches_for_the_rest_of_the_run() -> None:
    # 405 for the transaction although every entry is fine (the batch takes them all): the
    # run stops sending transactions after the first.
    server = Server(refuse=405)
    serve(server, statement("transaction", "batch"))
    writer = store()
    first = writer.apply_many([creates("a", 1), creates("b", 1)])
    second = writer.apply_many([creates("c", 1), creates("d", 1)])
    assert [kind for kind, _ in server.bundles] == ["transaction", "batch", "batch"]
    assert outcomes(first) + outcomes(second) == [[(p, "created")] for p in "abcd"]


@responses.activate
def test_a_transaction_without_answer_is_sent_again_as_each_patients_own_batch() -> None:
    # 503 on every try of the transaction (the transport's retries, then FhirServerError):
    # not "refused" — perhaps applied — so, as for a group batch without answer, each
    # patient's creates are sent again in its own batch (PUTs by id: a repeat is harmless).
    server = Server(refuse=503)
    serve(server, statement("transaction", "batch"))
    out = store().apply_many([creates("a", 1), creates("b", 2)])
    kinds = [kind for kind, _ in server.bundles]
    assert set(kinds[:-2]) == {"transaction"} and len(kinds) > 3  # retried, then given up
    assert server.bundles[-2:] == [
        ("batch", ["ChargeItem/cpoc-a-1"]),
        ("batch", ["ChargeItem/cpoc-b-1", "ChargeItem/cpoc-b-2"]),
    ]
    assert outcomes(out) == [[("a", "created")], [("b", "created"), ("b", "created")]]


# --- against sekmet ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def fhir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SekmetServer]:
    with running_sekmet(tmp_path_factory.mktemp("sekmet-transaction") / "server") as server:
        yield server


def live(base: str, identifier: str) -> list[dict[str, Any]]:
    found = requests.get(
        f"{base}/ChargeItem", params={"identifier": f"{SYSTEM}|{identifier}"}, timeout=30
    ).json()
    return [e["resource"] for e in found.get("entry") or []]


def test_on_sekmet_a_refused_transaction_applies_nothing_and_the_batch_fails_one_entry(
    fhir: SekmetServer, tmp_path: Path
) -> None:
    # Conditional creates (no updateCreate). Line x of patient p already has two items (a
    # race of earlier runs): its If-None-Exist matches two, which sekmet answers 412 — in a
    # transaction that refuses the whole group. The batch then creates q's line and fails
    # p's alone; nothing was applied twice.
    client = FhirClient(fhir.base_url)
    for n in (1, 2):
        client.create(
            {
                "resourceType": "ChargeItem",
                "status": "billable",
                "code": {"text": "earlier run"},
                "subject": {"reference": "Patient/p"},
                "identifier": [{"system": SYSTEM, "value": "p.x.2025-03-01"}],
                "meta": {"tag": [{"code": f"copy-{n}"}]},
            }
        )
    writer = ServerStore(client, SYSTEM, charge_item_changed, update_create=False, sweep=False)
    assert writer.transactions  # sekmet lists the transaction interaction

    def step(identifier: str, patient: str) -> Step:
        resource = {
            "resourceType": "ChargeItem",
            "status": "billable",
            "code": {"text": "this run"},
            "subject": {"reference": f"Patient/{patient}"},
            "identifier": [{"system": SYSTEM, "value": identifier}],
        }
        return Step(Action.CREATE, identifier, resource)

    with pytest.raises(FhirServerError) as refused:  # what the group's transaction gets
        client.transaction([writer._conditional_entry(step("p.x.2025-03-01", "p"))])
    assert refused.value.status == 412
    out = writer.apply_many(
        [("p", Plan([step("p.x.2025-03-01", "p")])), ("q", Plan([step("q.x.2025-03-01", "q")]))]
    )
    assert [[o.outcome for o in one] for one in out] == [["failed"], ["created"]]  # type: ignore[union-attr]
    assert len(live(fhir.base_url, "p.x.2025-03-01")) == 2  # nothing added to p's line
    assert [r["code"]["text"] for r in live(fhir.base_url, "q.x.2025-03-01")] == ["this run"]
    client.close()
