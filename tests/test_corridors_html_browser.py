"""The ``cpoc report corridors`` page in a real browser (Debian's chromium through Playwright),
opened from a file: a generated practice's year against its baseline year. Skipped without
/usr/bin/chromium (a failure when CI=true). With CPOC_SCREENSHOTS=1 it writes
docs/screenshots/corridors-report.png."""

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
from cpoc_fhir.synthetic import generate_practice

sync_api = require_chromium()
browser = browser_fixture()
watched = watched_fixture()
# An illustrative payer file whose New Patient amount gives quarters below, inside and above
# the band for this practice (the shipped one pays far more than its generated FFS prices).
PAYER = (
    '[payer]\nid = "example-corridors"\nname = "Example (ILLUSTRATIVE)"\nillustrative = true\n'
    'currency = "USD"\nnew_patient_amount = "420.00"\n'
)


@pytest.fixture(scope="module")
def page_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("corridor-practice")
    generate_practice(folder, patients=40, seed=5, year=2025, claims=True)
    payer = folder.parent / "payer.toml"
    payer.write_text(PAYER, encoding="utf-8")
    out = folder.parent / "corridors.html"
    argv = ["report", "corridors", str(folder), "--year", "2025", "--baseline", str(folder)]
    argv += ["--baseline-year", "2024", "--payer", str(payer), "--format", "html"]
    assert main([*argv, "--out", str(out)]) == 0
    return out.as_uri()


@pytest.mark.parametrize("width", [1100, 360])
def test_loads_offline_without_errors_and_fits_the_screen(
    watched: Any, page_url: str, width: int
) -> None:
    w = watched(width)
    w.open_offline(page_url)
    w.assert_fits()
    sync_api.expect(w.page.get_by_role("heading", name="Risk corridors")).to_be_visible()
    suffix = "-narrow" if width < 600 else ""
    assert w.visible_chart_ids() == [
        f"chart-band-organization-example-payer{suffix}",
        f"chart-settlement{suffix}",
    ]
    outcomes = w.page.locator("#quarters tbody td:nth-child(11)").all_inner_texts()
    assert {"the payer adds", "the payer recovers"} <= set(outcomes)


def test_screenshot(watched: Any, page_url: str) -> None:
    """The README's screenshot, written only on request (CPOC_SCREENSHOTS=1)."""
    if not screenshots_requested():
        pytest.skip("CPOC_SCREENSHOTS=1 writes docs/screenshots/corridors-report.png")
    page = watched(1100, 1400).page
    page.goto(page_url)
    page.screenshot(path=str(SCREENSHOTS / "corridors-report.png"))
