"""Group commit of the capture ledger (capture.group_commit, docs/exactly-once.md "Group
commit"): patients recorded in groups, the journal synced before each group, and a run killed
mid-group resumed without writing any ChargeItem twice."""

from __future__ import annotations

import functools
import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from cpoc_fhir.capture import cli as capture_cli
from cpoc_fhir.capture.group_commit import GroupCommit
from cpoc_fhir.capture.offline import JOURNAL, OfflineStore
from cpoc_fhir.cli import bundled_examples, main
from cpoc_fhir.store import open_ledger
from cpoc_fhir.store.run import PatientOutcome

# The bundled examples' September 2025 lines (hand-derived in test_capture_integration.py):
# 8 ChargeItems over 4 of the examples' patients.
SEPTEMBER = 8


class Killed(BaseException):
    """Stands for SIGKILL: not an Exception, and nothing after it runs."""


class FakeHandle:
    def __init__(self, calls: list[Any]) -> None:
        self.calls = calls
        self.fail = False

    def record_patients(self, outcomes: Sequence[PatientOutcome]) -> None:
        if self.fail:
            raise OSError("disk full")
        self.calls.append([o.ref for o in outcomes])


def test_groups_by_count_and_sync_comes_first() -> None:
    calls: list[Any] = []
    handle = FakeHandle(calls)
    group = GroupCommit(handle, lambda: calls.append("sync"), every=2, seconds=1e9)
    for n in range(5):
        group.patient_done(f"Patient/{n}", 1, [])
    # 5 patients, groups of 2: two groups recorded, each after its sync; one patient pending
    assert calls == ["sync", ["Patient/0", "Patient/1"], "sync", ["Patient/2", "Patient/3"]]
    group.flush()
    assert calls[-2:] == ["sync", ["Patient/4"]] and group.pending == []
    group.flush()  # nothing pending: neither sync nor a transaction
    assert len(calls) == 6


def test_groups_by_time_and_a_failed_group_stays_pending() -> None:
    now = [0.0]
    calls: list[Any] = []
    handle = FakeHandle(calls)
    group = GroupCommit(handle, every=100, seconds=1.0, clock=lambda: now[0])
    group.patient_done("Patient/a", 1, [])
    now[0] = 0.5
    group.patient_failed("Patient/b", "1 write(s) failed")
    assert calls == []  # 0.5 s since the group's first patient
    now[0] = 1.2
    handle.fail = True
    with pytest.raises(OSError):
        group.patient_done("Patient/c", 1, [])  # 1.2 s: due, and the ledger fails
    assert [o.ref for o in group.pending] == ["Patient/a", "Patient/b", "Patient/c"]
    handle.fail = False
    group.flush()
    assert calls == [["Patient/a", "Patient/b", "Patient/c"]]
    assert group.pending == [] and group.groups == 1


def export(folder: Path) -> Path:
    """The bundled examples as a Bulk FHIR export (one NDJSON file per type)."""
    by_type: dict[str, list[str]] = defaultdict(list)
    for path in sorted(bundled_examples().glob("*.json")):
        for entry in json.loads(path.read_text())["entry"]:
            by_type[entry["resource"]["resourceType"]].append(json.dumps(entry["resource"]))
    folder.mkdir(parents=True)
    for kind, lines in by_type.items():
        (folder / f"{kind}.000.ndjson").write_text("\n".join(lines) + "\n")
    return folder


def capture(tmp_path: Path, source: Path, out: Path) -> int:
    return main(
        [
            "capture",
            "--store",
            f"sqlite:///{tmp_path / 'ledger.sqlite'}",
            "--no-progress",
            "--ndjson",
            str(source),
            "--out",
            str(out),
            "--month",
            "2025-09",
            "--as-of",
            "2025-10-05",
        ]
    )


def done_patients(tmp_path: Path) -> list[str]:
    with open_ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}") as ledger:
        return sorted(
            p.patient_ref
            for r in ledger.runs()
            for p in ledger.patients(r.id)
            if p.status == "done"
        )


def identifiers(path: Path) -> Counter[str]:
    return Counter(
        json.loads(line)["identifier"][0]["value"]
        for line in path.read_text().splitlines()
        if line.strip()
    )


