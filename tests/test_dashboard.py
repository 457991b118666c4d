"""The practice dashboard (issue 17 item 4) and the review app's exports (item 5), through a
standalone SMART launch (the Authlib mock server in front of a capture-seeded sekmet) with
Flask's test client. The expected sums are worked out from the server's own ChargeItems."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
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
    on = '<a href="/review/dashboard/adherence?from=2025-09&amp;to=2025-09&amp;status=on">3</a>'
    assert "assessed against a pathway: <strong><a " in html and f"on pathway {on}" in html
    assert "adherence <strong>75 %</strong>" in html and "Colon, metastatic" in html
    assert "<title>Practice dashboard" in html and "<title>Practice dashboard\n<" not in html
    earlier = client.get("/review/dashboard?from=2025-06&to=2025-08").text
    assert "No signed orders were assessed against a pathway in these months." in earlier
    # the rows behind: the four decisions of 10 September (UTC noon: the 10th in any zone
    # from UTC-11 to UTC+11), three on, one off without a reason
    rows = client.get("/review/dashboard/adherence?from=2025-09&to=2025-09")
    assert rows.status_code == 200 and "4 signed orders" in rows.text
    assert rows.text.count(">2025-09-10</td>") == 4
    off = client.get("/review/dashboard/adherence?from=2025-09&to=2025-09&status=off&format=csv")
    table = list(csv.DictReader(io.StringIO(off.text)))
    assert [(r["patient"], r["pathway"], r["counted_as"]) for r in table] == [
        ("Patient/p3", "colon-met", "off pathway (no reason)")
    ]
    one = client.get("/review/dashboard/adherence?from=2025-09&to=2025-09&pathway=colon-met")
    assert "4 signed orders" in one.text
    other = client.get("/review/dashboard/adherence?from=2025-09&to=2025-09&pathway=lung")
    assert "No signed orders." in other.text
    assert client.get("/review/dashboard/adherence?status=maybe").status_code == 400


CS = "http://example.org/fhir/CodeSystem/cpoc"
OURS = "http://example.org/fhir/sid/cpoc-charge"
CPT = "http://www.ama-assn.org/go/cpt"


def _charge(
    id_: str, patient: str, system: str, code: str, start: str, end: str | None = None, **more: Any
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "resourceType": "ChargeItem",
        "id": id_,
        "status": more.pop("status", "billable"),
        "subject": {"reference": f"Patient/{patient}"},
        "code": {"coding": [{"system": system, "code": code}]},
        "priceOverride": {"value": 10, "currency": "USD"},
        **more,
    }
    if end is None:
        item["occurrenceDateTime"] = start
    else:
        item["occurrencePeriod"] = {"start": start, "end": end}
    if system == CS:
        item["identifier"] = [{"system": OURS, "value": id_}]
    return item


def test_ffs_conflicts_are_charges_inside_a_model_items_period() -> None:
    from cpoc_fhir.reports.ffs_conflicts import conflicts_table, ffs_conflicts, per_month
    from cpoc_fhir.reports.revenue import RevenueFilters
    from cpoc_fhir.reports.revenue_items import PackIndex

    items = [
        # patient a: Treatment Month (level 3) 2025-09-03 … 2025-10-02
        _charge("tm", "a", CS, "xx203", "2025-09-03", "2025-10-02"),
        _charge("f1", "a", CPT, "96413", "2025-09-15"),  # chemo admin inside: conflict
        _charge("f2", "a", CPT, "99214", "2025-10-02"),  # E&M on the last day: conflict
        _charge("f3", "a", CPT, "99214", "2025-10-03"),  # the day after: none
        _charge("f4", "a", CPT, "99244", "2025-09-20"),  # a consultation: not replaced
        _charge("f5", "a", CPT, "96413", "2025-09-16", status="entered-in-error"),
        # patient d: New Patient on 2025-09-05, the same day the month starts: one conflict
        _charge("np-d", "d", CS, "xx100", "2025-09-05"),
        _charge("tm-d", "d", CS, "xx201", "2025-09-05", "2025-10-04"),
        _charge("f8", "d", CPT, "99205", "2025-09-05"),
        # patient b: the charge is in a's month, not b's (b has no model item)
        _charge("f6", "b", CPT, "96413", "2025-09-15"),
        # patient c: its only model item is not billable: none
        _charge("tm-c", "c", CS, "xx201", "2025-09-01", "2025-09-30", status="not-billable"),
        _charge("f7", "c", CPT, "96413", "2025-09-10"),
    ]
    packs = PackIndex(CS)
    september = RevenueFilters("2025-09", "2025-09")
    found = ffs_conflicts(items, packs, OURS, {"cpoc"}, september)
    assert [(c.charge_ref, c.cpt_code, c.on.isoformat(), c.item_id) for c in found] == [
        ("ChargeItem/f1", "96413", "2025-09-15", "tm"),
        ("ChargeItem/f2", "99214", "2025-10-02", "tm"),
        ("ChargeItem/f8", "99205", "2025-09-05", "tm-d"),  # ties: the larger item id
    ]
    # all three count in September, their month's (its start), not October
    assert per_month(found) == {"2025-09": 3}
    assert ffs_conflicts(items, packs, OURS, {"cpoc"}, RevenueFilters("2025-10", "2025-10")) == []
    # a pack that does not replace fee-for-service has none; nor another provider's months
    assert ffs_conflicts(items, packs, OURS, set(), september) == []
    assert ffs_conflicts(items, packs, OURS, {"cpoc"}, RevenueFilters(provider="x")) == []
    # code / group / level filters are ignored: a conflict is about the month
    coded = RevenueFilters("2025-09", "2025-09", code="xx100", group="held", level=1)
    assert len(ffs_conflicts(items, packs, OURS, {"cpoc"}, coded)) == 3
    table = conflicts_table(found, {"Patient/a": "Ann"})
    assert table.headers[:3] == ("month", "patient", "name")
    assert table.rows[0][:5] == ("2025-09", "Patient/a", "Ann", "ChargeItem/f1", "96413")


def _claim(patient: str, *lines: tuple[int, str, str | None], **more: Any) -> dict[str, Any]:
    """A fee-for-service Claim (R4's required elements) whose lines are (sequence, CPT code,
    servicedDate or None: the billablePeriod's start, 2025-09-01, dates it)."""
    items: list[dict[str, Any]] = []
    for sequence, code, on in lines:
        line: dict[str, Any] = {
            "sequence": sequence,
            "productOrService": {"coding": [{"system": CPT, "code": code}]},
        }
        if on is not None:
            line["servicedDate"] = on
        items.append(line)
    return {
        "resourceType": "Claim",
        "status": more.pop("status", "active"),
        "type": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/claim-type",
                    "code": "professional",
                }
            ]
        },
        "use": "claim",
        "patient": {"reference": f"Patient/{patient}"},
        "created": "2025-09-30",
        "provider": {"reference": "Organization/elsewhere"},
        "priority": {"coding": [{"code": "normal"}]},
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": "Coverage/c"}}],
        "billablePeriod": {"start": "2025-09-01"},
        "item": items,
        **more,
    }


