"""The practice pages in a real browser (issue 17 item 8): the dashboard, the rows behind a
number and the work queue at 1280 px and 360 px — no console error, no horizontal scroll,
and axe-core (axe-playwright-python bundles it) finds no serious or critical violation.
Debian's chromium driven by Playwright; skipped without /usr/bin/chromium (a failure when
CI=true)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from html_browser_support import (
    SCREENSHOTS,
    browser_fixture,
    require_chromium,
    screenshots_requested,
)
from revenue_builders import coverage
from review_support import review_flask_app, seeded_sekmet, smart_in_front_of
from sekmet_server import SekmetServer, free_port
from smart_mock import SmartMock
from werkzeug.serving import make_server

from cpoc_fhir.fhir.client import FhirClient

sync_api = require_chromium()
axe_sync = pytest.importorskip("axe_playwright_python.sync_playwright")
browser = browser_fixture()

MEDICARE = "Medicare Part B"
PAGES = (
    "/review/dashboard?from=2025-05&to=2025-10",
    "/review/dashboard?from=2025-05&to=2025-10&payer=Medicare+Part+B",
    "/review/dashboard/rows?from=2025-09&to=2025-09",
    "/review/dashboard/ffs?from=2025-09&to=2025-09",
    "/review/dashboard/adherence?from=2025-09&to=2025-09",
    "/review/queue",
)


@pytest.fixture(scope="module")
def sekmet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SekmetServer]:
    """The seeded server with two payers: Medicare for folfox, Acme for the NSCLC patient
    (the others uninsured: "No coverage")."""
    with seeded_sekmet(tmp_path_factory.mktemp("dashboard-browser")) as server:
        with FhirClient(server.base_url) as fhir:
            for patient, name in (("appendix-a-folfox", MEDICARE), ("appendix-b-nsclc", "Acme")):
                org = fhir.create({"resourceType": "Organization", "name": name})
                payor = {"reference": f"Organization/{org.id}"}
                cov = coverage("x", patient, payor, "2025-01-01")
                fhir.create({k: v for k, v in cov.items() if k != "id"})
        yield server


@pytest.fixture(scope="module")
def smart(sekmet: SekmetServer) -> Iterator[SmartMock]:
    with smart_in_front_of(sekmet) as mock:
        yield mock


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory, smart: SmartMock) -> Iterator[str]:
    store = tmp_path_factory.mktemp("dashboard-browser-store") / "store.sqlite"
    server = make_server("127.0.0.1", free_port(), review_flask_app(store, smart), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


def _serious(results: Any) -> list[str]:
    return [
        f"{v['id']}: {v['help']} ({len(v['nodes'])})"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]


@pytest.mark.parametrize("width", [1280, 360])
def test_practice_pages_fit_have_no_errors_and_pass_axe(
    browser: Any, app_url: str, smart: SmartMock, width: int
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 800})
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("response", lambda r: errors.append(r.url) if r.status == 404 else None)
        page.goto(f"{app_url}/review/launch?iss={smart.iss}&next=dashboard")
        # The standalone landing (the launch's handle, ?s=, keeps this tab's session).
        assert page.url.split("?")[0] == f"{app_url}/review/dashboard", page.url
        axe = axe_sync.Axe()
        for path in PAGES:
            page.goto(f"{app_url}{path}")
            sync_api.expect(page.locator("h1")).not_to_have_text("")
            scroll_width = page.evaluate("document.scrollingElement.scrollWidth")
            assert scroll_width <= width, (path, scroll_width)
            assert _serious(axe.run(page)) == [], path
            if screenshots_requested() and path.startswith("/review/dashboard?"):
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)  # CPOC_SCREENSHOTS=1: the README's
                name = "dashboard-payer" if "payer=" in path else "dashboard"
                page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
        assert errors == []
    finally:
        context.close()


def test_dashboard_numbers_lead_to_their_rows(browser: Any, app_url: str, smart: SmartMock) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto(f"{app_url}/review/launch?iss={smart.iss}&next=dashboard")
        page.goto(f"{app_url}/review/dashboard?from=2025-09&to=2025-09")
        charts = page.locator("svg[role=img]:visible")
        assert charts.count() >= 2  # the wide drawings; the narrow ones hidden at 1280 px
        page.locator("dl.totals a").first.click()  # the revenue total
        sync_api.expect(page.locator("h1")).to_have_text("Items behind the number")
        caption = page.locator("caption").inner_text()
        page.go_back()
        total = page.locator("dl.totals a").first.inner_text().split()[0]
        assert f"{total} USD revenue" in caption
    finally:
        context.close()


@pytest.mark.parametrize("width", [1280, 360])
def test_the_payer_filter_narrows_the_figures(
    browser: Any, app_url: str, smart: SmartMock, width: int
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 800})
    try:
        page = context.new_page()
        page.goto(f"{app_url}/review/launch?iss={smart.iss}&next=dashboard")
        page.goto(f"{app_url}/review/dashboard?from=2025-09&to=2025-09")
        options = page.locator("#d-payer option").all_inner_texts()
        assert options == ["any", "Acme", MEDICARE, "No coverage"]  # the payers found
        by_payer = {
            text.rsplit(": ", 1)[0]: text.rsplit(": ", 1)[1]
            for text in page.locator("#payers-h ~ ul li").all_inner_texts()
        }
        page.select_option("#d-payer", label=MEDICARE)
        page.get_by_role("button", name="Show").click()
        sync_api.expect(page.locator("#d-payer option:checked")).to_have_text(MEDICARE)
        assert "payer=Medicare+Part+B" in page.url
        # the revenue total is now Medicare's share, as "Revenue by payer" said before
        total = page.locator("dl.totals a").first.inner_text().split()[0]
        assert total == by_payer[MEDICARE]
        assert page.evaluate("document.scrollingElement.scrollWidth") <= width
        assert _serious(axe_sync.Axe().run(page)) == []
    finally:
        context.close()
