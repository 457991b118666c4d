"""Parallel capture (``cpoc capture --workers N``, issue 16 item 3): patients prepared ahead.

The per-patient reads (the record's searches and the patient's ChargeItems), and the pure work
on them (facts, evaluation, ``plan``), run on N threads. The capture run stays the single
writer: it takes the prepared patients *in patient order*, in groups of up to N, sends the
group's creates in one Bundle (``ServerStore.apply_many``: a transaction where the server
takes them, else a batch), then each patient's updates and sweep as before, and the ledger's
group commit records each patient's writes and its completion together, after they were
answered. Nothing of the exactly-once design (docs/exactly-once.md) changes: a create is a
PUT by deterministic id or a conditional create, an update carries If-Match on the version
read — so reading a few patients ahead of their writes is safe (an item changed in between is
a 412 and is re-read), and a Bundle sent again after a lost answer repeats nothing.

``prefetch`` keeps at most ``workers`` reads in flight and at most ``ahead`` (default
``AHEAD_PER_WORKER`` × workers) patients submitted and not yet taken, so memory stays bounded
on a large practice. The reads of a FHIR server go through
``capture.threaded_reads.ThreadedReads`` (a client per thread).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# More workers than this only queue at the server: sekmet on SQLite is saturated at about 8
# (docs/notes/pcap.md), and an EHR's FHIR API usually limits a client's concurrent requests.
MAX_WORKERS = 32
# The run takes a group of ``workers`` patients, then writes it while the workers read on: with
# 2 × workers submitted, they had only the next group to read and then sat idle until the
# group's Bundle, sweeps and ledger were done (profiled at 8 workers: busy 83 % of the run);
# 4 × leaves them three groups to read while the run writes one.
AHEAD_PER_WORKER = 4


class Prefetched(Generic[T, R]):
    """One item, in input order, with its read's result or exception (``result``), or none
    when it was skipped (``skipped``)."""

    __slots__ = ("_future", "_read", "item", "skipped")

    def __init__(
        self, item: T, future: Future[R] | None, read: Callable[[T], R] | None = None
    ) -> None:
        self.item = item
        self.skipped = future is None and read is None
        self._future = future
        self._read = read  # one worker: read here, when asked (today's sequential run)

    def result(self) -> R:
        """The read's result; re-raises the read's exception (in the caller's thread)."""
        if self._read is not None:
            return self._read(self.item)
        assert self._future is not None, "a skipped item has no result"
        return self._future.result()


def prefetch(
    items: Iterable[T],
    read: Callable[[T], R],
    workers: int,
    skip: Callable[[T], bool] = lambda item: False,
    ahead: int | None = None,
) -> Iterator[Prefetched[T, R]]:
    """``read(item)`` for each item not skipped, on ``workers`` threads, yielded in input order
    (one worker: no thread, each item read only when its ``result`` is asked for).

    ``items`` is consumed lazily (it may be a paged search); at most ``ahead`` (default
    ``AHEAD_PER_WORKER`` × workers) items are submitted and not yet yielded. Leaving the loop
    early (an exception in the caller) cancels the reads not started and does not wait for the
    running ones."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    if workers == 1:
        # No thread and no read ahead: each item is read when the caller asks for it.
        for item in items:
            yield Prefetched(item, None, None if skip(item) else read)
        return
    window = max(workers, ahead if ahead is not None else AHEAD_PER_WORKER * workers)
    pool = ThreadPoolExecutor(workers, thread_name_prefix="cpoc-read")
    pending: deque[Prefetched[T, R]] = deque()
    source = iter(items)
    exhausted = False
    try:
        while True:
            while not exhausted and len(pending) < window:
                try:
                    item = next(source)
                except StopIteration:
                    exhausted = True
                    break
                future = None if skip(item) else pool.submit(read, item)
                pending.append(Prefetched(item, future))
            if not pending:
                return
            yield pending.popleft()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
