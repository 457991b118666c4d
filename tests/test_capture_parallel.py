"""``cpoc capture --workers N`` (issue 16 item 3): patients read, evaluated and planned ahead on
N threads; writes, ledger and summary in patient order in the run's thread; exactly once under
faults at 8 workers."""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from capture_support import (
    PROGRAM,
    capture_command,
    config_for,
    creates,
    load_practice,
    reference_of,
    run_capture,
)
from fault_proxy import KINDS, FaultRates
from fault_suite import run_suite
from hypothesis import given, settings
from hypothesis import strategies as st
from sekmet_server import SekmetServer, running_sekmet

from cpoc_fhir.capture.parallel import prefetch
from cpoc_fhir.capture.plan import Plan
from cpoc_fhir.capture.run import CaptureMonth, CaptureRun
from cpoc_fhir.capture.server import ServerStore
from cpoc_fhir.capture.threaded_reads import ThreadedReads
from cpoc_fhir.cli import main
from cpoc_fhir.config import load_payer
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.fhir.client import FhirClient
from cpoc_fhir.fhir.errors import FhirConnectionError
from cpoc_fhir.fhir.read import patient_resources
from cpoc_fhir.fhir.results import EntryResult, WriteResult
from cpoc_fhir.fhir.write import PublishSettings
from cpoc_fhir.knowledge.loader import load_knowledge
from cpoc_fhir.service import Evaluator

# --- prefetch ----------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 50), max_size=30), st.integers(1, 8))
def test_prefetch_yields_every_result_in_input_order(items: list[int], workers: int) -> None:
    rng = random.Random(sum(items) + workers)
    delays = {i: rng.random() / 500 for i in range(len(items))}

    def read(pair: tuple[int, int]) -> int:
        time.sleep(delays[pair[0]])  # later items often finish first
        return pair[1] * 3

    got = [(a.item[1], a.result()) for a in prefetch(enumerate(items), read, workers)]
    assert got == [(x, x * 3) for x in items]


def test_prefetch_runs_workers_reads_at_once_and_no_more() -> None:
    # A barrier of 4 only opens when 4 reads are in flight together: with 4 workers it opens
    # (else BrokenBarrierError after 10 s); the in-flight count never exceeds 4.
    barrier = threading.Barrier(4, timeout=10)
    lock = threading.Lock()
    flying, most = 0, 0

    def read(n: int) -> int:
        nonlocal flying, most
        with lock:
            flying += 1
            most = max(most, flying)
        if n < 8:
            barrier.wait()
        time.sleep(0.002)
        with lock:
            flying -= 1
        return n

    assert [a.result() for a in prefetch(range(20), read, 4)] == list(range(20))
    assert most == 4


def test_prefetch_reads_lazily_and_a_bounded_way_ahead() -> None:
    consumed: list[int] = []

    def source() -> Iterator[int]:
        for n in range(100):
            consumed.append(n)
            yield n

    ahead = prefetch(source(), lambda n: n, workers=3, ahead=5)
    first = next(ahead)
    assert first.result() == 0
    # 5 submitted before the first was yielded; nothing more taken from the source yet.
    assert len(consumed) == 5
    ahead.close()


def test_the_workers_read_three_groups_on_while_the_caller_holds_one() -> None:
    # The run takes a group of W = 2 and writes it (here: waits) before it asks for more. By
    # default 4 × W = 8 items are submitted ahead: while the caller holds items 0-1, the
    # workers read items 2-8 (three groups and one more). With 2 × W they stopped at item 4
    # and this wait timed out.
    read_done = threading.Semaphore(0)

    def read(n: int) -> int:
        read_done.release()
        return n

    items = prefetch(range(100), read, workers=2)
    group = [next(items), next(items)]
    for _ in range(9):  # items 0 to 8, all while the caller holds its group
        assert read_done.acquire(timeout=10), "the workers stopped reading ahead"
    assert not read_done.acquire(timeout=0.2)  # and no further: the window is bounded
    assert [a.result() for a in group] == [0, 1]
    items.close()


def test_one_worker_reads_in_the_callers_thread_only_when_asked() -> None:
    threads: list[str] = []

    def read(n: int) -> int:
        threads.append(threading.current_thread().name)
        return n

    items = prefetch([1, 2, 3], read, workers=1)
    first = next(items)
    assert threads == []  # today's sequential run: nothing is read ahead
    assert first.result() == 1
    assert threads == [threading.current_thread().name]


