"""The HTML value report in a real browser: Debian's chromium driven by Playwright, the page
opened from a file as a user opens it. Skipped when /usr/bin/chromium is missing (a failure
when CI=true). With CPOC_SCREENSHOTS=1 it writes docs/screenshots/value-report*.png through
scripts/screenshot_value_report.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from html_browser_support import (
    browser_fixture,
    require_chromium,
    screenshots_requested,
    watched_fixture,
)
from test_value_html import report_with_benchmarks, report_without_benchmarks

from cpoc_fhir.reports.value_html import render_value_html

REPO = Path(__file__).parents[1]
sync_api = require_chromium()
browser = browser_fixture()
watched = watched_fixture()


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("value-html")
    urls = {}
    for name, report in (
        ("rated", report_with_benchmarks()),
        ("unrated", report_without_benchmarks()),
    ):
        path = folder / f"{name}.html"
        path.write_text(render_value_html(report), encoding="utf-8")
        urls[name] = path.as_uri()
    return urls


@pytest.mark.parametrize("name", ["rated", "unrated"])
@pytest.mark.parametrize("width", [1100, 360])
def test_loads_offline_without_errors_and_fits_the_screen(
    watched: Any, pages: dict[str, str], name: str, width: int
) -> None:
    w = watched(width)
    w.open_offline(pages[name])  # nothing but the file itself: no font, CDN or image
    w.assert_fits()
    heading = w.page.get_by_role("heading", name="Value-based adjustment report")
    sync_api.expect(heading).to_be_visible()


def test_wide_tables_scroll_in_their_own_box_at_360_px(watched: Any, pages: dict[str, str]) -> None:
    w = watched(360)
    w.page.goto(pages["rated"])
    box = w.page.get_by_role("region", name="Measures: populations, rate and benchmark")
    widths = box.evaluate("e => [e.scrollWidth, e.clientWidth]")
    assert widths[0] > widths[1]  # the table is wider than the phone …
    box.focus()
    w.page.keyboard.press("ArrowRight")  # … and scrolls with the keyboard, inside its box
    w.page.wait_for_function("e => e.scrollLeft > 0", arg=box.element_handle(), timeout=5000)
    assert w.page.evaluate("window.scrollX") == 0
    charts = w.page.locator("svg[role=img]:visible").all()
    assert [c.get_attribute("id") for c in charts] == [
        "chart-measures-narrow",
        "chart-er-narrow",
        "chart-pathways-narrow",
    ]
    for chart in charts:
        box = chart.bounding_box()
        assert box and box["width"] <= 360
        # drawn for the phone: shown at (nearly) its own size, so 12-px labels stay ≥ 10 px
        assert float(chart.get_attribute("width") or 0) * 10 / 12 <= box["width"]


def test_the_patients_behind_a_numerator_open_with_a_click_or_the_keyboard(
    watched: Any, pages: dict[str, str]
) -> None:
    w = watched(1100)
    w.page.goto(pages["rated"])
    q4 = w.page.locator("#measure-q4 details").first
    patient = q4.get_by_role("rowheader", name="q4-p01")
    assert not patient.is_visible()
    q4.locator("summary").click()
    sync_api.expect(patient).to_be_visible()
    sync_api.expect(q4.get_by_text("Observation/q4-p01-n")).to_be_visible()
    assert q4.evaluate("e => e.open")

    q1 = w.page.locator("#measure-q1 details").first
    q1.locator("summary").focus()
    w.page.keyboard.press("Enter")
    sync_api.expect(q1.get_by_role("rowheader", name="q1-p18")).to_be_visible()
    assert w.errors == []


def test_the_contents_link_to_each_section(watched: Any, pages: dict[str, str]) -> None:
    w = watched(1100)
    w.page.goto(pages["rated"])
    w.page.get_by_role("navigation", name="Sections").get_by_role("link", name="Pathways").click()
    assert w.page.url.endswith("#pathways")
    sync_api.expect(w.page.get_by_role("heading", name="Pathway adherence")).to_be_in_viewport()
    w.page.get_by_role("link", name="Q5", exact=True).click()
    sync_api.expect(w.page.locator("#measure-q5-h")).to_be_in_viewport()


@pytest.mark.parametrize("width", [1100, 360])
def test_charts_are_named_images(watched: Any, pages: dict[str, str], width: int) -> None:
    w = watched(width)
    w.page.goto(pages["rated"])
    for name in (
        "Quality measures: rate against the benchmark",
        "Avoidable emergency visits by quarter",
        "Pathway adherence by cancer type",
    ):
        sync_api.expect(w.page.get_by_role("img", name=name)).to_have_count(1)  # one exposed
        sync_api.expect(w.page.get_by_role("img", name=name)).to_be_visible()


def test_screenshots(browser: Any) -> None:
    """The README's screenshots, written only on request (CPOC_SCREENSHOTS=1)."""
    if not screenshots_requested():
        pytest.skip("CPOC_SCREENSHOTS=1 writes docs/screenshots/value-report*.png")
    spec = importlib.util.spec_from_file_location(
        "screenshot_value_report", REPO / "scripts" / "screenshot_value_report.py"
    )
    assert spec and spec.loader
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    written = script.screenshots(
        render_value_html(report_with_benchmarks()), REPO / "docs" / "screenshots", browser
    )
    assert [p.name for p in written] == ["value-report.png", "value-report-360.png"]


def test_print_shows_the_drill_downs_and_the_wide_charts(
    watched: Any, pages: dict[str, str]
) -> None:
    """Paper cannot be clicked: in print the drill-downs' contents show without opening them
    (::details-content), the contents list goes, and the desktop drawing of each chart is used."""
    w = watched(360)
    w.page.goto(pages["rated"])
    w.page.emulate_media(media="print")
    q4 = w.page.locator("#measure-q4 details").first
    assert not q4.evaluate("e => e.open")
    sync_api.expect(q4.get_by_role("rowheader", name="q4-p01")).to_be_visible()
    sync_api.expect(w.page.get_by_role("navigation", name="Sections")).to_be_hidden()
    sync_api.expect(w.page.locator("#chart-measures")).to_be_visible()
    sync_api.expect(w.page.locator("#chart-measures-narrow")).to_be_hidden()