def test_claim_lines_conflict_like_ffs_charge_items() -> None:
    from cpoc_fhir.reports.ffs_conflicts import ffs_conflicts, model_patients
    from cpoc_fhir.reports.revenue import RevenueFilters
    from cpoc_fhir.reports.revenue_items import PackIndex

    items = [
        # patient a: Treatment Month 2025-09-03 … 2025-10-02 (as in the ChargeItem test)
        _charge("tm", "a", CS, "xx203", "2025-09-03", "2025-10-02"),
        # line 1 chemo admin on 09-15: conflict; line 2 a consultation: not replaced;
        # line 3 E&M on 10-03, after the month: none
        {
            **_claim(
                "a",
                (1, "96413", "2025-09-15"),
                (2, "99244", "2025-09-15"),
                (3, "99214", "2025-10-03"),
            ),
            "id": "cl1",
        },
        # no servicedDate: the billablePeriod's start, 09-01, is before the month: none
        {**_claim("a", (1, "99214", None)), "id": "cl2"},
        {**_claim("a", (1, "99214", "2025-09-20"), status="entered-in-error"), "id": "cl3"},
        # b has no model item: its Claim is not a conflict
        {**_claim("b", (1, "96413", "2025-09-15")), "id": "cl4"},
    ]
    packs = PackIndex(CS)
    found = ffs_conflicts(items, packs, OURS, {"cpoc"}, RevenueFilters("2025-09", "2025-09"))
    assert [
        (c.patient_ref, c.charge_ref, c.cpt_code, c.on.isoformat(), c.item_id) for c in found
    ] == [("Patient/a", "Claim/cl1#item1", "96413", "2025-09-15", "tm")]
    # the Claims worth reading: a's only (b, c have no billable item of a replacing pack)
    more = [_charge("n", "c", CS, "xx201", "2025-09-01", "2025-09-30", status="not-billable")]
    assert model_patients(items + more, packs, {"cpoc"}) == {"Patient/a"}
    assert model_patients(items, packs, set()) == set()


