"""Issue 17 items 1, 2, 2b, 3: the patient page for billing staff, the timeline picture on it,
several launches in one browser, the evidence viewer. The pure parts with facts built here; the
pages through the real SMART launch (the mock in front of a capture-seeded sekmet)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st
from review_support import items_of, review_flask_app, seeded_sekmet, smart_in_front_of
from sekmet_server import SekmetServer
from smart_mock import SmartMock
from werkzeug.test import TestResponse

from cds_hooks.review import flash
from cds_hooks.review.compare import Comparison, Match, server_item
from cds_hooks.review.patient_summary import (
    medical_record_number,
    month_rows,
    patient_header,
    summary_words,
    year_totals,
)
from cds_hooks.review.resource_view import belongs_to, summarise
from cds_hooks.review.sessions import COOKIE, session_cookie_name
from cpoc_fhir.engine.facts import CoverageFact
from cpoc_fhir.fhir.write.review_marks import HOLD_EXTENSION

SYSTEM, CODESYSTEM = "urn:practice", "urn:cpoc"


# --- pure: header, rows, totals ----------------------------------------------------------------
PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "p1",
    "name": [
        {"use": "nickname", "text": "Al"},
        {"use": "official", "given": ["Alma"], "family": "S"},
    ],
    "birthDate": "1957-04-02",
    "gender": "female",
    "identifier": [
        {"system": "urn:ssn", "value": "999-00-1111"},  # not typed MR: not the MRN
        {
            "type": {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}
                ]
            },
            "value": "MRN-0042",
        },
    ],
}


def test_the_header_names_the_patient_with_birth_date_sex_mrn_and_primary_payer() -> None:
    coverages = (
        CoverageFact("Coverage/sec", "Organization/b", date(2024, 1, 1), None, 2, "Blue Plan"),
        CoverageFact("Coverage/pri", "Organization/m", date(2024, 1, 1), None, 1, "Medicare"),
        # ended before the day: not in force
        CoverageFact("Coverage/old", "Organization/x", date(2020, 1, 1), date(2023, 12, 31), 0),
    )
    header = patient_header(PATIENT, coverages, date(2025, 10, 5), "Patient/p1")
    assert (header.name, header.birth_date, header.sex) == ("Alma S", "1957-04-02", "Female")
    assert header.mrn == "MRN-0042"
    assert header.payer == "Medicare"  # order 1 beats order 2
    bare = patient_header(
        {"resourceType": "Patient", "id": "p2"}, (), date(2025, 1, 1), "Patient/p2"
    )
    assert (bare.name, bare.birth_date, bare.sex, bare.mrn, bare.payer) == (
        "Patient/p2",
        "",
        "",
        "",
        "",
    )


def test_an_identifier_typed_by_code_alone_counts_as_mrn_another_system_does_not() -> None:
    code_only = {"identifier": [{"type": {"coding": [{"code": "MR"}]}, "value": "7"}]}
    other = {
        "identifier": [{"type": {"coding": [{"system": "urn:x", "code": "MR"}]}, "value": "8"}]
    }
    assert medical_record_number(code_only) == "7" and medical_record_number(other) == ""


def item(item_id: str, status: str, amount: str | None, start: str, hold: bool = False) -> Any:
    resource: dict[str, Any] = {
        "resourceType": "ChargeItem",
        "id": item_id,
        "status": status,
        "code": {"coding": [{"system": CODESYSTEM, "code": "xx204"}]},
        "occurrencePeriod": {"start": start, "end": start},
        "subject": {"reference": "Patient/p1"},
    }
    if amount is not None:
        resource["priceOverride"] = {"value": amount, "currency": "USD"}
    if hold:
        resource["extension"] = [{"url": HOLD_EXTENSION, "valueString": "x"}]
    return server_item(resource, SYSTEM, CODESYSTEM)


def test_year_totals_split_billed_planned_and_on_hold() -> None:
    items = [
        item("a", "billable", "800.00", "2024-11-03"),
        item("b", "billed", "250.00", "2024-12-03"),
        item("c", "planned", "300.00", "2025-01-03"),
        item("d", "planned", "250.00", "2025-02-03", hold=True),
        item("e", "billable", "800.00", "2025-03-03"),
        item("f", "not-billable", "800.00", "2025-04-03"),  # neither billed nor waiting
        item("g", "billable", None, "2025-05-03"),  # no amount: adds nothing
    ]
    totals = year_totals(items)
    # 2024: billed 800 + 250 = 1050; 2025: billed 800, planned 300, on hold 250
    assert [(t.year, t.currency, t.billed, t.planned, t.on_hold) for t in totals] == [
        (2024, "USD", Decimal("1050.00"), Decimal("0"), Decimal("0")),
        (2025, "USD", Decimal("800.00"), Decimal("300.00"), Decimal("250.00")),
    ]


def test_rows_need_action_when_planned_or_different_and_are_counted_in_words() -> None:
    planned, billed = (
        item("a", "planned", "1", "2025-01-03"),
        item("b", "billable", "1", "2025-02-03"),
    )
    rows = month_rows(
        [
            ("Month 1", (Comparison(Match.EXTRA, None, planned),)),
            ("Month 2", (Comparison(Match.DIFFERS, None, billed, ("code",)),)),
            ("Month 3", (Comparison(Match.EXTRA, None, item("c", "billable", "1", "2025-03-03")),)),
        ]
    )
    assert [r.needs_action for r in rows] == [True, True, False]
    assert [r.anchor for r in rows] == ["row-item-a", "row-item-b", "row-item-c"]
    assert rows[1].difference == "Different code" and rows[0].server_status == "planned"
    assert summary_words(rows) == (
        "2 charges to review",
        "1 different from what the app computes",
        "2 on the server only",
    )


# --- pure: the evidence viewer's summary ----------------------------------------------------
def test_a_resource_summary_is_readable_and_keeps_the_json() -> None:
    observation = {
        "resourceType": "Observation",
        "id": "ecog-1",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "89247-1", "display": "ECOG"}]},
        "effectiveDateTime": "2025-03-02",
        "valueInteger": 1,
        "subject": {"reference": "Patient/p1"},
    }
    summary = summarise(observation)
    assert summary.title == "Observation: ECOG"
    assert dict(summary.fields) == {
        "Type": "Observation",
        "What": "ECOG",
        "Status": "final",
        "When": "2025-03-02",
        "Value": "1",
        "Patient": "Patient/p1",
    }
    assert '"89247-1"' in summary.json
    encounter = {"resourceType": "Encounter", "id": "e", "type": [{"text": "New patient visit"}]}
    assert summarise(encounter).title == "Encounter: New patient visit"  # a list of concepts
    assert belongs_to(observation, "Patient/p1")
    assert not belongs_to(observation, "Patient/p2")  # another patient's: never shown
    assert belongs_to({"resourceType": "Medication", "id": "m"}, "Patient/p2")  # shared


def test_the_flash_cookie_carries_only_known_shapes() -> None:
    from flask import Flask
    from werkzeug.wrappers import Response

    app = Flask(__name__)
    response = flash.remember(Response(), "batch", {"approved": 2, "conflict": 1})
    cookie = response.headers["Set-Cookie"]
    assert (
        cookie.startswith(f"{flash.COOKIE}=batch.approved-2.conflict-1;")
        and "Max-Age=120" in cookie
    )
    with app.test_request_context(headers={"Cookie": f"{flash.COOKIE}=batch.approved-2"}):
        from flask import request

        assert flash.read(request) == ("batch", {"approved": 2})
    with app.test_request_context(headers={"Cookie": f"{flash.COOKIE}=<b>hi</b>"}):
        from flask import request

        assert flash.read(request) is None


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["approved", "held", "declined", "corrected", "batch", "conflict"]),
    st.dictionaries(st.sampled_from(["approved", "conflict", "failed"]), st.integers(0, 99999)),
)
def test_a_remembered_message_reads_back_as_it_was(outcome: str, counts: dict[str, int]) -> None:
    from flask import Flask, request
    from werkzeug.wrappers import Response

    cookie = flash.remember(Response(), outcome, counts).headers["Set-Cookie"]
    value = cookie.split(";")[0].split("=", 1)[1]
    with Flask(__name__).test_request_context(headers={"Cookie": f"{flash.COOKIE}={value}"}):
        assert flash.read(request) == (outcome, counts)


# --- the pages through the real launch ----------------------------------------------------------
@pytest.fixture(scope="module")
def sekmet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SekmetServer]:
    with seeded_sekmet(tmp_path_factory.mktemp("review-patient-page")) as server:
        yield server


@pytest.fixture
def smart(sekmet: SekmetServer) -> Iterator[SmartMock]:
    with smart_in_front_of(sekmet) as mock:
        yield mock


@pytest.fixture
def client(tmp_path: Path, smart: SmartMock) -> FlaskClient:
    return review_flask_app(tmp_path / "store.sqlite", smart).test_client()


def start(client: FlaskClient, smart: SmartMock, patient: str) -> str:
    """Start an EHR launch; the callback URL the mock approves it with."""
    started = client.get("/review/launch", query_string={"iss": smart.iss, "launch": patient})
    assert started.status_code == 302, started.text
    return smart.approve(started.headers["Location"])


def finish(client: FlaskClient, callback_url: str) -> str:
    """Complete a launch; the patient page's URL (with the launch's handle)."""
    done = client.get("/review/callback", query_string=callback_url.split("?", 1)[1])
    assert done.status_code == 303, done.text
    home = client.get(done.headers["Location"])
    assert home.status_code == 303
    return str(home.headers["Location"])


def handle_of(url: str) -> str:
    [value] = parse_qs(urlsplit(url).query)["s"]
    return value


def test_the_page_shows_the_header_table_totals_and_picture(
    client: FlaskClient, smart: SmartMock
) -> None:
    url = finish(client, start(client, smart, "appendix-a-folfox"))
    assert url.startswith("/review/patient/appendix-a-folfox?s=")
    page = client.get(url)
    assert page.status_code == 200
    text = page.text
    assert "<h1>Alma Synthetic</h1>" in text and "<dt>MRN</dt>" in text and "<dt>Payer</dt>" in text
    assert '<table class="months">' in text and '<table class="totals">' in text
    assert re.search(r"800\.00 USD</td>", text)  # a computed amount with its currency
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="timeline-svg" role="img"' in text
    assert "differs: " not in text and "missing: " not in text  # plain words, not jargon
    assert "not on the server yet (the month-end capture creates them)" in text
    # every link of the page keeps the launch's handle
    handle = handle_of(url)
    for href in re.findall(r'href="(/review/[^"]*)"', text):
        if "/static/" not in href:
            assert f"s={handle}" in href, href
    printed = client.get(url + "&view=print")
    assert (
        printed.status_code == 200
        and "timeline-svg" in printed.text
        and "<form" not in printed.text.split("<main")[1]
    )
    needing = client.get(url + "&show=open")
    rows = needing.text.count('<tbody id="row-')
    assert 0 < rows == needing.text.count("needs-action") < text.count('<tbody id="row-')


def test_an_action_returns_to_its_row_and_the_message_shows_once(
    client: FlaskClient, smart: SmartMock, sekmet: SekmetServer
) -> None:
    url = finish(client, start(client, smart, "declined-treatment"))
    page = client.get(url)
    [target] = [
        i
        for i in items_of(sekmet, "declined-treatment", status="planned")
        if i["code"]["coding"][0]["code"] == "xx303"
    ]
    anchor = re.search(
        rf'<tbody id="(row-[^"]+)"[^>]*>(?:(?!</tbody>).)*value="{target["id"]}"', page.text, re.S
    )
    assert anchor, "the item's row"
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    form = {
        "csrf_token": csrf.group(1),
        "action": "approve",
        "item_id": target["id"],
        "version": target["meta"]["versionId"],
        "patient_id": "declined-treatment",
        "anchor": anchor.group(1),
    }
    done = client.post(f"/review/actions?s={handle_of(url)}", data=form)
    assert done.status_code == 303
    assert done.headers["Location"] == f"{url}#{anchor.group(1)}"
    assert "?done=" not in done.headers["Location"]
    shown = client.get(done.headers["Location"])
    assert "Charge approved" in shown.text and f"{flash.COOKIE}=;" in shown.headers["Set-Cookie"]
    assert "Charge approved" not in client.get(url).text  # a reload: no banner
    # a forged anchor is dropped, not echoed
    again = {**form, "action": "hold", "reason": "x", "anchor": '"><script>'}
    held = client.post(
        f"/review/actions?s={handle_of(url)}",
        data={**again, "version": str(int(form["version"]) + 1)},
    )
    assert held.status_code == 303 and held.headers["Location"] == url


def test_two_launches_in_one_browser_each_keep_their_session(
    client: FlaskClient, smart: SmartMock
) -> None:
    # Both launches start before either callback (two tabs, or two EHR iframes).
    first = start(client, smart, "appendix-a-folfox")
    second = start(client, smart, "declined-treatment")
    # The callbacks come back in the other order: neither finds its state gone.
    second_url = finish(client, second)
    first_url = finish(client, first)
    assert handle_of(first_url) != handle_of(second_url)
    assert "<h1>Alma Synthetic</h1>" in client.get(first_url).text
    second_page = client.get(second_url)
    assert second_page.status_code == 200 and "Alma Synthetic" not in second_page.text
    assert "<h1>Alma Synthetic</h1>" in client.get(first_url).text  # still the first tab's
    # each launch has its own cookie; the pending ones are gone
    assert client.get_cookie(session_cookie_name(handle_of(first_url))) is not None
    assert client.get_cookie(session_cookie_name(handle_of(second_url))) is not None
    assert client.get_cookie(COOKIE) is not None
    # a handle this browser holds no cookie for is no session, not the latest one
    assert client.get("/review/patient/appendix-a-folfox?s=AAAAAAAAAAAAAAAA").status_code == 401
    # signing out of one leaves the other
    page = client.get(second_url)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    out = client.post(
        f"/review/logout?s={handle_of(second_url)}", data={"csrf_token": csrf.group(1)}
    )
    assert out.status_code == 200
    assert client.get(second_url).status_code == 401
    assert client.get(first_url).status_code == 200


def test_evidence_opens_inside_the_app_for_this_patient_only(
    client: FlaskClient, smart: SmartMock, sekmet: SekmetServer
) -> None:
    url = finish(client, start(client, smart, "appendix-a-folfox"))
    page = client.get(url).text
    links = re.findall(r'href="(/review/patient/appendix-a-folfox/resource/[^"]+)"', page)
    assert links and not re.search(rf'href="{re.escape(sekmet.base_url)}', page)
    assert all("k=" in link for link in links)  # every viewer link is signed
    viewer: TestResponse = client.get(links[0].replace("&amp;", "&"))
    assert viewer.status_code == 200
    assert "The resource as FHIR JSON" in viewer.text and "&#34;resourceType&#34;" in viewer.text
    handle = handle_of(url)
    signed = _signer(client, handle, "appendix-a-folfox")
    # another patient's resource, signed as if the page had linked it: read, then 404 (the
    # reader files it under declined-treatment), nothing shown
    [other] = items_of(sekmet, "declined-treatment")[:1]
    foreign = client.get(signed(f"ChargeItem/{other['id']}"))
    assert foreign.status_code == 404 and other["id"] not in foreign.text
    missing = client.get(signed("Observation/nope"))  # linked, but the server has none
    assert missing.status_code == 404
    bad = client.get(f"/review/patient/appendix-a-folfox/resource/not_a_type/x?s={handle}")
    assert bad.status_code == 404


def _signer(client: FlaskClient, handle: str, patient: str) -> Any:
    """The viewer URL of a reference as the page would sign it in this client's session
    (the session's store key is the SHA-256 of its cookie)."""
    from cds_hooks.review.evidence_links import link_tag
    from cds_hooks.review.sessions import key_of

    cookie = client.get_cookie(session_cookie_name(handle))
    assert cookie is not None
    key = key_of(cookie.value)

    def url(ref: str) -> str:
        tag = link_tag(key, patient, ref)
        return f"/review/patient/{patient}/resource/{ref}?s={handle}&k={tag}"

    return url


def test_the_viewer_opens_only_what_the_page_linked_and_asks_the_server_nothing_else(
    client: FlaskClient, smart: SmartMock, sekmet: SekmetServer
) -> None:
    url = finish(client, start(client, smart, "appendix-a-folfox"))
    page = client.get(url).text
    handle = handle_of(url)
    linked = {
        m.group(1): m.group(0).split('"')[1].replace("&amp;", "&")
        for m in re.finditer(
            r'href="/review/patient/appendix-a-folfox/resource/([A-Za-z]+/[^?"]+)\?[^"]+"', page
        )
    }
    # What the page links: its computed lines' evidence and its ChargeItems (hand-checked
    # against the bundled appendix-a-folfox record: treatment administrations and items).
    kinds = {ref.split("/")[0] for ref in linked}
    assert "ChargeItem" in kinds and kinds - {"ChargeItem"}, kinds
    ref, link = sorted(linked.items())[0]
    smart.fhir_requests.clear()
    assert client.get(link).status_code == 200
    assert smart.fhir_requests == [f"GET {ref}"]  # one read, of the linked resource
    [other] = items_of(sekmet, "declined-treatment")[:1]
    base = "/review/patient/appendix-a-folfox/resource"
    unlinked = [
        f"{base}/Practitioner/dr-1?s={handle}",  # shared, readable with the token
        f"{base}/Medication/oxaliplatin?s={handle}",
        f"{base}/ChargeItem/{other['id']}?s={handle}",  # another patient's
        f"{base}/Patient/declined-treatment?s={handle}",
        # a tag of another reference, or of this reference on another patient's page
        f"{link.split('/resource/')[0]}/resource/ChargeItem/{other['id']}?" + link.split("?", 1)[1],
        link.replace("/patient/appendix-a-folfox/", "/patient/declined-treatment/"),
        f"{base}/{ref}?s={handle}&k=",  # an empty tag
    ]
    smart.fhir_requests.clear()
    for target in unlinked:
        answer = client.get(target)
        assert answer.status_code == 404, target
    assert smart.fhir_requests == []  # none of them was read from the FHIR server
    # a link of one launch does not open in another launch's session
    second = finish(client, start(client, smart, "appendix-a-folfox"))
    borrowed = re.sub(r"s=[^&]+", f"s={handle_of(second)}", link)
    smart.fhir_requests.clear()
    assert client.get(borrowed).status_code == 404 and smart.fhir_requests == []


# --- the month table's order (?order=) ---------------------------------------------------------
def test_lines_needing_action_come_first_then_by_month_and_by_month_is_plain_order() -> None:
    from dataclasses import replace

    from timeline_builders import treatment_line

    from cds_hooks.review.patient_summary import BY_MONTH, ordered_rows
    from cpoc_fhir.engine.lines import LineStatus

    final = treatment_line()
    provisional = replace(treatment_line(month=4), status=LineStatus.PROVISIONAL)
    # Six months with known statuses, in month order; the hand-derived action-first order:
    # the rows needing action (2 missing, 3 on hold, 4 provisional, 6 differs) in month order,
    # then the rest (1 same, 5 billed and only on the server) in month order.
    rows = month_rows(
        [
            (
                "Month 1",
                (Comparison(Match.MATCHED, final, item("a", "billable", "1", "2025-01-03")),),
            ),
            ("Month 2", (Comparison(Match.MISSING, treatment_line(month=2), None),)),
            (
                "Month 3",
                (Comparison(Match.EXTRA, None, item("c", "planned", "1", "2025-03-03", True)),),
            ),
            (
                "Month 4",
                (Comparison(Match.MATCHED, provisional, item("d", "billable", "1", "2025-04-03")),),
            ),
            ("Month 5", (Comparison(Match.EXTRA, None, item("e", "billed", "1", "2025-05-03")),)),
            (
                "Month 6",
                (
                    Comparison(
                        Match.DIFFERS, final, item("f", "billable", "1", "2025-06-03"), ("code",)
                    ),
                ),
            ),
        ]
    )
    months = [r.month for r in ordered_rows(rows, "action")]
    assert months == ["Month 2", "Month 3", "Month 4", "Month 6", "Month 1", "Month 5"]
    assert [r.month for r in ordered_rows(rows, BY_MONTH)] == [f"Month {n}" for n in range(1, 7)]


def _months(html: str) -> list[str]:
    return re.findall(r'<tbody id="(row-[^"]+)"', html)


def test_the_order_switch_and_an_action_keep_by_month(
    client: FlaskClient, smart: SmartMock, sekmet: SekmetServer
) -> None:
    url = finish(client, start(client, smart, "declined-treatment"))
    first = client.get(url).text
    by_month = client.get(url + "&order=months").text
    assert sorted(_months(first)) == sorted(_months(by_month))  # the same rows
    # action first: no row needing action after one that does not (the class says which)
    flags = [
        "wants-action" in m for m in re.findall(r'<tbody id="row-[^"]+" class="([^"]+)"', first)
    ]
    assert flags == sorted(flags, reverse=True) and True in flags
    # by month: the rows are in the order of their start dates (the anchors carry them)
    starts = [a[4:14] for a in _months(by_month) if a[4:8].isdigit()]
    assert starts == sorted(starts) and len(starts) > 1
    assert 'href="/review/patient/declined-treatment?s=' in by_month  # the switch back
    assert '<strong aria-current="true">By month</strong>' in by_month
    # an action from the by-month table returns to it, at its row
    target = items_of(sekmet, "declined-treatment", status="planned")[0]
    anchor = re.search(
        rf'<tbody id="(row-[^"]+)"[^>]*>(?:(?!</tbody>).)*value="{target["id"]}"', by_month, re.S
    )
    assert anchor and 'name="order" value="months"' in by_month
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', by_month)
    assert csrf
    form = {
        "csrf_token": csrf.group(1),
        "action": "hold",
        "reason": "waiting for the note",
        "item_id": target["id"],
        "version": target["meta"]["versionId"],
        "patient_id": "declined-treatment",
        "anchor": anchor.group(1),
        "order": "months",
    }
    done = client.post(f"/review/actions?s={handle_of(url)}", data=form)
    assert done.status_code == 303
    back = urlsplit(done.headers["Location"])
    assert back.path == "/review/patient/declined-treatment" and back.fragment == anchor.group(1)
    assert parse_qs(back.query) == {"s": [handle_of(url)], "order": ["months"]}
    # an unknown order is the default, never echoed
    odd = client.post(
        f"/review/actions?s={handle_of(url)}",
        data={**form, "order": "x", "version": str(int(form["version"]) + 1)},
    )
    assert "order" not in odd.headers["Location"]
