"""The ``cpoc report savings`` and ``cpoc report episodes`` pages in a real browser (Debian's
chromium through Playwright), opened from a file: generated practices. Skipped without
/usr/bin/chromium (a failure when CI=true). With CPOC_SCREENSHOTS=1 the test writes
docs/screenshots/savings-report.png and episodes-report.png (and their 360 px views)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cpoc_fhir.cli import main
from cpoc_fhir.reports.benchmarks import example_benchmarks_path
from cpoc_fhir.synthetic import generate_practice

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
if not CHROMIUM.exists():
    if os.environ.get("CI") == "true":
        pytest.fail("CI=true but /usr/bin/chromium is missing (scripts/ci-chromium.sh)")
    pytest.skip("Debian's chromium (/usr/bin/chromium) is not installed", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    now = tmp_path_factory.mktemp("savings-now")
    before = tmp_path_factory.mktemp("savings-before")
    generate_practice(now, patients=40, seed=5, year=2025, claims=True)
    generate_practice(before, patients=40, seed=6, year=2024, claims=True)
    savings = now.parent / "savings.html"
    episodes = now.parent / "episodes.html"
    argv = ["report", "savings", "--year", "2025", str(now), "--claims", str(now)]
    argv += ["--baseline", str(before), "--baseline-year", "2024"]
    argv += ["--benchmarks", str(example_benchmarks_path()), "--format", "html"]
    assert main([*argv, "--out", str(savings)]) == 0
    argv = ["report", "episodes", str(now), "--as-of", "2026-06-30", "--format", "html"]
    assert main([*argv, "--out", str(episodes)]) == 0
    return {"savings": savings.as_uri(), "episodes": episodes.as_uri()}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield browser
        finally:
            browser.close()


CASES = {
    "savings": ("Shared savings", ["chart-spending", "chart-savings"]),
    "episodes": ("Episode prices from CPOC history", ["chart-cancers"]),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("width", [1100, 360])
def test_loads_offline_without_errors_and_fits_the_screen(
    browser: Any, pages: dict[str, str], name: str, width: int
) -> None:
    url = pages[name]
    title, charts = CASES[name]
    context = browser.new_context(viewport={"width": width, "height": 800})
    try:
        page = context.new_page()
        errors: list[str] = []
        requests: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(url)
        assert errors == [] and requests == [url]
        assert page.evaluate("document.scrollingElement.scrollWidth") <= width
        sync_api.expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()
        suffix = "-narrow" if width < 600 else ""
        shown = [c.get_attribute("id") for c in page.locator("svg[role=img]:visible").all()]
        assert shown == [f"{chart}{suffix}" for chart in charts]
        for chart in page.locator("svg[role=img]:visible").all():
            box = chart.bounding_box()
            assert box is not None and box["width"] <= width
        if os.environ.get("CPOC_SCREENSHOTS") == "1":
            tail = "-360" if width < 600 else ""
            page.screenshot(path=str(SCREENSHOTS / f"{name}-report{tail}.png"), full_page=True)
    finally:
        context.close()


def test_every_episode_opens_with_a_click(browser: Any, pages: dict[str, str]) -> None:
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    try:
        page = context.new_page()
        page.goto(pages["episodes"])
        table = page.locator("#episodes details table")
        sync_api.expect(table).to_be_hidden()
        page.locator("#episodes details summary").click()
        sync_api.expect(table).to_be_visible()
        assert table.locator("tbody tr").count() == 40
    finally:
        context.close()
