"""Capture builds only the ChargeItems its plan can use (``capture.desired``), and writes the
very same bytes as when it built every line's item up to the month.

The reference is the former definition, kept here as the slow path: every line of the timeline
up to the run's month built (``all_items``). Both paths run over one generated practice
(``cpoc_fhir.synthetic``, seed 7) through a month sequence that creates, finalises provisional
items of earlier months, catches up over a window and reruns unchanged; the files must be
byte-identical after every run, and the plans equal for any set of items on record.
"""

from __future__ import annotations

import copy
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cpoc_fhir.capture import run as capture_run
from cpoc_fhir.capture.desired import desired_items, needed_lines, on_record
from cpoc_fhir.capture.group_commit import GroupCommit
from cpoc_fhir.capture.offline import ITEMS, OfflineStore
from cpoc_fhir.capture.plan import Plan, plan
from cpoc_fhir.capture.run import CaptureMonth, CaptureRun
from cpoc_fhir.config import load_config, load_payer
from cpoc_fhir.engine.lines import BillingLine
from cpoc_fhir.fhir.read import open_source
from cpoc_fhir.fhir.write import (
    ChargeContext,
    build_charge_item,
    charge_context,
    charge_item_changed,
    charge_item_identifier,
)
from cpoc_fhir.fhir.write.review_marks import REVIEW_ACTION, REVIEWED_CODE
from cpoc_fhir.knowledge.loader import load_knowledge
from cpoc_fhir.service import Evaluator
from cpoc_fhir.store import open_ledger
from cpoc_fhir.synthetic import generate_practice

ENTERED = datetime(2025, 6, 2, 8, 30, tzinfo=UTC)
Resource = dict[str, Any]


def all_items(
    lines: list[BillingLine], context: ChargeContext, existing: Any, first: date
) -> list[Resource]:
    """The slow path (the former ``_prepare``): every line's item up to the month."""
    return [build_charge_item(line, context, validate=False) for line in lines]


@pytest.fixture(scope="module")
def practice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("practice")
    generate_practice(folder, 40, claims=False)
    return folder


@pytest.fixture(scope="module")
def evaluator() -> Evaluator:
    config = load_config(None, environ={})
    payer = load_payer(config.payer_file, config.payer_locality)
    return Evaluator(load_knowledge(), config.rules, payer, models=config.models)


def capture(evaluator: Evaluator, source: Path, out: Path, month: str, first: str) -> Any:
    """One offline capture run (as ``cpoc capture --ndjson``), as of the month's last day."""
    publish = load_config(None, environ={}).publish
    billed = CaptureMonth.parse(month)
    store = OfflineStore(open_source(source), out, publish.practice_identifier_system, ENTERED)
    with open_ledger(f"sqlite:///{out / 'ledger.sqlite'}") as ledger:
        handle = ledger.start_run("capture", f"t|{month}", month, {})
        with handle:
            run = CaptureRun(
                evaluator,
                publish,
                store,
                billed,
                billed.last,
                ENTERED,
                ledger=GroupCommit(handle, store.sync),
                first=CaptureMonth.parse(first),
            )
            summary = run.run(store.patient_ids())
            store.finish()
            handle.finish(summary.as_counts())
    return summary.as_counts()


# first run, a later month finalising earlier provisional items, a catch-up window over items
# already written, then the same month again (all unchanged)
SEQUENCE = [("2025-03", "2025-03"), ("2025-05", "2025-05"), ("2025-07", "2025-04")]


