"""Bulk NDJSON read with memory bounded by one partition: an external hash-partition by patient.

A Bulk export writes one file per resource type (https://hl7.org/fhir/uv/bulkdata/export.html),
so one patient's resources lie in every file. ``NdjsonSource`` keeps a position per line (little,
but still growing with the export). ``PartitionedNdjsonSource`` instead makes one streaming pass
over the files and appends each line, tagged with its patient and origin, to one of K temporary
NDJSON files chosen by a hash of the patient ("Patient/x"); then it reads one partition at a time,
groups its lines by patient and yields them. What is held at once: the shared resources
(Medication, Practitioner …, as every source holds them) and one partition, about 1/K of the
export. Lines whose patient is not found by the byte search (``ndjson._fast_patient``: Patient,
Bundles, contained resources) are parsed in the first pass and written back as compact JSON.

Patients come partition by partition (first-met order inside each), not in the first-met order
of the whole export; the records themselves, the warnings and the lines are the same as
``NdjsonSource``'s. Warnings name the original file and line.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import weakref
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from cpoc_fhir.errors import InputError
from cpoc_fhir.fhir.read import fast_json
from cpoc_fhir.fhir.read.index import Index, decode_reason
from cpoc_fhir.fhir.read.ndjson import _fast_patient, _parse_line
from cpoc_fhir.fhir.read.record_source import RecordSource, unreadable
from cpoc_fhir.fhir.read.references import patient_id, patient_key, resource_key
from cpoc_fhir.fhir.read.resources import PatientResources, dedupe

MAX_PARTITIONS = 256  # open files during the first pass
_TAB = b"\t"
# (file number, line number, parsed in the first pass, the JSON line)
_Line = tuple[int, int, bool, bytes]


class PartitionedNdjsonSource(RecordSource):
    """A single NDJSON file or a folder of ``*.ndjson`` files, partitioned by patient on disk.

    ``partition_bytes``: the size a partition aims at (K = total size / this, at least 1, at
    most ``MAX_PARTITIONS``). ``held`` / ``most_held``: partitions in memory now / at most
    (instrumentation: ``most_held`` stays 1).
    """

    def __init__(
        self, path: Path, partition_bytes: int = 64 << 20, tmp_dir: Path | None = None
    ) -> None:
        super().__init__(str(path))
        self.path = path
        self.partition_bytes = max(1, partition_bytes)
        self._root = Path(tempfile.mkdtemp(prefix="cpoc-partitions-", dir=tmp_dir))
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._root, ignore_errors=True)
        self.partition_paths: list[Path] = []
        self.held = self.most_held = 0
        self._names: list[str] = []  # the NDJSON files' names, by file number

    def _files(self) -> list[Path]:
        if not self.path.is_dir():
            try:
                with self.path.open("rb"):
                    pass
            except OSError as exc:
                raise InputError(self.where, unreadable(exc)) from exc
            return [self.path]
        paths = sorted(self.path.glob("*.ndjson"))
        if not paths:
            raise InputError(self.where, "no .ndjson files in this folder")
        return paths

    def _scan(self, index: Index) -> None:
        paths = self._files()
        total = sum(p.stat().st_size for p in paths if p.is_file())
        count = min(MAX_PARTITIONS, max(1, -(-total // self.partition_bytes)))
        self.partition_paths = [self._root / f"part-{n:03d}.ndjson" for n in range(count)]
        outs: list[IO[bytes]] = [p.open("wb") for p in self.partition_paths]
        try:
            for path in paths:
                try:
                    self._names.append(path.name)
                    _partition_file(path, len(self._names) - 1, index, outs)
                except _WriteFailed as failed:
                    problem = unreadable(failed.error).replace("be read", "be written")
                    raise InputError("temporary partitions", problem) from failed.error
                except OSError as exc:
                    index.warnings.append(f"{path.name}: {unreadable(exc)}")
        finally:
            for out in outs:
                out.close()

    def patient_count(self, patient_ids: set[str] | None = None) -> int | None:  # type: ignore[override]
        """Unknown until the partitions are read (the index keeps no patients): a progress
        bar without a total."""
        return None

    def patients(self, patient_ids: set[str] | None = None) -> Iterator[PatientResources]:
        index = self._scanned()
        wanted = None if patient_ids is None else {f"Patient/{patient_id(p)}" for p in patient_ids}
        for path in self.partition_paths:
            groups = self._hold(path, wanted)
            try:
                for key in list(groups):
                    patient = key.decode("utf-8", "surrogatepass")
                    yield _patient(patient, groups.pop(key), index, self._names)
            finally:
                self.held -= 1

    def _hold(self, path: Path, wanted: set[str] | None) -> dict[bytes, list[_Line]]:
        """One partition's lines grouped by patient (first-met order)."""
        self.held += 1
        self.most_held = max(self.most_held, self.held)
        groups: dict[bytes, list[_Line]] = {}
        chosen = None if wanted is None else {_encode(k) for k in wanted}
        with path.open("rb") as handle:
            for tagged in handle:
                header, _, rest = tagged.partition(_TAB)
                size, file_no, line_no, parsed = map(int, header.split())
                key = rest[:size]
                if chosen is None or key in chosen:
                    line = rest[size:].rstrip(b"\r\n")
                    groups.setdefault(key, []).append((file_no, line_no, parsed == 1, line))
        return groups

    def close(self) -> None:
        """Remove the partition files (also done when the source is garbage-collected)."""
        self._cleanup()


