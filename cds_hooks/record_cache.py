"""A small per-process memory of order-hook work on one exact record (issue 16 item 4).

An order-select and the order-sign that follows it (one hookInstance chain, or a clinician
re-selecting) send the same prefetch and the same drafts: the reader and the engine would
compute the same record and the same timelines again. This cache keeps, per *exact input*,
the ``PatientRecord`` read with the drafts and the engine's raw timelines (with every draft,
and without the selected ones), so a repeat costs a digest instead of a read and two
evaluations (value-and-models §15: the evaluation itself is unchanged, only not repeated).

Key: SHA-256 of the patient reference and the resources as received (prefetch and what was
fetched, then the drafts), serialised by orjson in their received order. So:
- never across patients or record versions: any changed byte (a new Observation, an edited
  draft, another patient) is another key; a different key order is a miss, never a wrong hit;
- the timelines are further keyed by the evaluation day (``horizon``) and the selected drafts,
  so a new day re-evaluates;
- bounded: ``size`` records (least recently used dropped), each with at most
  ``_TIMELINES`` timelines; per process (each gunicorn worker its own), nothing on disk;
- one cache per app (``Runtime``): a settings change means a new app, hence an empty cache.
``CPOC_CDS_RECORD_CACHE=off`` disables it. Input orjson cannot serialise (an integer past
64 bits) is simply not cached.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

from cpoc_fhir.engine.facts import PatientRecord
from cpoc_fhir.engine.lines import PatientTimeline

try:  # orjson is a dependency (pyproject); a stale environment falls back to json
    import orjson

    def _dumps(value: Any) -> bytes:
        return orjson.dumps(value)

except ImportError:  # pragma: no cover - exercised only without orjson
    import json

    def _dumps(value: Any) -> bytes:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


_TIMELINES = 8
DEFAULT_SIZE = 16


def record_key(patient_ref: str, resources: Iterable[dict[str, Any]]) -> bytes | None:
    """The digest of one patient's input, or None when it cannot be serialised."""
    try:  # one JSON array [ref, resource…]: unambiguous, one C call
        text = _dumps([patient_ref, *resources])
    except (TypeError, ValueError):  # orjson.JSONEncodeError is a TypeError
        return None
    return hashlib.sha256(text).digest()


@dataclass
class _Entry:
    record: PatientRecord
    timelines: OrderedDict[Hashable, PatientTimeline] = field(default_factory=OrderedDict)


class RecordCache:
    """Bounded LRU of records and their raw timelines; thread-safe (a lock per operation)."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = size
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def record(self, key: bytes | None, read: Callable[[], PatientRecord]) -> PatientRecord:
        """The record for ``key``, read (and kept) on a miss."""
        if key is None or self.size < 1:
            return read()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return entry.record
        record = read()  # outside the lock: another thread may read the same; both agree
        with self._lock:
            self.misses += 1
            self._entries.setdefault(key, _Entry(record))
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return record

    def timeline(
        self, key: bytes | None, which: Hashable, evaluate: Callable[[], PatientTimeline]
    ) -> PatientTimeline:
        """The timeline ``which`` (horizon, drafts left out) of the record at ``key``."""
        entry = None
        if key is not None:
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None and (found := entry.timelines.get(which)) is not None:
                    entry.timelines.move_to_end(which)
                    return found
        timeline = evaluate()
        if entry is not None:
            with self._lock:
                entry.timelines[which] = timeline
                while len(entry.timelines) > _TIMELINES:
                    entry.timelines.popitem(last=False)
        return timeline
