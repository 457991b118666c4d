"""The timeline's fast paths (issue 16 item 4) against the plain definitions they replaced.

Each fast path must answer exactly what the slow one did: ``Context.latest_status`` bisects
the dated statuses instead of taking ``max`` over the record; ``comorbidity`` keeps one factor
per set of Charlson diagnoses; ``code_for`` looks a table up; ``BillingLine.of`` fills a
line without the frozen ``__init__``; ``comorbidity`` finds the record's Charlson candidates
once; ``_treatment_by_month`` bisects the month starts instead of ``month_index``. The
references below are the former code, restated.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from factories import condition, record, status
from hypothesis import given, settings
from hypothesis import strategies as st

from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.facts import (
    CancerRole,
    Diagnosis,
    DiseaseState,
    DiseaseStatus,
    DrugRole,
    ExposureKind,
    MedicationExposure,
    Route,
)
from cpoc_fhir.engine.lines import BillingLine, LineStatus
from cpoc_fhir.engine.months import (
    BillingMonth,
    billing_month,
    billing_months,
    month_index,
    month_start,
)
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.knowledge import Knowledge
from cpoc_fhir.packs.cpoc.codes import LINE_CODES, _checked_code_for, code_for
from cpoc_fhir.packs.cpoc.context import Context
from cpoc_fhir.packs.cpoc.scoring import Factor, charlson_diagnoses, comorbidity, comorbidity_of
from cpoc_fhir.packs.cpoc.timeline import _treatment_by_month
from cpoc_fhir.packs.cpoc.treatment import MonthTreatment, add_exposure

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
    factors = [v for v in memo.values() if isinstance(v, Factor)]
    assert len(factors) == 2  # two distinct sets of diagnoses seen


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


# --- comorbidity: the record's Charlson candidates found once ---------------------------------

_DX_CODES = ["E119", "J449", "I509", "N184", "K7030", "Z000", "C349"]  # Z000: no category
_diagnosis = st.builds(
    lambda n, icd, onset, length, active, role: Diagnosis(
        f"Condition/c{n}",
        icd10=(icd,),
        onset=ANCHOR + timedelta(days=onset) if onset is not None else None,
        abatement=ANCHOR + timedelta(days=onset + length)
        if onset is not None and length is not None
        else None,
        active=active,
        cancer_role=role,
    ),
    st.integers(0, 10_000),
    st.sampled_from(_DX_CODES),
    st.one_of(st.none(), st.integers(-400, 200)),
    st.one_of(st.none(), st.integers(0, 120)),
    st.booleans(),
    st.sampled_from([CancerRole.NONE, CancerRole.NONE, CancerRole.PRIMARY]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_diagnosis, max_size=7), st.lists(st.integers(1, 9), min_size=1, max_size=9))
def test_comorbidity_of_the_candidates_equals_the_former_definition(
    knowledge: Knowledge, diagnoses: list[Diagnosis], ks: list[int]
) -> None:
    # The former definition: every diagnosis tested each month (charlson_diagnoses), no memo.
    rec = record(diagnoses=diagnoses)
    memo: dict[object, object] = {}
    rule = RuleSettings()
    for k in ks:
        month = billing_month(ANCHOR, k)
        fast = comorbidity(rec, month, knowledge, rule, memo)  # type: ignore[arg-type]
        assert fast == comorbidity_of(charlson_diagnoses(rec, month, knowledge), knowledge, rule)


# --- treatment by month: bisection over the month starts ----------------------------------------


def _by_month_index(
    exposures: list[MedicationExposure], anchor: date, months: list[BillingMonth]
) -> dict[int, MonthTreatment]:
    """The former bucketing: ``month_index`` of each exposure's first and last day."""
    by_month: dict[int, MonthTreatment] = {}
    last_k = months[-1].index
    for exposure in exposures:
        first_k = max(1, month_index(anchor, exposure.start))
        end_k = min(last_k, month_index(anchor, exposure.end))
        for k in range(first_k, end_k + 1):
            month = months[k - 1]
            treatment = by_month.setdefault(k, MonthTreatment())
            add_exposure(treatment, exposure, month.start.toordinal(), month.end.toordinal())
    return by_month


_exposure = st.builds(
    lambda n, start, length, oral: MedicationExposure(
        f"MedicationAdministration/m{n}",
        "cisplatin",
        "cisplatin",
        DrugRole.ANTICANCER,
        Route.ORAL if oral else Route.PARENTERAL,
        ExposureKind.SUPPLY if oral else ExposureKind.ADMINISTERED,
        date(2025, 1, 1) + timedelta(days=start),
        date(2025, 1, 1) + timedelta(days=start + length),
    ),
    st.integers(0, 10_000),
    st.integers(-90, 500),
    st.integers(0, 120),
    st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_exposure, max_size=12),
    st.sampled_from([date(2025, 1, 31), date(2025, 2, 28), date(2025, 3, 15), date(2025, 1, 1)]),
    st.integers(1, 14),
)
def test_treatment_by_month_bisects_to_what_month_index_gave(
    exposures: list[MedicationExposure], anchor: date, count: int
) -> None:
    # Anchors on the 31st and end of February: the month-end rule of month_start.
    months = list(billing_months(anchor, month_start(anchor, count + 1) - timedelta(days=1)))
    assert len(months) == count
    got = _treatment_by_month(record(), exposures, anchor, months)
    assert got == _by_month_index(exposures, anchor, months)
