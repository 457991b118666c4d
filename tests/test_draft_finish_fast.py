"""LineDraft.finish with the status from its lists, the explanation copied alone when nothing
is added and BillingLine.of by position: the same line as the former definition (kept
below), for drawn drafts of every component and level (hypothesis)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from cpoc_fhir.config import load_payer
from cpoc_fhir.engine.lines import BillingLine, LineStatus, Score
from cpoc_fhir.packs.cpoc.codes import LINE_CODES
from cpoc_fhir.packs.cpoc.draft import NOTHING, LineDraft
from cpoc_fhir.packs.cpoc.payer import PayerSchedule


def former_finish(draft: LineDraft, payer: PayerSchedule) -> BillingLine:
    """finish before: keyword call, explanation always rebuilt, status from the property."""
    from cpoc_fhir.packs.cpoc.codes import code_for

    code = code_for(draft.component, draft.level)
    status = draft.status
    explanation = list(draft.explanation)
    explanation += [f"Not billable: {reason}" for reason in draft.failures]
    explanation += [f"Provisional: {reason}" for reason in draft.pending]
    return BillingLine(
        code=code,
        component=draft.component,
        level=draft.level,
        month=draft.month,
        start=draft.start,
        end=draft.end,
        status=status,
        amount=NOTHING if status is LineStatus.NOT_BILLABLE else payer.amount(code, draft.start),
        explanation=tuple(explanation),
        evidence=tuple(draft.evidence),
        score=draft.score,
        warnings=tuple(draft.warnings),
    )


PAYER = load_payer(None)
# every (component, level) that has a code, but the enhanced-care one (its price needs a
# payer opted in: the same ValueError either way)
_PAIRS = sorted(
    {(c, lv) for code, (c, lv) in LINE_CODES.items() if code != "xx600"},
    key=lambda p: (p[0].value, p[1] or 0),
)
_texts = st.lists(st.sampled_from(["a", "b", "needs a visit", "é"]), max_size=3)
_score = st.none() | st.builds(
    Score,
    st.integers(0, 3),
    st.integers(0, 3),
    st.integers(0, 3),
    st.integers(0, 6),
    st.none() | st.just("folfox"),
    st.integers(0, 31),
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(_PAIRS),
    st.none() | st.integers(1, 40),
    st.dates(date(2024, 1, 1), date(2027, 12, 31)),
    _texts,
    st.lists(st.sampled_from(["Encounter/1", "MedicationAdministration/2", ""]), max_size=3),
    _texts,
    _texts,
    _texts,
    _score,
)
def test_finish_equals_the_former_definition(
    pair, month, start, explanation, evidence, pending, failures, warnings, score
) -> None:  # type: ignore[no-untyped-def]
    component, level = pair
    draft = LineDraft(component, level, month, start, start + timedelta(days=27))
    draft.explanation.extend(explanation)
    draft.cite(*evidence)
    draft.pending.extend(pending)
    draft.failures.extend(failures)
    for warning in warnings:
        draft.warn(warning)
    draft.score = score
    fast, former = draft.finish(PAYER), former_finish(draft, PAYER)
    assert fast == former and fast.as_json() == former.as_json()
    assert type(fast.explanation) is tuple and fast.status is draft.status


def test_a_provisional_monitoring_line_by_hand() -> None:
    """Hand-derived: pending reasons follow the explanation with "Provisional: "; the amount
    is the illustrative payer's xx302 price for 2025 (the same as the schedule gives)."""
    draft = LineDraft(*_monitoring(2), month=3, start=date(2025, 3, 1), end=date(2025, 3, 31))
    draft.explanation.append("Active Monitoring level 2")
    draft.pending.append("the month is open until 2025-03-31")
    line = draft.finish(PAYER)
    assert line.code == "xx302" and line.status is LineStatus.PROVISIONAL
    assert line.explanation == (
        "Active Monitoring level 2",
        "Provisional: the month is open until 2025-03-31",
    )
    assert line.amount == PAYER.amount("xx302", date(2025, 3, 1)) and line.amount > 0
    draft.failures.append("no visit")
    refused = draft.finish(PAYER)
    assert refused.status is LineStatus.NOT_BILLABLE and refused.amount == NOTHING
    assert refused.explanation[1:] == ("Not billable: no visit", line.explanation[1])


def _monitoring(level: int) -> tuple[object, int]:
    from cpoc_fhir.engine.components import Component

    return Component.ACTIVE_MONITORING, level