def test_the_dashboard_counts_ffs_conflicts_and_lists_them(
    client: FlaskClient, sekmet: SekmetServer
) -> None:
    months = [
        i
        for i in _items(sekmet)
        if i["status"] in ("billable", "billed", "planned")
        and i["code"]["coding"][0]["code"] in ("xx201", "xx202", "xx203", "xx204")
        and _month(i) == "2025-09"
    ]
    assert months, "the capture wrote September Treatment Months"
    tm = months[0]
    patient = tm["subject"]["reference"].split("/")[1]
    # five days into the month: inside it (a month runs about 30 days), after New Patient
    day = (date.fromisoformat(tm["occurrencePeriod"]["start"][:10]) + timedelta(days=5)).isoformat()
    assert day <= tm["occurrencePeriod"]["end"][:10]
    before = client.get("/review/dashboard?from=2025-09&to=2025-09").text
    assert "No FFS conflicts in these months." in before
    ffs = _charge("ffs-test-1", patient, CPT, "96413", day)
    del ffs["id"]
    with FhirClient(sekmet.base_url) as fhir:
        created = fhir.create(ffs)
    try:
        # one CPT 96413 inside a September Treatment Month: 1 conflict, September
        # written behind the app's back: read again (the page keeps a read 60 s)
        html = client.get("/review/dashboard?from=2025-09&to=2025-09&refresh=1").text
        link = '<a href="/review/dashboard/ffs?from=2025-09&amp;to=2025-09">2025-09: 1</a>'
        section = html[html.index("ffs-h") :][:900]
        assert link in html and "1 fee-for-service charges</a>" in html, section
        # … and the FFS charge is not payment-model revenue: the totals are unchanged.
        totals = re.compile(r'<dl class="totals">.*?</dl>', re.S)
        assert totals.search(html).group(0) == totals.search(before).group(0)  # type: ignore[union-attr]
        rows = client.get("/review/dashboard/ffs?from=2025-09&to=2025-09")
        assert rows.status_code == 200 and "1 conflicts" in rows.text and "CPT 96413" in rows.text
        exported = client.get("/review/dashboard/ffs?from=2025-09&to=2025-09&format=csv")
        table = list(csv.DictReader(io.StringIO(exported.text)))
        assert [(r["patient"], r["cpt_code"], r["date"]) for r in table] == [
            (f"Patient/{patient}", "96413", day)
        ]
        # the model item: one of the patient's CPOC items holding the day (the one starting
        # last; other lines, e.g. a Transition, may hold it besides the Treatment Month)
        holding = {
            f"ChargeItem/{i['id']}"
            for i in _items(sekmet)
            if i["subject"]["reference"] == f"Patient/{patient}"
            and i["code"]["coding"][0]["system"] == CS
            and i["occurrencePeriod"]["start"][:10] <= day <= i["occurrencePeriod"]["end"][:10]
        }
        assert f"ChargeItem/{tm['id']}" in holding and table[0]["model_item"] in holding
        assert table[0]["name"]  # the patient's name from the server
        book = client.get("/review/dashboard/ffs?from=2025-09&to=2025-09&format=xlsx")
        assert book.data[:2] == b"PK"
        assert (
            "No FFS conflicts." in client.get("/review/dashboard/ffs?from=2025-06&to=2025-06").text
        )
    finally:
        with FhirClient(sekmet.base_url) as fhir:
            gone = fhir.read("ChargeItem", str(created.id))
            fhir.update({**gone, "status": "entered-in-error"})


