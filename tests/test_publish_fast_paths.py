"""The capture hot path's faster functions agree with their former definitions.

``publish.compact`` and ``publish.empty_paths`` (type-dispatched, one pass), the fast path of
``charge_item_changed`` (equal as they are, no float), ``json_text.dumps`` (one compiled
pattern) and ``RunHandle.record_patients`` (executemany of the patients' rows). Each former
definition is kept here verbatim as the reference; hypothesis draws FHIR-like JSON values with
the awkward cases (blank and whitespace strings, tuples, Mapping types other than dict, str
subclasses, Decimals, floats, bools, nested empties).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cpoc_fhir.capture.run import WriteOutcome
from cpoc_fhir.fhir.json_text import dumps
from cpoc_fhir.fhir.write import charge_item_changed
from cpoc_fhir.fhir.write.charge_item import _OWNED
from cpoc_fhir.fhir.write.publish import compact, empty_paths
from cpoc_fhir.store import open_ledger
from cpoc_fhir.store.run import PatientOutcome

# --- the former definitions (cpoc_fhir/fhir/write/publish.py, charge_item.py, json_text.py) ---


def old_compact(value: Any) -> Any:
    if isinstance(value, Mapping):
        out = {k: old_compact(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if not _old_empty(v)}
    if isinstance(value, list | tuple):
        return [v for v in (old_compact(v) for v in value) if not _old_empty(v)]
    return value


def _old_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict) and not value)


def old_empty_paths(value: Any, path: str = "") -> list[str]:
    if _old_empty(value) or (isinstance(value, str) and not value.strip()):
        return [path or "(root)"]
    if isinstance(value, Mapping):
        return [p for k, v in value.items() for p in old_empty_paths(v, f"{path}.{k}".lstrip("."))]
    if isinstance(value, list | tuple):
        return [p for i, v in enumerate(value) for p in old_empty_paths(v, f"{path}[{i}]")]
    return []


def old_changed(existing: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    if any(_old_normal(existing.get(k)) != _old_normal(desired.get(k)) for k in _OWNED):
        return True
    return _old_notes(existing) != _old_notes(desired)


def _old_normal(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    if isinstance(value, Mapping):
        return {k: _old_normal(v) for k, v in old_compact(dict(value)).items()} or None
    if isinstance(value, list | tuple):
        return [_old_normal(v) for v in old_compact(list(value))] or None
    return value


def _old_notes(resource: Mapping[str, Any]) -> list[str]:
    return [str(n.get("text", "")) for n in resource.get("note") or [] if isinstance(n, Mapping)]


def old_dumps(resource: Any, indent: int | None = None) -> str:
    decimals: list[Decimal] = []
    marker = uuid.uuid4().hex

    def placeholder(value: Any) -> str:
        if not isinstance(value, Decimal):
            raise TypeError(f"cannot write {type(value).__name__} as JSON")
        if not value.is_finite():
            raise ValueError(f"not a finite number: {value}")
        decimals.append(value)
        return f"{marker}:{len(decimals) - 1}"

    text = json.dumps(
        resource,
        default=placeholder,
        ensure_ascii=False,
        allow_nan=False,
        indent=indent,
        separators=(",", ":") if indent is None else (",", ": "),
    )
    if not decimals:
        return text
    return re.sub(f'"{marker}:(\\d+)"', lambda m: format(decimals[int(m[1])], "f"), text)


# --- strategies ---


class Text(str):
    """A str subclass (``kind is str`` is false for it)."""


STRINGS = st.one_of(
    st.sampled_from(["", " ", "\t\n", "\u2003", "x", " a ", "430.00"]),
    st.text(max_size=6),
    st.builds(Text, st.sampled_from(["", " ", "y"])),
)
NUMBERS = st.one_of(
    st.integers(-3, 3),
    st.sampled_from([Decimal("430.00"), Decimal("430"), Decimal("0"), Decimal("1E+2")]),
    st.sampled_from([0.0, 1.0, 430.0, 1e23, 0.1]),
    st.booleans(),
)
LEAVES = st.one_of(st.none(), STRINGS, NUMBERS)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    keys = st.sampled_from(["a", "b", "value", "text", "coding"])
    return st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(keys, children, max_size=4),
        st.dictionaries(keys, children, max_size=3).map(MappingProxyType),
    )


VALUES = st.recursive(LEAVES, _containers, max_leaves=25)
JSON_LEAVES = st.one_of(
    st.none(),
    st.text(max_size=8),
    st.integers(-(10**20), 10**20),
    st.booleans(),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda c: st.one_of(st.lists(c, max_size=4), st.dictionaries(st.text(max_size=5), c)),
    max_leaves=20,
)


@settings(max_examples=500, deadline=None)
@given(VALUES)
def test_compact_is_the_former_definition(value: Any) -> None:
    assert compact(value) == old_compact(value)


@settings(max_examples=300, deadline=None)
@given(VALUES)
def test_compact_is_idempotent_and_leaves_no_empty_value(value: Any) -> None:
    once = compact(value)
    assert compact(once) == once

    def no_empty(v: Any) -> bool:
        if isinstance(v, dict):
            return all(not _old_empty(x) and no_empty(x) for x in v.values())
        if isinstance(v, list):
            return all(not _old_empty(x) and no_empty(x) for x in v)
        return True

    assert no_empty(once)


@settings(max_examples=300, deadline=None)
@given(VALUES)
def test_compact_drops_exactly_the_empty_values(value: Any) -> None:
    """Of a value built of dicts and lists that holds no empty value, nothing is dropped."""
    clean = old_compact(value)  # dicts and lists only, no empty value left
    assert compact(clean) == clean
    assert json.dumps(compact(clean), default=str) == json.dumps(clean, default=str)  # order


@settings(max_examples=500, deadline=None)
@given(VALUES)
def test_empty_paths_is_the_former_definition(value: Any) -> None:
    assert empty_paths(value) == old_empty_paths(value)


def test_empty_paths_hand_derived() -> None:
    item = {"a": [{"b": " "}, {"c": 1}], "d": {"e": None}, "f": Decimal("0"), "g": False}
    assert empty_paths(item) == ["a[0].b", "d.e"]
    assert empty_paths({"a": ["x", []]}) == ["a[1]"]
    assert empty_paths({"resourceType": "ChargeItem", "quantity": {"value": 1}}) == []


def _mutated(data: st.DataObject, item: dict[str, Any]) -> dict[str, Any]:
    """``item`` with 0–2 owned fields (or the note) replaced by a drawn value."""
    other = dict(item)
    for key in data.draw(st.lists(st.sampled_from([*_OWNED, "note", "meta"]), max_size=2)):
        other[key] = data.draw(VALUES)
    return other


ITEM = {
    "status": "billable",
    "code": {"coding": [{"system": "s", "code": "xx102", "display": "Treatment month"}]},
    "subject": {"reference": "Patient/p"},
    "occurrencePeriod": {"start": "2025-03-03", "end": "2025-04-02"},
    "quantity": {"value": 1},
    "priceOverride": {"value": Decimal("430.00"), "currency": "USD"},
    "note": [{"text": "Treatment month 1"}],
    "meta": {"versionId": "2"},
}


@settings(max_examples=500, deadline=None)
@given(st.data())
def test_changed_is_the_former_definition(data: st.DataObject) -> None:
    existing, desired = _mutated(data, ITEM), _mutated(data, ITEM)
    assert charge_item_changed(existing, desired) == old_changed(existing, desired)


def test_changed_hand_derived() -> None:
    same = dict(ITEM, meta={"versionId": "9"}, enteredDate="2025-04-01")
    assert charge_item_changed(ITEM, same) is False  # meta and enteredDate are not owned
    server = dict(ITEM, priceOverride={"value": 430, "currency": "USD"}, service=[])
    assert charge_item_changed(server, ITEM) is False  # 430 is 430.00; [] is absent
    assert charge_item_changed(dict(ITEM, status="planned"), ITEM) is True
    # 1e23 == 99999999999999991611392 as Python numbers, but the former comparison (kept)
    # normalises the float through its shortest text, 1E+23: a float is never taken as equal
    big = dict(ITEM, quantity={"value": 1e23})
    exact = dict(ITEM, quantity={"value": 99999999999999991611392})
    assert charge_item_changed(big, exact) is old_changed(big, exact) is True


@settings(max_examples=400, deadline=None)
@given(JSON_VALUES, st.sampled_from([None, 2]))
def test_dumps_is_the_former_definition(value: Any, indent: int | None) -> None:
    text = dumps(value, indent)
    assert text == old_dumps(value, indent)
    assert json.loads(text, parse_float=Decimal) == json.loads(
        old_dumps(value, indent), parse_float=Decimal
    )


def test_dumps_hand_derived() -> None:
    money = {"value": Decimal("430.00"), "n": [Decimal("1E+2"), "é"]}
    assert dumps(money) == '{"value":430.00,"n":[100,"é"]}'
    assert dumps([Decimal("0.10")], 2) == "[\n  0.10\n]"


ENTERED = datetime(2025, 4, 1, 6, 0, tzinfo=UTC)


def _rows(ledger: Any, run_id: int) -> tuple[list[Any], list[Any]]:
    patients = [(p.patient_ref, p.status, p.lines, p.error) for p in ledger.patients(run_id)]
    writes = [
        (w.patient_ref, w.record.identifier, w.record.outcome, w.record.http_status)
        for w in ledger.writes(run_id)
    ]
    return sorted(patients), writes


def test_record_patients_equals_recording_one_at_a_time(tmp_path: Path) -> None:
    """Groups with new patients, a patient recorded before (failed, then done) and a patient
    twice in one group leave the same rows as ``patient_done`` / ``patient_failed`` one by one."""
    one = WriteOutcome("a.tm.2025-03-03", "create", "created", "id-a", "1")
    lost = WriteOutcome("b.tm.2025-03-03", "create", "failed", None, None, 503, "server")
    groups = [
        [
            PatientOutcome("Patient/a", "done", 2, None, (one,)),
            PatientOutcome("Patient/b", "failed", 0, "1 write(s) failed", (lost,)),
        ],
        [
            PatientOutcome("Patient/b", "done", 1),
            PatientOutcome("Patient/c", "failed", 0, "x" * 3000),
            PatientOutcome("Patient/c", "done", 3),
        ],
    ]
    found = []
    for name, grouped in (("grouped", True), ("single", False)):
        with open_ledger(f"sqlite:///{tmp_path / name}.sqlite") as ledger:
            handle = ledger.start_run("capture", "ndjson:x|2025-03", "2025-03", {})
            for group in groups:
                if grouped:
                    handle.record_patients(group)
                    continue
                for p in group:
                    if p.status == "done":
                        handle.patient_done(p.ref, p.lines, list(p.writes))
                    else:
                        handle.patient_failed(p.ref, p.error or "", list(p.writes))
            found.append(_rows(ledger, handle.run_id))
            assert handle.done_patients() == {"Patient/a", "Patient/b", "Patient/c"}
            handle.finish()
    assert found[0] == found[1]
    patients, writes = found[0]
    assert patients == [
        ("Patient/a", "done", 2, None),
        ("Patient/b", "done", 1, None),
        ("Patient/c", "done", 3, None),
    ]
    assert writes == [
        ("Patient/a", "a.tm.2025-03-03", "created", None),
        ("Patient/b", "b.tm.2025-03-03", "failed", 503),
    ]