def test_offline_capture_writes_the_same_bytes_as_building_every_line(
    practice: Path, evaluator: Evaluator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, slow = tmp_path / "fast", tmp_path / "slow"
    built: list[int] = []
    original = capture_run.desired_items

    def counting(*args: Any) -> list[Resource]:
        items = original(*args)
        built.append(len(items))
        return items

    for month, first in [*SEQUENCE, SEQUENCE[-1]]:
        monkeypatch.setattr(capture_run, "desired_items", counting)
        fast_counts = capture(evaluator, practice, fast, month, first)
        monkeypatch.setattr(capture_run, "desired_items", all_items)
        slow_counts = capture(evaluator, practice, slow, month, first)
        assert fast_counts == slow_counts, month
        assert (fast / ITEMS).read_bytes() == (slow / ITEMS).read_bytes(), month
    assert (fast / ITEMS).read_bytes().count(b"\n") > 40  # the practice bills something
    assert fast_counts["writes"] == {"unchanged": fast_counts["writes"]["unchanged"]}
    # The point of it: far fewer items built than lines up to the month.
    lines = sum(
        len([ln for ln in t.lines if ln.start <= CaptureMonth.parse(m).last])
        for m, _ in [*SEQUENCE, SEQUENCE[-1]]
        for t in timelines(evaluator, practice, CaptureMonth.parse(m).last)
    )
    assert sum(built) < lines / 2


def timelines(evaluator: Evaluator, source: Path, as_of: date) -> Iterator[Any]:
    yield from evaluator.timelines(open_source(source), as_of)


@dataclass(frozen=True)
class Patient:
    lines: list[BillingLine]
    context: ChargeContext


@pytest.fixture(scope="module")
def patients(practice: Path, evaluator: Evaluator) -> list[Patient]:
    publish = load_config(None, environ={}).publish
    found = []
    for resources in open_source(practice).patients():
        record = evaluator.record(resources)
        timeline = evaluator.evaluate(record, date(2025, 9, 30))
        if timeline.fee_for_service is None and len(timeline.lines) > 2:
            context = charge_context(record, evaluator.payer, publish, ENTERED)
            found.append(Patient(list(timeline.lines), context))
    assert len(found) > 10
    return found


def _on_record(item: Resource, status: str, reviewed: bool, correction: bool) -> Resource:
    """An item as a server holds it: an id, a version, a status, maybe reviewed by staff or a
    staff correction ``-c1`` of the line's identifier."""
    item = copy.deepcopy(item)
    ident = item["identifier"][0]["value"]
    item["id"] = f"ci-{zlib.crc32(ident.encode())}"
    item["status"] = status
    item["meta"] = {**item["meta"], "versionId": "1"}
    if reviewed:
        item["meta"]["tag"] = [
            *item["meta"]["tag"],
            {"system": REVIEW_ACTION, "code": REVIEWED_CODE},
        ]
    if correction:
        item["identifier"][0]["value"] = f"{ident}-c1"
    return item


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_plans_are_equal_for_any_items_on_record(patients: list[Patient], data: Any) -> None:
    """Whatever is on record (none, some lines' items in any status, reviewed, corrected,
    changed amounts) and whatever the window, the plan is the same as with every item."""
    patient = data.draw(st.sampled_from(patients))
    month = data.draw(st.sampled_from([date(2025, m, 1) for m in range(2, 10)]))
    back = data.draw(st.integers(0, 3))
    first = date(month.year, month.month - min(back, month.month - 1), 1)
    last = CaptureMonth(month.year, month.month).last
    lines = [ln for ln in patient.lines if ln.start <= last]
    every = all_items(lines, patient.context, (), first)
    existing = []
    for item in every:
        if data.draw(st.booleans()):
            status = data.draw(
                st.sampled_from(["planned", "billable", "billed", "entered-in-error"])
            )
            reviewed, correction = data.draw(st.booleans()), data.draw(st.booleans())
            recorded = _on_record(item, status, reviewed, correction and reviewed)
            if data.draw(st.booleans()):  # the line changed since
                recorded["priceOverride"] = {"value": 1, "currency": "USD"}
            existing.append(recorded)
    system = patient.context.settings.practice_identifier_system
    fast = desired_items(lines, patient.context, existing, first)
    assert plans(fast, existing, system, first, last) == plans(every, existing, system, first, last)


def plans(desired: list[Resource], existing: list[Resource], *window: Any) -> Plan:
    system, first, last = window
    return plan(desired, copy.deepcopy(existing), system, first, last, charge_item_changed)


def test_needed_lines_hand_derived(patients: list[Patient]) -> None:
    """A line before the window is built only when an item on record stands for it (also as
    the base of a staff correction); lines in the window always; the order is kept."""
    patient = next(p for p in patients if len({ln.start for ln in p.lines}) > 3)
    ref = patient.context.patient_ref
    starts = sorted({ln.start for ln in patient.lines})
    first = starts[2]  # two earlier start days, the rest in the window
    early = [ln for ln in patient.lines if ln.start < first]
    window = [ln for ln in patient.lines if ln.start >= first]
    assert needed_lines(patient.lines, ref, set(), first) == window
    corrected = f"{charge_item_identifier(ref, early[0])}-c2"
    item = {"identifier": [{"system": "s", "value": corrected}]}
    recorded = on_record([item, {"identifier": [{"system": "other", "value": "x"}]}], "s")
    assert recorded == {corrected, charge_item_identifier(ref, early[0])}
    expected = [ln for ln in patient.lines if ln is early[0] or ln.start >= first]
    assert needed_lines(patient.lines, ref, recorded, first) == expected
