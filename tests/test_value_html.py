"""The HTML value report: what the page says and shows, from hand-built report JSON in the value
report's shape (value-and-models §12; every figure below derived by hand in its comment)."""

from __future__ import annotations

import copy
import re
import xml.etree.ElementTree as ET
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpoc_fhir.reports.html_page import number, percent, signed_percent, z_score
from cpoc_fhir.reports.value_html import render_value_html

HOSTILE = '<script>alert("x")</script>"><img src=x onerror=alert(1)>'


def _patients(measure: str, numerator: int, others: int = 0, excluded: int = 0) -> dict[str, Any]:
    """``numerator`` patients in the numerator (one case each), ``others`` in the denominator
    only, ``excluded`` excluded: each with its case and one evidence resource."""
    out: dict[str, Any] = {}
    for i in range(numerator + others + excluded):
        pid = f"{measure.lower()}-p{i + 1:02d}"
        case = f"Patient/{pid}"
        entry: dict[str, Any] = {
            "initial-population": {"cases": [case], "evidence": []},
            "denominator": {"cases": [case], "evidence": [f"Condition/{pid}-dx"]},
        }
        if i < numerator:
            entry["numerator"] = {"cases": [case], "evidence": [f"Observation/{pid}-n"]}
        elif i >= numerator + others:
            entry["denominator-exclusion"] = {"cases": [case], "evidence": [f"Procedure/{pid}-x"]}
        out[pid] = entry
    return out


def _er_visit(eid: str, day: str, category: str, weight: str, near: bool) -> dict[str, Any]:
    """A counted visit as the ER result lists it (§12.3)."""
    evidence = [f"Encounter/{eid}", f"Condition/{eid}-dx"]
    return {
        "encounter": f"Encounter/{eid}", "date": day, "category": category,
        "categories": [category], "weight": weight, "nearTreatment": near,
        "month": day[:8] + "01", "quarter": (int(day[5:7]) - 1) // 3 + 1,
        "evidence": evidence + ([f"MedicationAdministration/{eid}-rx"] if near else []),
    }  # fmt: skip


def _measure(
    mid: str, title: str, source: str, improvement: str, unit: str,
    denominator: int, numerator: int, rate: float, mean: str, sd: str, z: float,
    in_composite: bool = True, exclusions: int = 0,
) -> dict[str, Any]:  # fmt: skip
    return {
        "id": mid, "title": title, "source": source, "improvement": improvement, "unit": unit,
        "initialPopulation": denominator, "denominator": denominator, "exclusions": exclusions,
        "numerator": numerator, "rate": rate, "inComposite": in_composite,
        "benchmark": {"mean": mean, "sd": sd}, "z": z,
        "patients": _patients(mid, numerator, denominator - numerator - exclusions, exclusions),
    }  # fmt: skip


