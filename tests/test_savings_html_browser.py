"""The ``cpoc report savings`` and ``cpoc report episodes`` pages in a real browser (Debian's
chromium through Playwright), opened from a file: generated practices. Skipped without
/usr/bin/chromium (a failure when CI=true). With CPOC_SCREENSHOTS=1 the test writes
docs/screenshots/savings-report.png and episodes-report.png (and their 360 px views)."""

from __future__ import annotations

from typing import Any

import pytest
from html_browser_support import (
    SCREENSHOTS,
    browser_fixture,
    require_chromium,
    screenshots_requested,
    watched_fixture,
)

from cpoc_fhir.cli import main
from cpoc_fhir.reports.benchmarks import example_benchmarks_path
from cpoc_fhir.synthetic import generate_practice

sync_api = require_chromium()
browser = browser_fixture()
watched = watched_fixture()


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


CASES = {
    "savings": ("Shared savings", ["chart-spending", "chart-savings"]),
    "episodes": ("Episode prices from CPOC history", ["chart-cancers"]),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("width", [1100, 360])
def test_loads_offline_without_errors_and_fits_the_screen(
    watched: Any, pages: dict[str, str], name: str, width: int
) -> None:
    title, charts = CASES[name]
    w = watched(width)
    w.open_offline(pages[name])
    w.assert_fits()
    sync_api.expect(w.page.get_by_role("heading", name=title, exact=True)).to_be_visible()
    suffix = "-narrow" if width < 600 else ""
    assert w.visible_chart_ids() == [f"{chart}{suffix}" for chart in charts]
    if screenshots_requested():
        tail = "-360" if width < 600 else ""
        w.page.screenshot(path=str(SCREENSHOTS / f"{name}-report{tail}.png"), full_page=True)


def test_every_episode_opens_with_a_click(watched: Any, pages: dict[str, str]) -> None:
    page = watched(1100).page
    page.goto(pages["episodes"])
    table = page.locator("#episodes details table")
    sync_api.expect(table).to_be_hidden()
    page.locator("#episodes details summary").click()
    sync_api.expect(table).to_be_visible()
    assert table.locator("tbody tr").count() == 40
