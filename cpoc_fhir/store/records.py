"""What goes into and comes out of the ledger: plain frozen values, JSON-safe settings."""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from cpoc_fhir.store.models import Run, RunPatient, Write

# Setting names whose values never reach the ledger (SMART client secrets, keys, tokens…).
_SECRET_NAME = re.compile(
    r"token|secret|passw|private|credential|authori[sz]ation|api.?key|assertion|cookie", re.I
)
# user:password@ inside a URL-like string.
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://[^/\s:@]*):[^@/\s]*@", re.I)
REDACTED = "[redacted]"


class WriteLike(Protocol):
    """One ChargeItem write as the capture run reports it (``WriteRecord`` or alike)."""

    @property
    def identifier(self) -> str: ...
    @property
    def action(self) -> str: ...  # create | update | enter-in-error | unchanged
    @property
    def outcome(self) -> str: ...  # created | updated | unchanged | failed | skipped-dry-run…
    @property
    def chargeitem_id(self) -> str | None: ...
    @property
    def version_id(self) -> str | None: ...
    @property
    def http_status(self) -> int | None: ...
    @property
    def message(self) -> str | None: ...


@dataclass(frozen=True)
class WriteRecord:
    """A write to record: the ChargeItem identifier value, what was done, what came of it."""

    identifier: str
    action: str
    outcome: str
    chargeitem_id: str | None = None
    version_id: str | None = None
    http_status: int | None = None
    message: str | None = None


@dataclass(frozen=True)
class Holder:
    """Who holds a lock: this host and process unless told otherwise (tests)."""

    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)


@dataclass(frozen=True)
class RunInfo:
    """A run as recorded."""

    id: int
    kind: str
    scope: str
    month: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    duration_s: float | None
    settings: dict[str, Any]
    counts: dict[str, Any] | None
    host: str
    pid: int
    resumed_from: int | None

    @classmethod
    def of(cls, row: Run) -> RunInfo:
        return cls(
            row.id,
            row.kind,
            row.scope,
            row.month,
            row.status,
            row.started_at,
            row.finished_at,
            row.duration_s,
            row.settings,
            row.counts,
            row.host,
            row.pid,
            row.resumed_from,
        )


@dataclass(frozen=True)
class WriteEntry:
    """A write as recorded (``WriteRecord`` plus run, patient and time)."""

    run_id: int
    patient_ref: str
    record: WriteRecord
    at: datetime

    @classmethod
    def of(cls, row: Write) -> WriteEntry:
        record = WriteRecord(
            row.identifier,
            row.action,
            row.outcome,
            row.chargeitem_id,
            row.version_id,
            row.http_status,
            row.message,
        )
        return cls(row.run_id, row.patient_ref, record, row.at)


@dataclass(frozen=True)
class PatientEntry:
    """A patient's completion in a run: ``done`` with its line count, or ``failed`` and why."""

    run_id: int
    patient_ref: str
    status: str
    lines: int
    error: str | None
    finished_at: datetime

    @classmethod
    def of(cls, row: RunPatient) -> PatientEntry:
        return cls(row.run_id, row.patient_ref, row.status, row.lines, row.error, row.finished_at)


def public_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Settings as JSON, with secret-named values and URL passwords redacted."""
    return json_safe(_redact(settings))


def json_safe(value: Any) -> Any:
    """``value`` as plain JSON types (dates, paths, decimals… become strings)."""
    return json.loads(json.dumps(value, default=str, sort_keys=True))


def _redact(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            str(k): REDACTED if _SECRET_NAME.search(str(k)) else _redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact(v) for v in value]
    if isinstance(value, str):
        return _URL_PASSWORD.sub(rf"\g<scheme>:{REDACTED}@", value)
    return value
