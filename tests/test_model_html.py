"""``cpoc model --format html``: the page for the hand-derived Appendix A case, read back."""

from __future__ import annotations

import copy
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from test_model import MARCH, RECORD, bundle

from cpoc_fhir.cli import main
from cpoc_fhir.economics.html import model_html


class Page(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__()
        self.starts: list[tuple[str, dict[str, str | None]]] = []
        self.texts: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.starts.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.texts.append(data)

    def text(self) -> str:
        return re.sub(r"\s+", " ", " ".join(self.texts))

    def ids(self) -> list[str]:
        return [str(a["id"]) for _, a in self.starts if a.get("id")]


def model_json(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    ffs = tmp_path / "ffs.json"
    ffs.write_text(json.dumps(bundle(MARCH)), encoding="utf-8")
    argv = ["model", str(RECORD), "--ffs", str(ffs), "--from", "2025-03-01", "--to", "2025-03-31"]
    assert main([*argv, "--format", "json", *args]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def below(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    # margin −10 %: base 289.24, the xx204 line 231.39 against FFS 257.10 (test_model.py)
    return model_json(tmp_path, capsys, "--margin=-10%")


def test_the_command_writes_the_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ffs = tmp_path / "ffs.json"
    ffs.write_text(json.dumps(bundle(MARCH)), encoding="utf-8")
    argv = ["model", str(RECORD), "--ffs", str(ffs), "--from", "2025-03-01", "--to", "2025-03-31"]
    assert main([*argv, "--format", "html"]) == 0
    html = capsys.readouterr().out
    assert html.startswith("<!DOCTYPE html>")
    text = Page(html).text()
    assert "Revenue-neutral New Patient base: 321.38" in text
    assert "2025-03-01 to 2025-03-31" in text


def test_summary_months_components_cancers_and_payer(below: dict[str, Any]) -> None:
    page = Page(model_html(below))
    text = page.text()
    for anchor in ("summary", "months", "patients", "components", "cancers", "payer"):
        assert anchor in page.ids()
    assert "FFS revenue of the codes CPOC replaces (cpoc-rules §10) 257.10" in text
    assert "FFS drug payments (the same under CPOC, III-F) 45.90" in text
    assert "Base for a -10.0% margin 289.24" in text
    # the month row and the component row: 1 line, FFS 257.10, CPOC 231.39, variance −25.71
    assert "2025-03 1 257.10 231.39 -25.71" in text
    assert "xx204 Treatment Month Payment, level 4 1 80 257.10 231.39 -25.71" in text
    assert "colorectal 1 257.10 231.39 -25.71" in text
    # payer: FFS 257.10 + 45.90 = 303.00; CPOC 231.39 + 44.52; break-even (231.39 − 257.10) /
    # 45.90 = −0.5601
    assert "Continued FFS 257.10 45.90 303.00" in text
    assert "Break-even reduction of other spending: -56.0%" in text


def test_the_patients_below_ffs_open_with_their_lines(below: dict[str, Any]) -> None:
    html = model_html(below)
    details = re.findall(r"<details>.*?</details>", html, re.S)
    first = Page(details[0]).text()
    assert (
        "Patient/appendix-a-folfox (colorectal): FFS 257.10, CPOC 231.39, variance -25.71" in first
    )
    assert "xx204 2025-03-03 1 provisional 231.39 257.10" in first
    assert "96413 × 1, 96415 × 1, 99213 × 1" in first


def test_charts_are_inline_accessible_svg(below: dict[str, Any]) -> None:
    page = Page(model_html(below))
    svgs = [a for tag, a in page.starts if tag == "svg"]
    ids = [a.get("id") for a in svgs]
    for chart in ("chart-months", "chart-patients", "chart-components"):
        assert chart in ids and f"{chart}-narrow" in ids
    assert all(a.get("role") == "img" for a in svgs)
    assert len(page.ids()) == len(set(page.ids()))


def test_header_flags_an_illustrative_payer_file(tmp_path, capsys) -> None:
    payer = Path(__file__).resolve().parents[1] / "cpoc_fhir/knowledge/data/payer-example.toml"
    text = Page(model_html(model_json(tmp_path, capsys, "--payer", str(payer)))).text()
    assert "ILLUSTRATIVE" in text and "example-illustrative is illustrative" in text


def test_no_patient_below_says_so_and_nothing_leaves_the_page(tmp_path, capsys) -> None:
    html = model_html(model_json(tmp_path, capsys))
    assert "No patient is paid less under CPOC than under FFS" in Page(html).text()
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", html)
    assert "<script" not in html


def test_hostile_text_is_escaped(below: dict[str, Any]) -> None:
    data = copy.deepcopy(below)
    data["byPatient"][0]["cancer"] = "<script>alert(1)</script>"
    data["furthestBelow"][0]["patient"] = '"><img src=x onerror=alert(1)>'
    data["warnings"] = ["<b>bold</b>"]
    html = model_html(data)
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>bold" not in html
    assert "&lt;script&gt;" in html
