"""The savings and episodes pages read back (no browser): the hand-derived figures are on the
page, the illustrative inputs carry the banner, text from the inputs is escaped, and nothing
leaves the page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from test_episodes import report as episodes_report
from test_episodes import two  # noqa: F401 - the fixture
from test_savings import expected_file, run

from cpoc_fhir.economics.episodes_html import episodes_html
from cpoc_fhir.economics.savings_html import savings_html


def no_network(page: str) -> None:
    assert "<script" not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)


@pytest.fixture
def savings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    return run(tmp_path, capsys, "--expected", str(expected_file(tmp_path)))


def test_savings_page_shows_the_hand_derived_figures(savings: dict[str, Any]) -> None:
    page = savings_html(savings)
    # The payment 147.05 (50 % of 294.10), expected 1,850.00 against actual 1,555.90.
    assert "Shared-savings payment to the practice: <strong>147.05</strong>" in page
    assert "1,850.00" in page and "1,555.90" in page and "294.10" in page
    assert "The savings rate 15.90 % is above the minimum 2.00 %" in page
    assert 'id="chart-spending"' in page and 'id="chart-savings"' in page
    assert "ILLUSTRATIVE" in page  # the shipped categories are an illustrative grouping
    no_network(page)


def test_savings_page_escapes_the_inputs(savings: dict[str, Any]) -> None:
    savings["expectedSource"]["source"] = "<script>alert(1)</script>"
    savings["warnings"] = ["<img src=x onerror=alert(1)>"]
    page = savings_html(savings)
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_savings_page_without_an_expected_figure(savings: dict[str, Any]) -> None:
    for row in savings["categories"]:
        row["expected"] = row["savings"] = None
    savings["expected"] = savings["savings"] = savings["savingsRate"] = None
    page = savings_html(savings)
    assert 'id="chart-spending"' not in page and 'id="chart-savings"' not in page


def test_episodes_page_shows_the_hand_derived_prices(two: Path, capsys) -> None:  # noqa: F811
    data = episodes_report(capsys, two)
    data["payer"] = {"id": "example-illustrative", "illustrative": True}
    page = episodes_html(data)
    # Mean of 5800.00 and 5830.00; one episode per cancer type.
    assert "Mean episode price: <strong>5,815.00</strong>" in page
    assert "colorectal (n=1)" in page and "lung (n=1)" in page
    assert "ILLUSTRATIVE" in page and 'id="chart-cancers"' in page
    assert "Patient/appendix-b-nsclc" in page
    no_network(page)
