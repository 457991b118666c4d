"""The read side of a ``ServerStore`` for parallel capture (``cpoc capture --workers N``).

Each worker thread gets its own ``ServerStore`` and so its own ``FhirClient``: a
``requests.Session`` is not thread-safe. The token provider is shared by the clients
(``SmartBackendServices`` locks its token cache), so N workers fetch one access token.
Reads only: the run's own store makes every write (capture/parallel.py says why).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from cpoc_fhir.capture.server import ServerStore
from cpoc_fhir.fhir.client import FhirClient
from cpoc_fhir.fhir.read import PatientResources

Resource = dict[str, Any]


class ThreadedReads:
    """The read side of a ``ServerStore`` (``patient_resources``, ``charge_resources``), one
    store and client per thread, each client made by ``make_client`` on the thread's first
    read; ``close`` closes them all."""

    def __init__(self, make_client: Callable[[], FhirClient], system: str) -> None:
        self._make_client = make_client
        self._system = system
        self._local = threading.local()
        self._lock = threading.Lock()
        self._clients: list[FhirClient] = []

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

    @property
    def clients(self) -> int:
        """How many clients (threads that read) were made."""
        with self._lock:
            return len(self._clients)

    def close(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.close()


def _never_changed(_old: Resource, _new: Resource) -> bool:
    raise AssertionError("ThreadedReads never plans writes")
