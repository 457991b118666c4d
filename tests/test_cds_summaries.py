"""Card summaries fit the spec's "<140-character summary" by construction (CDS Hooks 2.0.1
§Card Attributes): built from bounded parts, an optional part is shown whole or not at all, so
no summary is ever cut mid-word with "…" — whatever the regimen names, warnings and counts.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from cds_hooks.cards import (
    CardSource,
    documentation_card,
    first_fitting,
    month_card,
    treatment_card,
    triggered_card,
)
from cpoc_fhir.engine.lines import BillingLine, LineStatus, Score
from cpoc_fhir.packs.cpoc.codes import CODES

SOURCE = CardSource("CPOC", "https://cds.example/about", None, "p1")
LIMIT = 139

codes = st.sampled_from(sorted(CODES))
statuses = st.sampled_from(list(LineStatus))
months = st.one_of(st.none(), st.integers(min_value=1, max_value=10**9))
# Warnings quote regimen names and record text: any length, any script, odd whitespace.
names = st.text(min_size=1, max_size=400)
warnings = st.lists(
    st.one_of(names, names.map(lambda n: f"regimen {n} is not in the catalog")),
    min_size=1,
    max_size=30,
)


@st.composite
def lines(draw: st.DrawFn) -> BillingLine:
    code = draw(codes)
    component, level, _ = CODES[code]
    start = date(2025, 1, 1) + timedelta(days=draw(st.integers(0, 3000)))
    score = Score(*(draw(st.integers(0, 99)) for _ in range(4)), regimen=None, treatment_days=1)
    return BillingLine(
        code=code,
        component=component,
        level=level,
        month=draw(months),
        start=start,
        end=start + timedelta(days=30),
        status=draw(statuses),
        amount=Decimal("1.00"),
        explanation=tuple(draw(st.lists(names, max_size=3))),
        evidence=(),
        score=score,
        warnings=tuple(draw(st.lists(names, max_size=3))),
    )


def words(text: str) -> list[str]:
    return text.split()


def assert_fits(summary: str) -> None:
    assert len(summary) <= LIMIT
    assert "…" not in summary
    assert summary == " ".join(summary.split())  # one line, single spaces


@settings(max_examples=300, deadline=None)
@given(warnings, st.one_of(st.none(), lines()))
def test_documentation_summary_fits_and_shows_a_gap_whole_or_not_at_all(
    gaps: list[str], month: BillingLine | None
) -> None:
    summary = documentation_card(SOURCE, gaps, month)["summary"]
    assert_fits(summary)
    where = f"month {month.month}" if month and month.month else "this patient"
    if len(gaps) == 1:
        whole = f"CPOC documentation for {where}: " + " ".join(gaps[0].split())
        fallback = f"CPOC: 1 documentation gap affects {where}"
        assert summary in (whole, fallback)
        assert summary == whole or len(whole) > LIMIT or not gaps[0].split()
    else:
        assert summary == f"CPOC: {len(gaps)} documentation gaps affect {where}"


@settings(max_examples=300, deadline=None)
@given(st.lists(lines(), min_size=1, max_size=40))
def test_month_summary_lists_whole_codes_then_how_many_more(month: list[BillingLine]) -> None:
    summary = month_card(SOURCE, month)["summary"]
    assert_fits(summary)
    listed = summary.split("): ", 1)[1]
    items = listed.split(", ")
    more = items[-1].startswith("+") and items[-1].endswith(" more")
    shown = items[:-1] if more else items
    expected = [f"{line.code} {line.status.value}" for line in month]
    assert shown == expected[: len(shown)]  # whole items, in order
    assert len(shown) + (int(items[-1].split()[0][1:]) if more else 0) == len(month)


@settings(max_examples=200, deadline=None)
@given(lines(), st.one_of(st.none(), lines()))
def test_treatment_and_triggered_summaries_are_bounded(
    line: BillingLine, before: BillingLine | None
) -> None:
    assert_fits(treatment_card(SOURCE, line, before, [])["summary"])
    assert_fits(triggered_card(SOURCE, line)["summary"])


def test_a_long_regimen_name_leaves_the_gap_to_the_detail() -> None:
    # 'CPOC documentation for month 2: ' is 32 characters; a 120-character gap would need 152.
    gap = "regimen " + "carboplatin-pemetrexed-pembrolizumab " * 3 + "is not in the catalog"
    card = documentation_card(SOURCE, [gap], None)
    assert card["summary"] == "CPOC: 1 documentation gap affects this patient"
    assert "carboplatin-pemetrexed-pembrolizumab" in card["detail"]


@given(
    st.lists(st.text(min_size=0, max_size=300), min_size=0, max_size=4),
    st.sampled_from(["Off pathway: see the options", "On the practice's care pathway"]),
)
def test_pathway_summaries_are_a_whole_choice_or_the_fallback(
    choices: list[str], fallback: str
) -> None:
    # The pathway card's summaries (cds_hooks/pathway_cards.py) come from first_fitting: the
    # first choice that fits whole (white space folded), else the fixed fallback; never a cut.
    summary = first_fitting(*choices, fallback=fallback)
    folded = [" ".join(c.split()) for c in choices]
    assert len(summary) <= 140
    fitting = [c for c in folded if len(c) <= 140]
    assert summary == (fitting[0] if fitting else fallback)
