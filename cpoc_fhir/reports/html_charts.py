"""The reports' charts: Vega-Lite specs drawn to inline SVG by vl-convert, in process.

Why Vega-Lite through vl-convert (rather than matplotlib's SVG backend): one wheel with no
dependency (84 MB installed, against 176 MB for matplotlib with numpy, Pillow, fontTools and
the rest), SVG with text as ``<text>`` by default, byte-identical output for the same input,
ARIA roles on the marks, no network (data inline, no web font), and specs that are plain data a
test can read (docs/value-based-adjustment.md has the comparison). Every chart here is
re-serialised from its parsed SVG tree with a ``<title>`` and ``<desc>`` and without scripts,
event attributes or outgoing links.

The builders below (dot-and-band, series by period, bars, scatter) are what the value report
and the economics reports draw; a report with another need passes its own spec to
:func:`chart_svg`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import vl_convert
from markupsafe import Markup

from cpoc_fhir.reports.html_page import clean_text, element_id

# The Vega-Lite version the specs are written for, pinned so that a vl-convert update cannot
# silently change the drawing (vl-convert bundles several: vl_convert.get_vegalite_versions()).
VEGA_LITE_VERSION = "5.21"

# Okabe-Ito colours: told apart with the common colour-vision deficiencies; every series also
# differs by mark shape or dash, so colour is never the only cue (WCAG 1.4.1).
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000")
SHAPES = ("circle", "square", "triangle-up", "diamond", "cross", "triangle-down", "stroke")
DASHES = ((1, 0), (6, 4), (2, 2), (8, 3, 2, 3), (1, 3), (4, 1), (10, 2))
BAND = "#d6e2f0"
INK = "#1b1b1b"
# Each chart is drawn twice: WIDTH for a desktop column, NARROW for a phone (CSS shows one;
# the other is display:none, so out of the accessibility tree too). One drawing scaled down
# to 360 px would shrink its 12-px labels to 6 px.
WIDTH = 560  # px
NARROW = 280  # px

_SVG = "http://www.w3.org/2000/svg"
_XLINK = "http://www.w3.org/1999/xlink"
_DROPPED = {f"{{{_SVG}}}script", f"{{{_SVG}}}foreignObject", "script", "foreignObject"}


def vega_config() -> dict[str, Any]:
    """The look every chart shares: local sans-serif fonts (no web font), no chart border.

    Vega measures label widths with the fonts of the machine that draws the chart; the browser
    draws them with the reader's. DejaVu Sans first (what vl-convert and Debian's chromium find
    here; wider than the Helvetica/Arial that stand in elsewhere) keeps labels inside the
    drawing, and the padding leaves room for a wider stand-in.
    """
    return {
        "font": "DejaVu Sans, Bitstream Vera Sans, Helvetica, Arial, sans-serif",
        "padding": {"left": 12, "right": 12, "top": 6, "bottom": 6},
        "view": {"stroke": None},
        # labelLimit 0: labels are cut by short_label, never by Vega (see there)
        "axis": {
            "labelFontSize": 12,
            "titleFontSize": 12,
            "labelColor": INK,
            "titleColor": INK,
            "labelLimit": 0,
        },
        "legend": {"labelFontSize": 12, "titleFontSize": 12, "orient": "bottom", "labelLimit": 0},
        "background": "white",
    }


def chart_svg(spec: Mapping[str, Any], chart_id: str, title: str, description: str) -> Markup:
    """``spec`` (Vega-Lite, data inline) drawn as an inline SVG element.

    The SVG gets ``role="img"`` labelled by its ``<title>`` and ``<desc>`` (say what it shows;
    the numbers belong in the table beside every chart).
    """
    # Strings cleaned first: vl-convert aborts the whole process (a Rust panic) on a NUL in
    # the spec and raises on a lone surrogate; a record's text may hold either.
    full = _cleaned({"config": vega_config(), **spec})
    svg = vl_convert.vegalite_to_svg(full, vl_version=VEGA_LITE_VERSION)
    return Markup(_accessible_svg(svg, element_id(chart_id), title, description))


@dataclass(frozen=True)
class Chart:
    """A chart drawn for a wide and a narrow screen (macros.html ``figure`` shows both)."""

    wide: Markup
    narrow: Markup


def responsive_chart(
    build: Callable[[int], Mapping[str, Any]], chart_id: str, title: str, description: str
) -> Chart:
    """The spec ``build(width)`` returns, drawn at WIDTH and at NARROW px."""
    return Chart(
        chart_svg(build(WIDTH), chart_id, title, description),
        chart_svg(build(NARROW), f"{chart_id}-narrow", title, description),
    )


def _cleaned(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, Mapping):
        return {clean_text(str(k)): _cleaned(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_cleaned(v) for v in value]
    return value


def _accessible_svg(svg: str, chart_id: str, title: str, description: str) -> str:
    root = ET.fromstring(svg)
    _strip_active_content(root)
    _local_names(root)
    root.set("xmlns", _SVG)
    root.set("role", "img")
    root.set("aria-labelledby", f"{chart_id}-title {chart_id}-desc")
    root.set("id", chart_id)
    for tag, text in (("desc", description), ("title", title)):
        element = ET.Element(tag, {"id": f"{chart_id}-{tag}"})
        element.text = clean_text(text)
        root.insert(0, element)
    return ET.tostring(root, encoding="unicode")


def _local_names(root: ET.Element) -> None:
    """Namespace-free names, as SVG inline in HTML is written (xlink attributes keep their
    conventional prefix), without registering a prefix in ElementTree's global table."""
    for element in root.iter():
        element.tag = element.tag.rsplit("}", 1)[-1]
        for name in [n for n in element.attrib if n.startswith("{")]:
            uri, local = name[1:].split("}", 1)
            prefix = "xlink:" if uri == _XLINK else ""
            element.attrib[prefix + local] = element.attrib.pop(name)


