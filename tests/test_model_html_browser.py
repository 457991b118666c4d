"""The ``cpoc model`` page in a real browser (Debian's chromium through Playwright), opened from
a file as a user opens it: a generated practice's year. Skipped without /usr/bin/chromium
(a failure when CI=true)."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cpoc_fhir.cli import main
from cpoc_fhir.synthetic import generate_practice

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    if os.environ.get("CI") == "true":
        pytest.fail("CI=true but /usr/bin/chromium is missing (scripts/ci-chromium.sh)")
    pytest.skip("Debian's chromium (/usr/bin/chromium) is not installed", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def page_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("model-practice")
    generate_practice(folder, patients=40, seed=5, year=2025, claims=True)
    out = folder.parent / "model.html"
    argv = ["model", str(folder), "--ffs", str(folder), "--from", "2025-01-01"]
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main([*argv, "--to", "2025-12-31", "--format", "html"]) == 0
    out.write_text(buffer.getvalue(), encoding="utf-8")
    return out.as_uri()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.mark.parametrize("width", [1100, 360])
def test_loads_offline_without_errors_and_fits_the_screen(
    browser: Any, page_url: str, width: int
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 800})
    try:
        page = context.new_page()
        errors: list[str] = []
        requests: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(page_url)
        assert errors == [] and requests == [page_url]
        assert page.evaluate("document.scrollingElement.scrollWidth") <= width
        heading = page.get_by_role("heading", name="CPOC against fee-for-service")
        sync_api.expect(heading).to_be_visible()
        suffix = "-narrow" if width < 600 else ""
        shown = [c.get_attribute("id") for c in page.locator("svg[role=img]:visible").all()]
        assert shown == [
            f"chart-months{suffix}",
            f"chart-patients{suffix}",
            f"chart-components{suffix}",
        ]
        for chart in page.locator("svg[role=img]:visible").all():
            box = chart.bounding_box()
            assert box is not None and box["width"] <= width
    finally:
        context.close()


def test_a_patient_below_ffs_opens_with_a_click(browser: Any, page_url: str) -> None:
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    try:
        page = context.new_page()
        page.goto(page_url)
        first = page.locator("#patients details").first
        table = first.locator("table")
        sync_api.expect(table).to_be_hidden()
        first.locator("summary").click()
        sync_api.expect(table).to_be_visible()
        assert table.locator("tbody tr").count() >= 1
    finally:
        context.close()
