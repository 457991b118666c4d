"""Capture against a FHIR server: find the practice's patients, read their records, write the plan.

Exactly once whatever the server does (docs/exactly-once.md):
- a create is ``PUT ChargeItem/<deterministic id>`` (``capture.ids``) when the server's
  CapabilityStatement says ``updateCreate`` for ChargeItem: atomic by id, so racing runs meet
  on one resource; otherwise a conditional create (``If-None-Exist: identifier=…``), and a
  plain POST for a line whose earlier items were all retired (the condition would match them);
- updates and entered-in-error carry ``If-Match`` on the version read; a 412 (someone else
  changed the item) re-reads it and re-plans that one item once;
- after a patient's creates, a sweep re-reads its ChargeItems and retires any second live item
  of a line (If-None-Exist is not atomic on every server), keeping the one every run keeps.

A group of patients (``apply_many``, ``cpoc capture --workers``) sends its creates in one
transaction Bundle when the server offers transactions, else in one batch (``_group_creates``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, TypeVar

from cpoc_fhir.capture.capabilities import allows_transaction, allows_update_create
from cpoc_fhir.capture.plan import UPDATABLE, Action, Plan, Step, live_by_identifier, raises
from cpoc_fhir.capture.run import WriteOutcome
from cpoc_fhir.errors import CpocError
from cpoc_fhir.fhir.client import (
    EntryResult,
    FhirClient,
    FhirError,
    FhirPreconditionFailed,
    FhirServerError,
)
from cpoc_fhir.fhir.read import PatientResources, patient_resources
from cpoc_fhir.fhir.record_queries import RECORD_QUERIES
from cpoc_fhir.fhir.write.review_marks import base_identifier, is_staff_owned

Resource = dict[str, Any]
T = TypeVar("T")

PAGE = "200"


SWEPT = "duplicate-retired"
# Several patients' sweep reads at once: each patient's ChargeItems, or the error of its read.
SweepReads = Callable[[list[str]], list[list[Resource] | CpocError]]


# A transaction refused with one of these applied nothing and says nothing of one entry: the
# group is sent again as a batch, where each entry succeeds or fails alone (``_group_creates``).
# 429 and 5xx are not among them: the transport retried those, and what is left is "no answer",
# handled as a batch without answer is (each patient's own batch).
_TRANSACTION_REFUSED = frozenset({400, 403, 404, 405, 409, 412, 413, 422, 501})


class ServerStore:
    def __init__(
        self,
        client: FhirClient,
        system: str,
        changed: Callable[[Resource, Resource], bool],
        update_create: bool | None = None,
        sweep: bool = True,
        transactions: bool | None = None,
    ) -> None:
        self.client = client
        self.system = system
        self.changed = changed
        # None: ask the server's CapabilityStatement (read once for both).
        self._update_create = update_create
        self._transactions = transactions
        self._capabilities: Resource | None = None
        self.sweep = sweep

    def _capability_statement(self) -> Resource:
        if self._capabilities is None:
            self._capabilities = self.client.capabilities()
        return self._capabilities

    @property
    def update_create(self) -> bool:
        """Whether creates are PUTs by deterministic id (asked of the server once)."""
        if self._update_create is None:
            self._update_create = allows_update_create(self._capability_statement())
        return self._update_create

    @property
    def transactions(self) -> bool:
        """Whether a group's creates go in one transaction Bundle (the server lists the
        ``transaction`` interaction; asked once, and given up for the run when the server
        refuses a transaction whose entries it then takes in a batch)."""
        if self._transactions is None:
            self._transactions = allows_transaction(self._capability_statement())
        return self._transactions

    # --- which patients -------------------------------------------------------------------
    def patients_from_group(self, group_id: str) -> list[str]:
        group = self.client.read("Group", group_id)
        ids = []
        for member in group.get("member") or []:
            ref = str((member.get("entity") or {}).get("reference", ""))
            if ref.startswith("Patient/") and not member.get("inactive"):
                ids.append(ref.split("/", 1)[1])
        return ids

    def patients_with_episodes(self) -> Iterator[str]:
        """Every patient with an EpisodeOfCare on the server (the practice's oncology care;
        the engine bills nothing for patients without cancer care)."""
        seen = set()
        for episode in self.client.search("EpisodeOfCare", {"_count": PAGE}):
            if episode.get("status") == "entered-in-error":
                continue
            ref = str((episode.get("patient") or {}).get("reference", ""))
            if ref.startswith("Patient/") and ref not in seen:
                seen.add(ref)
                yield ref.split("/", 1)[1]

    # --- reading --------------------------------------------------------------------------
    def patient_resources(self, patient_id: str) -> PatientResources:
        resources: list[Resource] = [self.client.read("Patient", patient_id)]
        for search in RECORD_QUERIES:
            query = search.for_patient(patient_id)
            if search.resource_type == "MedicationRequest":
                query["_include"] = "MedicationRequest:medication"
            query["_count"] = PAGE
            resources.extend(self.client.search(search.resource_type, query))
        return patient_resources(resources, f"Patient/{patient_id}")

    def charge_resources(self, patient_id: str) -> list[Resource]:
        ref = f"Patient/{patient_id}"
        items = list(self.client.search("ChargeItem", {"subject": ref, "_count": PAGE}))
        claims = list(self.client.search("Claim", {"patient": ref, "_count": PAGE}))
        return items + claims

    # --- writing --------------------------------------------------------------------------
    def apply(self, patient_id: str, steps: Plan) -> list[WriteOutcome]:
        batched, entries = self._batched_creates(steps)
        return self._after_creates(patient_id, steps, self._batch(batched, entries))

    def apply_many(
        self, plans: list[tuple[str, Plan]], sweep_reads: SweepReads | None = None
    ) -> list[list[WriteOutcome] | CpocError]:
        """``apply`` for several patients (``cpoc capture --workers``): every patient's creates
        in one Bundle (``_group_creates``), then each patient's other writes as ``apply`` makes
        them, then the sweeps: their reads (``sweep_items`` of each patient with creates) at
        once through ``sweep_reads`` when given, each patient's retirements here. Each
        patient's outcomes, or the error that failed that patient alone; a Bundle that got no
        answer is sent again patient by patient (its entries are PUTs by id or conditional
        creates: safe to repeat)."""
        parts = [self._batched_creates(steps) for _, steps in plans]
        try:
            created = self._group_creates(
                [s for batched, _ in parts for s in batched],
                [e for _, entries in parts for e in entries],
            )
        except FhirError:
            return [_or_error(partial(self.apply, p, s)) for p, s in plans]
        out: list[list[WriteOutcome] | CpocError] = []
        start = 0
        for (_, steps), (batched, _) in zip(plans, parts, strict=True):
            mine = created[start : start + len(batched)]
            start += len(batched)
            out.append(_or_error(partial(self._before_sweep, steps, mine)))
        sweeping = [
            n
            for n, (_, steps) in enumerate(plans)
            if self.sweep and steps.of(Action.CREATE) and not isinstance(out[n], CpocError)
        ]
        ids = [plans[n][0] for n in sweeping]
        found = (
            sweep_reads(ids)
            if sweep_reads is not None
            else [_or_error(partial(self.sweep_items, i)) for i in ids]
        )
        for n, items in zip(sweeping, found, strict=True):
            done = out[n]
            assert not isinstance(done, CpocError)
            if isinstance(items, CpocError):
                out[n] = items
                continue
            made = {s.identifier for s in plans[n][1].of(Action.CREATE)}
            swept = _or_error(partial(self._retire_duplicates, made, items))
            out[n] = swept if isinstance(swept, CpocError) else done + swept
        return out

    def _batched_creates(self, steps: Plan) -> tuple[list[Step], list[Resource]]:
        """The creates sent in a batch Bundle, and their entries."""
        creates = steps.of(Action.CREATE)
        if self.update_create:
            return creates, [self._put_entry(s) for s in creates]
        once = [s for s in creates if not s.recreate]
        return once, [self._conditional_entry(s) for s in once]

    def _after_creates(
        self, patient_id: str, steps: Plan, created: list[WriteOutcome]
    ) -> list[WriteOutcome]:
        """The patient's outcomes after its batch: ``_before_sweep``, then the sweep."""
        outcomes = self._before_sweep(steps, created)
        if steps.of(Action.CREATE) and self.sweep:
            outcomes += self._sweep(patient_id, {s.identifier for s in steps.of(Action.CREATE)})
        return outcomes

    def _before_sweep(self, steps: Plan, created: list[WriteOutcome]) -> list[WriteOutcome]:
        """Unchanged, the batched creates' ``created``, then plain creates, updates and
        entered-in-error."""
        outcomes = [
            WriteOutcome(
                s.identifier,
                s.action.value,
                "unchanged",
                s.existing_id,
                s.existing_version,
                message=s.reason,
            )
            for s in steps.of(Action.UNCHANGED)
        ]
        outcomes += created
        creates = steps.of(Action.CREATE)
        if not self.update_create:
            outcomes += [self._post(s) for s in creates if s.recreate]
        for step in steps.of(Action.UPDATE) + steps.of(Action.ENTER_IN_ERROR):
            outcomes.append(self._update(step))
        return outcomes

    def _put_entry(self, step: Step) -> Resource:
        if step.new_id is None:
            raise ValueError(f"the create of {step.identifier} has no deterministic id")
        resource = dict(step.resource, id=step.new_id)
        return {
            "resource": resource,
            "request": {"method": "PUT", "url": f"ChargeItem/{step.new_id}"},
        }

    def _conditional_entry(self, step: Step) -> Resource:
        return {
            "resource": step.resource,
            "request": {
                "method": "POST",
                "url": "ChargeItem",
                "ifNoneExist": f"identifier={self.system}|{step.identifier}",
            },
        }

    def _post(self, step: Step) -> WriteOutcome:
        """A plain create (no condition could tell the retired items from a live one): sent once,
        never re-sent after a lost answer (the sweep retires a second item if one appears)."""
        try:
            result = self.client.create(step.resource)
        except FhirError as exc:
            return _failed(step, getattr(exc, "status", None), str(exc))
        return WriteOutcome(
            step.identifier, "create", "created", result.id, result.version, result.status
        )

    def _group_creates(self, steps: list[Step], entries: list[Resource]) -> list[WriteOutcome]:
        """A group's creates in one transaction Bundle if the server takes them, else a batch.
        Same entries (PUTs by id or conditional creates): a repeat or a race does what it did.
        Why: one commit instead of one per entry (sekmet commits a batch entry by entry, each
        holding the store's one lock that every worker's read waits for). A transaction
        refused as a whole is sent again as a batch, where a bad entry fails alone; if the
        batch takes every entry, the server refused transactions as such: batches from then
        on (docs/scale.md "Parallel server capture")."""
        if len(entries) < 2 or not self.transactions:
            return self._batch(steps, entries)
        try:
            return self._outcomes(steps, self.client.transaction(entries))
        except FhirServerError as exc:
            if exc.status not in _TRANSACTION_REFUSED:
                raise
        outcomes = self._batch(steps, entries)
        if all(o.outcome != "failed" for o in outcomes):
            self._transactions = False
        return outcomes

    def _batch(self, steps: list[Step], entries: list[Resource]) -> list[WriteOutcome]:
        if not steps:
            return []
        return self._outcomes(steps, self.client.batch(entries))

    def _outcomes(self, steps: list[Step], results: list[EntryResult]) -> list[WriteOutcome]:
        return [_created(step, result) for step, result in zip(steps, results, strict=True)]

    def _update(self, step: Step, retry: bool = True) -> WriteOutcome:
        try:
            result = self.client.update(step.resource, if_match=_etag(step.existing_version))
        except FhirPreconditionFailed:
            if not retry or step.existing_id is None:
                return _failed(step, 412, "changed by someone else")
            return self._replan(step)
        except FhirServerError as exc:
            return _failed(step, exc.status, str(exc))
        return WriteOutcome(
            step.identifier, step.action.value, "updated", result.id, result.version, result.status
        )

    def _replan(self, step: Step) -> WriteOutcome:
        """412: read the item again; write our version on top of the current one if it still
        differs (entered-in-error stays entered-in-error; an item staff reviewed meanwhile is
        theirs)."""
        assert step.existing_id is not None
        current = self.client.read("ChargeItem", step.existing_id)
        version = str((current.get("meta") or {}).get("versionId", ""))
        now_theirs = _now_staffs(current)
        if now_theirs is not None:
            return WriteOutcome(
                step.identifier,
                step.action.value,
                "unchanged",
                step.existing_id,
                version,
                412,
                f"{now_theirs}: left for billing staff",
            )
        if step.action is Action.UPDATE and not self.changed(current, step.resource):
            return WriteOutcome(step.identifier, "update", "unchanged", step.existing_id, version)
        if step.only_raise and not raises(current, step.resource):
            return WriteOutcome(
                step.identifier,
                "update",
                "unchanged",
                step.existing_id,
                version,
                412,
                "a hook never lowers an item: left for the month-end run",
            )
        if step.action is Action.ENTER_IN_ERROR and current.get("status") == "entered-in-error":
            return WriteOutcome(
                step.identifier, step.action.value, "unchanged", step.existing_id, version
            )
        retried = Step(
            step.action, step.identifier, step.resource, step.existing_id, version, step.reason
        )
        return self._update(retried, retry=False)

    def _sweep(self, patient_id: str, created: set[str]) -> list[WriteOutcome]:
        """Retire every second live item of a line just created (kept: the one ``plan`` keeps,
        so racing runs agree); each retirement is If-Match, so a race on it is harmless."""
        return self._retire_duplicates(created, self.sweep_items(patient_id))

    def sweep_items(self, patient_id: str) -> list[Resource]:
        """The sweep's read: every ChargeItem of the patient, read again after the creates."""
        return [
            r
            for r in self.client.search(
                "ChargeItem", {"subject": f"Patient/{patient_id}", "_count": PAGE}
            )
            if r.get("resourceType") == "ChargeItem"
        ]

    def _retire_duplicates(self, created: set[str], items: list[Resource]) -> list[WriteOutcome]:
        found = Plan()
        live = live_by_identifier(items, self.system, found)
        outcomes = []
        for step in found.of(Action.ENTER_IN_ERROR):
            if step.identifier not in created:
                continue  # an older duplicate: the next run's plan retires it, and reports it
            outcome = self._update(step)
            if outcome.outcome == "updated":
                outcome = WriteOutcome(
                    step.identifier,
                    step.action.value,
                    SWEPT,
                    outcome.chargeitem_id,
                    outcome.version_id,
                    outcome.http_status,
                    "second live item of the line (kept ChargeItem/"
                    f"{live[base_identifier(step.identifier)].get('id')}): "
                    "marked entered-in-error",
                )
            outcomes.append(outcome)
        return outcomes


def _or_error(work: Callable[[], T]) -> T | CpocError:
    try:
        return work()
    except CpocError as exc:
        return exc


def _created(step: Step, result: EntryResult) -> WriteOutcome:
    """A Bundle entry's create: 201 created, 200 existed (the id or condition matched)."""
    if result.status not in (200, 201):
        return WriteOutcome(
            step.identifier, "create", "failed", None, None, result.status, result.outcome or ""
        )
    outcome = "created" if result.status == 201 else "existed"
    return WriteOutcome(
        step.identifier, "create", outcome, result.id, result.version, result.status
    )


def _failed(step: Step, status: int | None, message: str) -> WriteOutcome:
    return WriteOutcome(
        step.identifier, step.action.value, "failed", step.existing_id, None, status, message
    )


def _etag(version: str | None) -> str | None:
    return f'W/"{version}"' if version else None


def _now_staffs(current: dict[str, Any]) -> str | None:
    """Why an item re-read after a 412 now belongs to billing staff, or None."""
    if is_staff_owned(current):
        return "now reviewed by staff"
    if current.get("status") not in UPDATABLE:
        return f"now {current.get('status')}"
    return None
