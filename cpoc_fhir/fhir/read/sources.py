"""Where records come from: a Bundle file, a folder of JSON files, Bulk NDJSON, or memory.

Like cumulus-etl's loaders, each source is one ``RecordSource`` implementation; all of them
yield ``PatientResources`` one patient at a time. ``open_source`` picks the right one.
A source that cannot be used at all raises ``InputError``; a bad file or line inside a
folder or NDJSON becomes an entry in ``source.warnings`` and the rest is read.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cpoc_fhir.errors import InputError
from cpoc_fhir.fhir.read import fast_json
from cpoc_fhir.fhir.read.bundles import flatten
from cpoc_fhir.fhir.read.index import Index, decode_reason
from cpoc_fhir.fhir.read.ndjson import scan_ndjson
from cpoc_fhir.fhir.read.partition import PartitionedNdjsonSource
from cpoc_fhir.fhir.read.record_source import RecordSource, unreadable
from cpoc_fhir.fhir.read.references import patient_id
from cpoc_fhir.fhir.read.resources import PatientResources

Resource = dict[str, Any]

# NDJSON larger than this is read partitioned by patient unless CPOC_NDJSON_PARTITION_MB says
# otherwise: the whole-export index keeps a position for every line and grows with the export
# (1.6 GB of RSS at 100 000 patients, 3.7 M lines, 1.2 GB of NDJSON), where partitions hold one
# at a time (171 MB) and read as fast or faster (scripts/bench_scale.py; docs/scale.md).
AUTO_PARTITION_ABOVE = 1 << 30
AUTO_PARTITION_BYTES = 64 << 20


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


def open_source(path: Path, partition_bytes: int | None = None) -> RecordSource:
    """The source for a Bundle/resource ``.json`` file, an ``.ndjson`` file or a folder,
    already indexed: an input that cannot be used raises ``InputError`` here.

    ``partition_bytes`` (else ``CPOC_NDJSON_PARTITION_MB`` from the environment): NDJSON alone
    (a file, or a folder without ``.json`` files) is read partitioned by patient on disk, with
    memory bounded by one partition of about this size (fhir/read/partition.py). Neither
    given, NDJSON of more than ``AUTO_PARTITION_ABOVE`` bytes is read in partitions of
    ``AUTO_PARTITION_BYTES``; ``CPOC_NDJSON_PARTITION_MB=off`` reads any export whole.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(str(path), "no such file or folder")
    if partition_bytes is None:
        setting = _partition_bytes_from_environment()
        partition_bytes = _automatic(path) if isinstance(setting, str) else setting
    source: RecordSource
    if partition_bytes is not None and _ndjson_only(path):
        source = PartitionedNdjsonSource(path, partition_bytes)
    elif path.is_dir():
        source = FolderSource(path)
    elif path.suffix == ".ndjson":
        source = NdjsonSource(path)
    else:
        source = BundleSource(path)
    source.scan()
    return source


def _partition_bytes_from_environment() -> int | str | None:
    """Bytes a partition; None for "off" (the whole-export index); "auto" when unset."""
    text = os.environ.get("CPOC_NDJSON_PARTITION_MB", "").strip()
    if not text or text.lower() == "auto":
        return "auto"
    if text.lower() == "off":
        return None
    try:
        megabytes = float(text)
    except ValueError:
        megabytes = 0
    if not 0 < megabytes < 1 << 30:
        raise InputError(
            "CPOC_NDJSON_PARTITION_MB", 'expected a positive number of megabytes, "auto" or "off"'
        )
    return max(1, int(megabytes * (1 << 20)))


def _automatic(path: Path) -> int | None:
    """Partitions of ``AUTO_PARTITION_BYTES`` for NDJSON above ``AUTO_PARTITION_ABOVE`` (only
    an NDJSON-only input is partitioned at all: ``open_source`` checks that)."""
    files = [path] if not path.is_dir() else [p for p in path.iterdir() if p.suffix == ".ndjson"]
    size = sum(p.stat().st_size for p in files if p.is_file())
    return AUTO_PARTITION_BYTES if size > AUTO_PARTITION_ABOVE else None


def _ndjson_only(path: Path) -> bool:
    if not path.is_dir():
        return path.suffix == ".ndjson"
    return not any(p.suffix == ".json" for p in path.iterdir())


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
        raise InputError(str(path), unreadable(exc)) from exc
    try:
        return fast_json.loads(raw)
    except ValueError as exc:
        raise InputError(str(path), f"not JSON ({decode_reason(exc)})") from exc


def _check_readable(path: Path) -> None:
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise InputError(str(path), unreadable(exc)) from exc


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
        index.warnings.append(f"{path.name}: {unreadable(exc)}")


_unreadable = unreadable  # the name before RecordSource moved to record_source.py
