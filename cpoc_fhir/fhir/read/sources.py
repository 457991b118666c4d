"""Where records come from: a Bundle file, a folder of JSON files, Bulk NDJSON, or memory.

Like cumulus-etl's loaders, each source is one ``RecordSource`` implementation; all of them
yield ``PatientResources`` one patient at a time. ``open_source`` picks the right one.
A source that cannot be used at all raises ``InputError``; a bad file or line inside a
folder or NDJSON becomes an entry in ``source.warnings`` and the rest is read.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from cpoc_fhir.errors import InputError
from cpoc_fhir.fhir.read.bundles import flatten
from cpoc_fhir.fhir.read.index import Index, decode_reason
from cpoc_fhir.fhir.read.ndjson import scan_ndjson
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


class BundleSource(RecordSource):
    """One JSON file holding a Bundle (any type) or a single resource."""

    def __init__(self, path: Path) -> None:
        super().__init__(str(path))
        self.path = path

    def _scan(self, index: Index) -> None:
        data = _read_json(self.path)
        if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
            raise InputError(self.where, "not a FHIR resource or Bundle (no resourceType)")
        _add_json(data, self.path.name, index)


class FolderSource(RecordSource):
    """A folder of ``*.json`` files (each a resource or a Bundle) and/or ``*.ndjson`` files
    (a Bulk FHIR export). Other files (``_package.json.txt``, manifests…) are skipped."""

    def __init__(self, path: Path) -> None:
        super().__init__(str(path))
        self.path = path

    def _scan(self, index: Index) -> None:
        files = sorted(p for p in self.path.iterdir() if p.suffix in (".json", ".ndjson"))
        if not any(p.is_file() for p in files):
            raise InputError(self.where, "no .json or .ndjson files in this folder")
        for path in files:
            if not path.is_file():
                continue
            if path.suffix == ".ndjson":
                _scan_ndjson_file(path, index)
                continue
            try:
                data = _read_json(path)
            except InputError as exc:
                index.warnings.append(f"{path.name}: {exc.problem}; file skipped")
                continue
            if isinstance(data, dict) and isinstance(data.get("resourceType"), str):
                _add_json(data, path.name, index)
            else:
                index.warnings.append(f"{path.name}: not a FHIR resource or Bundle; file skipped")


class NdjsonSource(RecordSource):
    """A single NDJSON file, or a folder of ``*.ndjson`` files, one resource a line."""

    def __init__(self, path: Path) -> None:
        super().__init__(str(path))
        self.path = path

    def _scan(self, index: Index) -> None:
        if not self.path.is_dir():
            _check_readable(self.path)
            _scan_ndjson_file(self.path, index)
            return
        paths = sorted(self.path.glob("*.ndjson"))
        if not paths:
            raise InputError(self.where, "no .ndjson files in this folder")
        for path in paths:
            _scan_ndjson_file(path, index)


class ResourceListSource(RecordSource):
    """Resources already in memory (CDS Hooks prefetch, draft orders): dicts or Bundles."""

    def __init__(self, resources: Iterable[Resource], where: str = "resources") -> None:
        super().__init__(where)
        self._resources = list(resources)

    def _scan(self, index: Index) -> None:
        for number, resource in enumerate(self._resources, start=1):
            where = f"{self.where}[{number}]"
            if isinstance(resource, dict) and isinstance(resource.get("resourceType"), str):
                _add_json(resource, where, index)
            else:
                index.warnings.append(f"{where}: not a FHIR resource; skipped")


def open_source(path: Path) -> RecordSource:
    """The source for a Bundle/resource ``.json`` file, an ``.ndjson`` file or a folder,
    already indexed: an input that cannot be used raises ``InputError`` here."""
    path = Path(path)
    if not path.exists():
        raise InputError(str(path), "no such file or folder")
    source: RecordSource
    if path.is_dir():
        source = FolderSource(path)
    elif path.suffix == ".ndjson":
        source = NdjsonSource(path)
    else:
        source = BundleSource(path)
    source.scan()
    return source


def patient_resources(
    resources: Iterable[Resource], patient_ref: str | None = None
) -> PatientResources:
    """One patient's ``PatientResources`` from in-memory resources and Bundles.

    ``patient_ref`` ("Patient/x" or "x") names the patient; without it the resources must
    concern exactly one patient. Resources about another patient are left out, with a warning.
    """
    source = ResourceListSource(resources)
    groups = {group.patient_ref: group for group in source.patients()}
    if patient_ref is not None:
        key = f"Patient/{patient_id(patient_ref)}"
    elif len(groups) == 1:
        key = next(iter(groups))
    else:
        raise InputError(source.where, f"expected one patient's resources, found {len(groups)}")
    chosen = groups.pop(key, None) or PatientResources(
        patient_ref=key, resources=[], shared=source.shared
    )
    chosen.warnings[:0] = source.warnings
    if groups:
        chosen.warnings.append(f"resources of {len(groups)} other patient(s) were left out")
    return chosen


def _read_json(path: Path) -> Any:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(str(path), _unreadable(exc)) from exc
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise InputError(str(path), f"not JSON ({decode_reason(exc)})") from exc


def _check_readable(path: Path) -> None:
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise InputError(str(path), _unreadable(exc)) from exc


def _add_json(data: Resource, where: str, index: Index) -> None:
    if data["resourceType"] == "Bundle":
        for resource in flatten(data, index.aliases, index.warnings, where):
            index.add(resource, where)
    else:
        index.add(data, where)


def _scan_ndjson_file(path: Path, index: Index) -> None:
    try:
        scan_ndjson(path, path.name, index)
    except OSError as exc:
        index.warnings.append(f"{path.name}: {_unreadable(exc)}")


def _unreadable(exc: OSError) -> str:
    return f"cannot be read ({exc.strerror or type(exc).__name__})"
