"""``RecordSource``: resources grouped per patient, whatever they are read from (sources.py,
partition.py)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

from cpoc_fhir.fhir.read.index import Index
from cpoc_fhir.fhir.read.references import patient_id
from cpoc_fhir.fhir.read.resources import PatientResources

Resource = dict[str, Any]


class RecordSource(ABC):
    """Resources grouped per patient. ``warnings``: problems tied to no patient (complete
    once ``patients()`` has been iterated)."""

    def __init__(self, where: str) -> None:
        self.where = where
        self._index: Index | None = None

    @property
    def warnings(self) -> list[str]:
        return self._scanned().warnings

    @property
    def shared(self) -> dict[str, Resource]:
        """Resources tied to no patient (Medication, Practitioner, Organization …)."""
        return self._scanned().shared

    def patients(self, patient_ids: set[str] | None = None) -> Iterator[PatientResources]:
        """Each patient's resources, in the order patients were first met.

        ``patient_ids`` ("x" or "Patient/x") limits the output to those patients.
        """
        wanted = None if patient_ids is None else {f"Patient/{patient_id(p)}" for p in patient_ids}
        return self._scanned().patients(wanted)

    def patient_count(self, patient_ids: set[str] | None = None) -> int:
        """How many patients ``patients(patient_ids)`` yields (a progress bar's total); the
        source is indexed if it was not yet."""
        groups = self._scanned().groups
        if patient_ids is None:
            return len(groups)
        return len({f"Patient/{patient_id(p)}" for p in patient_ids} & groups.keys())

    def scan(self) -> None:
        """Index the source now (else at the first use); raises ``InputError``."""
        self._scanned()

    def _scanned(self) -> Index:
        if self._index is None:
            self._index = Index()
            self._scan(self._index)
        return self._index

    @abstractmethod
    def _scan(self, index: Index) -> None:
        """Fill ``index`` with every resource (or NDJSON line position) of the source."""


def unreadable(exc: OSError) -> str:
    return f"cannot be read ({exc.strerror or type(exc).__name__})"
