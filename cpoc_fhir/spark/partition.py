"""What runs in the Spark executors: one ``Evaluator`` per partition, the pure engine per patient.

No pyspark here (the functions take and yield plain Python values), so it is tested without
Spark. A partition receives ``(patient key, [(kind, order, JSON text) …])`` groups (the
patient's own resources tagged ``R``, ChargeItems already captured tagged ``E``), puts each
patient's resources in the order the local engine reads them, and builds the same
``PatientResources`` as ``fhir.read.index.Index.patients`` — so the packs (value-and-models
§15) bill the same lines as ``cpoc timeline`` and ``cpoc capture --ndjson``.
"""

from __future__ import annotations

import json
import pickle
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from cpoc_fhir.capture.catchup import Window
from cpoc_fhir.capture.offline import (
    charges_on_record,
    stamped,
    unchanged_outcome,
    written_outcome,
)
from cpoc_fhir.capture.plan import Action, Plan, identifier_of
from cpoc_fhir.capture.run import CaptureRun, CaptureSummary, WriteOutcome
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.fhir.read import PatientResources, ReaderSettings
from cpoc_fhir.fhir.read.gc_pass import relaxed_gc
from cpoc_fhir.fhir.read.resources import dedupe
from cpoc_fhir.fhir.write import to_json
from cpoc_fhir.packs.cpoc.payer import PayerSchedule
from cpoc_fhir.packs.settings import ModelSettings
from cpoc_fhir.service import Evaluator

Resource = dict[str, Any]
OWN, EXISTING = "R", "E"  # a patient's resource; a ChargeItem captured before
Item = tuple[str, tuple[int, ...], str]


@dataclass(frozen=True)
class EvaluatorSpec:
    """What an executor needs to build the driver's ``Evaluator`` (the knowledge base is
    package data, loaded in the executor)."""

    rules: RuleSettings
    payer: PayerSchedule
    models: ModelSettings
    forced_model: str | None = None
    reader: ReaderSettings = field(default_factory=ReaderSettings)

    def evaluator(self) -> Evaluator:
        from cpoc_fhir.knowledge.loader import load_knowledge

        return Evaluator(
            load_knowledge(),
            self.rules,
            self.payer,
            reader=self.reader,
            models=self.models,
            forced_model=self.forced_model,
        )


_built: dict[bytes, Evaluator] = {}  # per Python worker: one Evaluator per spec


def evaluator_from(spec: bytes) -> Evaluator:
    """The Evaluator of a pickled ``EvaluatorSpec``, built once per worker process."""
    found = _built.get(spec)
    if found is None:
        _built.clear()
        found = _built[spec] = pickle.loads(spec).evaluator()
    return found


def patient_resources(
    key: str, items: Iterable[Item], shared: Mapping[str, Resource], aliases: Mapping[str, str]
) -> tuple[PatientResources, list[Resource]]:
    """The patient's ``PatientResources`` (as ``Index.patients`` builds them) and the
    ChargeItems captured before (tagged ``E``), each in read order."""
    own: list[Resource] = []
    existing: list[Resource] = []
    for kind, _order, text in sorted(items, key=lambda item: item[1]):
        if kind == OWN:
            own.append(json.loads(text))
        else:
            existing.append(json.loads(text, parse_float=Decimal))  # money stays exact
    warnings: list[str] = []
    resources = PatientResources(
        patient_ref=key,
        resources=dedupe(own, warnings),
        shared=shared,
        aliases=aliases,
        warnings=warnings,
    )
    return resources, existing


def timelines(
    groups: Iterable[tuple[str, Iterable[Item]]],
    spec: bytes,
    as_of: date,
    shared: Mapping[str, Resource],
    aliases: Mapping[str, str],
) -> Iterator[str]:
    """Each patient's timeline JSON (``PatientTimeline.as_json``, serialised)."""
    return evaluate_groups(evaluator_from(spec), groups, as_of, shared, aliases)


def evaluate_groups(
    evaluator: Evaluator,
    groups: Iterable[tuple[str, Iterable[Item]]],
    as_of: date,
    shared: Mapping[str, Resource],
    aliases: Mapping[str, str],
) -> Iterator[str]:
    """``timelines`` with an Evaluator already built."""
    with relaxed_gc():
        for key, group in groups:
            items = list(group)
            if not any(True for _ in _own(items)):
                continue  # ChargeItems only: not a patient of the export
            resources, _ = patient_resources(key, items, shared, aliases)
            yield json.dumps(evaluator.timeline(resources, as_of).as_json())


