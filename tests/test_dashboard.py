"""The practice dashboard (issue 17 item 4) and the review app's exports (item 5), through a
standalone SMART launch (the Authlib mock server in front of a capture-seeded sekmet) with
Flask's test client. The expected sums are worked out from the server's own ChargeItems."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from review_support import review_flask_app, seeded_sekmet, smart_in_front_of
from sekmet_server import SekmetServer
from smart_mock import SmartMock

from cds_hooks.review.dashboard import filters_from, months_back, query
from cpoc_fhir.fhir.client import FhirClient


@pytest.fixture(scope="module")
def sekmet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SekmetServer]:
    with seeded_sekmet(tmp_path_factory.mktemp("dashboard")) as server:
        yield server


@pytest.fixture(scope="module")
def smart(sekmet: SekmetServer) -> Iterator[SmartMock]:
    with smart_in_front_of(sekmet) as mock:
        yield mock


@pytest.fixture
def client(tmp_path: Path, smart: SmartMock) -> FlaskClient:
    client = review_flask_app(tmp_path / "store.sqlite", smart).test_client()
    started = client.get("/review/launch", query_string={"iss": smart.iss, "next": "dashboard"})
    assert started.status_code == 302, started.text
    parts = smart.approve(started.headers["Location"]).split("?", 1)
    assert client.get("/review/callback", query_string=parts[1]).status_code == 303
    return client


def _items(sekmet: SekmetServer) -> list[dict[str, Any]]:
    with FhirClient(sekmet.base_url) as fhir:
        return list(fhir.search("ChargeItem", {"_count": "200"}))


def _month(item: dict[str, Any]) -> str:
    start = (item.get("occurrencePeriod") or {}).get("start") or item.get("occurrenceDateTime")
    return str(start)[:7]


def test_months_back_and_default_filters() -> None:
    # six months up to October 2025: May … October; across a year end: October 2024 … March
    assert months_back(date(2025, 10, 5), 6) == "2025-05"
    assert months_back(date(2025, 3, 1), 6) == "2024-10"
    filters = filters_from({}, date(2025, 10, 5))
    assert (filters.start, filters.end) == ("2025-05", "2025-10")
    assert query(filters, group="held") == "from=2025-05&to=2025-10&group=held"
    for bad in ({"from": "2025-13"}, {"from": "2025-09", "to": "2025-08"}, {"level": "7"}):
        with pytest.raises(ValueError):
            filters_from(bad, date(2025, 10, 5))


def test_standalone_launch_lands_on_the_dashboard_with_the_servers_sums(
    client: FlaskClient, sekmet: SekmetServer
) -> None:
    home = client.get("/review/")
    assert home.headers["Location"] == "/review/dashboard"
    assert client.get("/review/").headers["Location"] == "/review/queue"  # used up once
    page = client.get("/review/dashboard?from=2025-09&to=2025-09")
    assert page.status_code == 200, page.text
    html = page.text
    # the September items on the server: revenue = every billable/billed/planned amount
    september = [i for i in _items(sekmet) if _month(i) == "2025-09"]
    counted = [i for i in september if i["status"] in ("billable", "billed", "planned")]
    assert counted, "the capture wrote September's lines"
    expected = sum((Decimal(str(i["priceOverride"]["value"])) for i in counted), Decimal(0))
    assert f"{expected:.2f} USD</a>" in html
    assert html.count("<svg") >= 4  # status and code charts, each wide and narrow
    assert "Revenue by month and status" in html and "<script" not in html
    assert 'href="/review/dashboard/rows?from=2025-09&amp;to=2025-09&amp;group=planned"' in html
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")


def test_rows_behind_a_number_and_their_exports(client: FlaskClient, sekmet: SekmetServer) -> None:
    planned = [
        i
        for i in _items(sekmet)
        if _month(i) == "2025-09" and i["status"] == "planned" and not i.get("extension")
    ]
    rows = client.get("/review/dashboard/rows?from=2025-09&to=2025-09&group=planned")
    assert rows.status_code == 200
    assert rows.text.count('<td class="month" data-label="Month">2025-09</td>') == len(planned)
    exported = client.get("/review/dashboard/rows?from=2025-09&to=2025-09&group=planned&format=csv")
    assert exported.mimetype == "text/csv"
    assert "attachment" in exported.headers["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(exported.text)))
    assert sorted(r["item"] for r in table) == sorted(f"ChargeItem/{i['id']}" for i in planned)
    assert {r["status"] for r in table} == {"planned"} and all(r["name"] for r in table)
    book = client.get("/review/dashboard/rows?from=2025-09&to=2025-09&format=xlsx")
    assert book.data[:2] == b"PK" and book.mimetype.endswith("spreadsheetml.sheet")
    assert client.get("/review/dashboard?model=nope").status_code == 400


def test_queue_shows_its_total_and_exports_what_it_shows(
    client: FlaskClient, sekmet: SekmetServer
) -> None:
    open_items = [i for i in _items(sekmet) if i["status"] == "planned"]
    total = sum((Decimal(str(i["priceOverride"]["value"])) for i in open_items), Decimal(0))
    page = client.get("/review/queue")
    assert f"{len(open_items)} shown of {len(open_items)} planned or on hold; {total:.2f} USD" in (
        page.text
    )
    assert "<tfoot>" in page.text and 'aria-current="page">Work queue' in page.text
    exported = client.get("/review/queue/export?format=csv&code=xx303")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    xx303 = [i for i in open_items if i["code"]["coding"][0]["code"] == "xx303"]
    assert len(rows) == len(xx303) and {r["code"] for r in rows} == {"xx303"}
    assert client.get("/review/queue/export?format=pdf").status_code == 404


def test_a_patients_lines_export(client: FlaskClient) -> None:
    page = client.get("/review/patient/appendix-a-folfox")
    assert "/review/patient/appendix-a-folfox/lines?format=csv" in page.text  # linked from it
    assert "/review/patient/appendix-a-folfox/lines?format=xlsx" in page.text
    exported = client.get("/review/patient/appendix-a-folfox/lines?format=csv")
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert rows[0]["code"] == "xx100" and {r["patient"] for r in rows} == {
        "Patient/appendix-a-folfox"
    }


def test_a_launch_lands_only_on_a_named_page(tmp_path: Path, smart: SmartMock) -> None:
    """``next`` is a name from a fixed list, never a URL: anything else lands on the queue."""
    client = review_flask_app(tmp_path / "store.sqlite", smart).test_client()
    started = client.get(
        "/review/launch", query_string={"iss": smart.iss, "next": "https://elsewhere.example"}
    )
    assert "cpoc_review_next" not in " ".join(started.headers.getlist("Set-Cookie"))
    parts = smart.approve(started.headers["Location"]).split("?", 1)
    client.get("/review/callback", query_string=parts[1])
    assert client.get("/review/").headers["Location"] == "/review/queue"


def test_dashboard_shows_the_months_pathway_adherence(client: FlaskClient) -> None:
    from datetime import datetime

    from flask import current_app

    from cpoc_fhir.store.pathways import PathwayDecision

    def decision(n: int, status: str) -> PathwayDecision:
        return PathwayDecision(
            order_key=f"Patient/p{n}|MedicationRequest/m{n}",
            patient_id=f"p{n}",
            stage="signed",
            status=status,
            decided_at=datetime(2025, 9, 10, 12, tzinfo=UTC),
            pathway_id="colon-met",
            pathway_title="Colon, metastatic",
        )

    app = client.application
    with app.app_context():
        log = current_app.extensions["cpoc"].pathway_log
        # three signed orders on the pathway, one off: 3 / 4 = 75 % adherence
        for n, status in enumerate(["on-pathway"] * 3 + ["off-pathway"]):
            log.record(decision(n, status))
    html = client.get("/review/dashboard?from=2025-09&to=2025-09").text
    assert "assessed against a pathway: <strong>4</strong>, on pathway 3, off 1" in html
    assert "adherence <strong>75 %</strong>" in html and "Colon, metastatic" in html
    earlier = client.get("/review/dashboard?from=2025-06&to=2025-08").text
    assert "No signed orders were assessed against a pathway in these months." in earlier
