"""The run ledger: one lock per scope, each run and each write recorded, killed runs resumed.

A run (``Ledger.start_run``) holds its scope's row in ``locks``, so two runs never work on the
same scope (FHIR base + month) at once; the primary key makes the insert atomic on SQLite and
PostgreSQL alike. A lock whose holder died (same host, process gone) or whose heartbeat is older
than ``stale_after`` is taken over, and its run is marked ``interrupted``. The newest run of the
same kind and scope, if it never finished, is resumed: its done patients may be skipped.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from cpoc_fhir.store.db import DEFAULT_URL, describe, make_engine, migrate, reason
from cpoc_fhir.store.errors import RunInProgress, StoreError
from cpoc_fhir.store.models import Lock, Run, RunPatient, Write
from cpoc_fhir.store.records import (
    Holder,
    PatientEntry,
    RunInfo,
    WriteEntry,
    public_settings,
)
from cpoc_fhir.store.run import RunHandle

Clock = Callable[[], datetime]
DEFAULT_STALE_AFTER = timedelta(minutes=15)
UNFINISHED = ("running", "interrupted")
_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
_START_ATTEMPTS = 5


def utc_now() -> datetime:
    """The default clock."""
    return datetime.now(UTC)


def open_ledger(
    url: str | None = None,
    *,
    clock: Clock = utc_now,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
    holder: Holder | None = None,
) -> Ledger:
    """Open (creating or upgrading) the ledger at ``url``; default ``sqlite:///cpoc-ledger.sqlite``."""
    engine = make_engine(url or DEFAULT_URL)
    try:
        migrate(engine)
    except BaseException:
        engine.dispose()
        raise
    return Ledger(engine, clock=clock, stale_after=stale_after, holder=holder)


class _Race(Exception):
    """Another run changed the scope's lock between our read and our write: try again."""


