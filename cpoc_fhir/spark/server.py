"""``cpoc capture --engine spark --fhir-base URL``: each partition writes its patients.

The export is keyed and grouped per patient as for the other Spark jobs (``job.gather``); each
partition then runs the exactly-once server writer of ``cpoc capture --fhir-base`` for its
patients: the patient's ChargeItems and Claims read from the server, ``plan``, the conditional
creates / PUTs by deterministic id / If-Match updates, and the duplicate sweep
(``capture.server.ServerStore``, through the unchanged ``CaptureRun``). No ledger in the
executors: each patient's end (done or failed, with its write outcomes) is returned to the
driver, which records it in the run's ledger (``record``).

A Spark task that fails is run again by Spark (``spark.task.maxFailures``), and a speculative
copy may run beside it: either repeats writes of patients already written. That is safe for the
same reason a killed ``cpoc capture --fhir-base`` can be rerun: every create is keyed by the
ChargeItem's identifier (PUT by the id derived from it, or If-None-Exist on it) and every update
carries If-Match, so the repeat plans "unchanged" and writes nothing (docs/exactly-once.md).
Spark returns the results of one successful attempt per partition only.

The partitions are run in waves of ``defaultParallelism`` (``runJob`` over the grouped RDD: the
shuffle is computed once), and each wave's results are recorded before the next wave starts, so a
killed driver loses at most one wave's records; the next run re-plans those patients and finds
their items (unchanged). The waves are the driver's long loop: on a terminal they draw the
progress bar (``cpoc_fhir.progress``: the partitions done of all, so an ETA, and the patients
billed so far), else a ``told`` line per wave for a log.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from cpoc_fhir.capture.bulk_store import has_live_episode
from cpoc_fhir.capture.connect import Connection
from cpoc_fhir.capture.run import CaptureRun, CaptureSummary
from cpoc_fhir.capture.server import ServerStore
from cpoc_fhir.fhir.read import PatientResources
from cpoc_fhir.fhir.read.gc_pass import relaxed_gc
from cpoc_fhir.fhir.write import charge_item_changed
from cpoc_fhir.progress import progress, shown
from cpoc_fhir.service import Evaluator
from cpoc_fhir.spark import job as jobs
from cpoc_fhir.spark.partition import OWN, CaptureJob, Item, evaluator_from, merge
from cpoc_fhir.spark.partition import patient_resources as group_resources
from cpoc_fhir.store.run import PatientOutcome

Resource = dict[str, Any]
LEDGER_GROUP = 200  # patients per ledger transaction on the driver


@dataclass(frozen=True)
class ServerCaptureJob:
    """What the executors need: the capture's settings, the server, which patients."""

    capture: CaptureJob
    connection: Connection
    chosen: frozenset[str] | None = None  # --patient ids or a Group's; None: live episodes
    done: frozenset[str] = frozenset()  # "Patient/x" done by the unfinished runs resumed
    # Called at the end of each partition, before its results are returned: fault tests make
    # a task attempt fail there (after its writes), to check that the retry writes nothing.
    fault: Callable[[], None] | None = None


class PartitionStore(ServerStore):
    """``ServerStore`` whose records are the export's (one patient at a time)."""

    def __init__(self, client: Any, system: str) -> None:
        super().__init__(client, system, charge_item_changed)
        self.current: dict[str, PatientResources] = {}

    def patient_resources(self, patient_id: str) -> PatientResources:
        return self.current[patient_id]


class Collected:
    """A ``LedgerRun`` that keeps the patients' ends, to be returned to the driver."""

    def __init__(self) -> None:
        self.ends: list[PatientOutcome] = []

    def patient_done(self, patient_ref: str, lines: int, writes: Iterable[Any]) -> None:
        self.ends.append(PatientOutcome(patient_ref, "done", lines, None, tuple(writes)))

    def patient_failed(self, patient_ref: str, error: str, writes: Iterable[Any] = ()) -> None:
        self.ends.append(PatientOutcome(patient_ref, "failed", 0, error, tuple(writes)))


def write_partition(
    groups: Iterable[tuple[str, Iterable[Item]]],
    job: ServerCaptureJob,
    shared: Mapping[str, Resource],
    aliases: Mapping[str, str],
) -> Iterator[tuple[str, Any]]:
    """``("patient", PatientOutcome)`` per patient billed, then one ``("summary",
    CaptureSummary)`` for the partition (what runs in an executor)."""
    return write_groups(evaluator_from(job.capture.spec), groups, job, shared, aliases)