def report_with_benchmarks() -> dict[str, Any]:
    """A participation-year-3 practice rated against illustrative 2024 benchmarks.

    z = (rate − mean) / sd, sign-corrected for Q4 (lower is better):
    Q1 18/20 = 0.9, (0.9 − 0.85)/0.08 = +0.625; Q2 30/40 = 0.75, (0.75 − 0.70)/0.10 = +0.5;
    Q3 11/12 = 0.9167, (0.9167 − 0.90)/0.05 = +0.3333; Q4 2/12 = 0.1667, −(0.1667 − 0.10)/0.05 =
    −1.3333; Q5 8/12 = 0.6667, (0.6667 − 0.60)/0.10 = +0.6667; Q6 5/6 = 0.8333 (+0.3333) has a
    denominator under 10: out of the composite. Composite = (0.625 + 0.5 + 0.3333 − 1.3333 +
    0.6667)/5 = 0.1583 → Phase 2, submitting, ≤ +1 → appropriate.
    ER: 7.5 weighted visits / 150 patient-months × 100 = 5.0 observed; expected 7.5; risk-adjusted
    5.0/7.5 × 6.0 (reference) = 4.0, more than 1 SD (1.5) below the mean 6.0 → high (Phase 1).
    Quarters: 2.5/36, 2.0/38, 1.5/38, 1.5/38 (sum 7.5/150), each expected 7.5 per 100
    patient-months (2.7, 2.85, 2.85, 2.85 expected visits; 11.25 in the year):
    Q1 6.9444 → 6.9444/7.5 × 6 = 5.5556; Q2 5.2632 → 4.2105; Q3 and Q4 3.9474 → 3.1579.
    Pathways: 13 of 16 decisions on pathway (one clinical-trial deviation left out) = 0.8125;
    lung 8/10 = 0.8, breast 5/6 = 0.8333; rated high.
    Ratings high + appropriate + high = +2: the midpoint of year 3's "high on all three" (+3 %)
    and "high on two, low on one" (+1.5 %) rows (II-C.2, §12.4) = +2.25 %.
    """
    return {
        "year": 2025,
        "participationYear": 3,
        "asOf": "2025-12-31",
        "practice": {"location": "Location/practice-main"},
        "benchmarks": {"year": 2024, "illustrative": True,
                       "source": "cpoc-fhir illustrative benchmarks (no payer's figures)"},
        "phases": {"pathways": 2, "quality": 2, "er": 1},
        "measures": [
            _measure("Q1", "Performance status before chemotherapy", "QOPI core", "increase",
                     "line starts", 20, 18, 0.9, "0.85", "0.08", 0.625),
            _measure("Q2", "Pain intensity quantified", "NQF 0384", "increase", "visits",
                     40, 30, 0.75, "0.70", "0.10", 0.5),
            _measure("Q3", "Stage documented before treatment", "QOPI core", "increase",
                     "patients", 12, 11, 0.9167, "0.90", "0.05", 0.3333),
            _measure("Q4", "Chemotherapy in the last 14 days of life", "NQF 0210", "decrease",
                     "patients", 12, 2, 0.1667, "0.10", "0.05", -1.3333),
            _measure("Q5", "Hospice 3 days or more before death", "OCM-3", "increase",
                     "patients", 12, 8, 0.6667, "0.60", "0.10", 0.6667),
            _measure("Q6", "Depression screening", "CMS 2", "increase", "patients",
                     7, 5, 0.8333, "0.80", "0.10", 0.3333, in_composite=False, exclusions=1),
        ],
        "quality": {"composite": 0.1583, "submitting": True},
        "er": {
            "visits": 9, "weightedVisits": "7.5", "patientMonths": 150,
            "observedRate": "5.0000", "expectedRate": "7.5000", "riskAdjustedRate": "4.0000",
            "quarters": [
                {"quarter": "2025-Q1", "visits": 3, "weightedVisits": "2.5", "patientMonths": 36,
                 "expectedVisits": "2.7000", "observedRate": "6.9444", "expectedRate": "7.5000",
                 "riskAdjustedRate": "5.5556"},
                {"quarter": "2025-Q2", "visits": 2, "weightedVisits": "2.0", "patientMonths": 38,
                 "expectedVisits": "2.8500", "observedRate": "5.2632", "expectedRate": "7.5000",
                 "riskAdjustedRate": "4.2105"},
                {"quarter": "2025-Q3", "visits": 2, "weightedVisits": "1.5", "patientMonths": 38,
                 "expectedVisits": "2.8500", "observedRate": "3.9474", "expectedRate": "7.5000",
                 "riskAdjustedRate": "3.1579"},
                {"quarter": "2025-Q4", "visits": 2, "weightedVisits": "1.5", "patientMonths": 38,
                 "expectedVisits": "2.8500", "observedRate": "3.9474", "expectedRate": "7.5000",
                 "riskAdjustedRate": "3.1579"},
            ],
            "distance": {"known": 120, "unknown": 30},
            "expectedVisits": "11.2500",
            "referenceRate": "6.0",
            "excluded": {"notOncologyRelated": 3, "outsideCpocMonths": 1},
            "weights": {"nearTreatment": "1.0", "other": "0.5", "windowDays": 30},
            "patients": {
                # er-p01: one visit 5 days after a treatment day (1.0), one 60 days after (0.5)
                "er-p01": {
                    "patientMonths": 12, "weightedVisits": "1.5", "months": [],
                    "visits": [
                        _er_visit("er-1", "2025-02-03", "neutropenia", "1.0", True),
                        _er_visit("er-2", "2025-05-10", "pain", "0.5", False),
                    ],
                    "distanceKm": "12.4", "distanceBand": 0, "distanceFactor": "1.0",
                },
                "er-p02": {
                    "patientMonths": 10, "weightedVisits": "1.0", "months": [],
                    "visits": [_er_visit("er-3", "2025-08-01", "fever", "1.0", True)],
                    "distanceKm": None, "distanceBand": None, "distanceFactor": "1",
                },
                # exposure months, no visit: not behind the numerator
                "er-p03": {
                    "patientMonths": 12, "weightedVisits": "0", "months": [], "visits": [],
                    "distanceKm": "3.0", "distanceBand": 0, "distanceFactor": "1.0",
                },
            },
        },
        "pathways": {
            "rate": "0.8125", "decisions": 16, "onPathway": 13, "excludedTrial": 1,
            "byCancer": [
                {"cancer": "lung", "rate": "0.8", "decisions": 10, "deviations": 2,
                 "withReason": 2, "uses": True, "rating": "high"},
                {"cancer": "breast", "rate": "0.8333", "decisions": 6, "deviations": 1,
                 "withReason": 1, "uses": True, "rating": "appropriate"},
            ],
            "rating": "high",
        },
        "ratings": {"pathways": "high", "quality": "appropriate", "er": "high"},
        "adjustment": "0.0225",
        "warnings": ["Patient/q4-p03: death date without a time zone; read as the practice's day"],
    }  # fmt: skip