@pytest.mark.parametrize("hard", [True, False], ids=["killed", "exception"])
def test_run_stopped_mid_group_resumes_writing_each_chargeitem_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], hard: bool
) -> None:
    source, out = export(tmp_path / "in"), tmp_path / "out"
    # Groups of 2; the store stops at the 4th patient's write: patients 1-2 are one recorded
    # group, patient 3 is written (journal) but pending in the second group.
    monkeypatch.setattr(
        capture_cli, "GroupCommit", functools.partial(GroupCommit, every=2, seconds=1e9)
    )
    real_apply = OfflineStore.apply
    applied: list[str] = []

    def apply(self: OfflineStore, patient_id: str, steps: Any) -> Any:
        if len(applied) == 3:
            if hard:  # SIGKILL: the pending group is never recorded
                monkeypatch.setattr(GroupCommit, "flush", lambda self: None)
                raise Killed
            raise RuntimeError("the store broke")
        applied.append(patient_id)
        return real_apply(self, patient_id, steps)

    monkeypatch.setattr(OfflineStore, "apply", apply)
    with pytest.raises(Killed if hard else RuntimeError):
        capture(tmp_path, source, out)
    first = [f"Patient/{p}" for p in applied]
    # killed: only the recorded group; an exception: the pending patient 3 recorded on the way
    assert done_patients(tmp_path) == sorted(first[:2] if hard else first)
    journal_first = identifiers(out / JOURNAL)
    assert journal_first and max(journal_first.values()) == 1

    monkeypatch.undo()
    capsys.readouterr()
    assert capture(tmp_path, source, out) == 0  # resumes the stopped run
    said = capsys.readouterr().out
    # A killed run is resumed; a failed one (an exception) is not: the next run does everyone
    # again (store/run.py), its patients' items already written are then unchanged.
    assert ("resumed from run 1" in said) is hard
    # The 8 lines: those journalled by the stopped run are not created again.
    assert f"created {SEPTEMBER - sum(journal_first.values())}," in said
    written = identifiers(out / "ChargeItem.ndjson")
    assert sum(written.values()) == SEPTEMBER and set(written.values()) == {1}
    versions = {
        json.loads(line)["meta"]["versionId"]
        for line in (out / "ChargeItem.ndjson").read_text().splitlines()
    }
    assert versions == {"1"}  # the redone patient 3's items were unchanged, not rewritten
    assert not (out / JOURNAL).exists()
    everyone = done_patients(tmp_path)
    if hard:  # the resumed chain: each patient done once, patient 3 by the second run
        assert len(everyone) == len(set(everyone)) == 4 and set(first) <= set(everyone)
    else:  # 3 by the failed run, all 4 by the next one
        assert Counter(Counter(everyone).values()) == Counter({2: 3, 1: 1})


def test_record_patients_one_transaction_rows_updated_in_place(tmp_path: Path) -> None:
    from cpoc_fhir.capture.run import WriteOutcome

    with open_ledger(f"sqlite:///{tmp_path / 'l.sqlite'}") as ledger:
        handle = ledger.start_run("capture", "ndjson:x|2025-09", "2025-09", {})
        created = WriteOutcome("a.transition.2025-09-01", "create", "created", "id-a", "1")
        lost = WriteOutcome("b.transition.2025-09-01", "create", "failed", None, None, 503, "x")
        handle.record_patients(
            [
                PatientOutcome("Patient/a", "done", 2, None, (created,)),
                PatientOutcome("Patient/b", "failed", 0, "1 write(s) failed", (lost,)),
            ]
        )
        # b again in a later group (resumed in the same run): its row is updated, not doubled
        handle.record_patients([PatientOutcome("Patient/b", "done", 1)])
        with pytest.raises(ValueError, match="status"):
            handle.record_patients([PatientOutcome("Patient/c", "skipped")])
        rows = [(p.patient_ref, p.status, p.lines, p.error) for p in ledger.patients(handle.run_id)]
        assert rows == [("Patient/a", "done", 2, None), ("Patient/b", "done", 1, None)]
        assert [
            (w.patient_ref, w.record.outcome, w.record.chargeitem_id, w.record.http_status)
            for w in ledger.writes(handle.run_id)
        ] == [("Patient/a", "created", "id-a", None), ("Patient/b", "failed", None, 503)]
        assert handle.done_patients() == {"Patient/a", "Patient/b"}
        handle.finish()