def test_the_dashboards_links_keep_a_launchs_handle(tmp_path: Path, smart: SmartMock) -> None:
    """A launch's handle (``?s=``) stays on every link of the dashboard and its rows pages,
    beside the filters (one query string, not two)."""
    client = review_flask_app(tmp_path / "store.sqlite", smart).test_client()
    started = client.get("/review/launch", query_string={"iss": smart.iss, "next": "dashboard"})
    parts = smart.approve(started.headers["Location"]).split("?", 1)
    done = client.get("/review/callback", query_string=parts[1])
    handle = done.headers["Location"].split("s=", 1)[1].split("&")[0]
    html = client.get(f"/review/dashboard?s={handle}&from=2025-09&to=2025-09").text
    assert f"/review/dashboard/rows?from=2025-09&amp;to=2025-09&amp;s={handle}" in html
    assert f'<input type="hidden" name="s" value="{handle}">' in html
    for path in ("ffs", "adherence", "rows"):
        rows = client.get(f"/review/dashboard/{path}?s={handle}&from=2025-09&to=2025-09").text
        assert rows.count(f"s={handle}") >= 3, path  # back, CSV, Excel
        assert "?s=" not in rows.replace(f'?s={handle}"', ""), path  # no second "?"


def _no_id(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k != "id"}


def _counted(items: list[dict[str, Any]], patient: str | None = None) -> Decimal:
    """September's revenue (billable, billed, planned) of ``patient``'s items (None: all)."""
    return sum(
        (
            Decimal(str(i["priceOverride"]["value"]))
            for i in items
            if _month(i) == "2025-09"
            and i["status"] in ("billable", "billed", "planned")
            and (patient is None or i["subject"]["reference"] == f"Patient/{patient}")
            and i["code"]["coding"][0]["system"] == CS
        ),
        Decimal(0),
    )


def test_the_payer_filter_is_the_patients_primary_coverage(
    client: FlaskClient, sekmet: SekmetServer, tmp_path: Path
) -> None:
    from revenue_builders import coverage, organization

    before = client.get("/review/dashboard?from=2025-09&to=2025-09").text
    # no Coverage on the seeded server: every line is in the "No coverage" bucket
    assert '<option value="No coverage">No coverage</option>' in before
    with FhirClient(sekmet.base_url) as fhir:
        org = fhir.create(_no_id(organization("x", "Medicare Part B")))
        payor = {"reference": f"Organization/{org.id}", "display": "CMS"}
        cov = fhir.create(_no_id(coverage("x", "appendix-a-folfox", payor, "2025-01-01")))
    try:
        items = _items(sekmet)
        # worked from the server's own items: folfox's September lines are Medicare's, the
        # other patients' lines have no Coverage; the two buckets add up to the revenue
        medicare, everyone = _counted(items, "appendix-a-folfox"), _counted(items)
        assert medicare > 0 and everyone > medicare
        # written behind the app's back: read again (the page keeps a read 60 s)
        html = client.get("/review/dashboard?from=2025-09&to=2025-09&refresh=1").text
        assert '<option value="Medicare Part B">Medicare Part B</option>' in html
        assert f"Medicare Part B: {medicare:.2f}</a>" in html
        assert f"No coverage: {everyone - medicare:.2f}</a>" in html
        only = client.get("/review/dashboard?from=2025-09&to=2025-09&payer=Medicare+Part+B")
        assert f"{medicare:.2f} USD</a>" in only.text
        assert '<option value="Medicare Part B" selected>' in only.text
        rows = client.get("/review/dashboard/rows?from=2025-09&to=2025-09&payer=Medicare+Part+B")
        assert ", payer Medicare Part B." in rows.text
        assert rows.text.count('<td data-label="Payer">Medicare Part B</td>') >= 1
        assert '<td data-label="Payer">No coverage</td>' not in rows.text
        exported = client.get("/review/dashboard/rows?from=2025-09&to=2025-09&format=csv")
        table = list(csv.DictReader(io.StringIO(exported.text)))
        assert {r["payer"] for r in table} == {"Medicare Part B", "No coverage"}
        assert {r["patient"] for r in table if r["payer"] == "Medicare Part B"} == {
            "Patient/appendix-a-folfox"
        }
        # cpoc report revenue reads the same server the same way: the same Medicare share
        from cpoc_fhir.cli import main

        out = tmp_path / "medicare.json"
        args = ["report", "revenue", "--fhir-base", sekmet.base_url, "--from", "2025-09"]
        more = ["--to", "2025-09", "--payer", "Medicare Part B", "--format", "json"]
        assert main([*args, *more, "--out", str(out)]) == 0
        data = json.loads(out.read_text())
        assert data["revenue"] == f"{medicare:.2f}"
        assert data["payers"] == {"Medicare Part B": f"{medicare:.2f}"}
    finally:
        with FhirClient(sekmet.base_url) as fhir:
            gone = fhir.read("Coverage", str(cov.id))
            fhir.update({**gone, "status": "entered-in-error"})


