"""The ``cpoc report enhanced-care`` page in a real browser (Debian's chromium through
Playwright), opened from a file. Skipped without /usr/bin/chromium (a failure when CI=true).
With CPOC_SCREENSHOTS=1 it writes docs/screenshots/enhanced-care-report.png."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import pytest
from html_browser_support import (
    SCREENSHOTS,
    browser_fixture,
    require_chromium,
    screenshots_requested,
    watched_fixture,
)
from test_enhanced_care import BASELINE_ER, YEAR_ER, opted_in_payer_file

from cpoc_fhir.cli import main

sync_api = require_chromium()
browser = browser_fixture()
watched = watched_fixture()


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


@pytest.mark.parametrize("width", [1100, 360])
def test_loads_offline_without_errors_and_fits_the_screen(
    watched: Any, page_url: str, width: int
) -> None:
    w = watched(width)
    w.open_offline(page_url)
    w.assert_fits()
    name = "Supplemental payment for enhanced patient-centred care"
    sync_api.expect(w.page.get_by_role("heading", name=name)).to_be_visible()
    suffix = "-narrow" if width < 600 else ""
    assert w.visible_chart_ids() == [f"chart-rates{suffix}", f"chart-amounts{suffix}"]
    # the quarter table: Q4's rate 6 sets 2027-Q1's amount 62.50 (test_enhanced_care)
    row = w.page.locator("#quarters tbody tr").nth(3)
    sync_api.expect(row).to_contain_text("2027-Q1")
    sync_api.expect(row).to_contain_text("62.50")
    if screenshots_requested() and width > 600:
        w.page.screenshot(path=str(SCREENSHOTS / "enhanced-care-report.png"), full_page=True)