def report_without_benchmarks() -> dict[str, Any]:
    """The same practice checking its own figures: no benchmarks, so no z, ratings or
    adjustment (§12); the ER year has no visit and no exposure month (empty)."""
    report = copy.deepcopy(report_with_benchmarks())
    report["benchmarks"] = None
    report["ratings"] = None
    report["adjustment"] = None
    report["quality"] = {"composite": None, "submitting": True}
    report["pathways"]["rating"] = None
    for cancer in report["pathways"]["byCancer"]:
        cancer["rating"] = None
    for measure in report["measures"]:
        measure["benchmark"] = None
        measure["z"] = None
        measure["inComposite"] = False
    report["er"] = {
        "visits": 0, "weightedVisits": "0", "patientMonths": 0, "observedRate": None,
        "expectedRate": None, "riskAdjustedRate": None, "quarters": [],
        "distance": {"known": 0, "unknown": 0}, "patients": {},
    }  # fmt: skip
    report["warnings"] = []
    return report


class Page(HTMLParser):
    """The parsed page: every element with its attributes, and the text outside markup."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text_parts: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text_parts.append(data)

    @property
    def text(self) -> str:
        return re.sub(r"\s+", " ", " ".join(self.text_parts))

    def tags(self, name: str) -> list[dict[str, str]]:
        return [attrs for tag, attrs in self.elements if tag == name]

    def ids(self) -> list[str]:
        return [attrs["id"] for _, attrs in self.elements if "id" in attrs]


@pytest.fixture(scope="module")
def rated_html() -> str:
    return render_value_html(report_with_benchmarks())


@pytest.fixture(scope="module")
def unrated_html() -> str:
    return render_value_html(report_without_benchmarks())


def _section(html: str, anchor: str) -> str:
    start = html.index(f'<section id="{anchor}"')
    return html[start : html.index("</section>", start)]


def test_every_measure_has_its_row_its_section_and_its_figures(rated_html: str) -> None:
    page = Page(rated_html)
    for measure in report_with_benchmarks()["measures"]:
        anchor = f"measure-{measure['id'].lower()}"
        assert anchor in page.ids()
        assert {"href": f"#{anchor}"} in page.tags("a")
        assert f"{measure['id']} — {measure['title']}" in page.text
    # Q1 18/20 = 90.0 % against 85.0 % ± 8.0 %, z +0.63 (0.625 rounded half up)
    assert "90.0% 85.0% ± 8.0% +0.63 yes" in page.text
    # Q4 is better lower: its z is negative although its rate is above the mean
    assert "16.7% 10.0% ± 5.0% -1.33 yes" in page.text


def test_a_measure_with_a_denominator_under_ten_is_shown_but_left_out(rated_html: str) -> None:
    text = Page(rated_html).text
    assert "83.3% 80.0% ± 10.0% +0.33 no: denominator under the minimum" in text
    assert "5 of 7 patients in the numerator, 1 excluded" in text


def test_ratings_and_the_signed_adjustment(rated_html: str) -> None:
    ratings = Page(_section(rated_html, "ratings")).text
    assert "Adjustment for payments in 2026: +2.25%" in ratings
    assert "Pathways (IV-A) high +1 2 pooled adherence 81.3% of 16 decisions" in ratings
    assert "Quality (IV-B) appropriate 0 2 composite z +0.16, submitting" in ratings
    assert "Emergency visits (IV-C) high +1 1 risk-adjusted rate 4.0000 weighted" in ratings
    # +1 + 0 + +1 = +2
    assert "Adjustment +2.25% +2 participation year 3, II-C.2 table (§12.4)" in ratings


def test_header_names_the_period_the_source_and_flags_illustrative(rated_html: str) -> None:
    page = Page(rated_html)
    assert page.tags("title")
    assert "Performance year 2025, as of 2025-12-31" in page.text
    assert "2024 figures — cpoc-fhir illustrative benchmarks (no payer's figures)" in page.text
    assert "ILLUSTRATIVE" in page.text
    assert "Location/practice-main" in page.text


def test_without_benchmarks_rates_only_and_not_rated(unrated_html: str) -> None:
    page = Page(unrated_html)
    assert "ILLUSTRATIVE" not in page.text
    assert "none given: rates only, not rated" in page.text
    ratings = Page(_section(unrated_html, "ratings")).text
    assert "Not rated." in ratings and "Adjustment for payments" not in ratings
    assert ratings.count("not rated") == 3  # pathways, quality, ER
    assert "90.0% not rated — no: no benchmark" in page.text
    # the chart shows the dots only: no band, no mean tick
    chart = rated_chart = unrated_html[unrated_html.index('id="chart-measures"') :]
    assert 'aria-roledescription="tick"' not in chart.split("</svg>")[0]
    assert rated_chart


def test_an_empty_er_year_says_so_and_draws_nothing(unrated_html: str) -> None:
    er = _section(unrated_html, "er")
    assert "No emergency visits and no Treatment or Active Monitoring months" in Page(er).text
    assert "<svg" not in er and "<table" not in er


def test_er_by_quarter_table_and_chart(rated_html: str) -> None:
    er = _section(rated_html, "er")
    text = Page(er).text
    # expected visits: 7.5 per 100 patient-months × 36 = 2.7 in Q1, × 150 = 11.25 in the year
    assert "2025-Q1 3 2.5 36 2.7000 6.9444 7.5000 5.5556" in text
    assert "Year 9 7.5 150 11.2500 5.0000 7.5000 4.0000" in text
    assert "known for 120 patients, unknown (factor 1) for 30" in text
    assert "weigh 1.0 within 30 days after a treatment day, 0.5 otherwise" in text
    assert "against the reference rate 6.0" in text
    assert (
        "Not counted: 3 visits without an OP-35 diagnosis; "
        "1 visits outside a Treatment or Active Monitoring month."
    ) in text
    # the chart's risk-adjusted point of 2025-Q1 is drawn with its value
    assert re.search(r'aria-label="[^"]*rate: 5\.5556[^"]*2025-Q1', er) or re.search(
        r'aria-label="[^"]*2025-Q1[^"]*5\.5556', er
    )
    wide = er[er.index('id="chart-er"') :].split("</svg>")[0]
    for series in ("observed", "expected", "risk-adjusted"):  # one legend entry each
        assert wide.count(f">{series}</text>") == 1
    # the patients with a counted visit (er-p03 has months only), each visit and its evidence
    assert "Patients with counted emergency visits (2)" in text
    assert re.findall(r'<th scope="row" class="ref">([^<]+)</th>', er) == ["er-p01", "er-p02"]
    assert (
        "Encounter/er-1 on 2025-02-03: neutropenia, weight 1.0 "
        "(within the window after a treatment day)"
    ) in text
    assert "Encounter/er-2 on 2025-05-10: pain, weight 0.5 Encounter/er-1" in text
    assert "MedicationAdministration/er-1-rx" in text
    assert "12.4 km, factor 1.0" in text and "er-p02 Encounter/er-3" in text


def test_pathways_by_cancer(rated_html: str) -> None:
    text = Page(_section(rated_html, "pathways")).text
    assert (
        "13 of 16 decisions on pathway (1 deviation for a clinical trial left out, §12.1)" in text
    )
    assert "lung 10 80.0% 2 2 yes high" in text
    assert "breast 6 83.3% 1 1 yes appropriate" in text


def test_the_patients_behind_each_numerator_are_one_click_away(rated_html: str) -> None:
    for measure in report_with_benchmarks()["measures"]:
        section = _section(rated_html, f"measure-{measure['id'].lower()}")
        details = section[section.index("<details>") : section.index("</details>")]
        expected = sorted(p for p, e in measure["patients"].items() if "numerator" in e)
        assert len(expected) == measure["numerator"]
        assert f"Patients in the numerator ({len(expected)})" in details
        shown = re.findall(r'<th scope="row" class="ref">([^<]+)</th>', details)
        assert shown == expected
        assert f"Observation/{expected[0]}-n" in details
    # Q6's excluded patient is in its own drill-down
    q6 = _section(rated_html, "measure-q6")
    assert "Patients excluded (1)" in q6 and "Procedure/q6-p07-x" in q6


def test_charts_are_accessible_inline_svg_with_text_as_text(rated_html: str) -> None:
    page = Page(rated_html)
    svgs = page.tags("svg")
    charts = {"chart-measures", "chart-er", "chart-pathways"}
    # each drawn for a wide and a narrow screen (CSS shows one)
    assert {s["id"] for s in svgs} == charts | {f"{c}-narrow" for c in charts}
    ids = set(page.ids())
    for svg in svgs:
        assert svg["role"] == "img"
        assert set(svg["aria-labelledby"].split()) <= ids
    measures = rated_html[rated_html.index('id="chart-measures"') :].split("</svg>")[0]
    assert "<title" in measures and "<desc" in measures
    assert "Q1 rate 90.0%, benchmark 85.0% ± 8.0%" in measures
    assert re.search(r"<text[^>]*>Q4 ↓</text>", measures)


def test_the_dot_sits_at_the_rate_and_the_band_spans_one_sd(rated_html: str) -> None:
    """On the 560-px axis 0-100 %: Q1’s dot at 0.9 × 560 = 504 px; its band from
    (0.85 − 0.08) × 560 = 431.2 to (0.85 + 0.08) × 560 = 520.8 px; its mean tick at 476 px."""
    chart = rated_html[rated_html.index('id="chart-measures"') :].split("</svg>")[0]
    dot = re.search(r'aria-label="value: 90%; label: Q1 [^"]*"[^>]*translate\(([\d.]+),', chart)
    assert dot and float(dot.group(1)) == pytest.approx(504)
    band = re.search(
        r'aria-label="lo: 77%; label: Q1 [^"]*"[^>]*d="M([\d.]+),[\d.]+h([\d.]+)', chart
    )
    assert band
    assert float(band.group(1)) == pytest.approx(431.2)
    assert float(band.group(1)) + float(band.group(2)) == pytest.approx(520.8)
    tick = re.search(
        r'aria-label="mean: 85%; label: Q1 [^"]*"[^>]*d="M([\d.]+),[\d.]+h([\d.]+)', chart
    )
    assert tick and float(tick.group(1)) + float(tick.group(2)) / 2 == pytest.approx(476)


def test_hostile_text_is_escaped_everywhere() -> None:
    report = report_with_benchmarks()
    report["measures"][0]["title"] = HOSTILE
    report["measures"][1]["id"] = HOSTILE
    report["pathways"]["byCancer"][0]["cancer"] = HOSTILE
    report["benchmarks"]["source"] = HOSTILE
    report["warnings"] = [HOSTILE]
    report["measures"][0]["patients"] = {HOSTILE: {"numerator": {"cases": [HOSTILE]}}}
    report["er"]["patients"] = {HOSTILE: {HOSTILE: [HOSTILE]}}
    html = render_value_html(report)
    page = Page(html)
    assert not page.tags("script") and not page.tags("img")
    assert not [a for _, attrs in page.elements for a in attrs if a.startswith("on")]
    assert "&lt;script&gt;" in html
    assert page.text.count('<script>alert("x")</script>') >= 6  # shown as text


def test_no_url_leaves_the_page(rated_html: str) -> None:
    page = Page(rated_html)
    refs = [v for _, attrs in page.elements for k, v in attrs.items() if k in {"src", "href"}]
    assert refs and all(v.startswith("#") for v in refs)
    assert not page.tags("script") and not page.tags("link") and not page.tags("iframe")
    style = rated_html[rated_html.index("<style>") : rated_html.index("</style>")]
    assert "url(" not in style and "@import" not in style


def test_every_id_is_unique(rated_html: str) -> None:
    ids = Page(rated_html).ids()
    assert len(ids) == len(set(ids))


def test_the_page_is_deterministic() -> None:
    assert render_value_html(report_with_benchmarks()) == render_value_html(
        report_with_benchmarks()
    )


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("measures",), {"Q1": 1}, "measures: expected a list"),
        (("measures", 0, "rate"), "high", "measures[0].rate: not a number"),
        (("er", "quarters", 0, "observedRate"), [1], "er.quarters[0].observedRate"),
        (("pathways", "byCancer", 0), "lung", "pathways.byCancer[0]: expected an object"),
    ],
)
def test_bad_report_json_names_the_field(path: tuple[Any, ...], value: Any, message: str) -> None:
    report = report_with_benchmarks()
    target: Any = report
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ValueError, match=re.escape(message)):
        render_value_html(report)


@pytest.mark.parametrize(
    ("value", "text"),
    [("0.015", "+1.5%"), ("0.0225", "+2.25%"), ("-0.0075", "-0.75%"), ("0", "0%"),
     ("-0.1", "-10%"), (None, "—")],
)  # fmt: skip
def test_signed_percent(value: Any, text: str) -> None:
    assert signed_percent(value) == text


def test_plain_figures() -> None:
    assert percent(0.8125) == "81.3%"  # 81.25 rounds half up
    assert percent("0.1667") == "16.7%"
    assert number(1234) == "1,234" and number("7.5") == "7.5"
    assert z_score(-0.4) == "-0.40" and z_score(None) == "—"


@given(st.decimals(min_value=Decimal("-0.1"), max_value=Decimal("0.1"), places=4))
def test_signed_percent_reads_back_as_the_fraction(value: Decimal) -> None:
    text = signed_percent(value)
    assert text.endswith("%")
    assert Decimal(text[:-1]) / 100 == value
    assert text.startswith("+") == (value > 0)


def _outside_svg(html: str) -> list[str]:
    return [tag for tag, _ in Page(re.sub(r"<svg.*?</svg>", "", html, flags=re.S)).elements]


@settings(max_examples=25, deadline=None)
@given(st.text(max_size=40), st.text(max_size=12))
def test_any_text_from_a_record_stays_text(title: str, label: str) -> None:
    """Whatever a title, a measure id or a cancer name holds, the page keeps its structure and
    every chart still parses as XML with nothing active in it."""
    report = report_with_benchmarks()
    report["measures"][0]["title"] = title
    report["measures"][0]["id"] = label
    report["pathways"]["byCancer"][0]["cancer"] = label
    report["warnings"] = [title]
    html = render_value_html(report)
    assert _outside_svg(html) == _outside_svg(render_value_html(report_with_benchmarks()))
    for svg in re.findall(r"<svg.*?</svg>", html, flags=re.S):
        tree = ET.fromstring(svg)
        assert not [e for e in tree.iter() if e.tag in {"script", "foreignObject"}]


def test_pathways_without_decisions_still_show_why_they_are_rated() -> None:
    """No decision for a cancer type that has a pathway: not "used", so low (§12.1); the page
    says so and lists the cancer types, with no chart (no rate to draw)."""
    report = report_with_benchmarks()
    report["pathways"] = {
        "rate": None, "decisions": 0, "onPathway": 0, "excludedTrial": 0, "rating": "low",
        "byCancer": [
            {"cancer": "lung", "rate": None, "decisions": 0, "deviations": 0, "withReason": 0,
             "uses": False, "rating": "low"},
        ],
    }  # fmt: skip
    section = _section(render_value_html(report), "pathways")
    text = Page(section).text
    assert "No pathway decisions in the year; rating low" in text
    assert "lung 0 — 0 0 no low" in text
    assert "<svg" not in section
