"""The ``cpoc report corridors`` page in a real browser (Debian's chromium through Playwright),
opened from a file: a generated practice's year against its baseline year. Skipped without
/usr/bin/chromium (a failure when CI=true). With CPOC_SCREENSHOTS=1 it writes
docs/screenshots/corridors-report.png."""

from __future__ import annotations

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
SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
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
        sync_api.expect(page.get_by_role("heading", name="Risk corridors")).to_be_visible()
        suffix = "-narrow" if width < 600 else ""
        shown = [c.get_attribute("id") for c in page.locator("svg[role=img]:visible").all()]
        assert shown == [
            f"chart-band-organization-example-payer{suffix}",
            f"chart-settlement{suffix}",
        ]
        for chart in page.locator("svg[role=img]:visible").all():
            box = chart.bounding_box()
            assert box is not None and box["width"] <= width
        outcomes = page.locator("#quarters tbody td:nth-child(11)").all_inner_texts()
        assert {"the payer adds", "the payer recovers"} <= set(outcomes)
    finally:
        context.close()


def test_screenshot(browser: Any, page_url: str) -> None:
    """The README's screenshot, written only on request (CPOC_SCREENSHOTS=1)."""
    if os.environ.get("CPOC_SCREENSHOTS") != "1":
        pytest.skip("CPOC_SCREENSHOTS=1 writes docs/screenshots/corridors-report.png")
    context = browser.new_context(viewport={"width": 1100, "height": 1400})
    try:
        page = context.new_page()
        page.goto(page_url)
        page.screenshot(path=str(SCREENSHOTS / "corridors-report.png"))
    finally:
        context.close()