def _own(items: Iterable[Item]) -> Iterator[Item]:
    return (item for item in items if item[0] == OWN)


class PatientStore:
    """A capture ``RecordStore`` for the patients of one partition, in memory.

    Plans against the ChargeItems captured before (``E`` items) and stamps what changes the
    way ``capture.offline.OfflineStore`` does (id from the identifier, versionId + 1), so the
    NDJSON written is the one offline capture would write."""

    def __init__(self, system: str, entered: datetime) -> None:
        self.system = system
        self.entered = entered
        self.resources: dict[str, PatientResources] = {}
        self.items: dict[str, dict[str, Resource]] = defaultdict(dict)  # patient → ident → item

    def add(self, patient_id: str, resources: PatientResources, existing: list[Resource]) -> None:
        self.resources = {patient_id: resources}
        self.items = defaultdict(dict)
        for item in existing:
            ident = identifier_of(item, self.system)
            if ident is not None:
                self.items[patient_id][ident] = item

    def patient_resources(self, patient_id: str) -> PatientResources:
        return self.resources[patient_id]

    def charge_resources(self, patient_id: str) -> list[Resource]:
        ours = list(self.items[patient_id].values())
        return charges_on_record(ours, self.resources.get(patient_id), self.system)

    def apply(self, patient_id: str, steps: Plan) -> list[WriteOutcome]:
        outcomes = []
        for step in steps.steps:
            if step.action is Action.UNCHANGED:
                outcomes.append(unchanged_outcome(step))
                continue
            previous = self.items[patient_id].get(step.identifier)
            resource = stamped(
                dict(step.resource), previous, self.system, step.identifier, self.entered
            )
            self.items[patient_id][step.identifier] = resource
            outcomes.append(written_outcome(step, resource))
        return outcomes

    def current(self, patient_id: str) -> list[str]:
        """The patient's ChargeItems now, as NDJSON lines (sorted by identifier)."""
        items = self.items[patient_id]
        return [to_json(items[ident]) for ident in sorted(items)]


@dataclass(frozen=True)
class CaptureJob:
    """A capture run's settings, shipped to the executors."""

    spec: bytes  # pickled EvaluatorSpec
    publish: Any  # PublishSettings
    months: Window
    as_of: date
    entered: datetime
    dry_run: bool = False


def capture(
    groups: Iterable[tuple[str, Iterable[Item]]],
    job: CaptureJob,
    shared: Mapping[str, Resource],
    aliases: Mapping[str, str],
) -> Iterator[tuple[str, Any]]:
    """``("item", NDJSON line)`` per current ChargeItem and one ``("summary", CaptureSummary)``
    for the partition."""
    return capture_groups(evaluator_from(job.spec), groups, job, shared, aliases)


def capture_groups(
    evaluator: Evaluator,
    groups: Iterable[tuple[str, Iterable[Item]]],
    job: CaptureJob,
    shared: Mapping[str, Resource],
    aliases: Mapping[str, str],
) -> Iterator[tuple[str, Any]]:
    """``capture`` with an Evaluator already built."""
    store = PatientStore(job.publish.practice_identifier_system, job.entered)
    run = CaptureRun(
        evaluator,
        job.publish,
        store,
        job.months.last,
        job.as_of,
        job.entered,
        job.dry_run,
        first=job.months.first,
    )
    total = CaptureSummary(str(job.months.last), str(job.months.first))
    with relaxed_gc():
        for key, group in groups:
            items = list(group)
            patient_id = key.split("/", 1)[1]
            resources, existing = patient_resources(key, items, shared, aliases)
            store.add(patient_id, resources, existing)
            if any(True for _ in _own(items)):
                merge(total, run.run([patient_id]))
            for line in store.current(patient_id):
                yield ("item", line)
    yield ("summary", total)


def merge(total: CaptureSummary, part: CaptureSummary) -> CaptureSummary:
    """Add ``part``'s figures to ``total`` (summaries of partitions → the run's)."""
    for name in ("patients", "failed_patients", "provisional", "not_billable", "warnings"):
        setattr(total, name, getattr(total, name) + getattr(part, name))
    total.lines_by_code.update(part.lines_by_code)
    total.lines_by_model.update(part.lines_by_model)
    total.writes.update(part.writes)
    for code, amount in part.amount_by_code.items():
        total.amount_by_code[code] = total.amount_by_code.get(code, Decimal(0)) + amount
    for name in (
        "warning_list", "conflicts", "notices", "fee_for_service", "kept_reviewed",
        "review_conflicts", "errors",
    ):  # fmt: skip
        getattr(total, name).extend(getattr(part, name))
    return total