class Ledger:
    """Runs, their patients and writes, and the scope locks, in one database."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Clock = utc_now,
        stale_after: timedelta = DEFAULT_STALE_AFTER,
        holder: Holder | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.stale_after = stale_after
        self.holder = holder or Holder()

    def start_run(
        self, kind: str, scope: str, month: str, settings: Mapping[str, Any]
    ) -> RunHandle:
        """Lock ``scope`` and record a new run, resuming the last unfinished one of its kind.

        Raises ``RunInProgress`` when a live run holds the scope.
        """
        _check_run_args(kind, scope, month)
        saved = public_settings(settings)
        for _ in range(_START_ATTEMPTS):
            try:
                with self.transaction() as session:
                    run = self._start(session, kind, scope, month, saved)
                return RunHandle(self, RunInfo.of(run))
            except _Race:
                continue
        raise StoreError(f"run ledger: could not lock {scope}: it kept changing hands")

    def _start(
        self, session: Session, kind: str, scope: str, month: str, settings: dict[str, Any]
    ) -> Run:
        now = self.now()
        lock = session.get(Lock, scope, with_for_update=True)
        if lock is not None:
            self._refuse_if_live(session, lock, now)
            _mark_interrupted(session, lock.run_id, lock.heartbeat_at)
        previous = session.scalars(
            select(Run).where(Run.scope == scope, Run.kind == kind).order_by(Run.id.desc()).limit(1)
        ).first()
        # Runs still "running" without the lock (a lock row removed by hand) died too.
        session.execute(
            update(Run)
            .where(Run.scope == scope, Run.status == "running")
            .values(status="interrupted")
        )
        run = Run(
            kind=kind,
            scope=scope,
            month=month,
            started_at=now,
            status="running",
            settings=settings,
            host=self.holder.host,
            pid=self.holder.pid,
            resumed_from=previous.id if previous and previous.status in UNFINISHED else None,
        )
        session.add(run)
        session.flush()
        if lock is None:
            self._insert_lock(session, scope, run.id, now)
        else:
            self._take_over(session, scope, lock.run_id, run.id, now)
        return run

    def _refuse_if_live(self, session: Session, lock: Lock, now: datetime) -> None:
        if not self._is_live(lock, now):
            return
        holder_run = session.get(Run, lock.run_id)
        started = holder_run.started_at if holder_run else lock.acquired_at
        raise RunInProgress(
            lock.scope, lock.run_id, lock.holder_host, lock.holder_pid, started, lock.heartbeat_at
        )

    def _is_live(self, lock: Lock, now: datetime) -> bool:
        if now - lock.heartbeat_at > self.stale_after:
            return False
        return lock.holder_host != self.holder.host or pid_alive(lock.holder_pid)

    def _insert_lock(self, session: Session, scope: str, run_id: int, now: datetime) -> None:
        session.add(
            Lock(
                scope=scope,
                run_id=run_id,
                holder_host=self.holder.host,
                holder_pid=self.holder.pid,
                acquired_at=now,
                heartbeat_at=now,
            )
        )
        try:
            session.flush()
        except IntegrityError:
            raise _Race from None

    def _take_over(
        self, session: Session, scope: str, old_run: int, run_id: int, now: datetime
    ) -> None:
        # Compare-and-set on the dead holder's run id: a concurrent taker makes this a no-op.
        result = session.execute(
            update(Lock)
            .where(Lock.scope == scope, Lock.run_id == old_run)
            .values(
                run_id=run_id,
                holder_host=self.holder.host,
                holder_pid=self.holder.pid,
                acquired_at=now,
                heartbeat_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise _Race

    def now(self) -> datetime:
        """The clock's time in UTC (a naive clock is a programming error)."""
        moment = self.clock()
        if moment.tzinfo is None:
            raise ValueError(f"the ledger clock gave a naive datetime: {moment.isoformat()}")
        return moment.astimezone(UTC)

    def runs(self, limit: int = 20, scope: str | None = None) -> list[RunInfo]:
        """The newest runs first (of ``scope`` if given)."""
        query = select(Run).order_by(Run.id.desc()).limit(limit)
        if scope is not None:
            query = query.where(Run.scope == scope)
        with self.transaction() as session:
            return [RunInfo.of(row) for row in session.scalars(query)]

    def finished_runs(self, kind: str, scope_prefix: str, limit: int = 200) -> list[RunInfo]:
        """Finished runs of ``kind`` whose scope starts with ``scope_prefix``, latest month
        first (a capture's scope is "<FHIR base or export>|<month>")."""
        escaped = scope_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = (
            select(Run)
            .where(
                Run.kind == kind,
                Run.status == "finished",
                Run.scope.like(f"{escaped}%", escape="\\"),
            )
            .order_by(Run.month.desc(), Run.id.desc())
            .limit(limit)
        )
        with self.transaction() as session:
            return [RunInfo.of(row) for row in session.scalars(query)]

    def writes(self, run_id: int) -> list[WriteEntry]:
        """A run's writes in the order they were recorded."""
        with self.transaction() as session:
            rows = session.scalars(select(Write).where(Write.run_id == run_id).order_by(Write.id))
            return [WriteEntry.of(row) for row in rows]

    def patients(self, run_id: int) -> list[PatientEntry]:
        """A run's finished and failed patients, by reference."""
        query = select(RunPatient).where(RunPatient.run_id == run_id)
        with self.transaction() as session:
            rows = session.scalars(query.order_by(RunPatient.patient_ref))
            return [PatientEntry.of(row) for row in rows]

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One database transaction; database failures become ``StoreError``."""
        try:
            with Session(self.engine, expire_on_commit=False) as session, session.begin():
                yield session
        except SQLAlchemyError as exc:
            raise StoreError(f"run ledger {describe(self.engine.url)}: {reason(exc)}") from exc

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _check_run_args(kind: str, scope: str, month: str) -> None:
    if not kind or len(kind) > 32:
        raise ValueError(f"run kind must be 1-32 characters: {kind!r}")
    if not scope or len(scope) > 512:
        raise ValueError(f"run scope must be 1-512 characters: {scope!r}")
    if not _MONTH.fullmatch(month):
        raise ValueError(f"not a month (YYYY-MM): {month!r}")


def _mark_interrupted(session: Session, run_id: int, last_seen: datetime) -> None:
    run = session.get(Run, run_id)
    if run is not None and run.status == "running":
        run.status = "interrupted"
        run.finished_at = last_seen
        run.duration_s = max(0.0, (last_seen - run.started_at).total_seconds())
