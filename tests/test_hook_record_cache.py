"""The order hooks' per-process record cache (cds_hooks/record_cache.py, issue 16 item 4).

Two promises: a repeat of the same input is not read again (counted), and the answer with the
cache is exactly the answer without it — for the repeat, for order-select → order-sign of one
chain, and after the record changed (a new key, never a stale hit).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cds_support import full_prefetch, hook_body, make_app, medication_order, record_on
from hypothesis import given
from hypothesis import strategies as st

from cds_hooks.record_cache import RecordCache, record_key
from cpoc_fhir.engine.facts import PatientRecord
from cpoc_fhir.engine.lines import PatientTimeline
from cpoc_fhir.service import Evaluator

Resource = dict[str, Any]
PATIENT = "appendix-a-folfox"
DAY = "2025-03-03"
SIGN = "/cds-services/cpoc-order-sign"
SELECT = "/cds-services/cpoc-order-select"


def _record(ref: str = "Patient/p") -> PatientRecord:
    return PatientRecord(patient_ref=ref)


def _timeline(ref: str = "Patient/p") -> PatientTimeline:
    from datetime import date

    return PatientTimeline(patient_ref=ref, as_of=date(2025, 1, 1), lines=(), warnings=())


# --- the cache itself ------------------------------------------------------------------------


def test_a_repeat_is_served_from_memory_and_the_oldest_entry_goes_first() -> None:
    cache = RecordCache(size=2)
    reads: list[str] = []

    def reader(name: str) -> Any:
        return lambda: reads.append(name) or _record(f"Patient/{name}")

    a = cache.record(b"a", reader("a"))
    assert cache.record(b"a", reader("a")) is a  # hit: not read again
    cache.record(b"b", reader("b"))
    cache.record(b"a", reader("a"))  # a is now the most recent
    cache.record(b"c", reader("c"))  # size 2: b (least recently used) goes
    assert len(cache) == 2
    cache.record(b"a", reader("a"))  # still there
    cache.record(b"b", reader("b"))  # dropped: read again
    assert reads == ["a", "b", "c", "b"]
    assert (cache.hits, cache.misses) == (3, 4)


def test_no_key_or_size_zero_never_keeps_anything() -> None:
    reads: list[int] = []
    off = RecordCache(size=0)
    for _ in range(2):
        off.record(b"k", lambda: reads.append(1) or _record())
        RecordCache().record(None, lambda: reads.append(2) or _record())
    assert reads == [1, 2, 1, 2] and len(off) == 0


def test_timelines_are_kept_per_entry_and_per_which() -> None:
    cache = RecordCache()
    runs: list[str] = []
    cache.record(b"k", _record)
    one = cache.timeline(b"k", ("day1", frozenset()), lambda: runs.append("1") or _timeline())
    assert (
        cache.timeline(b"k", ("day1", frozenset()), lambda: runs.append("x") or _timeline()) is one
    )
    cache.timeline(b"k", ("day2", frozenset()), lambda: runs.append("2") or _timeline())
    cache.timeline(b"other", ("day1", frozenset()), lambda: runs.append("3") or _timeline())
    cache.timeline(b"other", ("day1", frozenset()), lambda: runs.append("4") or _timeline())
    # day2 is another evaluation; a key without a kept record keeps no timeline either
    assert runs == ["1", "2", "3", "4"]


def test_at_most_eight_timelines_per_record() -> None:
    cache = RecordCache()
    cache.record(b"k", _record)
    runs: list[int] = []
    for i in range(9):
        cache.timeline(b"k", i, lambda i=i: runs.append(i) or _timeline())
    cache.timeline(b"k", 0, lambda: runs.append(100) or _timeline())  # 0 was dropped
    cache.timeline(b"k", 8, lambda: runs.append(200) or _timeline())  # 8 kept
    assert runs == [*range(9), 100]


# --- the key ---------------------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(st.lists(st.dictionaries(st.text(max_size=3), _json, max_size=3), max_size=4), _json)
def test_any_change_of_the_input_changes_the_key(resources: list[Resource], extra: Any) -> None:
    key = record_key("Patient/p", resources)
    assert key is not None and key == record_key("Patient/p", [dict(r) for r in resources])
    assert record_key("Patient/q", resources) != key  # never across patients
    changed = [*resources, {"extra": extra}]
    assert record_key("Patient/p", changed) != key
    if resources:  # moving content between resources is a change too
        merged = [{**resources[0], "x": extra}, *resources[1:]]
        assert record_key("Patient/p", merged) != key


def test_input_orjson_cannot_write_is_not_cached() -> None:
    assert record_key("Patient/p", [{"valueInteger": 2**70}]) is None


# --- through the service ---------------------------------------------------------------------


def _order(order_id: str = "ox", day: str = DAY) -> Resource:
    return medication_order(order_id, PATIENT, "32592", "oxaliplatin", day)


def _body(hook: str, resources: list[Resource], drafts: list[Resource], **extra: Any) -> Any:
    body = hook_body(hook, PATIENT, drafts, full_prefetch(resources, PATIENT), **extra)
    return body


def _post(client: Any, path: str, body: Any) -> str:
    answer = client.post(path, json=body)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    text = answer.get_data(as_text=True)
    # card uuids and ChargeItem timestamps are new on every call, cached or not
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "U", text)
    return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[^\"]*", "T", text)


def _count_reads(monkeypatch: Any) -> list[int]:
    reads: list[int] = []
    original = Evaluator.record

    def counted(self: Evaluator, resources: Any, include_drafts: bool = False) -> PatientRecord:
        reads.append(1)
        return original(self, resources, include_drafts)

    monkeypatch.setattr(Evaluator, "record", counted)
    return reads


def _calls(resources: list[Resource], later: list[Resource]) -> list[tuple[str, Any]]:
    """order-select of oxaliplatin, order-sign of both drafts (one chain), the sign again, and
    the sign after a new Observation (the record changed)."""
    drafts = [_order("ox"), _order("lv")]
    drafts[1]["medicationCodeableConcept"]["coding"][0].update(code="6313", display="leucovorin")
    drafts[1]["medicationCodeableConcept"]["text"] = "leucovorin"
    select = _body("order-select", resources, drafts, hook_instance="chain-1")
    select["context"]["selections"] = ["MedicationRequest/ox"]
    sign = _body("order-sign", resources, drafts, hook_instance="chain-1")
    return [
        (SELECT, select),
        (SIGN, sign),
        (SIGN, sign),
        (SIGN, _body("order-sign", later, drafts, hook_instance="chain-2")),
    ]


def test_the_cache_changes_no_answer_and_skips_the_repeated_reads(
    tmp_path: Path, monkeypatch: Any
) -> None:
    resources = record_on(PATIENT, DAY)
    # The record changed: the cancer Condition withdrawn (entered-in-error) → other cards.
    later = [
        {**r, "verificationStatus": {"coding": [{"code": "entered-in-error"}]}}
        if r["resourceType"] == "Condition"
        else r
        for r in resources
    ]
    calls = _calls(resources, later)
    reads = _count_reads(monkeypatch)

    (tmp_path / "off").mkdir()
    (tmp_path / "on").mkdir()
    off_app = make_app(tmp_path / "off", today=DAY, record_cache=False)
    off = [_post(off_app.test_client(), path, body) for path, body in calls]
    assert len(reads) == 4  # every call reads its record
    reads.clear()

    on_app = make_app(tmp_path / "on", today=DAY)
    on = [_post(on_app.test_client(), path, body) for path, body in calls]
    # select reads; sign of the same chain (same prefetch, same drafts) and its repeat do not;
    # the changed record is read again
    assert len(reads) == 2
    assert on == off
    assert off[0] != off[1]  # select (one order) and sign (both) are different answers
    assert off[3] != off[2]  # and the changed record really changed the cards


def test_switched_off_from_the_environment() -> None:
    from cds_hooks.settings import load_cds_settings

    base = {"CPOC_CDS_AUTH": "off"}
    assert load_cds_settings(base).record_cache is True
    assert load_cds_settings({**base, "CPOC_CDS_RECORD_CACHE": "off"}).record_cache is False
