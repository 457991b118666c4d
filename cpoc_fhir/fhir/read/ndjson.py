"""Bulk FHIR NDJSON (one resource a line) scanned into an ``Index`` without parsing every line.

https://hl7.org/fhir/uv/bulkdata/export.html: an export writes one file per resource type,
so grouping by patient needs every file. The fast path finds the line's patient reference
with a byte search (``"subject": {"reference": "Patient/x"`` …) and keeps only the line's
position; lines without such a reference (Patient, Medication, Practitioner …, Bundles)
and lines with Bundles or contained resources are parsed and filed as dicts. Each line's
patient is checked again when it is parsed.
"""

from __future__ import annotations

import re
from pathlib import Path

from cpoc_fhir.fhir.read import fast_json
from cpoc_fhir.fhir.read.bundles import flatten
from cpoc_fhir.fhir.read.index import LINE_BITS, Index, LineFile, decode_reason
from cpoc_fhir.fhir.read.references import reference_key

_HEAD = b'{"resourceType":"'
_KEYS = tuple(f'"{name}"'.encode() for name in ("subject", "patient", "individual", "beneficiary"))
# After a key: `: {` then the Reference's members up to "reference" (no nested object).
_REFERENCE = re.compile(rb'\s*:\s*\{[^{}]*?"reference"\s*:\s*"([^"\\]*)"')
# The two layouts writers use (json.dumps' default, and compact as Bulk exports write it);
# anything else goes through _REFERENCE.
_LAYOUTS = (b':{"reference":"', b': {"reference": "')


def scan_ndjson(path: Path, name: str, index: Index) -> None:
    """Add every line of one NDJSON file to ``index``; bad lines become warnings."""
    file_no = len(index.files)
    line_file = LineFile(path=path, name=name)
    index.files.append(line_file)
    starts = line_file.starts
    offset = 0
    patients: dict[bytes, str | None] = {}  # reference as written → "Patient/x"
    groups, base = index.groups, file_no << LINE_BITS
    try:
        with path.open("rb") as handle:
            for line_no, line in enumerate(handle):
                starts.append(offset)
                offset += len(line)
                if len(line) < 3 and not line.strip():
                    continue
                key = _fast_patient(line, patients)
                if key is not None:
                    groups.setdefault(key, []).append(base | line_no)  # a packed position
                else:
                    _parse_line(line, f"{name}:{line_no + 1}", index)
    finally:
        starts.append(offset)  # the end of the last line read


def _fast_patient(line: bytes, patients: dict[bytes, str | None]) -> str | None:
    """The "Patient/x" found by byte search, or None (the line is then parsed in full).

    The first patient element found must be the resource's own: so no Bundle, and no
    contained resource before it (searched in the whole line when the line does not start
    with its resourceType, as Bulk exports write it).
    """
    if line.startswith(_HEAD):
        if line.startswith(b'Bundle"', len(_HEAD)):
            return None
        contained_until = 0  # search only before the key found
    elif b'"Bundle"' in line:
        return None
    else:
        contained_until = len(line)
    for key in _KEYS:
        at = line.find(key)
        if at < 0:
            continue
        if line.find(b'"contained"', 0, max(at, contained_until)) >= 0:
            return None
        reference = _reference_at(line, at + len(key))
        if reference is None:
            return None
        if reference not in patients:
            try:
                found = reference_key(reference.decode())
            except UnicodeDecodeError:
                found = None
            patients[reference] = found if found and found.startswith("Patient/") else None
        return patients[reference]
    return None


def _reference_at(line: bytes, at: int) -> bytes | None:
    """The reference string of the Reference object starting at ``at`` (after its key)."""
    for layout in _LAYOUTS:
        if line.startswith(layout, at):
            start = at + len(layout)
            end = line.find(b'"', start)
            if end > 0 and line.find(b"\\", start, end) < 0:
                return line[start:end]
            break
    match = _REFERENCE.match(line, at)
    return match.group(1) if match is not None else None


def _parse_line(line: bytes, where: str, index: Index) -> None:
    try:
        resource = fast_json.loads(line.rstrip(b"\r\n"))
    except ValueError as exc:
        index.warnings.append(f"{where}: not JSON ({decode_reason(exc)}); line skipped")
        return
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        index.warnings.append(f"{where}: not a FHIR resource; line skipped")
    elif resource["resourceType"] == "Bundle":
        for inner in flatten(resource, index.aliases, index.warnings, where):
            index.add(inner, where)
    else:
        index.add(resource, where)
