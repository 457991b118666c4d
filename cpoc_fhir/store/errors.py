"""The run ledger's exceptions (all ``CpocError``, so the CLI reports them as one line)."""

from __future__ import annotations

from datetime import datetime

from cpoc_fhir.errors import CpocError


class StoreError(CpocError):
    """The ledger database cannot be opened, migrated or written."""


class RunInProgress(StoreError):
    """Another live run holds the scope's lock: names that run, its host and start time."""

    def __init__(
        self, scope: str, run_id: int, host: str, pid: int, started: datetime, heartbeat: datetime
    ) -> None:
        super().__init__(
            f"run {run_id} for {scope} is in progress on {host} (pid {pid}) since "
            f"{_iso(started)}, last heartbeat {_iso(heartbeat)}"
        )
        self.scope = scope
        self.run_id = run_id
        self.host = host
        self.pid = pid
        self.started_at = started
        self.heartbeat_at = heartbeat


class LockLost(StoreError):
    """This run's lock was taken over (its heartbeat went stale): it must stop writing."""

    def __init__(self, scope: str, run_id: int) -> None:
        super().__init__(
            f"run {run_id} no longer holds the lock on {scope} (taken over after a stale "
            "heartbeat); stopping so that two runs never write the same scope"
        )
        self.scope = scope
        self.run_id = run_id


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
