"""The run ledger: each run (settings, counts, duration), each write's outcome, scope locks.

SQLite file by default, PostgreSQL by URL; Alembic migrations run on open::

    with open_ledger(url) as ledger, ledger.start_run("capture", scope, "2025-09", settings) as run:
        skip = run.done_patients()          # patients an interrupted earlier run finished
        ...
        run.patient_done("Patient/1", lines=3, writes=[WriteRecord(...), ...])
        run.finish(counts)                  # releases the lock; an exception marks the run failed
"""

from cpoc_fhir.store.db import DEFAULT_URL
from cpoc_fhir.store.errors import LockLost, RunInProgress, StoreError
from cpoc_fhir.store.ledger import (
    DEFAULT_STALE_AFTER,
    Ledger,
    open_ledger,
    pid_alive,
    utc_now,
)
from cpoc_fhir.store.records import (
    Holder,
    PatientEntry,
    RunInfo,
    WriteEntry,
    WriteLike,
    WriteRecord,
)
from cpoc_fhir.store.run import RunHandle

__all__ = [
    "DEFAULT_STALE_AFTER",
    "DEFAULT_URL",
    "Holder",
    "Ledger",
    "LockLost",
    "PatientEntry",
    "RunHandle",
    "RunInProgress",
    "RunInfo",
    "StoreError",
    "WriteEntry",
    "WriteLike",
    "WriteRecord",
    "open_ledger",
    "pid_alive",
    "utc_now",
]
