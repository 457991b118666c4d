"""``cpoc capture --fhir-base URL --bulk``: records from a Bulk Data export, writes to the server.

The patients' records come from the exported NDJSON folder (``fhir/bulk``; paged searches
into the same folder where the server has no ``$export``), read one patient at a time as the
offline capture reads them; the practice's ChargeItems and Claims are still read from the
server per patient, just before its plan, and every write is the server path's exactly-once
writer (``ServerStore``): an export is a snapshot, the ChargeItems must be current.

Which patients: ``--patient`` ids, else the Group's current members (``--group``), else every
exported patient with an EpisodeOfCare that is not entered-in-error — the same choice as the
paged path (``ServerStore.patients_with_episodes``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from cpoc_fhir.capture.server import ServerStore
from cpoc_fhir.fhir.client import FhirClient
from cpoc_fhir.fhir.read import PatientResources, RecordSource

Resource = dict[str, Any]


class BulkServerStore(ServerStore):
    def __init__(
        self,
        client: FhirClient,
        system: str,
        changed: Callable[[Resource, Resource], bool],
        source: RecordSource,
        members: list[str] | None = None,
    ) -> None:
        super().__init__(client, system, changed)
        self.source = source
        self.members = members
        self._current: dict[str, PatientResources] = {}

    def patient_ids(self, wanted: set[str] | None = None) -> Iterator[str]:
        """The patients to bill, lazily (each one's resources are held while it is billed)."""
        chosen = wanted if wanted is not None else self.members
        for resources in self.source.patients(set(chosen) if chosen is not None else None):
            if chosen is None and not has_live_episode(resources):
                continue
            patient_id = resources.patient_ref.split("/", 1)[1]
            self._current = {patient_id: resources}
            yield patient_id

    def patient_resources(self, patient_id: str) -> PatientResources:
        current = self._current.get(patient_id)
        if current is not None:
            return current
        found = list(self.source.patients({patient_id}))
        if found:
            return found[0]
        return PatientResources(patient_ref=f"Patient/{patient_id}", resources=[])


def has_live_episode(resources: PatientResources) -> bool:
    return any(e.get("status") != "entered-in-error" for e in resources.of_type("EpisodeOfCare"))
