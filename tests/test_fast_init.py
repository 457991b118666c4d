"""engine/fast_init.py: every class given the fast __init__ builds the same instance as its
dataclass __init__ (kept as __dataclass_init__), positional or by keyword, defaults and
factories included, and refuses the same calls."""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cpoc_fhir.fhir.read.medications
import cpoc_fhir.packs.cpoc.monitoring
import cpoc_fhir.packs.cpoc.scoring
import cpoc_fhir.packs.cpoc.transitions  # noqa: F401  (Reason)
from cpoc_fhir.engine.fast_init import DECORATED, fast_init

EXPECTED = {
    "Diagnosis", "MedicationExposure", "OrderStop", "PerformanceStatus", "DiseaseStatus",
    "StageGroup", "Visit", "CareEpisode", "TrialEnrollment", "Transplant", "CoverageFact",
    "SocialNeedsScreening", "PatientReportedOutcome", "PatientRecord", "BillingMonth", "Score",
    "MonitoringPosition", "Factor", "Reason", "Identified",
}  # fmt: skip


def _former(cls: type, *args: object, **kwargs: object) -> object:
    """An instance built by the dataclass's own __init__."""
    instance = object.__new__(cls)
    cls.__dataclass_init__(instance, *args, **kwargs)  # type: ignore[attr-defined]
    return instance


def test_the_hot_classes_are_decorated() -> None:
    assert {c.__name__ for c in DECORATED} >= EXPECTED


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(DECORATED, key=lambda c: c.__qualname__)), st.data())
def test_same_instance_as_the_dataclass_init(cls: type, data: st.DataObject) -> None:
    fields = dataclasses.fields(cls)
    required = [
        f
        for f in fields
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    given_count = data.draw(st.integers(len(required), len(fields)))
    # distinct objects per field: an instance that swapped or dropped one would differ
    values = [(f.name, object()) for f in fields[:given_count]]
    by_position = data.draw(st.integers(0, given_count))
    args = [v for _, v in values[:by_position]]
    kwargs = dict(values[by_position:])
    fast, former = cls(*args, **kwargs), _former(cls, *args, **kwargs)
    assert vars(fast) == vars(former) and list(vars(fast)) == list(vars(former))
    assert fast == former and repr(fast) == repr(former)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(fast, fields[0].name, 1)


@pytest.mark.parametrize(
    "cls", sorted(DECORATED, key=lambda c: c.__qualname__), ids=lambda c: c.__name__
)
def test_same_refusals_and_copies(cls: type) -> None:
    fields = dataclasses.fields(cls)
    for call in ((), tuple(range(len(fields) + 1))):
        with pytest.raises(TypeError):
            cls(*call)
        with pytest.raises(TypeError):
            _former(cls, *call)
    with pytest.raises(TypeError):
        cls(*range(len(fields)), no_such_field=1)
    instance = cls(*range(len(fields)))
    assert dataclasses.replace(instance) == instance
    assert pickle.loads(pickle.dumps(instance)) == instance
    assert hash(instance) == hash(_former(cls, *range(len(fields))))


def test_a_factory_is_called_per_instance_and_refusals() -> None:
    @fast_init
    @dataclass(frozen=True)
    class Held:
        name: str
        items: list[int] = field(default_factory=list)
        note: str = "-"

    a, b = Held("a"), Held("b")
    assert a.items == [] and a.items is not b.items and a.note == "-"
    assert Held("c", [1]).items == [1] and vars(Held("d")) == {
        "name": "d",
        "items": [],
        "note": "-",
    }

    @dataclass
    class Plain:
        x: int

    @dataclass(frozen=True)
    class Checked:
        x: int

        def __post_init__(self) -> None:
            pass

    @dataclass(frozen=True)
    class KeywordOnly:
        x: int = field(kw_only=True)

    for cls in (Plain, Checked, KeywordOnly):
        with pytest.raises(TypeError):
            fast_init(cls)
