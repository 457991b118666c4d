"""Screenshots of the HTML value report in Debian's chromium (Playwright), for the README.

    .venv/bin/python scripts/screenshot_value_report.py [REPORT.json] [--out docs/screenshots]

REPORT.json is a value report (`cpoc report value --format json`); without it, the test suite's
hand-built example (tests/test_value_html.py, illustrative benchmarks). Writes
value-report.png (desktop, 1100 px wide, the whole page) and value-report-360.png (a 360-px
phone, the whole page) and the page itself as value-report.html beside them only with --html.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CHROMIUM = Path("/usr/bin/chromium")

from cpoc_fhir.reports.value_html import render_value_html  # noqa: E402

VIEWPORTS = {"value-report": (1100, 900), "value-report-360": (360, 740)}


def example_report() -> dict[str, Any]:
    """The hand-built example the tests use (figures derived in its docstring)."""
    sys.path.insert(0, str(REPO / "tests"))
    from test_value_html import report_with_benchmarks

    return report_with_benchmarks()


def screenshots(html: str, out: Path, browser: Any = None) -> list[Path]:
    """``html`` opened from a file in chromium at each viewport, the whole page captured
    (in ``browser``, a Playwright Browser, when given; else one started here)."""
    if browser is None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            started = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
            try:
                return screenshots(html, out, started)
            finally:
                started.close()
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        page_file = Path(tmp) / "value-report.html"
        page_file.write_text(html, encoding="utf-8")
        for name, (width, height) in VIEWPORTS.items():
            context = browser.new_context(viewport={"width": width, "height": height})
            try:
                page = context.new_page()
                page.goto(page_file.as_uri())
                # one drill-down open, to show what a click gives
                page.locator("#measure-q4 details summary").first.click()
                target = out / f"{name}.png"
                page.screenshot(path=str(target), full_page=True)
                written.append(target)
            finally:
                context.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("report", nargs="?", type=Path, help="a value report JSON file")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--html", action="store_true", help="also write value-report.html")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(
            f"screenshot_value_report: {CHROMIUM} is missing (scripts/ci-chromium.sh)",
            file=sys.stderr,
        )
        return 2
    if args.report:
        try:
            report = json.loads(args.report.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            print(f"screenshot_value_report: {args.report}: {exc}", file=sys.stderr)
            return 2
    else:
        report = example_report()
    html = render_value_html(report)
    if args.html:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "value-report.html").write_text(html, encoding="utf-8")
    for path in screenshots(html, args.out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
