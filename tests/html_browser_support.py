"""Pages in a real browser: Debian's chromium driven by Playwright (the HTML reports opened from
a file as a user opens them, the review app). A test module calls :func:`require_chromium` at
import (skipped without /usr/bin/chromium, a failure when CI=true) and binds
``browser = browser_fixture()``, for the report pages ``watched = watched_fixture()`` too."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


def require_chromium() -> Any:
    """``playwright.sync_api``; the calling test module is skipped without Debian's chromium
    (scripts/ci-chromium.sh installs it) and fails instead when CI=true."""
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but /usr/bin/chromium is missing (scripts/ci-chromium.sh)")
        pytest.skip(
            "Debian's chromium (/usr/bin/chromium) is not installed", allow_module_level=True
        )
    return pytest.importorskip("playwright.sync_api")


def browser_fixture() -> Callable[..., Any]:
    """A module-scoped ``browser`` fixture: one headless chromium for the module's tests."""

    @pytest.fixture(scope="module", name="browser")
    def browser() -> Iterator[Any]:
        sync_api = require_chromium()
        with sync_api.sync_playwright() as playwright:
            launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
            try:
                yield launched
            finally:
                launched.close()

    return browser


def screenshots_requested() -> bool:
    """The README's screenshots are written only on request (CPOC_SCREENSHOTS=1)."""
    return os.environ.get("CPOC_SCREENSHOTS") == "1"


class Watched:
    """A page with its console errors, uncaught errors and every request it made."""

    def __init__(self, browser: Any, width: int, height: int = 800) -> None:
        self.width = width
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))

    def open_offline(self, url: str) -> None:
        """Go to the file page ``url``: no console or page error, and no request but the file
        itself (no font, CDN or image)."""
        self.page.goto(url)
        assert self.errors == [] and self.requests == [url]

    def assert_fits(self) -> None:
        """No horizontal overflow: the page scrolls no wider than its viewport (360 px too)."""
        scroll_width = self.page.evaluate("document.scrollingElement.scrollWidth")
        assert scroll_width <= self.width, (self.page.url, self.width, scroll_width)

    def visible_chart_ids(self) -> list[str | None]:
        """The ids of the charts shown at this width; each fits the viewport."""
        charts = self.page.locator("svg[role=img]:visible").all()
        for chart in charts:
            box = chart.bounding_box()
            assert box is not None and box["width"] <= self.width
        return [c.get_attribute("id") for c in charts]

    def close(self) -> None:
        self.context.close()


def watched_fixture() -> Callable[..., Any]:
    """A ``watched`` fixture: ``watched(width)`` opens a :class:`Watched` page, closed after
    the test."""

    @pytest.fixture(name="watched")
    def watched(browser: Any) -> Iterator[Callable[..., Watched]]:
        opened: list[Watched] = []

        def open_page(width: int, height: int = 800) -> Watched:
            opened.append(Watched(browser, width, height))
            return opened[-1]

        yield open_page
        for w in opened:
            w.close()

    return watched
