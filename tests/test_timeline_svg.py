"""The timeline picture (cpoc_fhir/pictures/timeline_svg.py) and ``cpoc timeline --format
html``: facts built here, positions worked out by hand."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from contextlib import redirect_stdout
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from cpoc_fhir.cli import main
from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.facts import (
    CareEpisode,
    DiseaseStatus,
    EpisodeKind,
    ExposureKind,
    MedicationExposure,
    PatientRecord,
    PerformanceStatus,
)
from cpoc_fhir.engine.lines import BillingLine, LineStatus, ModelSpan, PatientTimeline
from cpoc_fhir.pictures.timeline_svg import LEFT, RIGHT, WIDTH, timeline_svg
from cpoc_fhir.vocabulary import DiseaseState, DrugRole, Route

SVG = "{http://www.w3.org/2000/svg}"


def line(code: str, component: Component, start: date, end: date, **kw: object) -> BillingLine:
    return BillingLine(
        code=code,
        component=component,
        level=kw.pop("level", 4),  # type: ignore[arg-type]
        month=kw.pop("month", 1),  # type: ignore[arg-type]
        start=start,
        end=end,
        status=kw.pop("status", LineStatus.FINAL),  # type: ignore[arg-type]
        amount=Decimal("800.00"),
        explanation=(),
        evidence=(),
        **kw,  # type: ignore[arg-type]
    )


def exposure(start: date, end: date, role: DrugRole = DrugRole.ANTICANCER) -> MedicationExposure:
    return MedicationExposure(
        "MedicationAdministration/a",
        "oxaliplatin",
        "Oxaliplatin",
        role,
        Route.PARENTERAL,
        ExposureKind.ADMINISTERED,
        start,
        end,
    )


# Two months of 31 days: 2025-03-01 … 2025-03-31 and 2025-04-01 … 2025-05-01 (31 days), so the
# axis runs 2025-03-01 … 2025-05-01 = 62 days, as_of 2025-05-01.
M1 = line("xx204", Component.TREATMENT_MONTH, date(2025, 3, 1), date(2025, 3, 31))
M2 = line("xx401", Component.TRANSITION, date(2025, 4, 1), date(2025, 5, 1), month=2, level=1)
M2B = line("xx303", Component.ACTIVE_MONITORING, date(2025, 4, 1), date(2025, 5, 1), month=2)
RECORD = PatientRecord(
    "Patient/p1",
    death=date(2025, 4, 20),
    exposures=(
        exposure(date(2025, 3, 3), date(2025, 3, 4)),  # two treatment days
        exposure(date(2025, 3, 10), date(2025, 3, 10), DrugRole.SUPPORTIVE),  # not treatment
    ),
    performance=(PerformanceStatus("Observation/e1", date(2025, 3, 2), 1),),
    disease_status=(DiseaseStatus("Observation/d1", date(2025, 3, 30), DiseaseState.WORSENED),),
    episodes=(CareEpisode("EpisodeOfCare/h", EpisodeKind.HOSPICE, date(2025, 4, 15), None),),
)
TIMELINE = PatientTimeline("Patient/p1", date(2025, 5, 1), (M1, M2, M2B), ())


def parsed(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def test_the_picture_is_svg_with_an_accessible_name_and_description() -> None:
    root = parsed(timeline_svg(TIMELINE, RECORD))
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "tl-title tl-desc"
    assert root.find(f"{SVG}title").text == "Billing months as of 2025-05-01"  # type: ignore[union-attr]
    desc = root.find(f"{SVG}desc").text or ""  # type: ignore[union-attr]
    # 3 lines, 2 treatment days (the supportive day is left out), the ECOG, the status, death
    assert desc.startswith("3 billing line(s) from 2025-03-01 to 2025-05-01: 1 Treatment,")
    assert "2 treatment day(s)" in desc and "ECOG 1 on 2025-03-02" in desc
    assert "disease status worsened on 2025-03-30" in desc
    assert "hospice" in desc and "died 2025-04-20" in desc


def test_segments_sit_on_the_axis_and_share_the_strip_when_on_the_same_days() -> None:
    root = parsed(timeline_svg(TIMELINE, RECORD))
    segments = [g for g in root.iter(f"{SVG}g") if g.get("class") == "month-seg"]
    rects = [g.find(f"{SVG}rect") for g in segments]
    span = WIDTH - LEFT - RIGHT  # 836 units for 62 days
    # M1: day 0 → x = LEFT; 31 days wide = 836 * 31 / 62 = 418
    assert float(rects[0].get("x")) == LEFT  # type: ignore[union-attr, arg-type]
    assert float(rects[0].get("width")) == span * 31 / 62  # type: ignore[union-attr, arg-type]
    # M2 and M2B: both start on day 31 (x = LEFT + 418), each half of the strip's 34 units
    assert [r.get("x") for r in rects[1:]] == [str(LEFT + 418.0)] * 2  # type: ignore[union-attr]
    assert [r.get("height") for r in rects[1:]] == ["17.0", "17.0"]  # type: ignore[union-attr]
    tips = [g.find(f"{SVG}title").text for g in segments]  # type: ignore[union-attr]
    assert tips[0] == "xx204 Treatment level 4, 2025-03-01 – 2025-03-31, final, 800.00"


def test_treatment_days_are_ticks_and_the_facts_are_marks() -> None:
    svg = timeline_svg(TIMELINE, RECORD)
    ticks = re.search(r'<g class="treatment-days">(.*?)</g>', svg)
    assert ticks and ticks.group(1).count("<line") == 2
    assert "<title>Died 2025-04-20</title>" in svg
    assert "<title>Hospice 2025-04-15 – 2025-05-01</title>" in svg  # open-ended: to the axis end
    assert "<title>Transition xx401 from 2025-04-01</title>" in svg
    # the key names the three components drawn, not the others
    key = svg.split(">Key</text>")[1]
    assert all(f">{n}</text>" in key for n in ("Treatment", "Monitoring", "Transition"))
    assert ">MEOS</text>" not in key and ">New patient</text>" not in key


def test_text_is_escaped_and_ids_are_prefixed() -> None:
    odd = line("<b>&", Component.TREATMENT_MONTH, date(2025, 3, 1), date(2025, 3, 31))
    svg = timeline_svg(PatientTimeline("Patient/p1", date(2025, 4, 1), (odd,), ()), RECORD, "p7")
    parsed(svg)  # well-formed
    assert "&lt;b&gt;&amp;" in svg and "<b>" not in svg
    assert 'id="p7-title"' in svg and 'id="tl-title"' not in svg


def test_no_lines_is_a_picture_saying_so() -> None:
    svg = timeline_svg(PatientTimeline("Patient/p1", date(2025, 4, 1), (), ()), RECORD)
    assert "No billing lines." in parsed(svg).itertext()


def test_two_payment_models_are_marked() -> None:
    spans = (
        ModelSpan("cpoc", None, date(2025, 3, 31), "default"),
        ModelSpan("eom", date(2025, 4, 1), None, "Coverage/c: payer Organization/medicare"),
    )
    timeline = PatientTimeline("Patient/p1", date(2025, 5, 1), (M1, M2), (), models=spans)
    svg = timeline_svg(timeline, RECORD)
    assert "<title>Payment model EOM from 2025-04-01</title>" in svg
    assert "2 payment-model spans" in svg


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=800), min_size=1, max_size=12),
    st.integers(min_value=1, max_value=60),
)
def test_every_segment_stays_inside_the_picture(offsets: list[int], length: int) -> None:
    base = date(2024, 1, 1)
    lines = tuple(
        line("xx204", Component.TREATMENT_MONTH, base + timedelta(o), base + timedelta(o + length))
        for o in sorted(offsets)
    )
    svg = timeline_svg(PatientTimeline("Patient/p", base + timedelta(900), lines, ()), RECORD)
    root = parsed(svg)
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "month-seg":
            rect = g.find(f"{SVG}rect")
            x, w = float(rect.get("x")), float(rect.get("width"))  # type: ignore[union-attr, arg-type]
            assert x >= LEFT and x + w <= WIDTH - RIGHT + 0.2 and w >= 1


def test_cpoc_timeline_html_is_one_page_with_a_picture_per_patient() -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(
            [
                "timeline",
                "--format",
                "html",
                "--as-of",
                "2025-10-05",
                "--patient",
                "appendix-a-folfox",
            ]
        )
    assert code == 0
    html = out.getvalue()
    assert html.startswith("<!doctype html>") and "<script" not in html
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg"') == 1
    assert '<h2 id="p1">Patient/appendix-a-folfox</h2>' in html
    # the bundled example's first Treatment month, with its currency
    assert "<td>xx204</td>" in html and "800.00 USD</td>" in html
