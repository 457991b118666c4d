"""Grouping resources by patient: an index that holds resources or NDJSON line positions.

Resources read from JSON files are held as dicts. NDJSON lines are held as positions
(file number and line number packed in one int) and parsed only when their patient is
wanted, so a large Bulk export is grouped with little memory.
"""

from __future__ import annotations

import json
import mmap
from array import array
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cpoc_fhir.fhir.read import fast_json
from cpoc_fhir.fhir.read.references import (
    has_patient_field,
    patient_field_problem,
    patient_key,
    resource_key,
)
from cpoc_fhir.fhir.read.resources import PatientResources, dedupe

Resource = dict[str, Any]
LINE_BITS = 40  # a packed position: file number << 40 | line number
LINE_MASK = (1 << LINE_BITS) - 1


@dataclass
class LineFile:
    """An NDJSON file and where each of its lines starts (plus its end)."""

    path: Path
    name: str
    starts: array[int] = field(default_factory=lambda: array("Q"))


@dataclass
class Index:
    """Patients (first-seen order) → their resources or line positions; shared resources."""

    groups: dict[str, list[Resource | int]] = field(default_factory=dict)
    shared: dict[str, Resource] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    files: list[LineFile] = field(default_factory=list)
    _unnamed: int = 0

    def add(self, resource: Resource, where: str) -> None:
        """File one parsed resource under its patient, or in the shared lookup."""
        if not isinstance(resource.get("id"), str) or not resource["id"]:
            self._unnamed += 1
            resource = {**resource, "id": f"no-id-{self._unnamed}"}
            self.warnings.append(
                f"{where}: a resource without id is named {resource_key(resource)}"
            )
        problem = patient_field_problem(resource)
        if problem is not None:
            self.warnings.append(f"{where}: {resource_key(resource)}: {problem}; left out")
            return
        key = patient_key(resource, self.aliases)
        if key is not None:
            self.groups.setdefault(key, []).append(resource)
        elif has_patient_field(resource):
            self.warnings.append(
                f"{where}: {resource_key(resource)} names no patient that can be resolved; skipped"
            )
        else:
            self.shared.setdefault(resource_key(resource), resource)

    def patients(self, wanted: set[str] | None) -> Iterator[PatientResources]:
        """Each wanted patient's resources, NDJSON lines parsed on the way."""
        with ExitStack() as stack:
            maps = [_open_map(f.path, stack) for f in self.files]
            for key, items in self.groups.items():
                if wanted is not None and key not in wanted:
                    continue
                warnings: list[str] = []
                resources = self._loaded(items, key, maps)
                yield PatientResources(
                    patient_ref=key,
                    resources=dedupe(resources, warnings),
                    shared=self.shared,
                    aliases=self.aliases,
                    warnings=warnings,
                )

    def _loaded(self, items: list[Resource | int], key: str, maps: list[Any]) -> list[Resource]:
        """One patient's resources, its lines parsed. Every line of the export passes here, so
        the common case is inlined: a line orjson reads (``fast_json.container_or_none``, the
        trailing newline being JSON whitespace: no copy to strip it) into an object with a
        resourceType and this patient is taken as it is; anything else goes through ``_load``,
        which parses it again and words the warning exactly as before."""
        out: list[Resource] = []
        files, aliases, parse = self.files, self.aliases, fast_json.container_or_none
        for item in items:
            if isinstance(item, dict):
                out.append(item)
                continue
            file_no, line_no = item >> LINE_BITS, item & LINE_MASK
            starts = files[file_no].starts
            resource = parse(maps[file_no][starts[line_no] : starts[line_no + 1]])
            if (
                type(resource) is dict
                and type(resource.get("resourceType")) is str
                and patient_key(resource, aliases) == key
            ):
                out.append(resource)
            elif (found := self._load(item, key, maps)) is not None:
                out.append(found)  # what json.loads alone decides (e.g. a 20-digit integer)
        return out

    def _load(self, item: Resource | int, key: str, maps: list[Any]) -> Resource | None:
        if isinstance(item, dict):
            return item
        file_no, line_no = item >> LINE_BITS, item & LINE_MASK
        line_file = self.files[file_no]
        start, end = line_file.starts[line_no], line_file.starts[line_no + 1]
        try:
            resource = fast_json.loads(maps[file_no][start:end].rstrip(b"\r\n"))
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
            self.warnings.append(
                f"{_where(line_file.name, line_no)}: not JSON ({decode_reason(exc)}); line skipped"
            )
            return None
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            self.warnings.append(
                f"{_where(line_file.name, line_no)}: not a FHIR resource; line skipped"
            )
            return None
        actual = patient_key(resource, self.aliases)
        if actual != key:
            self.warnings.append(
                f"{_where(line_file.name, line_no)}: {resource_key(resource)} is not about "
                f"{key}; skipped"
            )
            return None
        return resource


def _where(name: str, line_no: int) -> str:
    """ "file:line" of a warning, built only when one is written (not once per line read)."""
    return f"{name}:{line_no + 1}"


def _open_map(path: Path, stack: ExitStack) -> Any:
    handle = stack.enter_context(path.open("rb"))
    if path.stat().st_size == 0:
        return b""
    return stack.enter_context(mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ))


def decode_reason(exc: ValueError) -> str:
    """A decode error's message without the offending text (it may be patient data)."""
    if isinstance(exc, json.JSONDecodeError):
        where = f"line {exc.lineno} column {exc.colno}" if exc.lineno > 1 else f"column {exc.colno}"
        return f"{exc.msg} at {where}"
    return type(exc).__name__
