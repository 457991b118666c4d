"""The review app end to end in a real browser: Debian's chromium driven by Playwright, the
Flask app served on 127.0.0.1, the Authlib mock SMART server in front of a capture-seeded
sekmet. Skipped when /usr/bin/chromium is missing (a failure when CI=true). With
CPOC_SCREENSHOTS=1 the tests write docs/screenshots/*.png (shown in the README)."""

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
from review_support import (
    items_of,
    provenances_of,
    review_flask_app,
    seeded_sekmet,
    smart_in_front_of,
)
from sekmet_server import SekmetServer, free_port
from smart_mock import SmartMock
from werkzeug.serving import make_server

sync_api = require_chromium()
browser = browser_fixture()
Page = Any


@pytest.fixture(scope="module")
def sekmet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SekmetServer]:
    with seeded_sekmet(tmp_path_factory.mktemp("review-browser")) as server:
        yield server


@pytest.fixture(scope="module")
def smart(sekmet: SekmetServer) -> Iterator[SmartMock]:
    with smart_in_front_of(sekmet) as mock:
        yield mock


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory, smart: SmartMock) -> Iterator[str]:
    store = tmp_path_factory.mktemp("review-browser-store") / "store.sqlite"
    app = review_flask_app(store, smart)
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


@pytest.fixture
def page(browser: Any) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


def shot(page: Page, name: str) -> None:
    if screenshots_requested():
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))  # the viewport


def ehr_launch(page: Page, app_url: str, smart: SmartMock, patient: str) -> None:
    page.goto(f"{app_url}/review/launch?iss={smart.iss}&launch={patient}")
    assert page.url == f"{app_url}/review/patient/{patient}", page.url
    sync_api.expect(page.locator("h1")).not_to_have_text("")


def planned(sekmet: SekmetServer, patient: str, code: str) -> dict[str, Any]:
    [item] = [
        i
        for i in items_of(sekmet, patient, status="planned")
        if i["code"]["coding"][0]["code"] == code
    ]
    return item


def current(sekmet: SekmetServer, patient: str, item_id: str) -> dict[str, Any]:
    [item] = [i for i in items_of(sekmet, patient) if i["id"] == item_id]
    return item


def article_of(page: Page, item_id: str) -> Any:
    """The patient page's article of one ChargeItem, its review forms opened."""
    article = page.locator("article").filter(
        has=page.locator(f'input[name="item_id"][value="{item_id}"]')
    )
    article.locator("summary").click()
    return article


def test_launch_view_and_approve_with_mouse_and_keyboard(
    page: Page, app_url: str, smart: SmartMock, sekmet: SekmetServer
) -> None:
    ehr_launch(page, app_url, smart, "appendix-a-folfox")
    sync_api.expect(page.get_by_role("heading", name="Month 7")).to_be_visible()
    shot(page, "patient-view")
    item = planned(sekmet, "appendix-a-folfox", "xx303")
    article_of(page, item["id"]).get_by_role("button", name="Approve (billable)").click()
    sync_api.expect(page.get_by_role("status").filter(has_text="Charge approved")).to_be_visible()
    assert current(sekmet, "appendix-a-folfox", item["id"])["status"] == "billable"
    assert len(provenances_of(sekmet, item["id"])) == 1

    other = planned(sekmet, "appendix-a-folfox", "xx401")
    button = article_of(page, other["id"]).get_by_role("button", name="Approve (billable)")
    button.focus()
    page.keyboard.press("Enter")
    sync_api.expect(page.get_by_role("status").filter(has_text="Charge approved")).to_be_visible()
    assert current(sekmet, "appendix-a-folfox", other["id"])["status"] == "billable"
    assert len(provenances_of(sekmet, other["id"])) == 1


def test_hold_with_a_reason_and_correct_a_level(
    page: Page, app_url: str, smart: SmartMock, sekmet: SekmetServer
) -> None:
    ehr_launch(page, app_url, smart, "oral-capecitabine-trial")
    held = planned(sekmet, "oral-capecitabine-trial", "xx500")
    article = article_of(page, held["id"])
    article.locator("form.hold").get_by_label("Reason").fill("consent form missing")
    article.get_by_role("button", name="Hold").click()
    sync_api.expect(page.get_by_role("status").filter(has_text="on hold")).to_be_visible()
    sync_api.expect(page.get_by_text("On hold: consent form missing")).to_be_visible()
    after = current(sekmet, "oral-capecitabine-trial", held["id"])
    assert after["status"] == "planned" and "consent form missing" in str(after["extension"])

    old = planned(sekmet, "oral-capecitabine-trial", "xx303")
    article = article_of(page, old["id"])
    form = article.locator("form.correct")
    form.get_by_label("New code").select_option("xx302")
    form.get_by_label("Reason").fill("monitoring level re-scored")
    form.get_by_role("button", name="Correct").click()
    sync_api.expect(page.get_by_role("status").filter(has_text="corrected")).to_be_visible()
    items = items_of(sekmet, "oral-capecitabine-trial")
    assert current(sekmet, "oral-capecitabine-trial", old["id"])["status"] == "entered-in-error"
    [new] = [
        i for i in items if i["code"]["coding"][0]["code"] == "xx302" and i["status"] == "billable"
    ]
    assert new["identifier"][0]["value"].endswith("-c1")


def test_work_queue_and_error_pages(
    page: Page, app_url: str, smart: SmartMock, sekmet: SekmetServer
) -> None:
    page.goto(f"{app_url}/review/launch")
    sync_api.expect(page.locator("h1")).to_have_text("Open this app from the EHR")
    shot(page, "error-missing-launch")
    page.goto(f"{app_url}/review/callback?state=forged&code=x")
    sync_api.expect(page.locator("h1")).to_have_text("Sign-in could not be completed")

    ehr_launch(page, app_url, smart, "declined-treatment")
    page.goto(f"{app_url}/review/queue")
    sync_api.expect(page.get_by_role("heading", name="Work queue")).to_be_visible()
    sync_api.expect(page.get_by_role("link", name="Patient/declined-treatment")).to_be_visible()
    page.get_by_label("Code").select_option("xx303")
    page.get_by_role("button", name="Filter").click()
    assert "code=xx303" in page.url
    shot(page, "work-queue")


def test_no_horizontal_scroll_at_360_px(
    browser: Any, app_url: str, smart: SmartMock, sekmet: SekmetServer
) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740})
    try:
        page = context.new_page()
        ehr_launch(page, app_url, smart, "declined-treatment")
        for path in ("/review/patient/declined-treatment", "/review/queue", "/review/launch"):
            page.goto(f"{app_url}{path}")
            width = page.evaluate("document.scrollingElement.scrollWidth")
            assert width <= 360, (path, width)
    finally:
        context.close()
