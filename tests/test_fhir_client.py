"""FHIR client against an HTTP double: reads, paged search, conditional writes, bundles, errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import responses
from responses import matchers

from cpoc_fhir.fhir.client import (
    FhirClient,
    FhirNotFound,
    FhirPreconditionFailed,
    FhirResponseError,
    FhirServerError,
    check_base_url,
)
from cpoc_fhir.fhir.json_text import dumps
from cpoc_fhir.fhir.results import create_entry, replayable, update_entry

BASE = "https://ehr.example/fhir"
FHIR_JSON = "application/fhir+json"


def outcome(*texts: str, code: str = "processing") -> dict[str, Any]:
    issues = [{"severity": "error", "code": code, "diagnostics": t} for t in texts]
    return {"resourceType": "OperationOutcome", "issue": issues}


def charge_item(item_id: str | None = None, version: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "resourceType": "ChargeItem",
        "identifier": [{"system": "urn:cpoc:line", "value": "p1-2026-03-xx204"}],
        "status": "billable",
        "code": {"coding": [{"code": "xx204"}]},
        "subject": {"reference": "Patient/p1"},
    }
    if item_id:
        item["id"] = item_id
    if version:
        item["meta"] = {"versionId": version}
    return item


def searchset(ids: list[str], next_url: str | None, include: str | None = None) -> dict[str, Any]:
    entries: list[dict[str, Any]] = [
        {"resource": {"resourceType": "ChargeItem", "id": i}, "search": {"mode": "match"}}
        for i in ids
    ]
    if include:
        entries.append(
            {"resource": {"resourceType": "Patient", "id": include}, "search": {"mode": "include"}}
        )
    links = [{"relation": "self", "url": f"{BASE}/ChargeItem"}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    return {"resourceType": "Bundle", "type": "searchset", "link": links, "entry": entries}


@pytest.fixture
def server() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def client() -> FhirClient:
    return FhirClient(BASE, sleep=lambda _s: None)


def test_read_returns_the_resource_and_asks_for_fhir_json(server, client):
    server.get(
        f"{BASE}/ChargeItem/ci-1",
        json=charge_item("ci-1", "3"),
        match=[matchers.header_matcher({"Accept": FHIR_JSON})],
    )
    assert client.read("ChargeItem", "ci-1")["meta"]["versionId"] == "3"
    assert server.calls[0].request.headers["User-Agent"].startswith("cpoc-fhir/")


def test_read_of_a_missing_resource_raises_not_found_with_the_servers_words(server, client):
    server.get(f"{BASE}/ChargeItem/gone", status=404, json=outcome("ChargeItem/gone not found"))
    with pytest.raises(FhirNotFound) as caught:
        client.read("ChargeItem", "gone")
    assert str(caught.value) == "GET ChargeItem/gone → 404 Not Found: ChargeItem/gone not found"
    assert caught.value.status == 404
    assert caught.value.operation_outcome is not None


@pytest.mark.parametrize(("kind", "rid"), [("ChargeItem", "../Patient/x"), ("chargeitem", "a")])
def test_read_refuses_a_malformed_type_or_id(client, kind, rid):
    with pytest.raises(ValueError):
        client.read(kind, rid)


def test_search_follows_next_links_across_three_pages(server, client):
    page2 = f"{BASE}/ChargeItem?subject=Patient%2Fp1&_count=2&_offset=2"
    page3 = f"{BASE}/ChargeItem?subject=Patient%2Fp1&_count=2&_offset=4"
    server.get(
        f"{BASE}/ChargeItem",
        json=searchset(["a", "b"], page2, include="p1"),
        match=[matchers.query_param_matcher({"subject": "Patient/p1", "_count": "2"})],
    )
    server.get(page2, json=searchset(["c", "d"], page3))
    server.get(page3, json=searchset(["e"], None))
    found = client.search("ChargeItem", {"subject": "Patient/p1", "_count": "2"})
    assert [r["id"] for r in found] == ["a", "b", "c", "d", "e"]  # the included Patient is not
    assert [c.request.url for c in server.calls][1:] == [page2, page3]


def test_search_yields_entries_without_a_search_mode(server, client):
    bundle = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": {"id": "x"}}]}
    server.get(f"{BASE}/Claim", json=bundle)
    assert [r["id"] for r in client.search("Claim")] == ["x"]


def test_search_resolves_a_relative_next_link(server, client):
    server.get(f"{BASE}/ChargeItem", json=searchset(["a"], "ChargeItem?_page=2"))
    server.get(f"{BASE}/ChargeItem?_page=2", json=searchset(["b"], None))
    assert len(list(client.search_bundles("ChargeItem"))) == 2


def test_search_refuses_a_next_link_to_another_server(server, client):
    server.get(f"{BASE}/ChargeItem", json=searchset(["a"], "https://evil.example/fhir/x?p=2"))
    with pytest.raises(FhirResponseError, match=r"another server \(https://evil.example\)"):
        list(client.search("ChargeItem"))
    assert len(server.calls) == 1


def test_search_stops_on_a_next_link_that_loops(server, client):
    server.get(f"{BASE}/ChargeItem", json=searchset(["a"], f"{BASE}/ChargeItem"))
    with pytest.raises(FhirResponseError, match="repeats"):
        list(client.search("ChargeItem"))


def test_conditional_create_201_then_200_with_the_same_id(server, client):
    condition = "identifier=urn:cpoc:line|p1-2026-03-xx204"
    sent = matchers.header_matcher({"If-None-Exist": condition, "Content-Type": FHIR_JSON})
    location = f"{BASE}/ChargeItem/ci-9/_history/1"
    server.post(f"{BASE}/ChargeItem", status=201, headers={"Location": location}, match=[sent])
    server.post(f"{BASE}/ChargeItem", status=200, json=charge_item("ci-9", "1"), match=[sent])
    first = client.create(charge_item(), if_none_exist=condition)
    again = client.create(charge_item(), if_none_exist=condition)
    assert (first.status, first.created, first.id, first.version) == (201, True, "ci-9", "1")
    assert (again.status, again.created, again.id, again.version) == (200, False, "ci-9", "1")
    assert json.loads(server.calls[0].request.body) == charge_item()


@pytest.mark.parametrize("if_match", ["1", 'W/"1"'])
def test_update_puts_at_the_id_with_if_match(server, client, if_match):
    server.put(
        f"{BASE}/ChargeItem/ci-1",
        json=charge_item("ci-1", "2"),
        headers={"ETag": 'W/"2"'},
        match=[matchers.header_matcher({"If-Match": 'W/"1"'})],
    )
    result = client.update(charge_item("ci-1", "1"), if_match=if_match)
    assert (result.status, result.id, result.version, result.etag) == (200, "ci-1", "2", 'W/"2"')


def test_stale_if_match_raises_precondition_failed_without_retrying(server, client):
    text = 'Version conflict: If-Match W/"1" but current is 2'
    server.put(f"{BASE}/ChargeItem/ci-1", status=412, json=outcome(text, code="conflict"))
    with pytest.raises(FhirPreconditionFailed) as caught:
        client.update(charge_item("ci-1"), if_match="1")
    assert str(caught.value) == f"PUT ChargeItem/ci-1 → 412 Precondition Failed: {text}"
    assert len(server.calls) == 1


def test_update_needs_an_id(client):
    with pytest.raises(ValueError, match="without an id"):
        client.update(charge_item())


def test_error_text_joins_issues_and_never_quotes_the_request(server, client):
    body = outcome("Field required (ChargeItem.code)")
    body["issue"].append({"severity": "error", "code": "invalid", "details": {"text": "Bad ref"}})
    server.post(f"{BASE}/ChargeItem", status=400, json=body)
    resource = {**charge_item(), "note": [{"text": "Jane Doe, MRN 123456"}]}
    with pytest.raises(FhirServerError) as caught:
        client.create(resource)
    message = str(caught.value)
    assert message == (
        "POST ChargeItem → 400 Bad Request: Field required (ChargeItem.code); Bad ref"
    )
    assert "123456" not in message


def test_an_error_without_operation_outcome_quotes_the_body_briefly(server, client):
    server.get(f"{BASE}/metadata", status=418, body="<html>" + "x" * 1000 + "</html>")
    with pytest.raises(FhirServerError) as caught:
        client.capabilities()
    assert caught.value.operation_outcome is None
    assert len(str(caught.value)) < 400


def test_a_success_that_is_not_json_is_a_response_error(server, client):
    server.get(f"{BASE}/ChargeItem/ci-1", body="<html>login</html>")
    with pytest.raises(
        FhirResponseError,
        match=rf"^{BASE}/ChargeItem/ci-1 answered text/plain, not a FHIR ChargeItem$",
    ):
        client.read("ChargeItem", "ci-1")


def test_a_search_answered_by_a_web_page_names_the_query_without_its_values(server, client):
    server.get(f"{BASE}/Patient", body="<html>login</html>", content_type="text/html")
    with pytest.raises(FhirResponseError) as caught:
        list(client.search("Patient", {"family": "Smith", "birthdate": "1950-01-01"}))
    assert str(caught.value) == (
        f"{BASE}/Patient?family=…&birthdate=… answered text/html, not a FHIR Bundle"
    )


def test_an_html_error_page_is_quoted_by_its_title(server, client):
    page = "<html><head><title>502 Bad Gateway</title></head><body>" + "<p>x</p>" * 400
    server.get(f"{BASE}/Patient/p1", status=404, body=page, content_type="text/html")
    with pytest.raises(FhirServerError) as caught:
        client.read("Patient", "p1")
    assert str(caught.value) == "GET Patient/p1 → 404 Not Found: 502 Bad Gateway"


def test_an_untitled_html_page_gives_its_first_line_of_text(server, client):
    page = "<html><body><script>var a=1;</script>\n<h1>Service   down</h1><p>later</p>"
    server.get(f"{BASE}/Patient/p1", status=404, body=page, content_type="text/html")
    with pytest.raises(FhirServerError, match=r"404 Not Found: Service down$"):
        client.read("Patient", "p1")


@pytest.mark.parametrize("url", ["not-a-url", "ftp://x/fhir", "http://", "/fhir", ""])
def test_a_base_that_is_no_http_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match=r"^not a URL: give http\(s\)://host/path$"):
        check_base_url(url)
    check_base_url("https://ehr.example/fhir")


def batch_response(kind: str, *responses_: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": f"{kind}-response",
        "entry": [{"response": r} for r in responses_],
    }


def test_batch_reports_each_entry_including_a_failed_one(server, client):
    entries = [
        create_entry(charge_item(), "identifier=urn:cpoc:line|a"),
        create_entry(charge_item(), "identifier=urn:cpoc:line|b"),
        update_entry(charge_item("ci-3"), "4"),
    ]
    answer = batch_response(
        "batch",
        {"status": "201 Created", "location": "ChargeItem/ci-1/_history/1", "etag": 'W/"1"'},
        {"status": "200 OK", "location": "ChargeItem/ci-2/_history/5"},
        {"status": "412 Precondition Failed", "outcome": outcome("current is 5")},
    )
    server.post(BASE, json=answer)
    results = client.batch(entries)
    sent = json.loads(server.calls[0].request.body)
    assert (sent["resourceType"], sent["type"], sent["entry"]) == ("Bundle", "batch", entries)
    assert [(r.status, r.created, r.id, r.version) for r in results] == [
        (201, True, "ci-1", "1"),
        (200, False, "ci-2", "5"),
        (412, False, None, None),
    ]
    assert not results[2].ok and results[2].outcome == "current is 5"
    assert results[2].index == 2 and results[2].operation_outcome is not None


def test_a_transaction_that_fails_raises_and_names_the_bundle(server, client):
    server.post(BASE, status=412, json=outcome("Transaction rolled back: version conflict"))
    with pytest.raises(FhirPreconditionFailed) as caught:
        client.transaction([update_entry(charge_item("ci-1"), "1")])
    assert str(caught.value).startswith("POST transaction Bundle → 412 Precondition Failed")


def test_a_transaction_response_is_parsed(server, client):
    answer = batch_response("transaction", {"status": "201", "location": "Basic/b1"})
    server.post(BASE, json=answer)
    [result] = client.transaction([create_entry({"resourceType": "Basic"})])
    assert (result.status, result.resource_type, result.id) == (201, "Basic", "b1")


def test_a_batch_answer_with_too_few_entries_is_a_response_error(server, client):
    server.post(BASE, json=batch_response("batch", {"status": "201"}))
    with pytest.raises(FhirResponseError, match="1 entries for 2 sent"):
        client.batch([create_entry(charge_item()), create_entry(charge_item())])


def test_an_empty_batch_sends_nothing(server, client):
    assert client.batch([]) == []


def test_entries_are_replayable_only_when_every_post_is_conditional():
    conditional = create_entry(charge_item(), "identifier=urn:x|1")
    assert replayable([conditional, update_entry(charge_item("a"))])
    assert not replayable([conditional, create_entry(charge_item())])


def test_capabilities_reads_metadata(server, client):
    server.get(
        f"{BASE}/metadata", json={"resourceType": "CapabilityStatement", "fhirVersion": "4.0.1"}
    )
    assert client.capabilities()["fhirVersion"] == "4.0.1"


def test_decimal_money_goes_on_the_wire_exactly(server, client):
    server.post(f"{BASE}/ChargeItem", status=201, headers={"Location": "ChargeItem/c1"})
    price = {"value": Decimal("430.10"), "currency": "USD"}
    client.create({**charge_item(), "priceOverride": price})
    assert b'"priceOverride":{"value":430.10,"currency":"USD"}' in server.calls[0].request.body


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), object()])
def test_json_text_refuses_what_json_cannot_say(value):
    with pytest.raises((ValueError, TypeError)):
        dumps({"value": value})


def test_json_text_indents_and_keeps_decimal_digits():
    assert dumps({"a": [Decimal("1E+2"), Decimal("0.50")]}, indent=1) == (
        '{\n "a": [\n  100,\n  0.50\n ]\n}'
    )
