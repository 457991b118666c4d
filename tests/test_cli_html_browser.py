"""The two self-contained pages the CLI writes for issue 17 — ``cpoc timeline --format html``
(item 2: the pictures for an analyst without an EHR) and ``cpoc report revenue --format html``
(item 5: the dashboard's charts) — in a real browser (item 8), opened from a file as a user
opens them: at 1280 and 360 px no console or page error, no request but the file, no
horizontal scroll, and 0 serious or critical axe-core violations (axe-playwright-python
bundles axe.min.js: no network). Skipped without /usr/bin/chromium (a failure when CI=true)."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import pytest
from html_browser_support import browser_fixture, require_chromium, watched_fixture
from revenue_builders import practice_coverages, practice_items

from cpoc_fhir.cli import main

sync_api = require_chromium()
axe_sync = pytest.importorskip("axe_playwright_python.sync_playwright")
browser = browser_fixture()
watched = watched_fixture()


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("cli-html")
    timelines, revenue = tmp / "timelines.html", tmp / "revenue.html"
    # every bundled example (the default INPUT), as the docs' example command does (the
    # page goes to stdout: `> timelines.html`)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["timeline", "--format", "html", "--as-of", "2025-10-05"]) == 0
    timelines.write_text(out.getvalue(), encoding="utf-8")
    charges = tmp / "charges.json"
    entries = [{"resource": r} for r in practice_items() + practice_coverages()]
    charges.write_text(json.dumps({"resourceType": "Bundle", "type": "collection",
                                   "entry": entries}))  # fmt: skip
    argv = ["report", "revenue", str(charges), "--from", "2025-03", "--to", "2025-05"]
    assert main([*argv, "--format", "html", "--out", str(revenue), "--no-progress"]) == 0
    return {"timeline": timelines.as_uri(), "revenue": revenue.as_uri()}


def _serious(results: Any) -> list[str]:
    return [
        f"{v['id']}: {v['help']} ({len(v['nodes'])})"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]


@pytest.mark.parametrize("name", ["timeline", "revenue"])
@pytest.mark.parametrize("width", [1280, 360])
def test_cli_pages_load_offline_fit_and_pass_axe(
    watched: Any, pages: dict[str, str], name: str, width: int
) -> None:
    w = watched(width)
    w.open_offline(pages[name])
    w.assert_fits()
    assert w.page.locator("svg[role=img]").count() >= 1  # the pictures / charts are there
    assert _serious(axe_sync.Axe().run(w.page)) == [], (name, width)
