"""The page kit the HTML reports share (html_page.py, html_charts.py): the header and its
ILLUSTRATIVE banner, and charts drawn where their numbers say, with nothing active inside."""

from __future__ import annotations

import re
from decimal import Decimal

from test_value_html import Page

from cpoc_fhir.reports.html_charts import (
    DotBand,
    Point,
    bars,
    chart_svg,
    dot_band,
    responsive_chart,
    scatter,
    series_by_period,
)
from cpoc_fhir.reports.html_page import PageHeader, render_page, unique_ids


def test_the_header_carries_each_illustrative_input_and_the_sections() -> None:
    header = PageHeader(
        title="CPOC against fee-for-service",
        period="1 Jan 2025 – 31 Dec 2025",
        source="example fee schedule (2025-01-01)",
        illustrative=("The payer file is illustrative.", "The fee schedule is illustrative."),
        facts=(("Practice", "Location/p <1>"),),
        sections=(("by-month", "By month"),),
    )
    page = Page(render_page("page.html", header))
    assert "ILLUSTRATIVE" in page.text
    assert "The payer file is illustrative. The fee schedule is illustrative." in page.text
    assert "Practice Location/p <1> Benchmarks example fee schedule (2025-01-01)" in page.text
    assert {"href": "#by-month"} in page.tags("a")
    assert [t for t in page.text_parts if "CPOC against fee-for-service —" in t]  # <title>


def test_no_banner_when_nothing_is_illustrative() -> None:
    page = Page(render_page("page.html", PageHeader("Report", "2025", "a payer's file")))
    assert "ILLUSTRATIVE" not in page.text


def test_ids_from_free_text_are_valid_and_distinct() -> None:
    assert unique_ids(["Q1", "q1", "a b/c", ""], "m") == ["m-q1", "m-q1-2", "m-a-b-c", "m-x"]


def test_a_chart_is_a_named_image_with_nothing_active() -> None:
    """A link channel would make Vega write <a href>; a hostile label would be text."""
    spec = {
        "data": {"values": [{"k": "<script>alert(1)</script>", "v": 1, "u": "https://x.test/"}]},
        "mark": "bar",
        "encoding": {
            "y": {"field": "k", "type": "nominal"},
            "x": {"field": "v", "type": "quantitative"},
            "href": {"field": "u"},
        },
    }
    svg = str(chart_svg(spec, "c 1", "A <b>title</b>", "what & why"))
    page = Page(svg)
    assert not page.tags("script") and not page.tags("b")
    links = [v for _, attrs in page.elements for k, v in attrs.items() if k.endswith("href")]
    assert links == []  # the <a> stays, without its link (the URL remains as label text)
    assert not [a for _, attrs in page.elements for a in attrs if a.startswith("on")]
    [root] = page.tags("svg")
    assert root["role"] == "img" and root["aria-labelledby"] == "c-1-title c-1-desc"
    assert '<title id="c-1-title">A &lt;b&gt;title&lt;/b&gt;</title>' in svg
    assert '<desc id="c-1-desc">what &amp; why</desc>' in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg  # the label, drawn as text


def test_a_responsive_chart_is_drawn_twice_with_distinct_ids() -> None:
    chart = responsive_chart(
        lambda width: bars([("a", 1)], "n", width=width), "bars", "Bars", "one bar"
    )
    wide, narrow = Page(str(chart.wide)), Page(str(chart.narrow))
    assert wide.tags("svg")[0]["id"] == "bars" and narrow.tags("svg")[0]["id"] == "bars-narrow"
    assert float(wide.tags("svg")[0]["width"]) > float(narrow.tags("svg")[0]["width"])


def _translate_x(svg: str, label: str) -> float:
    found = re.search(rf'aria-label="{re.escape(label)}"[^>]*translate\(([\d.]+),', svg)
    assert found, label
    return float(found.group(1))


def test_dot_band_clips_the_band_to_the_axis() -> None:
    """mean 0.95 ± 0.10 on 0-100 %: the band runs 0.85 → 1.0 (not 1.05): 238 → 280 px of 280."""
    spec = dot_band(
        [DotBand("Q", Decimal("0.5"), Decimal("0.95"), Decimal("0.10"))], "r", width=280
    )
    svg = str(chart_svg(spec, "d", "t", "d"))
    assert _translate_x(svg, "value: 50%; label: Q") == 140
    band = re.search(r'aria-label="lo: 85%; label: Q; hi: 1"[^>]*d="M([\d.]+),[\d.]+h([\d.]+)', svg)
    assert band and float(band.group(1)) == 238 and float(band.group(2)) == 42


def test_series_by_period_keeps_the_period_order_and_leaves_gaps() -> None:
    """Periods in the order given (not sorted); a null value is no point."""
    points = [
        Point("2025-02", "CPOC", 10),
        Point("2025-01", "CPOC", None),
        Point("2025-01", "FFS", 20),
        Point("2025-02", "FFS", 5),
    ]
    spec = series_by_period(points, ["2025-01", "2025-02"], ["CPOC", "FFS"], "USD", width=200)
    svg = str(chart_svg(spec, "s", "t", "d"))
    assert svg.count('aria-roledescription="point"') == 3
    # ordinal x with 2 periods on 200 px: band centres at 50 and 150 px
    assert _translate_x(svg, "period: 2025-01; value: 20; series: FFS") == 50
    assert _translate_x(svg, "period: 2025-02; value: 10; series: CPOC") == 150
    assert ">CPOC</text>" in svg and ">FFS</text>" in svg  # one legend


def test_scatter_on_equal_scales_with_the_diagonal() -> None:
    """(100, 50) on a 0-200 square of 200 px: x = 100 px, y = 200 − 50 = 150 px."""
    svg = str(chart_svg(scatter([(100, 50), (200, 200)], "FFS", "CPOC", width=200), "x", "t", "d"))
    found = re.search(r'aria-label="FFS: 100; CPOC: 50"[^>]*translate\(([\d.]+),([\d.]+)\)', svg)
    assert found and (float(found.group(1)), float(found.group(2))) == (100, 150)
    assert re.search(r'aria-roledescription="line mark" d="M0,200L200,0"', svg)  # y = x


def test_text_no_page_may_hold_is_replaced_not_fatal() -> None:
    """A NUL made vl-convert abort the whole process, a lone surrogate (json.loads accepts
    "\\ud800") made it raise and the page unwritable as UTF-8, and a long emoji label cut by
    Vega mid surrogate pair failed the conversion: each label is now drawn, marked U+FFFD."""
    for label in ("a\x00b", "a\ud800b", "\U0001f600" * 40, "x" * 500):
        for spec in (
            bars([(label, 1)], "n"),
            dot_band([DotBand(label, 0.5, 0.5, 0.1)], "r"),
            series_by_period([Point(label, label, 1)], [label], [label], "n"),
        ):
            svg = str(chart_svg(spec, "c", label, label))
            svg.encode("utf-8")
            assert "\x00" not in svg
    page = render_page("page.html", PageHeader("a\x00b\ud800c", "2025", "s"))
    page.encode("utf-8")
    assert "a\ufffdb\ufffdc" in page


def test_long_labels_are_cut_with_an_ellipsis() -> None:
    from cpoc_fhir.reports.html_charts import short_label

    assert short_label("non-small cell lung cancer") == "non-small cell lung cancer"
    assert short_label("x" * 40) == "x" * 31 + "…"
    assert len(short_label("\U0001f600" * 40)) == 32
