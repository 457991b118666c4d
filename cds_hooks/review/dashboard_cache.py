"""The dashboard's server read, kept per SMART session for a minute (issue 17 item 4).

The dashboard and its rows pages read every ChargeItem, Coverage and the Claims of the
CPOC patients (reports/revenue_reads.py) — a search of the whole server per page. A reviewer
clicking from a number to its rows and back would repeat it each time; so one read serves a
session for ``TTL_S`` seconds, at most ``SESSIONS`` sessions kept (least recently used out),
with the patients' names looked up so far. The page says when its figures were read
("Figures as of HH:MM · Refresh"; ``?refresh=1`` reads again). Any POST to the review app (an
approve, a hold, a correction …) drops every session's read: the figures changed, and another
reviewer's page must not keep showing the old ones for a minute.

Keyed by the session's store key (``ReviewSession.session_id``): a read made with one
session's token is never shown to another session.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app, request
from werkzeug.wrappers import Response

from cpoc_fhir.reports.revenue_reads import ServerReads

TTL_S = 60.0
SESSIONS = 32
EXTENSION = "cpoc_dashboard_reads"  # app.extensions key of the app's ReadCache


@dataclass
class CachedRead:
    """One session's read: what the server gave, when, and the names found since."""

    reads: ServerReads
    read_at: datetime  # the practice's clock (runtime.now): shown on the page
    fetched: float  # the cache's clock (monotonic): for the age
    names: dict[str, str] = field(default_factory=dict)  # "Patient/x" → name
    asked: set[str] = field(default_factory=set)  # refs looked up (named or not)

    def names_for(
        self, refs: Iterable[str], lookup: Callable[[set[str]], dict[str, str]]
    ) -> dict[str, str]:
        """The names of ``refs``, looking up only those not asked before."""
        wanted = set(refs)
        missing = wanted - self.asked
        if missing:
            self.names.update(lookup(missing))
            self.asked |= missing
        return {r: self.names[r] for r in wanted if r in self.names}


class ReadCache:
    """Session key → ``CachedRead``, ``ttl`` seconds, ``size`` sessions (LRU). Thread-safe:
    the app serves requests on threads."""

    def __init__(
        self, ttl: float = TTL_S, size: int = SESSIONS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.size = size
        self.clock = clock
        self._entries: OrderedDict[str, CachedRead] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self,
        key: str,
        read: Callable[[], ServerReads],
        now: Callable[[], datetime],
        refresh: bool = False,
    ) -> CachedRead:
        """The session's read when younger than ``ttl`` (and not ``refresh``), else a new one."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and not refresh and self.clock() - entry.fetched < self.ttl:
                self._entries.move_to_end(key)
                return entry
        # read outside the lock: one session's slow server must not hold up the others
        fresh = CachedRead(read(), now(), self.clock())
        with self._lock:
            self._entries[key] = fresh
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return fresh

    def drop(self) -> None:
        """Forget every session's read."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def read_cache() -> ReadCache:
    """The app's cache (made at its first use; a test may put its own there first)."""
    cache: ReadCache = current_app.extensions.setdefault(EXTENSION, ReadCache())
    return cache


def drop_after_post(response: Response) -> Response:
    """``after_request`` of the review blueprint: a POST may have changed the figures."""
    if request.method == "POST":
        cache = current_app.extensions.get(EXTENSION)
        if cache is not None:
            cache.drop()
    return response
