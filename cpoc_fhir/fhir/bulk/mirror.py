"""A local mirror of a server's export: ``ROOT/ndjson/<Type>.ndjson`` and ``ROOT/state.json``.

The state file records what the folder holds (server, Group, resource types, Group members)
and the manifest's ``transactionTime``: the ``_since`` of the next, incremental export. An
incremental export returns only resources changed since then, so it is *merged* into the
mirror (each changed resource replaces the one with its type and id; the manifest's
``deleted`` Bundles remove theirs), and every patient's record stays complete.

Crash safety: the state file is removed before the folder changes and written after, so an
interrupted run leaves no state, and the next run exports in full again.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cpoc_fhir.errors import InputError

STATE = "state.json"
DATA = "ndjson"
FORMAT = 1
MEDICATION_TYPES = (
    "MedicationRequest",
    "MedicationAdministration",
    "MedicationDispense",
    "MedicationStatement",
)


@dataclass(frozen=True)
class MirrorState:
    base: str
    group: str | None
    types: list[str]
    transaction_time: str
    members: list[str] | None = None  # the Group's patient ids at that export
    # Types the server's $export left out, filled by paged searches (source.fill_missing);
    # refilled on every run, incremental ones too.
    filled: list[str] | None = None
    format: int = FORMAT


class Mirror:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / DATA

    # --- state ----------------------------------------------------------------------------
    def state(self) -> MirrorState | None:
        path = self.root / STATE
        if not path.exists():
            return None
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            state = MirrorState(**raw)
        except (ValueError, TypeError) as exc:
            raise InputError(str(path), f"not a bulk export state file ({exc})") from None
        return state if state.format == FORMAT else None

    def since(self, base: str, group: str | None, types: Iterable[str]) -> MirrorState | None:
        """The state to continue from, when the mirror holds this server's, Group's and types'
        export (anything else needs a full export)."""
        state = self.state()
        if state is None or not self.data.is_dir():
            return None
        if (state.base, state.group, sorted(state.types)) != (base, group, sorted(types)):
            return None
        return state

    def forget(self) -> None:
        (self.root / STATE).unlink(missing_ok=True)

    def save(self, state: MirrorState) -> None:
        _write_atomic(self.root / STATE, [json.dumps(asdict(state), indent=1)])

    # --- content --------------------------------------------------------------------------
    def replace(self, downloaded: Iterable[Path]) -> None:
        """A full export: the mirror becomes exactly the downloaded files (one per type)."""
        self.forget()
        fresh = self.root / (DATA + ".new")
        shutil.rmtree(fresh, ignore_errors=True)
        fresh.mkdir(parents=True)
        for path in sorted(downloaded):
            if path.suffix != ".ndjson":
                continue
            with (fresh / f"{_type_of(path)}.ndjson").open("ab") as out, path.open("rb") as src:
                shutil.copyfileobj(src, out)
        # An export with no output (an empty Group) is still a folder the readers accept.
        (fresh / "Patient.ndjson").touch()
        old = self.root / (DATA + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if self.data.exists():
            os.replace(self.data, old)
        os.replace(fresh, self.data)
        shutil.rmtree(old, ignore_errors=True)

    def merge(self, downloaded: Iterable[Path]) -> int:
        """An incremental export: upsert its resources and apply its deletions; the number of
        resources changed or removed."""
        self.forget()
        self.data.mkdir(parents=True, exist_ok=True)
        changed: dict[str, dict[str, str]] = {}  # type → id → line
        removed: dict[str, set[str]] = {}
        for path in sorted(downloaded):
            if path.name.endswith(".ndjson.deleted"):
                for rtype, rid in _deletions(path):
                    removed.setdefault(rtype, set()).add(rid)
                continue
            for resource, line in _lines(path):
                changed.setdefault(str(resource["resourceType"]), {})[str(resource["id"])] = line
        count = 0
        for rtype in sorted(set(changed) | set(removed)):
            count += self.upsert(rtype, changed.get(rtype, {}), removed.get(rtype, set()))
        return count

    def upsert(self, rtype: str, lines: dict[str, str], removed: set[str] | None = None) -> int:
        """Replace (or add) the ``rtype`` resources of ``lines`` (id → NDJSON line), drop the
        ``removed`` ids; rewrites that type's file atomically."""
        removed = removed or set()
        path = self.data / f"{_safe(rtype)}.ndjson"
        kept: list[str] = []
        count = 0
        if path.exists():
            for resource, line in _lines(path):
                rid = str(resource.get("id"))
                if rid in lines or rid in removed:
                    count += rid in removed
                    continue
                kept.append(line)
        kept += lines.values()
        _write_atomic(path, kept)
        return count + len(lines)

    def resources(self, rtype: str) -> Iterator[dict[str, Any]]:
        path = self.data / f"{_safe(rtype)}.ndjson"
        if path.exists():
            for resource, _line in _lines(path):
                yield resource

    def missing_medications(self) -> set[str]:
        """Medication ids that medication resources reference but the mirror lacks (a Patient
        or Group export holds the patient compartment, which Medication is not part of)."""
        wanted: set[str] = set()
        for rtype in MEDICATION_TYPES:
            for resource in self.resources(rtype):
                ref = str((resource.get("medicationReference") or {}).get("reference") or "")
                if ref.startswith("Medication/") and ref.count("/") == 1:
                    wanted.add(ref.split("/", 1)[1])
        have = {str(r.get("id")) for r in self.resources("Medication")}
        return wanted - have


def _type_of(path: Path) -> str:
    """``Observation.0003.ndjson`` → ``Observation``."""
    return _safe(path.name.split(".", 1)[0])


def _safe(name: str) -> str:
    return "".join(ch for ch in name if ch.isalnum()) or "Resource"


def _lines(path: Path, need_id: bool = True) -> Iterator[tuple[dict[str, Any], str]]:
    with path.open(encoding="utf-8") as handle:
        for number, raw in enumerate(handle, 1):
            line = raw.strip()
            if not line:
                continue
            try:
                resource = json.loads(line)
            except ValueError:
                raise InputError(f"{path.name}:{number}", "not valid JSON") from None
            if not isinstance(resource, dict) or not resource.get("resourceType"):
                raise InputError(f"{path.name}:{number}", "not a FHIR resource")
            if need_id and "id" not in resource:
                raise InputError(f"{path.name}:{number}", "a resource without an id")
            yield resource, line


def _deletions(path: Path) -> Iterator[tuple[str, str]]:
    """(type, id) of each DELETE entry of the ``deleted`` Bundles (IG 2.0 manifest)."""
    for bundle, _line in _lines(path, need_id=False):
        for entry in bundle.get("entry") or []:
            request = entry.get("request") or {}
            url = str(request.get("url") or "").strip("/")
            if str(request.get("method")).upper() == "DELETE" and url.count("/") == 1:
                rtype, rid = url.split("/")
                yield rtype, rid


def _write_atomic(path: Path, lines: list[str]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for line in lines:
            handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