def test_prefetch_gives_each_items_error_in_its_place_and_skips_what_it_is_told() -> None:
    read_items: list[int] = []

    def read(n: int) -> int:
        read_items.append(n)
        if n == 2:
            raise FhirConnectionError("GET Condition?patient=…: no answer")
        return n * 10

    out: list[object] = []
    for ahead in prefetch(range(6), read, 3, skip=lambda n: n == 4):
        if ahead.skipped:
            out.append("skipped")
            continue
        try:
            out.append(ahead.result())
        except FhirConnectionError:
            out.append("failed")
    assert out == [0, 10, "failed", 30, "skipped", 50]
    assert 4 not in read_items


def test_prefetch_refuses_no_workers() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        list(prefetch([1], lambda n: n, 0))


# --- the run with a store in memory ------------------------------------------------------


class MemoryReads:
    """Patients with a Patient resource each (no cancer care: no lines); ``broken`` fails
    its read; reads take a random few ms so that later patients often finish first."""

    def __init__(self, broken: str) -> None:
        self.broken = broken
        self.threads: set[str] = set()
        self.rng = random.Random(3)

    def patient_resources(self, patient_id: str) -> Any:
        self.threads.add(threading.current_thread().name)
        time.sleep(self.rng.random() / 100)
        if patient_id == self.broken:
            raise FhirConnectionError(f"GET Patient/{patient_id}: no answer after 5 attempts")
        resource = {"resourceType": "Patient", "id": patient_id, "gender": "female"}
        return patient_resources([resource], f"Patient/{patient_id}")

    def charge_resources(self, patient_id: str) -> list[dict[str, Any]]:
        return []


class MemoryStore(MemoryReads):
    def apply(self, patient_id: str, steps: Any) -> list[Any]:
        assert threading.current_thread() is threading.main_thread()
        return []


class Ledger:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def patient_done(self, patient_ref: str, lines: int, writes: list[Any]) -> None:
        assert threading.current_thread() is threading.main_thread()
        self.calls.append(("done", patient_ref))

    def patient_failed(self, patient_ref: str, error: str, writes: Any = ()) -> None:
        self.calls.append(("failed", patient_ref))


def memory_run(workers: int) -> tuple[Any, Ledger, MemoryReads]:
    evaluator = Evaluator(load_knowledge(), RuleSettings(), load_payer(None))
    store, reads, ledger = MemoryStore("p07"), MemoryReads("p07"), Ledger()
    month = CaptureMonth(2025, 3)
    entered = datetime(2025, 4, 1, tzinfo=UTC)
    run = CaptureRun(
        evaluator,
        PublishSettings(),
        store,
        month,
        date(2025, 3, 31),
        entered,
        ledger=ledger,
        workers=workers,
        reads=reads if workers > 1 else None,
    )
    ids = [f"p{n:02d}" for n in range(1, 21)]
    summary = run.run(ids, skip=["Patient/p03"])
    return summary, ledger, reads


def test_workers_record_every_patient_in_order_and_one_failure_fails_only_its_patient() -> None:
    summary, ledger, reads = memory_run(workers=6)
    # 20 patients, p03 done in an earlier run (skipped), p07 unreadable: 18 done, 1 failed,
    # recorded in patient order although the reads finished in another order.
    expected = [("failed" if n == 7 else "done", f"Patient/p{n:02d}") for n in range(1, 21)]
    assert ledger.calls == [c for c in expected if c[1] != "Patient/p03"]
    assert (summary.patients, summary.failed_patients) == (18, 1)
    assert summary.errors == ["Patient/p07: GET Patient/p07: no answer after 5 attempts"]
    assert threading.main_thread().name not in reads.threads  # the reads ran on workers
    one, one_ledger, _ = memory_run(workers=1)
    assert one_ledger.calls == ledger.calls
    assert one.as_counts() == summary.as_counts()


def test_several_workers_need_thread_safe_reads() -> None:
    evaluator = Evaluator(load_knowledge(), RuleSettings(), load_payer(None))
    run = CaptureRun(
        evaluator,
        PublishSettings(),
        MemoryStore(""),
        CaptureMonth(2025, 3),
        date(2025, 3, 31),
        datetime(2025, 4, 1, tzinfo=UTC),
        workers=4,
    )
    with pytest.raises(ValueError, match="thread-safe"):
        run.run(["p1"])


# --- several patients' creates in one batch (ServerStore.apply_many) ----------------------


class BatchClient:
    """A FhirClient stand-in: batches answered 201 per entry (or no answer ``fail`` times),
    searches empty."""

    def __init__(self, fail: int = 0) -> None:
        self.batches: list[list[str]] = []
        self.fail = fail
        self.searches: list[dict[str, str]] = []

    def batch(self, entries: list[dict[str, Any]]) -> list[EntryResult]:
        self.batches.append([e["request"]["url"] for e in entries])
        if self.fail:
            self.fail -= 1
            raise FhirConnectionError("POST batch Bundle: no answer (ReadTimeout) after 5 attempts")
        return [
            EntryResult(201, "ChargeItem", e["resource"]["id"], "1", index=n)
            for n, e in enumerate(entries)
        ]

    def search(self, resource_type: str, params: dict[str, str]) -> Iterator[dict[str, Any]]:
        self.searches.append(params)
        return iter(())


