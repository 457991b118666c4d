"""The ``cpoc report enhanced-care`` page in a real browser (Debian's chromium through
Playwright), opened from a file. Skipped without /usr/bin/chromium (a failure when CI=true).
With CPOC_SCREENSHOTS=1 it writes docs/screenshots/enhanced-care-report.png."""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_enhanced_care import BASELINE_ER, YEAR_ER, opted_in_payer_file

from cpoc_fhir.cli import main

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).parents[1] / "docs" / "screenshots"
if not CHROMIUM.exists():
    if os.environ.get("CI") == "true":
        pytest.fail("CI=true but /usr/bin/chromium is missing (scripts/ci-chromium.sh)")
    pytest.skip("Debian's chromium (/usr/bin/chromium) is not installed", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def page_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("enhanced-care")
    value = folder / "value-2026.json"
    value.write_text(json.dumps({"year": 2026, "asOf": "2026-12-31", "er": YEAR_ER}))
    baseline = folder / "value-2025.json"
    baseline.write_text(json.dumps({"year": 2025, "asOf": "2025-12-31", "er": BASELINE_ER}))
    argv = ["report", "enhanced-care", "--year", "2026", "--value", str(value)]
    argv += ["--baseline", str(baseline), "--payer", str(opted_in_payer_file(folder))]
    argv += ["--format", "html"]
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(argv) == 0
    out = folder / "enhanced-care.html"
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
        name = "Supplemental payment for enhanced patient-centred care"
        sync_api.expect(page.get_by_role("heading", name=name)).to_be_visible()
        suffix = "-narrow" if width < 600 else ""
        shown = [c.get_attribute("id") for c in page.locator("svg[role=img]:visible").all()]
        assert shown == [f"chart-rates{suffix}", f"chart-amounts{suffix}"]
        for chart in page.locator("svg[role=img]:visible").all():
            box = chart.bounding_box()
            assert box is not None and box["width"] <= width
        # the quarter table: Q4's rate 6 sets 2027-Q1's amount 62.50 (test_enhanced_care)
        row = page.locator("#quarters tbody tr").nth(3)
        sync_api.expect(row).to_contain_text("2027-Q1")
        sync_api.expect(row).to_contain_text("62.50")
        if os.environ.get("CPOC_SCREENSHOTS") == "1" and width > 600:
            page.screenshot(path=str(SCREENSHOTS / "enhanced-care-report.png"), full_page=True)
    finally:
        context.close()