def test_a_claim_on_the_server_is_an_ffs_conflict(
    client: FlaskClient, sekmet: SekmetServer
) -> None:
    tm = next(
        i
        for i in _items(sekmet)
        if i["status"] in ("billable", "billed", "planned")
        and i["code"]["coding"][0]["code"] in ("xx201", "xx202", "xx203", "xx204")
        and _month(i) == "2025-09"
    )
    patient = tm["subject"]["reference"].split("/")[1]
    # six days into the Treatment Month: inside it, after New Patient
    day = (date.fromisoformat(tm["occurrencePeriod"]["start"][:10]) + timedelta(days=6)).isoformat()
    assert (
        "No FFS conflicts in these months."
        in client.get("/review/dashboard?from=2025-09&to=2025-09").text
    )
    with FhirClient(sekmet.base_url) as fhir:
        # line 1: chemo administration (replaced: a conflict); line 2: a consultation (not)
        created = fhir.create(_claim(patient, (1, "96413", day), (2, "99244", day)))
    try:
        # written behind the app's back: read again (the page keeps a read 60 s)
        html = client.get("/review/dashboard?from=2025-09&to=2025-09&refresh=1").text
        assert '<a href="/review/dashboard/ffs?from=2025-09&amp;to=2025-09">2025-09: 1</a>' in html
        exported = client.get("/review/dashboard/ffs?from=2025-09&to=2025-09&format=csv")
        table = list(csv.DictReader(io.StringIO(exported.text)))
        assert [(r["patient"], r["charge"], r["cpt_code"], r["date"]) for r in table] == [
            (f"Patient/{patient}", f"Claim/{created.id}#item1", "96413", day)
        ]
        rows = client.get("/review/dashboard/ffs?from=2025-09&to=2025-09").text
        assert f"Claim/{created.id}#item1" in rows and "CPT 96413" in rows
    finally:
        with FhirClient(sekmet.base_url) as fhir:
            gone = fhir.read("Claim", str(created.id))
            fhir.update({**gone, "status": "entered-in-error"})