def batch_store(client: BatchClient) -> ServerStore:
    # Batches only: the transaction path is tests/test_capture_group_transaction.py.
    store = ServerStore(
        client, "http://example.org/sid", lambda a, b: True, update_create=True, transactions=False
    )
    return store


def test_apply_many_sends_every_patients_creates_in_one_batch_then_sweeps_each() -> None:
    client = BatchClient()
    plans = [creates("a", 2), creates("b", 1), ("c", Plan()), creates("d", 3)]
    out = batch_store(client).apply_many(plans)
    # One batch of 2 + 1 + 3 = 6 PUTs, in patient order; then a sweep per patient with creates.
    assert client.batches == [
        ["ChargeItem/cpoc-a-1", "ChargeItem/cpoc-a-2", "ChargeItem/cpoc-b-1"]
        + [f"ChargeItem/cpoc-d-{n}" for n in (1, 2, 3)]
    ]
    assert [p["subject"] for p in client.searches] == ["Patient/a", "Patient/b", "Patient/d"]
    assert [[(o.chargeitem_id, o.outcome) for o in got] for got in out] == [  # type: ignore[union-attr]
        [("cpoc-a-1", "created"), ("cpoc-a-2", "created")],
        [("cpoc-b-1", "created")],
        [],
        [("cpoc-d-1", "created"), ("cpoc-d-2", "created"), ("cpoc-d-3", "created")],
    ]


def test_apply_many_reads_the_groups_sweeps_at_once_and_a_failed_sweep_read_fails_its_patient() -> (
    None
):
    client = BatchClient()
    asked: list[list[str]] = []
    # The sweep of d finds a second live item of its line d.treatment-month.2025-03-01: that
    # one (the higher id, cpoc-d-1-x; the lowest id is kept) is retired with If-Match.
    system = "http://example.org/sid"
    kept = {
        "resourceType": "ChargeItem",
        "id": "cpoc-d-1",
        "status": "billable",
        "meta": {"versionId": "1"},
        "identifier": [{"system": system, "value": "d.treatment-month.2025-03-01"}],
    }
    second = dict(kept, id="cpoc-d-1-x")

    def sweep_reads(ids: list[str]) -> list[Any]:
        asked.append(ids)
        return [FhirConnectionError("GET ChargeItem?subject=…: no answer"), [kept, second]]

    updates: list[tuple[str, str | None]] = []

    def update(resource: dict[str, Any], if_match: str | None = None) -> WriteResult:
        updates.append((resource["id"], if_match))
        return WriteResult(200, "ChargeItem", resource["id"], "2")

    client.update = update  # type: ignore[attr-defined]
    store = batch_store(client)
    out = store.apply_many([creates("a", 1), ("c", Plan()), creates("d", 1)], sweep_reads)
    assert asked == [["a", "d"]] and client.searches == []  # one call for the group's sweeps
    assert isinstance(out[0], FhirConnectionError)
    assert out[1] == []
    assert updates == [("cpoc-d-1-x", 'W/"1"')]
    assert [o.outcome for o in out[2]] == ["created", "duplicate-retired"]  # type: ignore[union-attr]


def test_a_group_batch_without_answer_is_sent_again_patient_by_patient() -> None:
    # The group's batch and then patient b's own batch get no answer: a and d are written
    # (PUTs by id, safe to send again), b alone fails with the error.
    client = BatchClient(fail=1)
    store = batch_store(client)
    original = client.batch

    def second_fails(entries: list[dict[str, Any]]) -> list[EntryResult]:
        if entries[0]["request"]["url"] == "ChargeItem/cpoc-b-1":
            client.fail = 1
        return original(entries)

    client.batch = second_fails  # type: ignore[method-assign]
    out = store.apply_many([creates("a", 1), creates("b", 1), creates("d", 1)])
    assert client.batches == [
        ["ChargeItem/cpoc-a-1", "ChargeItem/cpoc-b-1", "ChargeItem/cpoc-d-1"],
        ["ChargeItem/cpoc-a-1"],
        ["ChargeItem/cpoc-b-1"],
        ["ChargeItem/cpoc-d-1"],
    ]
    assert isinstance(out[1], FhirConnectionError)
    assert [o.outcome for o in out[0]] == ["created"]  # type: ignore[union-attr]
    assert [o.outcome for o in out[2]] == ["created"]  # type: ignore[union-attr]


