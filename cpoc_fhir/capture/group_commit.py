"""Group commit of the capture's ledger (issue 16 item 4): patients recorded in groups.

Recording each patient in its own ledger transaction (and fsyncing the offline journal per
patient) cost more than evaluating it. ``GroupCommit`` stands between ``CaptureRun`` and the
run's ``RunHandle``: it keeps the patients' ends (done or failed, with their writes) and records
them in **one** ledger transaction every ``every`` patients or ``seconds`` (whichever comes
first), when ``flush`` is called (at the end of the run and on every exit or exception path,
``CaptureRun.run``), and never before ``sync`` returned: ``sync`` makes the group's writes
durable first (the offline store's journal fsync; nothing for a FHIR server, whose answer is its
commit). So a patient the ledger calls done has its writes on disk, and a killed run loses at
most the group not yet recorded, which the next run redoes as a no-op (deterministic ids,
If-Match, conditional creates, the journal): docs/exactly-once.md, "Group commit".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from cpoc_fhir.store.run import PatientOutcome

DEFAULT_EVERY = 200  # patients
DEFAULT_SECONDS = 1.0


class Recorder(Protocol):
    """What a group commit needs of the run's ledger side (``RunHandle`` is one)."""

    def record_patients(self, outcomes: Sequence[PatientOutcome]) -> None: ...


class GroupCommit:
    """A ``LedgerRun`` for ``CaptureRun`` that records patients in groups (see module doc)."""

    def __init__(
        self,
        handle: Recorder,
        sync: Callable[[], None] = lambda: None,
        every: int = DEFAULT_EVERY,
        seconds: float = DEFAULT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if every < 1:
            raise ValueError(f"a group holds at least one patient, not {every}")
        self.handle = handle
        self.sync = sync
        self.every = every
        self.seconds = seconds
        self.clock = clock
        self.pending: list[PatientOutcome] = []
        self._opened = clock()  # when the pending group got its first patient
        self.groups = 0  # groups recorded (for tests and the benchmark)

    def patient_done(self, patient_ref: str, lines: int, writes: Iterable[Any]) -> None:
        self._add(PatientOutcome(patient_ref, "done", lines, None, tuple(writes)))

    def patient_failed(self, patient_ref: str, error: str, writes: Iterable[Any] = ()) -> None:
        self._add(PatientOutcome(patient_ref, "failed", 0, error, tuple(writes)))

    def _add(self, outcome: PatientOutcome) -> None:
        if not self.pending:
            self._opened = self.clock()
        self.pending.append(outcome)
        if len(self.pending) >= self.every or self.clock() - self._opened >= self.seconds:
            self.flush()

    def flush(self) -> None:
        """Make the pending group's writes durable, then record it in one transaction. On a
        failure nothing of the group is recorded and it stays pending (the transaction is
        all or nothing)."""
        if not self.pending:
            return
        self.sync()
        self.handle.record_patients(self.pending)
        self.pending = []
        self.groups += 1
