"""Run ledger: migrations, runs and writes, the scope lock (live, dead, stale, raced), resume.

Every test runs on SQLite (a file) and on PostgreSQL when ``CPOC_TEST_POSTGRES_URL`` is set
(``scripts/ci-postgres.sh`` starts one; ``.ci/run`` does so in CI, where it is required).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from cpoc_fhir.errors import CpocError
from cpoc_fhir.store import (
    Holder,
    Ledger,
    LockLost,
    RunHandle,
    RunInProgress,
    StoreError,
    WriteRecord,
    open_ledger,
)
from cpoc_fhir.store import ledger as ledger_module
from cpoc_fhir.store import run as run_module
from cpoc_fhir.store.db import alembic_config, parse_url
from cpoc_fhir.store.models import Base

SCOPE = "https://ehr.example/fhir|2025-09"
MONTH = "2025-09"
TABLES = {
    "runs",
    "run_patients",
    "writes",
    "locks",
    "hook_invocations",
    "hook_feedback",
    "client_token_uses",
    "pathway_decisions",
    "review_sessions",
}
# A non-UTC local time: the ledger must store and return the same instant in UTC.
START = datetime(2025, 10, 1, 21, 30, tzinfo=timezone(timedelta(hours=-5)))


class Clock:
    """A settable clock."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


Opener = Callable[..., Ledger]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def opener(url: str, clock: Clock) -> Iterator[Opener]:
    """Opens ledgers on the test database (with the test clock unless told); closes them all."""
    opened: list[Ledger] = []

    def _open(**options: Any) -> Ledger:
        options.setdefault("clock", clock)
        ledger = open_ledger(url, **options)
        opened.append(ledger)
        return ledger

    yield _open
    for ledger in opened:
        ledger.close()


@pytest.fixture
def ledger(opener: Opener) -> Ledger:
    return opener()


def start(ledger: Ledger, scope: str = SCOPE, **settings: Any) -> RunHandle:
    return ledger.start_run("capture", scope, MONTH, settings)


