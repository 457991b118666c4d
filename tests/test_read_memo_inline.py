"""The readers' memos looked up inline (parse_date, reference_key, _route_in) and
MedicationExposure.of: the same answers as the former definitions, kept here."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpoc_fhir.engine.facts import DrugRole, ExposureKind, MedicationExposure, Route
from cpoc_fhir.fhir.read import access, medications, references
from cpoc_fhir.fhir.read.memo import BoundedMemo


def former_parse_date(value: object) -> date | None:
    """parse_date before: every string through the memo's call (= _parse_date)."""
    return None if type(value) is not str else access._parse_date(value)


def former_reference_key(reference: object, aliases: dict[str, str] | None = None) -> str | None:
    if type(reference) is not str or not reference:
        return None
    if aliases and reference in aliases:
        return aliases[reference]
    return references._literal_key(reference)


# Date-like and reference-like strings, and any text (the memos see whatever a record holds).
_dateish = st.from_regex(
    r"\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?)?)?)?", fullmatch=True
)
_refish = st.from_regex(
    r"(https?://x/fhir/)?[A-Za-z]{1,12}/[A-Za-z0-9.\-]{0,8}(/_history/\d)?|urn:uuid:[0-9a-f]{4}|#m1",
    fullmatch=True,
)
_anything = st.none() | st.integers() | st.text(max_size=30)


@settings(max_examples=300, deadline=None)
@given(st.lists(_dateish | _anything, max_size=8))
def test_parse_date_as_before(values: list[object]) -> None:
    for value in values + values:  # the second time from the memo's table
        assert _outcome(access.parse_date, value) == _outcome(former_parse_date, value)


def _outcome(parse: object, value: object) -> object:
    """The answer, or the exception's type: "٠٠٠٠" (Arabic-Indic digits match \\d, year 0)
    raises ValueError in _parse_date, as it did before (the reader's guard then warns)."""
    try:
        return parse(value)  # type: ignore[operator]
    except ValueError as exc:
        return type(exc)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_refish | _anything, max_size=8),
    st.dictionaries(
        st.sampled_from(["urn:uuid:abcd", "Patient/p"]), st.sampled_from(["Patient/q"])
    ),
)
def test_reference_key_as_before(values: list[object], aliases: dict[str, str]) -> None:
    for value in values + values:
        assert references.reference_key(value, aliases) == former_reference_key(value, aliases)
        assert references.reference_key(value) == former_reference_key(value)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.text(max_size=20)
        | st.sampled_from(["Oral Tablet", "Injection", "IV infusion", "po", "SC and oral", ""]),
        max_size=6,
    )
)
def test_route_in_as_before(texts: list[str]) -> None:
    for text in texts + texts:
        assert medications._route_in(text) == medications._route_named(text)


def test_answers_survive_the_memo_being_emptied() -> None:
    """The hot paths keep the memo's table: clearing it when full must keep it the same dict,
    else they would read a stale one."""
    memo: BoundedMemo[int] = BoundedMemo(len, limit=3)
    table = memo.table
    for text in ["a", "bb", "ccc", "dddd", "eeeee"]:
        assert memo(text) == len(text)
    assert memo.table is table and len(table) <= 3
    access._seen_dates.clear()  # as when the date memo fills up
    assert access.parse_date("2025-02-03") == date(2025, 2, 3)
    assert access.parse_date("2025-02-30") is None
    assert "2025-02-03" in access._dates.table


_exposures = st.builds(
    dict,
    ref=st.text(max_size=8),
    drug=st.text(max_size=8),
    drug_name=st.text(max_size=8),
    role=st.sampled_from(list(DrugRole)),
    route=st.sampled_from(list(Route)),
    kind=st.sampled_from(list(ExposureKind)),
    start=st.dates(),
    end=st.dates(),
    ordered_on=st.none() | st.dates(),
    order_ref=st.none() | st.text(max_size=8),
)


@settings(max_examples=200, deadline=None)
@given(_exposures)
def test_exposure_of_equals_the_dataclass(fields: dict[str, object]) -> None:
    fast = MedicationExposure.of(**fields)  # type: ignore[arg-type]
    slow = MedicationExposure(**fields)  # type: ignore[arg-type]
    assert fast == slow and hash(fast) == hash(slow) and repr(fast) == repr(slow)
    assert dataclasses.asdict(fast) == dataclasses.asdict(slow)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.drug = "x"  # type: ignore[misc]