def write_groups(
    evaluator: Evaluator,
    groups: Iterable[tuple[str, Iterable[Item]]],
    job: ServerCaptureJob,
    shared: Mapping[str, Resource],
    aliases: Mapping[str, str],
) -> Iterator[tuple[str, Any]]:
    """``write_partition`` with an Evaluator already built."""
    capture = job.capture
    client = job.connection.client()  # one client (and token) per partition
    store = PartitionStore(client, capture.publish.practice_identifier_system)
    ledger = Collected()
    run = CaptureRun(
        evaluator, capture.publish, store, capture.months.last, capture.as_of, capture.entered,
        capture.dry_run, ledger=ledger, first=capture.months.first,
    )  # fmt: skip
    total = CaptureSummary(str(capture.months.last), str(capture.months.first))
    try:
        with relaxed_gc():
            for key, group in groups:
                patient_id = key.split("/", 1)[1]
                if key in job.done or (job.chosen is not None and patient_id not in job.chosen):
                    continue
                items = [item for item in group if item[0] == OWN]
                if not items:
                    continue
                resources, _ = group_resources(key, items, shared, aliases)
                if job.chosen is None and not has_live_episode(resources):
                    continue  # not an oncology patient of the practice (the paged path's rule)
                store.current = {patient_id: resources}
                merge(total, run.run([patient_id]))
                for end in ledger.ends:
                    yield ("patient", end)
                ledger.ends = []
        if job.fault is not None:
            job.fault()
    finally:
        client.close()
    yield ("summary", total)


@dataclass
class ServerResult:
    summary: CaptureSummary
    seen: set[str] = field(default_factory=set)  # patient ids billed (done or failed)
    warnings: list[str] = field(default_factory=list)
    waves: int = 0


def run_server_capture(
    spark: Any,
    location: str | Path,
    job: ServerCaptureJob,
    record: Callable[[Sequence[PatientOutcome]], None],
    told: Callable[[str], None] = lambda _text: None,
    quiet: bool = False,
    stream: TextIO | None = None,
) -> ServerResult:
    """Write the export's patients to the server, partition by partition; each wave's ends are
    passed to ``record`` in groups of ``LEDGER_GROUP`` as soon as the wave is done. A bar on
    ``stream`` (default stderr) when it is a terminal and not ``quiet``; else ``told``."""
    sc = spark.sparkContext
    gathered = jobs.gather(spark, location, job.chosen)
    shared, aliases = gathered.shared, gathered.aliases
    grouped = gathered.patients.groupByKey()
    capture = job.capture
    result = ServerResult(CaptureSummary(str(capture.months.last), str(capture.months.first)))
    result.warnings = gathered.warnings
    count = grouped.getNumPartitions()
    step = max(1, sc.defaultParallelism)
    out_stream = sys.stderr if stream is None else stream
    drawn = shown(out_stream, quiet)
    wanted = _wanted(job)
    try:
        with progress(count, "partition", quiet, out_stream) as bar:
            for start in range(0, count, step):
                parts = list(range(start, min(count, start + step)))
                _wave(sc, grouped, parts, job, (shared, aliases), record, result)
                billed = len(result.seen)
                bar.update(len(parts))
                bar.set_postfix_str(f"{billed}" + (f" of {wanted}" if wanted else "") + " patients")
                if not drawn:  # a pipe or a log: a line a wave (on a terminal the bar says it)
                    told(f"partitions {start + len(parts)}/{count}: {billed} patients")
    finally:
        gathered.release()
    return result


def _wanted(job: ServerCaptureJob) -> int | None:
    """The patients to bill when they are named (``--patient``, a Group) less those done
    by the run resumed; None when every live episode of the export is billed (unknown)."""
    if job.chosen is None:
        return None
    done = {ref.split("/", 1)[1] for ref in job.done}
    return len(job.chosen - done)


def _wave(
    sc: Any,
    grouped: Any,
    parts: list[int],
    job: ServerCaptureJob,
    broadcasts: tuple[Any, Any],
    record: Callable[[Sequence[PatientOutcome]], None],
    result: ServerResult,
) -> None:
    """One wave: the partitions ``parts`` written by the executors (``broadcasts``: the
    shared resources and the aliases), their ends recorded and added to ``result``."""
    shared, aliases = broadcasts
    out = sc.runJob(
        grouped,
        lambda groups: write_partition(groups, job, shared.value, aliases.value),
        parts,
    )
    ends = [payload for kind, payload in out if kind == "patient"]
    for first in range(0, len(ends), LEDGER_GROUP):
        record(ends[first : first + LEDGER_GROUP])
    for kind, payload in out:
        if kind == "summary":
            merge(result.summary, payload)
    result.seen.update(end.ref.split("/", 1)[1] for end in ends)
    result.waves += 1