def test_read_cache_keeps_a_read_a_minute_and_the_last_32_sessions() -> None:
    from cds_hooks.review.dashboard_cache import ReadCache
    from cpoc_fhir.reports.revenue_reads import ServerReads

    ticks = [0.0]
    reads: list[str] = []

    def read(key: str) -> Any:
        reads.append(key)
        return ServerReads((), None)

    cache = ReadCache(clock=lambda: ticks[0])
    at = datetime(2025, 10, 5, 9, 0, tzinfo=UTC)
    first = cache.get("s1", lambda: read("s1"), lambda: at)
    ticks[0] = 59.9  # under 60 s: the same read
    assert cache.get("s1", lambda: read("s1"), lambda: at) is first and reads == ["s1"]
    assert cache.get("s1", lambda: read("s1"), lambda: at, refresh=True) is not first
    ticks[0] = 59.9 + 60.0  # 60 s after the refresh: read again
    cache.get("s1", lambda: read("s1"), lambda: at)
    assert reads == ["s1", "s1", "s1"]
    # 33 sessions: the least recently used one (s1 was used last before s2… were added,
    # then s1 again) stays; s2, the oldest untouched, goes
    for n in range(2, 34):
        cache.get(f"s{n}", lambda n=n: read(f"s{n}"), lambda: at)
        if n == 2:
            cache.get("s1", lambda: read("s1"), lambda: at)  # s1 used again: now newest
    assert len(cache) == 32
    reads.clear()
    cache.get("s1", lambda: read("s1"), lambda: at)
    cache.get("s2", lambda: read("s2"), lambda: at)
    assert reads == ["s2"]  # s1 kept, s2 dropped (then read again)
    cache.drop()
    assert len(cache) == 0
    # names: looked up once per read, only those not asked before (an unnamed one too)
    asked: list[set[str]] = []
    entry = cache.get("s1", lambda: read("s1"), lambda: at)

    def lookup(refs: set[str]) -> dict[str, str]:
        asked.append(refs)
        return {r: r.upper() for r in refs if r != "Patient/gone"}

    assert entry.names_for({"Patient/a", "Patient/gone"}, lookup) == {"Patient/a": "PATIENT/A"}
    assert entry.names_for({"Patient/a", "Patient/b", "Patient/gone"}, lookup) == {
        "Patient/a": "PATIENT/A",
        "Patient/b": "PATIENT/B",
    }
    assert asked == [{"Patient/a", "Patient/gone"}, {"Patient/b"}]


def _fhir_reads(smart: SmartMock) -> list[str]:
    """The FHIR requests the EHR saw since the last call ("GET ChargeItem", …)."""
    seen = list(smart.fhir_requests)
    smart.fhir_requests.clear()
    return seen


def test_the_dashboard_reads_the_server_once_a_minute_per_session(
    client: FlaskClient, smart: SmartMock, tmp_path: Path
) -> None:
    from cds_hooks.review.dashboard_cache import EXTENSION, ReadCache

    ticks = [1000.0]
    client.application.extensions[EXTENSION] = ReadCache(clock=lambda: ticks[0])
    _fhir_reads(smart)
    first = client.get("/review/dashboard?from=2025-09&to=2025-09")
    assert {"GET ChargeItem", "GET Coverage", "GET Claim"} <= set(_fhir_reads(smart))
    # the test app's clock: 2025-10-05 09:00 (+02:00); Refresh = the page with refresh=1
    refresh = '<a href="/review/dashboard?from=2025-09&amp;to=2025-09&amp;refresh=1">Refresh</a>'
    assert f"Figures as of 09:00 · {refresh}" in first.text
    ticks[0] += 59  # within the minute: other months, the rows, their export — no read …
    assert client.get("/review/dashboard?from=2025-07&to=2025-09").status_code == 200
    assert _fhir_reads(smart) == []
    client.get("/review/dashboard/rows?from=2025-09&to=2025-09")
    assert _fhir_reads(smart) == ["GET Patient"]  # … but the names, once
    client.get("/review/dashboard/rows?from=2025-09&to=2025-09&group=planned&format=csv")
    client.get("/review/dashboard/ffs?from=2025-09&to=2025-09")
    assert _fhir_reads(smart) == []
    # Refresh reads again
    client.get("/review/dashboard?from=2025-09&to=2025-09&refresh=1")
    assert "GET ChargeItem" in _fhir_reads(smart)
    ticks[0] += 61  # over a minute since: read again
    client.get("/review/dashboard?from=2025-09&to=2025-09")
    assert "GET ChargeItem" in _fhir_reads(smart)
    # any POST (here an action refused for its missing token) drops the read
    client.post("/review/actions", data={"action": "approve"})
    _fhir_reads(smart)
    client.get("/review/dashboard?from=2025-09&to=2025-09")
    assert "GET ChargeItem" in _fhir_reads(smart)
    # another session has its own read
    other = review_flask_app(tmp_path / "other.sqlite", smart).test_client()
    other.application.extensions[EXTENSION] = client.application.extensions[EXTENSION]
    started = other.get("/review/launch", query_string={"iss": smart.iss, "next": "dashboard"})
    parts = smart.approve(started.headers["Location"]).split("?", 1)
    other.get("/review/callback", query_string=parts[1])
    _fhir_reads(smart)
    other.get("/review/dashboard?from=2025-09&to=2025-09")
    assert "GET ChargeItem" in _fhir_reads(smart)


