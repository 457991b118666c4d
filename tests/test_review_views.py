"""The review app's views through the real SMART launch (the Authlib mock server, in front of
a real sekmet seeded by a capture run) with Flask's test client."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from review_support import (
    USER,
    items_of,
    provenances_of,
    review_flask_app,
    seeded_sekmet,
    smart_in_front_of,
)
from sekmet_server import SekmetServer
from smart_mock import SmartMock
from sqlalchemy import create_engine, text
from werkzeug.test import TestResponse


@pytest.fixture(scope="module")
def sekmet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SekmetServer]:
    with seeded_sekmet(tmp_path_factory.mktemp("review-views")) as server:
        yield server


@pytest.fixture
def smart(sekmet: SekmetServer) -> Iterator[SmartMock]:
    with smart_in_front_of(sekmet) as mock:
        yield mock


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store.sqlite"


@pytest.fixture
def client(store: Path, smart: SmartMock) -> FlaskClient:
    return review_flask_app(store, smart).test_client()


def launch(client: FlaskClient, smart: SmartMock, patient: str) -> TestResponse:
    """The EHR launch for ``patient``, approved by the mock: the app's patient page."""
    started = client.get("/review/launch", query_string={"iss": smart.iss, "launch": patient})
    assert started.status_code == 302, started.text
    parts = smart.approve(started.headers["Location"]).split("?", 1)
    assert parts[0].endswith("/review/callback")
    home = client.get("/review/callback", query_string=parts[1])
    assert home.status_code == 303, home.text
    location = client.get("/review/").headers["Location"]
    assert location == f"/review/patient/{patient}"
    page = client.get(location)
    assert page.status_code == 200, page.text
    return page


def csrf_of(response: TestResponse) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', response.text)
    assert match, response.text
    return match.group(1)


def planned(sekmet: SekmetServer, patient: str, code: str) -> dict[str, str]:
    [item] = [
        i
        for i in items_of(sekmet, patient, status="planned")
        if i["code"]["coding"][0]["code"] == code
    ]
    return item


def form(page: TestResponse, item: dict[str, str], patient: str, **fields: str) -> dict[str, str]:
    return {
        "csrf_token": csrf_of(page),
        "item_id": item["id"],
        "version": item["meta"]["versionId"],
        "patient_id": patient,
        **fields,
    }


def test_patient_page_shows_the_months_and_the_charge_items(
    client: FlaskClient, smart: SmartMock
) -> None:
    page = launch(client, smart, "appendix-a-folfox")
    assert "Month 7" in page.text and "Month 1" in page.text
    assert re.search(r"ChargeItem/[A-Za-z0-9\-.]+</a> \(version \d+\)", page.text)
    assert 'value="approve"' in page.text and "Read-only" not in page.text
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
    printed = client.get("/review/patient/appendix-a-folfox?view=print")
    assert (
        printed.status_code == 200
        and '<form method="post" action="/review/actions"' not in printed.text
    )
    queue = client.get("/review/queue?code=xx303")
    assert queue.status_code == 200 and "Patient/appendix-a-folfox" in queue.text
    assert "<h1>Alma Synthetic</h1>" in page.text  # the patient's name, not "Unknown"
    assert '</a> <span class="display">Alma Synthetic</span>' in queue.text
    assert client.get("/review/queue?status=billed").status_code == 400


def test_approve_from_the_patient_page_makes_the_item_billable_with_a_provenance(
    client: FlaskClient, smart: SmartMock, sekmet: SekmetServer, store: Path
) -> None:
    page = launch(client, smart, "appendix-a-folfox")
    item = planned(sekmet, "appendix-a-folfox", "xx401")
    done = client.post(
        "/review/actions", data=form(page, item, "appendix-a-folfox", action="approve")
    )
    assert done.status_code == 303
    # back to the patient page (no ?done=: the message rides a one-time cookie)
    assert done.headers["Location"] == "/review/patient/appendix-a-folfox"
    shown = client.get(done.headers["Location"])
    assert "Charge approved" in shown.text
    assert "Charge approved" not in client.get(done.headers["Location"]).text  # reload: none
    [after] = [i for i in items_of(sekmet, "appendix-a-folfox") if i["id"] == item["id"]]
    assert after["status"] == "billable"
    [provenance] = provenances_of(sekmet, item["id"])
    assert provenance["agent"][0]["who"]["reference"] == USER
    with create_engine(f"sqlite:///{store}").connect() as db:
        rows = db.execute(
            text("select hook, outcome from hook_invocations where service = 'review'")
        ).all()
    assert [tuple(r) for r in rows] == [("approve", "approved")]
    # the same version again: someone else changed it → 409, nothing applied
    again = client.post(
        "/review/actions", data=form(page, item, "appendix-a-folfox", action="approve")
    )
    assert again.status_code == 409 and "changed by someone else" in again.text
    assert len(provenances_of(sekmet, item["id"])) == 1


def test_hold_without_a_reason_shows_an_error_and_changes_nothing(
    client: FlaskClient, smart: SmartMock, sekmet: SekmetServer
) -> None:
    page = launch(client, smart, "declined-treatment")
    item = planned(sekmet, "declined-treatment", "xx303")
    refused = client.post(
        "/review/actions", data=form(page, item, "declined-treatment", action="hold", reason=" ")
    )
    assert refused.status_code == 400
    assert "a reason is required to hold a charge" in refused.text
    assert 'href="/review/patient/declined-treatment"' in refused.text
    [after] = [i for i in items_of(sekmet, "declined-treatment") if i["id"] == item["id"]]
    assert after["meta"]["versionId"] == item["meta"]["versionId"] and "extension" not in after
    assert provenances_of(sekmet, item["id"]) == []


def test_a_read_only_grant_gets_403_on_post(
    client: FlaskClient, smart: SmartMock, sekmet: SekmetServer
) -> None:
    smart.deny_scopes = {"user/ChargeItem.cruds"}
    page = launch(client, smart, "oral-capecitabine-trial")
    assert "Read-only" in page.text and 'value="approve"' not in page.text
    item = planned(sekmet, "oral-capecitabine-trial", "xx500")
    refused = client.post(
        "/review/actions",
        data=form(page, item, "oral-capecitabine-trial", action="approve"),
    )
    assert refused.status_code == 403 and "read-only" in refused.text
    [after] = [i for i in items_of(sekmet, "oral-capecitabine-trial") if i["id"] == item["id"]]
    assert after["status"] == "planned"


def test_a_post_without_csrf_token_is_refused(client: FlaskClient, smart: SmartMock) -> None:
    launch(client, smart, "appendix-a-folfox")
    assert client.post("/review/actions", data={"action": "approve"}).status_code == 403
