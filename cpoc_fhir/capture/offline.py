"""Offline capture: from a Bulk FHIR export to ChargeItems as NDJSON, exactly once.

``OUT/ChargeItem.ndjson`` holds the current ChargeItems; a run plans against it, appends each
patient's changes to ``OUT/ChargeItem.journal.ndjson`` (flushed per patient; fsynced per
patient, or, with ``sync_each=False``, by ``sync`` before a group commit records the group in
the ledger — either way a killed run loses nothing it recorded done), and at the end rewrites
``ChargeItem.ndjson`` atomically and removes the journal. Running twice changes nothing the
second time.
"""

from __future__ import annotations

import json
import os
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from cpoc_fhir.capture.plan import Action, Plan, Step, identifier_of
from cpoc_fhir.capture.run import WriteOutcome
from cpoc_fhir.errors import InputError
from cpoc_fhir.fhir.read import PatientResources, RecordSource
from cpoc_fhir.fhir.write import to_json

Resource = dict[str, Any]
ITEMS = "ChargeItem.ndjson"
JOURNAL = "ChargeItem.journal.ndjson"


def stamped(
    resource: Resource, previous: Resource | None, system: str, ident: str, entered: datetime
) -> Resource:
    """``resource`` with the id and version a store assigns: the previous version's id (else
    a name-based UUID of the practice identifier, so a rerun finds the same id) and the next
    versionId. Shared by this store and the Spark partitions' in-memory one."""
    version = int((previous or {}).get("meta", {}).get("versionId", "0")) + 1
    resource["id"] = (previous or {}).get("id") or str(
        uuid.uuid5(uuid.NAMESPACE_URL, f"{system}|{ident}")
    )
    resource["meta"] = {
        **(resource.get("meta") or {}),
        "versionId": str(version),
        "lastUpdated": entered.isoformat(),
    }
    return resource


def charges_on_record(
    ours: list[Resource], resources: PatientResources | None, system: str
) -> list[Resource]:
    """The patient's items this store keeps, then the export's ChargeItems and Claims that
    are not ours (no practice identifier): what the plan compares against."""
    theirs = []
    if resources is not None:
        theirs = resources.of_type("ChargeItem") + resources.of_type("Claim")
    return ours + [r for r in theirs if identifier_of(r, system) is None]


def unchanged_outcome(step: Step) -> WriteOutcome:
    return WriteOutcome(
        step.identifier,
        step.action.value,
        "unchanged",
        step.existing_id,
        step.existing_version,
        message=step.reason,
    )


def written_outcome(step: Step, resource: Resource) -> WriteOutcome:
    outcome = {"create": "created", "update": "updated"}.get(step.action.value, "updated")
    return WriteOutcome(
        step.identifier, step.action.value, outcome, resource["id"], resource["meta"]["versionId"]
    )


class OfflineStore:
    """Reads patients from a RecordSource; keeps ChargeItems in NDJSON files under ``out``."""

    def __init__(
        self,
        source: RecordSource,
        out: Path,
        system: str,
        entered: datetime,
        *,
        sync_each: bool = True,
    ) -> None:
        self.source = source
        self.sync_each = sync_each  # False: the caller syncs (``sync``) before recording
        self._journal: TextIO | None = None
        self.out = out
        self.system = system
        self.entered = entered
        self._patients: dict[str, PatientResources] = {}
        self.items: dict[str, Resource] = {}
        out.mkdir(parents=True, exist_ok=True)
        for name in (ITEMS, JOURNAL):
            self._load(out / name)
        self._by_patient: dict[str, list[str]] = defaultdict(list)
        for ident, item in self.items.items():
            self._by_patient[_patient_id(item)].append(ident)

    def patient_ids(self, wanted: set[str] | None = None) -> Iterator[str]:
        """Patient ids, lazily: each patient's resources are held only while it is processed."""
        for resources in self.source.patients(wanted):
            pid = resources.patient_ref.split("/", 1)[1]
            self._patients = {pid: resources}
            yield pid

    def patient_resources(self, patient_id: str) -> PatientResources:
        return self._patients[patient_id]

    def charge_resources(self, patient_id: str) -> list[Resource]:
        ours = [self.items[i] for i in self._by_patient.get(patient_id, [])]
        return charges_on_record(ours, self._patients.get(patient_id), self.system)

    def apply(self, patient_id: str, steps: Plan) -> list[WriteOutcome]:
        outcomes = []
        changed = []
        for step in steps.steps:
            if step.action is Action.UNCHANGED:
                outcomes.append(unchanged_outcome(step))
                continue
            previous = self.items.get(step.identifier)
            resource = stamped(
                dict(step.resource), previous, self.system, step.identifier, self.entered
            )
            self.items[step.identifier] = resource
            if step.identifier not in self._by_patient[patient_id]:
                self._by_patient[patient_id].append(step.identifier)
            changed.append(resource)
            outcomes.append(written_outcome(step, resource))
        if changed:
            journal = self._journal_handle()
            journal.write("".join(to_json(resource) + "\n" for resource in changed))
            journal.flush()  # in the OS's hands: a killed process loses none of it
            if self.sync_each:  # as before the group commit: fsynced and closed per patient
                self.close()
        return outcomes

    def sync(self) -> None:
        """Make every journal line written so far durable (a group commit's ``sync``)."""
        if self._journal is not None:
            self._journal.flush()
            os.fsync(self._journal.fileno())

    def close(self) -> None:
        """Sync and close the journal (it stays on disk until ``finish``)."""
        if self._journal is not None:
            self.sync()
            self._journal.close()
            self._journal = None

    def _journal_handle(self) -> TextIO:
        if self._journal is None:
            path = self.out / JOURNAL
            torn = path.exists() and path.stat().st_size > 0 and not _ends_a_line(path)
            self._journal = path.open("a", encoding="utf-8")
            if torn:  # a line cut short by a kill: end it, or the next line would join it
                self._journal.write("\n")
        return self._journal

    def finish(self) -> Path:
        """Write the current ChargeItems atomically and drop the journal."""
        self.close()
        target = self.out / ITEMS
        tmp = target.with_suffix(".ndjson.tmp")
        with tmp.open("w", encoding="utf-8") as handle:
            for ident in sorted(self.items):
                handle.write(to_json(self.items[ident]) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        (self.out / JOURNAL).unlink(missing_ok=True)
        return target

    def _load(self, path: Path) -> None:
        if not path.exists():
            return
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    resource = json.loads(line, parse_float=Decimal)  # money stays exact
                except json.JSONDecodeError as exc:
                    if path.name == JOURNAL:  # a line cut short by a kill: the rest is intact
                        continue
                    raise InputError(f"{path}:{number}", f"not valid JSON: {exc.msg}") from None
                ident = identifier_of(resource, self.system)
                if ident is not None:
                    self.items[ident] = resource


def _ends_a_line(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def _patient_id(item: Resource) -> str:
    ref = str((item.get("subject") or {}).get("reference", ""))
    return ref.split("/", 1)[1] if "/" in ref else ref
