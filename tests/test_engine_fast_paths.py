"""The timeline's fast paths (issue 16 item 4) against the plain definitions they replaced.

Each fast path must answer exactly what the slow one did: ``Context.latest_status`` bisects
the dated statuses instead of taking ``max`` over the record; ``comorbidity`` keeps one factor
per set of Charlson diagnoses; ``code_for`` looks a table up; ``BillingLine.of`` fills a
line without the frozen ``__init__``. The references below are the former code, restated.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from factories import condition, record, status
from hypothesis import given, settings
from hypothesis import strategies as st

from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.facts import DiseaseState, DiseaseStatus
from cpoc_fhir.engine.lines import BillingLine, LineStatus
from cpoc_fhir.engine.months import billing_month
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.knowledge import Knowledge
from cpoc_fhir.packs.cpoc.codes import LINE_CODES, _checked_code_for, code_for
from cpoc_fhir.packs.cpoc.context import Context
from cpoc_fhir.packs.cpoc.scoring import comorbidity

ANCHOR = date(2025, 1, 1)


def _context(statuses: list[DiseaseStatus]) -> Context:
    return Context(
        record=record(disease_status=statuses),
        knowledge=None,  # type: ignore[arg-type]  # not read by latest_status
        settings=RuleSettings(),
        payer=None,  # type: ignore[arg-type]
        as_of=ANCHOR,
        anchor=ANCHOR,
        months=[],
        treatment={},
        lines=(),
        line_of={},
        treatment_days=[],
        first_treatment=None,
        last_day=ANCHOR,
    )


def _latest_by_max(
    statuses: list[DiseaseStatus], on_or_before: date, after: date | None
) -> DiseaseStatus | None:
    """The former ``latest_status``: ``max`` by date over the record (first of a tie)."""
    candidates = [s for s in statuses if s.on <= on_or_before and (after is None or s.on > after)]
    return max(candidates, key=lambda s: s.on, default=None)


_day = st.integers(0, 40).map(lambda n: ANCHOR + timedelta(days=n))
_status = st.builds(
    lambda on, state, n: DiseaseStatus(f"Observation/s{n}", on, state),
    _day,
    st.sampled_from(list(DiseaseState)),
    st.integers(0, 10_000),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_status, max_size=8), _day, st.one_of(st.none(), _day))
def test_latest_status_bisects_to_what_max_over_the_record_gave(
    statuses: list[DiseaseStatus], on_or_before: date, after: date | None
) -> None:
    ctx = _context(statuses)
    # identity, not equality: of several the same day, the first in record order
    assert ctx.latest_status(on_or_before, after) is _latest_by_max(statuses, on_or_before, after)


def test_latest_status_of_a_tie_is_the_first_in_record_order() -> None:
    # Hand-built: two statuses the same day, the later one in the record says worsened.
    first = status("2025-01-10", DiseaseState.NED)
    second = status("2025-01-10", DiseaseState.WORSENED)
    ctx = _context([status("2025-01-02", DiseaseState.STABLE), first, second])
    assert ctx.latest_status(date(2025, 1, 31)) is first
    assert ctx.latest_status(date(2025, 1, 9)).state is DiseaseState.STABLE  # type: ignore[union-attr]
    assert ctx.latest_status(date(2025, 1, 31), after=date(2025, 1, 10)) is None
    assert ctx.latest_status(date(2025, 1, 1)) is None


def test_comorbidity_with_the_memo_equals_without(knowledge: Knowledge) -> None:
    # Diabetes (E11.9) all along, COPD (J44.9) only from March: the memo must not carry
    # January's factor into March, and the same set again is the same factor.
    rec = record(diagnoses=[condition("E11.9", "2020-01-01"), condition("J44.9", "2025-03-01")])
    memo: dict[object, object] = {}
    rule = RuleSettings()
    for k in (1, 2, 3, 4, 1):
        month = billing_month(ANCHOR, k)
        fast = comorbidity(rec, month, knowledge, rule, memo)  # type: ignore[arg-type]
        assert fast == comorbidity(rec, month, knowledge, rule)
    january = comorbidity(rec, billing_month(ANCHOR, 1), knowledge, rule, memo)  # type: ignore[arg-type]
    march = comorbidity(rec, billing_month(ANCHOR, 3), knowledge, rule, memo)  # type: ignore[arg-type]
    assert january.evidence != march.evidence and len(march.evidence) == 2
    assert len(memo) == 2  # two distinct sets of diagnoses seen


@pytest.mark.parametrize("component", list(Component))
@pytest.mark.parametrize("level", [None, 0, 1, 2, 3, 4, 5])
def test_code_for_the_table_agrees_with_the_derivation(
    component: Component, level: int | None
) -> None:
    try:
        expected = _checked_code_for(component, level)
    except ValueError:
        with pytest.raises(ValueError):
            code_for(component, level)
        return
    assert code_for(component, level) == expected
    assert LINE_CODES[expected] == (component, level)


def test_code_for_every_line_code() -> None:
    for code, (component, level) in LINE_CODES.items():
        assert code_for(component, level) == code


def test_billing_line_of_equals_the_constructor() -> None:
    fields = dict(
        code="xx203",
        component=Component.TREATMENT_MONTH,
        level=3,
        month=2,
        start=date(2025, 2, 1),
        end=date(2025, 2, 28),
        status=LineStatus.FINAL,
        amount=Decimal("1234.56"),
        explanation=("Treatment Month level 3",),
        evidence=("MedicationAdministration/a",),
        warnings=("w",),
    )
    fast = BillingLine.of(**fields)  # type: ignore[arg-type]
    slow = BillingLine(**fields)  # type: ignore[arg-type]
    assert fast == slow and hash(fast) == hash(slow) and repr(fast) == repr(slow)
    with pytest.raises(AttributeError):  # still frozen
        fast.code = "xx204"  # type: ignore[misc]