def _partition_file(path: Path, file_no: int, index: Index, outs: list[IO[bytes]]) -> None:
    """One streaming pass over an NDJSON file: each line to its patient's partition."""
    patients: dict[bytes, str | None] = {}
    with path.open("rb") as handle:
        for line_no, line in enumerate(handle):
            if len(line) < 3 and not line.strip():
                continue
            key = _fast_patient(line, patients)
            if key is not None:
                _write(outs, key, file_no, line_no + 1, 0, line.rstrip(b"\r\n"))
                continue
            # files it in index.groups, shared or warnings
            _parse_line(line, f"{path.name}:{line_no + 1}", index)
            for found, items in index.groups.items():
                for item in items:
                    text = json.dumps(item, separators=(",", ":")).encode()
                    _write(outs, found, file_no, line_no + 1, 1, text)
            index.groups.clear()


def _write(
    outs: list[IO[bytes]], key: str, file_no: int, line_no: int, parsed: int, line: bytes
) -> None:
    """One tagged line: ``<key size> <file no> <line no> <parsed>\\t<key><JSON>``; ``parsed``
    1: the line was parsed and filed by ``Index.add`` in the first pass (taken as is)."""
    name = _encode(key)
    header = b"%d %d %d %d\t" % (len(name), file_no, line_no, parsed)
    try:
        outs[zlib.crc32(name) % len(outs)].write(header + name + line + b"\n")
    except OSError as exc:  # a full disk is not the input's fault
        raise _WriteFailed(exc) from exc


class _WriteFailed(Exception):
    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


def _encode(key: str) -> bytes:
    return key.encode("utf-8", "surrogatepass")


def _patient(key: str, lines: list[_Line], index: Index, names: list[str]) -> PatientResources:
    """The patient's resources, each line checked as ``Index`` checks a line it loads."""
    resources: list[dict[str, Any]] = []
    for file_no, line_no, parsed, line in lines:
        if parsed:
            resources.append(json.loads(line))
            continue
        where = f"{names[file_no]}:{line_no}"
        try:
            resource = fast_json.loads(line)
        except ValueError as exc:
            index.warnings.append(f"{where}: not JSON ({decode_reason(exc)}); line skipped")
            continue
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            index.warnings.append(f"{where}: not a FHIR resource; line skipped")
            continue
        if patient_key(resource, index.aliases) != key:
            index.warnings.append(f"{where}: {resource_key(resource)} is not about {key}; skipped")
            continue
        resources.append(resource)
    warnings: list[str] = []
    return PatientResources(
        patient_ref=key,
        resources=dedupe(resources, warnings),
        shared=index.shared,
        aliases=index.aliases,
        warnings=warnings,
    )