def _strip_active_content(element: ET.Element) -> None:
    for child in list(element):
        if child.tag in _DROPPED:
            element.remove(child)
        else:
            _strip_active_content(child)
    for name in list(element.attrib):
        local = name.rsplit("}", 1)[-1]
        value = element.attrib[name]
        if local.lower().startswith("on") or (local == "href" and not value.startswith("#")):
            del element.attrib[name]


LABEL_CHARS = 32


def short_label(text: str, limit: int = LABEL_CHARS) -> str:
    """``text`` cut to ``limit`` characters with "…" (the table beside the chart has it whole).

    Labels are cut here, and Vega's own pixel limit is off: Vega cuts by UTF-16 unit, so a cut
    through an emoji leaves half a surrogate pair, which vl-convert (1.9) fails to convert.
    """
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _number(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)


def _axis(title: str, fraction: bool) -> dict[str, Any]:
    return {"title": title, "tickCount": 5, **({"format": ".0%"} if fraction else {})}


@dataclass(frozen=True)
class DotBand:
    """One row of a dot-and-band chart: a value against a reference ``mean`` ± ``spread``."""

    label: str
    value: Decimal | float | None
    mean: Decimal | float | None = None
    spread: Decimal | float | None = None  # one standard deviation


def dot_band(
    rows: Sequence[DotBand], axis_title: str, fraction: bool = True, width: int = WIDTH
) -> dict[str, Any]:
    """Dots (the values), a tick at each mean and a band mean ± spread; rows in the order given.

    ``fraction``: values are 0-1, drawn on a 0-100 % axis, the band clipped to it.
    """
    labels = [short_label(r.label) for r in rows]
    lo, hi = (0.0, 1.0) if fraction else (float("-inf"), float("inf"))
    bands = [
        {
            "label": short_label(r.label),
            "lo": max(float(r.mean) - float(r.spread), lo),
            "hi": min(float(r.mean) + float(r.spread), hi),
            "mean": float(r.mean),
        }
        for r in rows
        if r.mean is not None and r.spread is not None
    ]
    dots = [
        {"label": short_label(r.label), "value": _number(r.value)}
        for r in rows
        if r.value is not None
    ]
    y: dict[str, Any] = {"field": "label", "type": "nominal", "sort": labels, "title": None}
    y |= {"scale": {"domain": labels}}
    x: dict[str, Any] = {"type": "quantitative", "axis": _axis(axis_title, fraction)}
    if fraction:
        x["scale"] = {"domain": [0, 1]}
    layers: list[dict[str, Any]] = []
    if bands:
        layers.append(
            {
                "data": {"values": bands},
                "mark": {"type": "bar", "color": BAND, "height": 16},
                "encoding": {"y": y, "x": {"field": "lo", **x}, "x2": {"field": "hi"}},
            }
        )
        layers.append(
            {
                "data": {"values": bands},
                "mark": {"type": "tick", "color": INK, "thickness": 2, "size": 22, "opacity": 1},
                "encoding": {"y": y, "x": {"field": "mean", **x}},
            }
        )
    layers.append(
        {
            "data": {"values": dots or [{"label": labels[0] if labels else "", "value": None}]},
            "mark": {
                "type": "point",
                "filled": True,
                "size": 110,
                "color": COLOURS[0],
                "opacity": 1,
            },
            "encoding": {"y": y, "x": {"field": "value", **x}},
        }
    )
    return {"width": width, "height": 36 * max(len(rows), 1), "layer": layers}


@dataclass(frozen=True)
class Point:
    """One value of one named series in one period ("2025-Q1", "2025-03")."""

    period: str
    series: str
    value: Decimal | float | None


