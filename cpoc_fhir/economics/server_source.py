"""The practice's records and FFS charges read from a FHIR server (``--fhir-base``).

The patients are those the month-end capture run bills — every patient with an EpisodeOfCare
on the server, or the members of ``--group`` — each read with the capture run's own searches
(``capture.server.ServerStore.patient_resources``: ``fhir.record_queries``), plus the FFS
charges and payers the economics need: ``ChargeItem?subject=``, ``Claim?patient=``,
``ExplanationOfBenefit?patient=`` and ``Coverage?beneficiary=``. One patient is read at a time
and handed on; nothing is kept (as the file sources do).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cpoc_fhir.capture.server import PAGE, ServerStore
from cpoc_fhir.fhir.client import FhirClient
from cpoc_fhir.fhir.read import PatientResources, RecordSource, patient_resources
from cpoc_fhir.fhir.read.index import Index
from cpoc_fhir.fhir.read.references import patient_id

Resource = dict[str, Any]
# The economics' searches beside the record's: (type, the parameter naming the patient).
ECONOMICS_QUERIES = (
    ("ChargeItem", "subject"),
    ("Claim", "patient"),
    ("ExplanationOfBenefit", "patient"),
    ("Coverage", "beneficiary"),
)


class ServerSource(RecordSource):
    """Each patient's record, charges and Coverages, read from the server on demand.

    ``queries`` are the searches beside the record's: the economics' by default; a report that
    needs only the record (``report value``, ``report cpc-coordination``) gives none and reads
    what the capture run reads, nothing more."""

    def __init__(
        self,
        client: FhirClient,
        where: str,
        group: str | None = None,
        queries: tuple[tuple[str, str], ...] = ECONOMICS_QUERIES,
    ) -> None:
        super().__init__(where)
        self.client = client
        self.group = group
        self.queries = queries
        self._store = ServerStore(client, "", lambda _a, _b: False, update_create=False)
        self._warnings: list[str] = []

    @property
    def warnings(self) -> list[str]:
        return self._warnings

    @property
    def shared(self) -> dict[str, Resource]:
        return {}

    def patient_count(self, patient_ids: set[str] | None = None) -> int | None:  # type: ignore[override]
        """Unknown: the patients are found while they are read (a bar with no total)."""
        return None

    def patient_ids(self) -> Iterator[str]:
        if self.group is not None:
            yield from self._store.patients_from_group(self.group)
        else:
            yield from self._store.patients_with_episodes()

    def patients(self, patient_ids: set[str] | None = None) -> Iterator[PatientResources]:
        wanted = None if patient_ids is None else {patient_id(p) for p in patient_ids}
        for pid in self.patient_ids():
            if wanted is None or pid in wanted:
                yield self.patient(pid)

    def patient(self, pid: str) -> PatientResources:
        record = self._store.patient_resources(pid)
        if not self.queries:
            return record
        resources = list(record.resources)
        ref = f"Patient/{pid}"
        for resource_type, parameter in self.queries:
            query = {parameter: ref, "_count": PAGE}
            resources.extend(self.client.search(resource_type, query))
        out = patient_resources(resources, ref)
        out.shared = {**record.shared, **out.shared}
        out.warnings[:0] = record.warnings
        return out

    def _scan(self, index: Index) -> None:  # read on demand, never indexed
        return None


def open_records(
    args: Any, queries: tuple[tuple[str, str], ...] = ECONOMICS_QUERIES
) -> RecordSource:
    """``args.input`` (a file source) or, with ``args.fhir_base``, the server with the capture
    run's authorisation (``capture.connect.fhir_client``: ``--smart-*`` or CPOC_FHIR_TOKEN) and
    ``queries`` beside the record's, its patients counted by a progress bar
    (``fhir.read.counted``; ``--no-progress``)."""
    from cpoc_fhir.fhir.read.counted import counted

    if getattr(args, "fhir_base", None) is None:
        from cpoc_fhir.fhir.read import open_source

        return counted(open_source(args.input), args)
    from cpoc_fhir.capture.connect import fhir_client

    group = getattr(args, "group", None)
    return counted(ServerSource(fhir_client(args), args.fhir_base, group, queries), args)