# --- the CLI -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--fhir-base", "http://127.0.0.1:9/fhir", "--workers", "0"], "from 1 to 32, not 0"),
        (["--fhir-base", "http://127.0.0.1:9/fhir", "--workers", "33"], "from 1 to 32, not 33"),
        (["--ndjson", ".", "--out", ".", "--workers", "4"], "parallel reads are for --fhir-base"),
    ],
)
def test_workers_out_of_bounds_or_offline_are_refused(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["capture", "--month", "2025-03", *argv]) == 2
    assert message in capsys.readouterr().err


# --- against sekmet ----------------------------------------------------------------------

PATIENTS = 10


@pytest.fixture(scope="module")
def fhir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SekmetServer]:
    directory = tmp_path_factory.mktemp("sekmet-parallel")
    with running_sekmet(directory / "server") as server:
        load_practice(server.base_url, directory / "practice", PATIENTS)
        yield server


def _summary(output: str) -> str:
    """The summary without what differs between runs by design (run id, paths)."""
    output = re.sub(r"run \d+", "run N", output)
    return re.sub(r"\S+\.csv", "FILE.csv", output)


def test_eight_workers_write_and_report_exactly_what_one_worker_does(
    fhir: SekmetServer, tmp_path: Path
) -> None:
    outputs, references = [], []
    for workers in ("1", "8"):
        system = f"http://example.org/fhir/sid/parallel-{workers}"
        command = capture_command(
            fhir.base_url,
            tmp_path / f"ledger-{workers}.sqlite",
            config_for(tmp_path, system),
            "--as-of",
            "2025-03-31",
            "--workers",
            workers,
        )
        done = run_capture([*PROGRAM, *command[1:]])
        assert done.returncode == 0, done.stdout + done.stderr
        outputs.append(_summary(done.stdout))
        references.append(reference_of(fhir.base_url, system))
        again = run_capture([*PROGRAM, *command[1:]])
        assert again.returncode == 0, again.stdout + again.stderr
        # The second run finds every line written: nothing is created or changed.
        assert re.search(r"ChargeItems +unchanged \d+$", again.stdout, re.M), again.stdout
    # Same items (content by line; each run its own identifier system, so compared by line).
    assert references[0] and references[0] == references[1]
    assert outputs[0] == outputs[1]


def test_threaded_reads_give_each_thread_its_own_client(fhir: SekmetServer) -> None:
    made: list[FhirClient] = []

    def client() -> FhirClient:
        made.append(FhirClient(fhir.base_url))
        return made[-1]

    reads = ThreadedReads(client, "http://example.org/fhir/sid/x")
    barrier = threading.Barrier(3, timeout=10)

    def one(_n: int) -> None:
        barrier.wait()
        reads.charge_resources("nobody")

    threads = [threading.Thread(target=one, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert reads.clients == 3 and len({id(c) for c in made}) == 3
    reads.close()
    assert reads.clients == 0


def test_faulted_killed_runs_at_eight_workers_bill_exactly_what_a_clean_run_bills(
    fhir: SekmetServer, tmp_path: Path
) -> None:
    # 6 runs of the 10-patient practice through the fault proxy, --workers 8, 2 runs at a
    # time, killed at random and resumed; compared with a clean sequential run.
    rates = FaultRates(read=0.03, write=0.5, hang_s=1.5)
    figures = run_suite(
        fhir.base_url,
        fhir.root_url,
        tmp_path,
        6,
        seed=16,
        kill_chance=0.7,  # seed 16: runs 0, 2 and 5 are given 1.8 s, 4.0 s and 4.0 s to live
        rates=rates,
        extra=("--workers", "8"),
        program=PROGRAM,
    )
    print(figures.text())  # shown with -s / on failure
    assert figures.runs == 6 and figures.lines > 0
    assert figures.unfinished == []
    assert (figures.duplicates, figures.losses, figures.differing) == (0, 0, 0)
    assert sum(figures.faults.values()) > 0 and set(figures.faults) <= set(KINDS)
    assert figures.kills > 0


def test_a_dry_run_at_eight_workers_reports_what_one_worker_reports_and_writes_nothing(
    fhir: SekmetServer, tmp_path: Path
) -> None:
    system = "http://example.org/fhir/sid/parallel-dry"
    outputs = []
    for workers in ("1", "8"):
        command = capture_command(
            fhir.base_url,
            tmp_path / f"dry-{workers}.sqlite",
            config_for(tmp_path, system),
            "--as-of",
            "2025-03-31",
            "--dry-run",
            "--workers",
            workers,
        )
        done = run_capture([*PROGRAM, *command[1:]])
        assert done.returncode == 0, done.stdout + done.stderr
        outputs.append(_summary(done.stdout))
    assert "dry-run" in outputs[0] and outputs[0] == outputs[1]
    assert reference_of(fhir.base_url, system) == {}  # nothing written under this system