def series_by_period(
    points: Sequence[Point],
    periods: Sequence[str],
    series: Sequence[str],
    axis_title: str,
    fraction: bool = False,
    width: int = WIDTH,
) -> dict[str, Any]:
    """Lines with points, one per series over the periods in order; series differ by colour,
    dash and point shape. Null values leave a gap."""
    n = len(series)
    series = [short_label(name) for name in series]
    periods = [short_label(period) for period in periods]
    rows = [
        {
            "period": short_label(p.period),
            "series": short_label(p.series),
            "value": _number(p.value),
        }
        for p in points
        if p.value is not None
    ]
    return {
        "width": width,
        "height": 220,
        "data": {"values": rows},
        "mark": {"type": "line", "point": {"filled": True, "size": 70}, "strokeWidth": 2},
        "encoding": {
            "x": {
                "field": "period",
                "type": "ordinal",
                "sort": list(periods),
                "title": None,
                "axis": {"labelAngle": 0 if len(periods) * 64 <= width else -45},
            },
            "y": {"field": "value", "type": "quantitative", "axis": _axis(axis_title, fraction)},
            "color": {
                "field": "series",
                "type": "nominal",
                "title": None,
                "scale": {"domain": list(series), "range": list(COLOURS[:n])},
            },
            # one legend: colour, dash and shape of a series share its entry (a legend
            # turned off on one of them would drop the merged legend)
            "strokeDash": {
                "field": "series",
                "type": "nominal",
                "title": None,
                "scale": {"domain": list(series), "range": [list(d) for d in DASHES[:n]]},
            },
            "shape": {
                "field": "series",
                "type": "nominal",
                "title": None,
                "scale": {"domain": list(series), "range": list(SHAPES[:n])},
            },
        },
    }


def bars(
    rows: Sequence[tuple[str, Decimal | float]],
    axis_title: str,
    fraction: bool = False,
    rule: Decimal | float | None = None,
    width: int = WIDTH,
) -> dict[str, Any]:
    """Horizontal bars in the order given, each labelled with its value; ``rule`` draws a
    dashed reference line (a pooled rate, a target)."""
    values = [{"label": short_label(label), "value": float(value)} for label, value in rows]
    x: dict[str, Any] = {"field": "value", "type": "quantitative"}
    x["axis"] = _axis(axis_title, fraction)
    if fraction:
        x["scale"] = {"domain": [0, 1]}
    y = {"field": "label", "type": "nominal", "title": None, "sort": None}
    text = {"field": "value", **({"format": ".0%"} if fraction else {"format": ",.2~f"})}
    layers: list[dict[str, Any]] = [
        {"mark": {"type": "bar", "color": COLOURS[0], "height": 18}, "encoding": {"x": x, "y": y}},
        {
            "mark": {"type": "text", "align": "left", "dx": 4, "color": INK},
            "encoding": {"x": x, "y": y, "text": text},
        },
    ]
    if rule is not None:
        layers.append(
            {
                "data": {"values": [{"value": float(rule)}]},
                "mark": {"type": "rule", "color": INK, "strokeDash": [5, 3], "strokeWidth": 1.5},
                "encoding": {"x": x},
            }
        )
    height = 34 * max(len(values), 1)
    return {"width": width, "height": height, "data": {"values": values}, "layer": layers}


def scatter(
    points: Sequence[tuple[Decimal | float, Decimal | float]],
    x_title: str,
    y_title: str,
    diagonal: bool = True,
    width: int = 360,
) -> dict[str, Any]:
    """A scatter of (x, y) pairs on equal scales from 0; ``diagonal`` draws y = x (dashed), the
    line where both measures agree (CPOC against fee-for-service per patient)."""
    values = [{"x": float(x), "y": float(y)} for x, y in points]
    top = max([0.0, *(max(v["x"], v["y"]) for v in values)]) or 1.0
    scale = {"domain": [0, top], "nice": True}
    encoding = {
        "x": {"field": "x", "type": "quantitative", "title": x_title, "scale": scale},
        "y": {"field": "y", "type": "quantitative", "title": y_title, "scale": scale},
    }
    layers: list[dict[str, Any]] = [
        {
            "mark": {"type": "point", "filled": True, "size": 40, "color": COLOURS[0]},
            "encoding": encoding,
        }
    ]
    if diagonal:
        layers.insert(
            0,
            {
                "data": {"values": [{"x": 0, "y": 0}, {"x": top, "y": top}]},
                "mark": {"type": "line", "color": INK, "strokeDash": [5, 3], "strokeWidth": 1},
                "encoding": encoding,
            },
        )
    return {"width": width, "height": width, "data": {"values": values}, "layer": layers}
