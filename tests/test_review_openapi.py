"""The review app's routes answer as /openapi.json describes them (issue 17 item 7), signed in
through the real SMART launch (the mock in front of a capture-seeded sekmet): every GET with
its path examples, then each query parameter's example and every value of its enum; a form
POST refused and sign-out. Status, content type and a redirect's Location are checked against
the operation's documented responses (cds_hooks/openapi_review.py). Without a session the same
routes are checked in test_service_conventions.py, with the url_map."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient
from openapi_spec_validator import validate as validate_openapi
from review_support import review_flask_app, seeded_sekmet, smart_in_front_of
from sekmet_server import SekmetServer
from smart_mock import SmartMock
from werkzeug.test import TestResponse

PATIENT = "appendix-a-folfox"


@pytest.fixture(scope="module")
def sekmet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SekmetServer]:
    with seeded_sekmet(tmp_path_factory.mktemp("review-openapi")) as server:
        yield server


@pytest.fixture
def smart(sekmet: SekmetServer) -> Iterator[SmartMock]:
    with smart_in_front_of(sekmet) as mock:
        yield mock


def _signed_in(client: FlaskClient, smart: SmartMock) -> str:
    """An EHR launch for PATIENT; its launch handle."""
    started = client.get("/review/launch", query_string={"iss": smart.iss, "launch": PATIENT})
    callback = smart.approve(started.headers["Location"])
    done = client.get("/review/callback", query_string=callback.split("?", 1)[1])
    assert done.status_code == 303
    [handle] = parse_qs(urlsplit(done.headers["Location"]).query)["s"]
    return handle


def _as_documented(operation: dict[str, Any], answer: TestResponse, what: str) -> None:
    documented = operation["responses"].get(str(answer.status_code))
    assert documented is not None, (what, answer.status_code)
    if "content" in documented:
        assert answer.mimetype in documented["content"], (what, answer.mimetype)
    else:  # a redirect: no body described, a Location
        assert 300 <= answer.status_code < 400 and answer.headers["Location"], what
        assert "Location" in documented["headers"]


def _values(parameter: dict[str, Any]) -> list[str]:
    """The values to try: its example and every value of its enum."""
    schema = parameter["schema"]
    values = list(schema.get("enum", []))
    if "example" in parameter and parameter["example"] not in values:
        values.append(parameter["example"])
    return values


def test_every_review_route_answers_as_the_description_says(
    tmp_path: Path, smart: SmartMock
) -> None:
    client = review_flask_app(tmp_path / "store.sqlite", smart).test_client()
    document = client.get("/openapi.json").get_json()
    validate_openapi(document)
    handle = _signed_in(client, smart)
    answered: dict[str, set[int]] = {}
    for path, operations in document["paths"].items():
        operation = operations.get("get")
        if not path.startswith("/review") or operation is None:
            continue
        params = operation["parameters"]
        url = path.format(**{p["name"]: p["example"] for p in params if p["in"] == "path"})
        base = {"s": handle} if any(p["name"] == "s" for p in params) else {}
        tries = [base] + [
            {**base, p["name"]: value}
            for p in params
            if p["in"] == "query" and p["name"] != "s"
            for value in _values(p)
        ]
        for query in tries:
            answer = client.get(url, query_string=query)
            _as_documented(operation, answer, f"{url}?{query}")
            answered.setdefault(path, set()).add(answer.status_code)
    # the pages and downloads were really shown, not only refused
    for path in (
        "/review/patient/{patient_id}",
        "/review/patient/{patient_id}/lines",
        "/review/queue",
        "/review/queue/export",
        "/review/dashboard",
        "/review/dashboard/rows",
        "/review/dashboard/ffs",
        "/review/dashboard/adherence",
    ):
        assert 200 in answered[path], (path, answered[path])
    # the evidence viewer: the example tag is no link of the page (404); a real link opens
    viewer = document["paths"][
        "/review/patient/{patient_id}/resource/{resource_type}/{resource_id}"
    ]["get"]
    assert answered["/review/patient/{patient_id}/resource/{resource_type}/{resource_id}"] == {404}
    page = client.get(f"/review/patient/{PATIENT}", query_string={"s": handle}).text
    link = re.search(r'href="(/review/patient/[^"]+/resource/[^"]+)"', page)
    assert link
    _as_documented(viewer, client.get(link.group(1).replace("&amp;", "&")), "a linked resource")
    # the forms: an action refused (400, the page says why), then sign-out
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf
    actions = document["paths"]["/review/actions"]["post"]
    refused = client.post(
        f"/review/actions?s={handle}", data={"csrf_token": csrf.group(1), "action": "nothing"}
    )
    assert refused.status_code == 400
    _as_documented(actions, refused, "an unknown action")
    no_token = client.post(f"/review/actions?s={handle}", data={"action": "approve"})
    assert no_token.status_code == 403
    _as_documented(actions, no_token, "no CSRF token")
    logout = document["paths"]["/review/logout"]["post"]
    out = client.post(f"/review/logout?s={handle}", data={"csrf_token": csrf.group(1)})
    assert out.status_code == 200
    _as_documented(logout, out, "sign-out")
