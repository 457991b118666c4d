"""One live run's side of the ledger: patients done or failed with their writes, heartbeat, end.

``patient_done`` records a patient's writes and its completion in one transaction, so a killed
run leaves either all or nothing for that patient; every record also refreshes the lock's
heartbeat and fails with ``LockLost`` if another run took the scope over. ``record_patients``
records several patients in one transaction (the capture's group commit,
docs/exactly-once.md "Group commit").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from cpoc_fhir.store.errors import LockLost, StoreError
from cpoc_fhir.store.models import Lock, Run, RunPatient, Write
from cpoc_fhir.store.records import RunInfo, WriteLike, json_safe

_MAX_TEXT = 2000


class LedgerAccess(Protocol):
    """What a run needs of its ledger (``Ledger`` is one): a transaction and the clock.

    Named here so that this module does not import ``ledger``, which imports it to start runs.
    """

    def transaction(self) -> AbstractContextManager[Session]: ...
    def now(self) -> datetime: ...


@dataclass(frozen=True)
class PatientOutcome:
    """One patient's end, to be recorded (``RunHandle.record_patients``)."""

    ref: str
    status: str  # done | failed
    lines: int = 0
    error: str | None = None  # no PHI
    writes: tuple[WriteLike, ...] = ()


class RunHandle:
    """The ledger side of one live run; use it as a context manager."""

    def __init__(self, ledger: LedgerAccess, run: RunInfo) -> None:
        self.ledger = ledger
        self.run_id = run.id
        self.kind = run.kind
        self.scope = run.scope
        self.month = run.month
        self.started_at = run.started_at
        self.resumed_from = run.resumed_from
        self.finished = False

    def done_patients(self) -> frozenset[str]:
        """Patients finished by this run or the unfinished runs it resumes (they may be skipped)."""
        with self.ledger.transaction() as session:
            chain = [self.run_id]
            earlier = self.resumed_from
            while earlier is not None and earlier not in chain:
                chain.append(earlier)
                earlier = session.scalar(select(Run.resumed_from).where(Run.id == earlier))
            query = select(RunPatient.patient_ref).where(
                RunPatient.run_id.in_(chain), RunPatient.status == "done"
            )
            return frozenset(session.scalars(query))

    def patient_done(self, patient_ref: str, lines: int, writes: Iterable[WriteLike]) -> None:
        """Record a patient's writes and its completion together (one transaction)."""
        self._patient(patient_ref, "done", lines, None, writes)

    def patient_failed(
        self, patient_ref: str, error: str, writes: Iterable[WriteLike] = ()
    ) -> None:
        """Record a patient that failed (``error`` must not contain PHI) and any writes made."""
        self._patient(patient_ref, "failed", 0, error, writes)

    def _patient(
        self, ref: str, status: str, lines: int, error: str | None, writes: Iterable[WriteLike]
    ) -> None:
        self._check_open()
        with self.ledger.transaction() as session:
            now = self.ledger.now()
            self._touch(session, now)
            _insert_writes(session, self.run_id, ref, writes, now)
            _mark_patient(session, self.run_id, ref, status, lines, error, now)

    def record_patients(self, outcomes: Sequence[PatientOutcome]) -> None:
        """Record several patients, each with its writes and its end, in one transaction: all
        of them or none (a group commit); refreshes the heartbeat once."""
        if not outcomes:
            return
        for one in outcomes:
            if one.status not in ("done", "failed"):
                raise ValueError(f"not a patient status: {one.status!r}")
        self._check_open()
        with self.ledger.transaction() as session:
            now = self.ledger.now()
            self._touch(session, now)
            query = select(RunPatient.patient_ref, RunPatient.id).where(
                RunPatient.run_id == self.run_id,
                RunPatient.patient_ref.in_({one.ref for one in outcomes}),
            )
            ids: dict[str, int] = {ref: row_id for ref, row_id in session.execute(query)}
            written = [
                _write_row(self.run_id, one.ref, w, now) for one in outcomes for w in one.writes
            ]
            if written:  # one executemany, in order (a run's writes are read back by id)
                session.execute(insert(Write), written)
            # The patients' rows as two executemany statements (new rows, rows of patients
            # recorded before, e.g. failed then retried), not one ORM object each; a patient
            # twice in a group ends as its last outcome, as when recorded one at a time.
            last = {one.ref: one for one in outcomes}
            new: list[dict[str, Any]] = []
            known: list[dict[str, Any]] = []
            for ref, one in last.items():
                row = {"run_id": self.run_id, "patient_ref": ref, "status": one.status}
                row |= {"lines": one.lines, "error": _clip(one.error), "finished_at": now}
                if ref in ids:
                    known.append(row | {"id": ids[ref]})
                else:
                    new.append(row)
            if new:
                session.execute(insert(RunPatient), new)
            if known:
                session.execute(update(RunPatient), known)  # by primary key

    def heartbeat(self) -> None:
        """Tell other runs this one is alive (done with every patient too); ``LockLost`` if not."""
        self._check_open()
        with self.ledger.transaction() as session:
            self._touch(session, self.ledger.now())

    def _touch(self, session: Session, now: datetime) -> None:
        result = session.execute(
            update(Lock)
            .where(Lock.scope == self.scope, Lock.run_id == self.run_id)
            .values(heartbeat_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise LockLost(self.scope, self.run_id)

    def finish(self, counts: Mapping[str, Any] | None = None, status: str = "finished") -> None:
        """Record the end (status, counts, duration) and release the scope's lock."""
        if status not in ("finished", "failed", "interrupted"):
            raise ValueError(f"not a final run status: {status!r}")
        self._check_open()
        with self.ledger.transaction() as session:
            now = self.ledger.now()
            session.execute(
                update(Run)
                .where(Run.id == self.run_id)
                .values(
                    status=status,
                    finished_at=now,
                    counts=json_safe(dict(counts or {})),
                    duration_s=(now - self.started_at).total_seconds(),
                )
            )
            session.execute(
                delete(Lock).where(Lock.scope == self.scope, Lock.run_id == self.run_id)
            )
        self.finished = True

    def _check_open(self) -> None:
        if self.finished:
            raise StoreError(f"run {self.run_id} for {self.scope} has already finished")

    def __enter__(self) -> RunHandle:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.finished:
            return
        if exc is None:
            self.finish()
            return
        # Ctrl-C / SystemExit: resumable next time; any other exception: the run failed.
        status = "failed" if isinstance(exc, Exception) else "interrupted"
        with suppress(StoreError):  # keep the original exception, not the ledger's
            self.finish(status=status)


def _insert_writes(
    session: Session, run_id: int, patient_ref: str, writes: Iterable[WriteLike], now: datetime
) -> None:
    _add_writes(session, run_id, patient_ref, writes, now)
    session.flush()


def _add_writes(
    session: Session, run_id: int, patient_ref: str, writes: Iterable[WriteLike], now: datetime
) -> None:
    rows = [_write_row(run_id, patient_ref, w, now) for w in writes]
    if rows:  # one executemany, in order
        session.execute(insert(Write), rows)


def _write_row(run_id: int, patient_ref: str, w: WriteLike, now: datetime) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "patient_ref": patient_ref,
        "identifier": w.identifier,
        "action": w.action,
        "outcome": w.outcome,
        "chargeitem_id": w.chargeitem_id,
        "version_id": w.version_id,
        "http_status": w.http_status,
        "message": _clip(w.message),
        "at": now,
    }


def _mark_patient(
    session: Session,
    run_id: int,
    ref: str,
    status: str,
    lines: int,
    error: str | None,
    now: datetime,
) -> None:
    row = session.scalars(
        select(RunPatient).where(RunPatient.run_id == run_id, RunPatient.patient_ref == ref)
    ).first()
    if row is None:
        row = RunPatient(run_id=run_id, patient_ref=ref)
        session.add(row)
    row.status, row.lines, row.error, row.finished_at = status, lines, _clip(error), now
    session.flush()


def _clip(text: str | None) -> str | None:
    return text[:_MAX_TEXT] if text else None