def test_a_refused_coverage_or_claim_search_is_noted_not_a_server_error(
    client: FlaskClient, smart: SmartMock
) -> None:
    smart.refuse_types.update({"Coverage", "Claim"})
    try:
        page = client.get("/review/dashboard?from=2025-09&to=2025-09")
        assert page.status_code == 200
        assert "The server refused the Coverage search (403): payers unknown." in page.text
        assert "The server refused the Claim search (403): FFS conflicts from" in page.text
        assert '<option value="No coverage">' not in page.text  # payers unknown, not "none"
        assert "Revenue by month and status" in page.text  # the figures stand
        rows = client.get("/review/dashboard/rows?from=2025-09&to=2025-09")
        assert rows.status_code == 200 and "payers unknown" in rows.text
    finally:
        smart.refuse_types.clear()


def test_cpoc_report_revenue_warns_when_the_coverages_are_refused(
    client: FlaskClient,
    smart: SmartMock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Through the EHR (the mock's FHIR endpoint with the launch's token), which answers the
    Coverage search 403: the report stands (no payers), ``--payer`` is refused (exit 2)."""
    from cpoc_fhir.cli import main

    monkeypatch.setenv("CPOC_FHIR_TOKEN", smart.current_access_tokens()[-1])
    smart.refuse_types.add("Coverage")
    try:
        out = tmp_path / "r.json"
        args = ["report", "revenue", "--fhir-base", smart.iss, "--from", "2025-09"]
        assert main([*args, "--to", "2025-09", "--format", "json", "--out", str(out)]) == 0
        assert "warning: The server refused the Coverage search (403)" in capsys.readouterr().err
        data = json.loads(out.read_text())
        assert data["payers"] == {} and data["revenue"] != "0.00"
        assert main([*args, "--to", "2025-09", "--payer", "Acme"]) == 2
        assert "--payer: the payers are unknown" in capsys.readouterr().err
    finally:
        smart.refuse_types.clear()


def test_the_provider_filter_keeps_that_performers_items(
    client: FlaskClient, sekmet: SekmetServer
) -> None:
    # Issue 17 item 4's provider filter through the page (not only RevenueFilters): one of our
    # ChargeItems for September performed by Practitioner/dr-z, 123.45 planned. Filtered by
    # dr-z the revenue is that item alone (worked by hand: 123.45); unfiltered it is in the
    # total beside the capture's items; dr-z is among the form's choices.
    from revenue_builders import charge

    item = charge("x", "appendix-a-folfox", "2025-09-15", "xx203", "planned", "123.45",
                  performer="Practitioner/dr-z")  # fmt: skip
    with FhirClient(sekmet.base_url) as fhir:
        made = fhir.create(_no_id(item))
    try:
        everyone = _counted(_items(sekmet))
        assert everyone > Decimal("123.45")  # the capture's September lines are there too
        page = client.get("/review/dashboard?from=2025-09&to=2025-09").text
        assert f"{everyone:.2f} USD</a>" in page
        assert '<option value="Practitioner/dr-z">Practitioner/dr-z</option>' in page
        only = client.get("/review/dashboard?from=2025-09&to=2025-09&provider=Practitioner/dr-z")
        assert only.status_code == 200
        assert "123.45 USD</a>" in only.text and f"{everyone:.2f} USD" not in only.text
        assert '<option value="Practitioner/dr-z" selected>' in only.text
    finally:
        with FhirClient(sekmet.base_url) as fhir:
            gone = fhir.read("ChargeItem", str(made.id))
            fhir.update({**gone, "status": "entered-in-error"})