def dead_pid() -> int:
    """The id of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def status_of(ledger: Ledger, run_id: int) -> str:
    return next(run.status for run in ledger.runs(100) if run.id == run_id)


WRITE = WriteRecord("cpoc-1-2025-09-xx204", "create", "created", "ci-1", "1", 201)


# --- migrations ---------------------------------------------------------------------------


def test_open_creates_the_tables_at_head(ledger: Ledger) -> None:
    assert set(inspect(ledger.engine).get_table_names()) >= TABLES
    with ledger.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0004"


def test_second_open_is_a_no_op_upgrade_that_keeps_the_runs(opener: Opener) -> None:
    first = opener()
    start(first).finish({"patients": 0})
    first.close()
    again = opener()
    assert [run.status for run in again.runs()] == ["finished"]
    with again.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1


def test_a_database_at_base_is_upgraded_on_open(opener: Opener) -> None:
    config = alembic_config()
    engine = opener().engine
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert not TABLES & set(inspect(engine).get_table_names())
    assert opener().runs() == []
    assert set(inspect(engine).get_table_names()) >= TABLES


def test_the_migration_matches_the_models(ledger: Ledger) -> None:
    with ledger.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_default_url_is_a_sqlite_file_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with open_ledger() as ledger:
        assert ledger.runs() == []
    assert (tmp_path / "cpoc-ledger.sqlite").is_file()


def test_unusable_urls_are_store_errors(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="unsupported database 'mysql'"):
        open_ledger("mysql://localhost/x")
    with pytest.raises(StoreError, match="cannot open or migrate"):
        open_ledger(f"sqlite:///{tmp_path / 'missing' / 'ledger.sqlite'}")
    port = socket.socket()
    port.bind(("127.0.0.1", 0))  # bound, never listening: the connection is refused
    with pytest.raises(StoreError, match="cannot open or migrate") as caught:
        open_ledger(f"postgresql://u:s3cret@127.0.0.1:{port.getsockname()[1]}/x")
    port.close()
    assert "s3cret" not in str(caught.value)
    assert isinstance(caught.value, CpocError)


def test_postgresql_urls_use_psycopg_3() -> None:
    assert parse_url("postgresql://h/db").drivername == "postgresql+psycopg"
    assert parse_url("postgres://h/db").drivername == "postgresql+psycopg"


# --- runs and writes ----------------------------------------------------------------------


def test_a_run_records_settings_counts_duration_and_writes(ledger: Ledger, clock: Clock) -> None:
    run = start(ledger, client_secret="s", fhir_base="https://u:pw@ehr.example/fhir", batch=50)
    clock.advance(seconds=30)
    run.patient_done("Patient/1", 3, [WRITE, WriteRecord("cpoc-1-x", "unchanged", "unchanged")])
    clock.advance(seconds=60)
    run.patient_failed("Patient/2", "HTTP 500 from the FHIR server")
    run.finish({"patients": 2, "writes": {"created": 1}})

    [info] = ledger.runs()
    assert (info.kind, info.scope, info.month, info.status) == ("capture", SCOPE, MONTH, "finished")
    assert info.started_at == START and info.started_at.tzinfo == UTC
    assert info.finished_at == START + timedelta(seconds=90)
    assert info.duration_s == 90.0
    assert info.counts == {"patients": 2, "writes": {"created": 1}}
    assert info.settings == {
        "batch": 50,
        "client_secret": "[redacted]",
        "fhir_base": "https://u:[redacted]@ehr.example/fhir",
    }
    assert (info.host, info.pid) == (socket.gethostname(), os.getpid())
    writes = ledger.writes(info.id)
    assert [w.record for w in writes] == [WRITE, WriteRecord("cpoc-1-x", "unchanged", "unchanged")]
    assert {(w.patient_ref, w.at) for w in writes} == {("Patient/1", START + timedelta(seconds=30))}
    patients = ledger.patients(info.id)
    assert [(p.patient_ref, p.status, p.lines, p.error) for p in patients] == [
        ("Patient/1", "done", 3, None),
        ("Patient/2", "failed", 0, "HTTP 500 from the FHIR server"),
    ]
    assert start(ledger).resumed_from is None  # a finished run is not resumed


def test_a_failed_patient_keeps_the_writes_it_made(ledger: Ledger) -> None:
    run = start(ledger)
    failed = WriteRecord("cpoc-3-b", "update", "failed", http_status=412, message="version")
    run.patient_failed("Patient/3", "1 write(s) failed", [WRITE, failed])
    assert [w.record.outcome for w in ledger.writes(run.run_id)] == ["created", "failed"]
    run.patient_done("Patient/3", 2, [])  # retried later in the same run
    assert [(p.status, p.error) for p in ledger.patients(run.run_id)] == [("done", None)]


def test_bad_arguments_are_refused(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        ledger.start_run("capture", SCOPE, "2025-13", {})
    run = start(ledger)
    with pytest.raises(ValueError, match="final run status"):
        run.finish(status="running")
    run.finish()
    with pytest.raises(StoreError, match="already finished"):
        run.patient_done("Patient/1", 1, [])


# --- the lock -----------------------------------------------------------------------------


def test_a_second_run_on_a_live_scope_is_refused_naming_the_first(ledger: Ledger) -> None:
    first = start(ledger)
    with pytest.raises(RunInProgress) as caught:
        start(ledger)
    assert caught.value.run_id == first.run_id
    message = str(caught.value)
    assert f"run {first.run_id} " in message
    assert socket.gethostname() in message and "2025-10-02T02:30:00Z" in message
    assert start(ledger, "https://ehr.example/fhir|2025-10").run_id != first.run_id
    first.finish()
    assert start(ledger).resumed_from is None


def test_a_dead_holder_is_taken_over_and_marked_interrupted(opener: Opener) -> None:
    dead = opener(holder=Holder(socket.gethostname(), dead_pid()))
    killed = start(dead)
    killed.patient_done("Patient/1", 1, [WRITE])
    run = start(opener())
    assert run.resumed_from == killed.run_id
    assert status_of(dead, killed.run_id) == "interrupted"
    assert run.done_patients() == {"Patient/1"}
    with pytest.raises(LockLost):  # were it alive after all, it could not go on writing
        killed.patient_done("Patient/2", 1, [WRITE])
    assert [w.patient_ref for w in dead.writes(killed.run_id)] == ["Patient/1"]


def test_another_host_is_live_until_its_heartbeat_is_stale(opener: Opener, clock: Clock) -> None:
    other = opener(holder=Holder("other-host", 4242))
    mine = opener(stale_after=timedelta(minutes=15))
    theirs = start(other)
    clock.advance(minutes=10)
    theirs.heartbeat()
    clock.advance(minutes=14)
    with pytest.raises(RunInProgress, match="on other-host"):
        start(mine)
    clock.advance(minutes=2)
    run = start(mine)
    assert (run.resumed_from, status_of(mine, theirs.run_id)) == (theirs.run_id, "interrupted")
    [old] = [r for r in mine.runs() if r.id == theirs.run_id]
    assert old.finished_at == START + timedelta(minutes=10)  # its last sign of life
    with pytest.raises(LockLost, match="no longer holds the lock"):
        theirs.heartbeat()


def test_two_threads_racing_for_a_scope_exactly_one_wins(opener: Opener) -> None:
    ledgers = [opener(clock=ledger_module.utc_now) for _ in range(4)]
    for round_ in range(3):
        scope = f"{SCOPE}#{round_}"
        barrier = threading.Barrier(len(ledgers))
        results: list[RunHandle | BaseException] = []

        def race(
            ledger: Ledger,
            scope: str = scope,
            barrier: threading.Barrier = barrier,
            results: list[RunHandle | BaseException] = results,
        ) -> None:
            barrier.wait()
            try:
                results.append(start(ledger, scope))
            except BaseException as exc:  # collected, asserted below
                results.append(exc)

        threads = [threading.Thread(target=race, args=(ledger,)) for ledger in ledgers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        winners = [r for r in results if isinstance(r, RunHandle)]
        losers = [r for r in results if not isinstance(r, RunHandle)]
        assert len(winners) == 1, results
        assert all(isinstance(r, RunInProgress) for r in losers), losers
        assert {r.run_id for r in losers if isinstance(r, RunInProgress)} == {winners[0].run_id}


CHILD = """
import sys, time
from cpoc_fhir.store import WriteRecord, open_ledger
run = open_ledger(sys.argv[1]).start_run("capture", sys.argv[2], "2025-09", {})
run.patient_done("Patient/a", 1, [WriteRecord("cpoc-a", "create", "created")])
print(run.run_id, flush=True)
time.sleep(120)
"""


def test_a_killed_process_is_taken_over_and_resumed(opener: Opener, url: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, url, SCOPE], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        killed_run = int(child.stdout.readline())
    finally:
        child.kill()
        child.communicate()
    ledger = opener(clock=ledger_module.utc_now)
    run = start(ledger)
    assert run.resumed_from == killed_run
    assert status_of(ledger, killed_run) == "interrupted"
    assert run.done_patients() == {"Patient/a"}


# --- resume and atomicity -----------------------------------------------------------------


def test_resume_follows_every_unfinished_run(opener: Opener) -> None:
    first = start(opener(holder=Holder(socket.gethostname(), dead_pid())))
    first.patient_done("Patient/1", 1, [WRITE])
    first.patient_failed("Patient/9", "no Patient resource")
    second = start(opener(holder=Holder(socket.gethostname(), dead_pid())))
    second.patient_done("Patient/2", 1, [])
    third = start(opener())
    assert (second.resumed_from, third.resumed_from) == (first.run_id, second.run_id)
    assert third.done_patients() == {"Patient/1", "Patient/2"}  # a failed patient is redone
    third.patient_done("Patient/9", 1, [])
    assert third.done_patients() == {"Patient/1", "Patient/2", "Patient/9"}


def test_a_patients_writes_and_done_mark_commit_together(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = start(ledger)

    def crash(*args: object) -> None:
        raise RuntimeError("killed between the writes and the done mark")

    monkeypatch.setattr(run_module, "_mark_patient", crash)
    with pytest.raises(RuntimeError):
        run.patient_done("Patient/1", 2, [WRITE, WRITE])
    assert ledger.writes(run.run_id) == [] and ledger.patients(run.run_id) == []
    assert run.done_patients() == frozenset()
    monkeypatch.undo()
    run.patient_done("Patient/1", 2, [WRITE])
    assert len(ledger.writes(run.run_id)) == 1 and run.done_patients() == {"Patient/1"}


def test_an_exception_fails_the_run_and_releases_the_lock(ledger: Ledger) -> None:
    with pytest.raises(RuntimeError), start(ledger) as run:
        raise RuntimeError("FHIR server down")
    assert status_of(ledger, run.run_id) == "failed"
    assert start(ledger).resumed_from is None  # not resumed: a failed run starts afresh


def test_ctrl_c_interrupts_the_run_and_the_next_one_resumes(ledger: Ledger) -> None:
    with pytest.raises(KeyboardInterrupt), start(ledger) as run:
        run.patient_done("Patient/1", 1, [WRITE])
        raise KeyboardInterrupt
    assert status_of(ledger, run.run_id) == "interrupted"
    with start(ledger) as again:
        assert again.resumed_from == run.run_id
        assert again.done_patients() == {"Patient/1"}
    assert status_of(ledger, again.run_id) == "finished"


def test_times_are_utc_on_every_backend(ledger: Ledger) -> None:
    run = start(ledger)
    assert run.started_at == START and run.started_at.utcoffset() == timedelta(0)
    run.finish()
    with ledger.engine.connect() as conn:
        if conn.dialect.name == "sqlite":  # stored as UTC wall time
            stored = conn.execute(text("SELECT started_at FROM runs")).scalar()
            assert str(stored).startswith("2025-10-02 02:30:00")
    ledger.clock = lambda: datetime(2025, 10, 1)  # naive: refused
    with pytest.raises(ValueError, match="naive"):
        start(ledger)
