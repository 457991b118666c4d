"""The ``cpoc model`` page in a real browser (Debian's chromium through Playwright), opened from
a file as a user opens it: a generated practice's year. Skipped without /usr/bin/chromium
(a failure when CI=true)."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import pytest
from html_browser_support import browser_fixture, require_chromium, watched_fixture

from cpoc_fhir.cli import main
from cpoc_fhir.synthetic import generate_practice

sync_api = require_chromium()
browser = browser_fixture()
watched = watched_fixture()


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


@pytest.mark.parametrize("width", [1100, 360])
def test_loads_offline_without_errors_and_fits_the_screen(
    watched: Any, page_url: str, width: int
) -> None:
    w = watched(width)
    w.open_offline(page_url)
    w.assert_fits()
    heading = w.page.get_by_role("heading", name="CPOC against fee-for-service")
    sync_api.expect(heading).to_be_visible()
    suffix = "-narrow" if width < 600 else ""
    assert w.visible_chart_ids() == [
        f"chart-months{suffix}",
        f"chart-patients{suffix}",
        f"chart-components{suffix}",
    ]


def test_a_patient_below_ffs_opens_with_a_click(watched: Any, page_url: str) -> None:
    page = watched(1100).page
    page.goto(page_url)
    first = page.locator("#patients details").first
    table = first.locator("table")
    sync_api.expect(table).to_be_hidden()
    first.locator("summary").click()
    sync_api.expect(table).to_be_visible()
    assert table.locator("tbody tr").count() >= 1
