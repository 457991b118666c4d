"""The read side of a ``ServerStore`` for parallel capture (``cpoc capture --workers N``).

Each worker thread gets its own ``ServerStore`` and so its own ``FhirClient``: a
``requests.Session`` is not thread-safe. The token provider is shared by the clients
(``SmartBackendServices`` locks its token cache), so N workers fetch one access token.
Reads only: the run's own store makes every write (capture/parallel.py says why); the sweeps'
reads of a group of patients (``sweep_items_many``) run at once on a pool of their own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cpoc_fhir.capture.server import ServerStore
from cpoc_fhir.errors import CpocError
from cpoc_fhir.fhir.client import FhirClient
from cpoc_fhir.fhir.read import PatientResources

Resource = dict[str, Any]


class ThreadedReads:
    """The read side of a ``ServerStore`` (``patient_resources``, ``charge_resources``), one
    store and client per thread, each client made by ``make_client`` on the thread's first
    read; ``close`` closes them all."""

    def __init__(
        self, make_client: Callable[[], FhirClient], system: str, workers: int = 4
    ) -> None:
        self._make_client = make_client
        self._system = system
        self._workers = workers
        self._local = threading.local()
        self._lock = threading.Lock()
        self._clients: list[FhirClient] = []
        self._pool: ThreadPoolExecutor | None = None  # the sweeps' reads (sweep_items_many)

    def _store(self) -> ServerStore:
        store = getattr(self._local, "store", None)
        if store is None:
            client = self._make_client()
            with self._lock:
                self._clients.append(client)
            # Reads only: no writes, so neither the write mode nor the sweep matters here.
            store = ServerStore(client, self._system, _never_changed, update_create=False)
            self._local.store = store
        return store

    def patient_resources(self, patient_id: str) -> PatientResources:
        return self._store().patient_resources(patient_id)

    def charge_resources(self, patient_id: str) -> list[Resource]:
        return self._store().charge_resources(patient_id)

    def sweep_items_many(self, patient_ids: list[str]) -> list[list[Resource] | CpocError]:
        """``ServerStore.sweep_items`` of each patient, at most ``workers`` at once (on threads
        of their own, kept for the run), in the order asked; a failed read is its error."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="cpoc-sweep")
        futures = [self._pool.submit(self._sweep_items, p) for p in patient_ids]
        out: list[list[Resource] | CpocError] = []
        for future in futures:
            try:
                out.append(future.result())
            except CpocError as exc:
                out.append(exc)
        return out

    def _sweep_items(self, patient_id: str) -> list[Resource]:
        return self._store().sweep_items(patient_id)

    @property
    def clients(self) -> int:
        """How many clients (threads that read) were made."""
        with self._lock:
            return len(self._clients)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.close()


def _never_changed(_old: Resource, _new: Resource) -> bool:
    raise AssertionError("ThreadedReads never plans writes")
