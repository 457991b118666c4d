"""The month-end capture run: evaluate each patient, plan, write, record — exactly once.

One patient at a time: read the record → lines (``service.Evaluator``) → desired ChargeItems →
``plan`` against the existing ones → write (server or NDJSON) → the ledger records the patient's
writes and its completion together, so a killed run resumes after the last finished patient and
the writes it repeats are idempotent (conditional create, If-Match updates). With a group commit
(``capture.group_commit``) the ledger records patients in groups; ``run`` records the last,
partial group at its end and on every exception.

With ``workers`` > 1 the next patients are read, evaluated and planned ahead on that many
threads (``capture.parallel``); the writes, the ledger and the summary stay in the run's
thread, in patient order, exactly as with one worker.
"""

from __future__ import annotations

import calendar
import re
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from cpoc_fhir.capture.desired import desired_items
from cpoc_fhir.capture.ffs import conflict_rows, ffs_charges
from cpoc_fhir.capture.parallel import Prefetched, prefetch
from cpoc_fhir.capture.plan import Action, Plan, identifier_of, occurrence_start, plan
from cpoc_fhir.capture.shapes import check_charge_item
from cpoc_fhir.capture.warning_list import CaptureWarning, by_kind, capture_warning
from cpoc_fhir.engine.lines import LineStatus
from cpoc_fhir.errors import CpocError
from cpoc_fhir.fhir.read import PatientResources, read_record
from cpoc_fhir.fhir.write import (
    PublishSettings,
    charge_context,
    charge_item_changed,
)
from cpoc_fhir.packs.cpoc.ffs import ffs_conflicts
from cpoc_fhir.packs.registry import load_pack
from cpoc_fhir.service import Evaluator

Resource = dict[str, Any]
_MONTH = re.compile(r"(?P<year>\d{4})-(?P<month>0[1-9]|1[0-2])")


@dataclass(frozen=True)
class CaptureMonth:
    """The calendar month a run bills (lines whose billing month starts in it)."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> CaptureMonth:
        """``YYYY-MM`` exactly (``2025-1`` is refused: it reads as a typo of 2025-01 or -10)."""
        match = _MONTH.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"not a month (YYYY-MM, e.g. 2025-01): {text!r}")
        return cls(int(match["year"]), int(match["month"]))

    def plus(self, months: int) -> CaptureMonth:
        """The month ``months`` later (earlier when negative)."""
        index = self.year * 12 + self.month - 1 + months
        return CaptureMonth(index // 12, index % 12 + 1)

    def minus(self, other: CaptureMonth) -> int:
        """How many months ``other`` is before this one."""
        return (self.year - other.year) * 12 + self.month - other.month

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last(self) -> date:
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True)
class WriteOutcome:
    """What happened to one planned step."""

    identifier: str
    action: str  # create | update | enter-in-error | unchanged
    outcome: str  # created | existed | updated | unchanged | failed | dry-run
    chargeitem_id: str | None = None
    version_id: str | None = None
    http_status: int | None = None
    message: str = ""


class RecordReads(Protocol):
    """Where a run reads patients and their ChargeItems."""

    def patient_resources(self, patient_id: str) -> PatientResources: ...

    def charge_resources(self, patient_id: str) -> list[Resource]:
        """The patient's ChargeItems (all of them) and Claims, for planning and FFS checks."""
        ...


class RecordStore(RecordReads, Protocol):
    """Where a run reads patients and their ChargeItems, and writes the plan."""

    def apply(self, patient_id: str, steps: Plan) -> list[WriteOutcome]: ...


class LedgerRun(Protocol):
    def patient_done(self, patient_ref: str, lines: int, writes: list[Any]) -> None: ...

    def patient_failed(self, patient_ref: str, error: str, writes: Any = ()) -> None: ...


@dataclass
class CaptureSummary:
    """The figures printed at the end of a run (and stored in the ledger)."""

    month: str
    first_month: str = ""  # the first month billed (an earlier one when catching up)
    catch_up: str = ""  # why the run bills from first_month (said in the summary)
    patients: int = 0
    failed_patients: int = 0
    lines_by_code: Counter[str] = field(default_factory=Counter)
    lines_by_model: Counter[str] = field(default_factory=Counter)  # pack id → lines (§15)
    amount_by_code: dict[str, Decimal] = field(default_factory=dict)
    provisional: int = 0
    not_billable: int = 0
    warnings: int = 0
    warning_list: list[CaptureWarning] = field(default_factory=list)
    conflicts: list[dict[str, str]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    # §14.3: patients billed fee-for-service (not a CPOC cancer type for this payer)
    fee_for_service: list[str] = field(default_factory=list)
    kept_reviewed: list[str] = field(default_factory=list)  # staff-owned items left as they are
    review_conflicts: list[str] = field(default_factory=list)  # lines changed after review
    writes: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def as_counts(self) -> dict[str, Any]:
        return {
            "patients": self.patients,
            "failed_patients": self.failed_patients,
            "lines_by_code": dict(self.lines_by_code),
            "lines_by_model": dict(self.lines_by_model),
            "amount_by_code": {k: str(v) for k, v in self.amount_by_code.items()},
            "provisional": self.provisional,
            "not_billable": self.not_billable,
            "warnings": self.warnings,
            "warnings_by_kind": {k.kind: k.count for k in by_kind(self.warning_list)},
            "warning_list": [[w.patient, w.resource, w.kind, w.message] for w in self.warning_list],
            "first_month": self.first_month or self.month,
            "conflicts": len(self.conflicts),
            "fee_for_service": len(self.fee_for_service),
            "kept_reviewed": len(self.kept_reviewed),
            "review_conflicts": len(self.review_conflicts),
            "writes": dict(self.writes),
        }


def _dry_run(steps: Plan) -> list[WriteOutcome]:
    """What a dry run reports for a plan: nothing written."""
    return [
        WriteOutcome(
            s.identifier,
            s.action.value,
            "unchanged" if s.action is Action.UNCHANGED else "dry-run",
            s.existing_id,
            s.existing_version,
            message=s.reason if s.action is Action.UNCHANGED else "",
        )
        for s in steps.steps
    ]


def fee_for_service_plan(own: list[Resource], system: str, month_last: date) -> Plan:
    """value-and-models §14.3: a patient billed fee-for-service gets no ChargeItems. CPOC
    items written before the payer's cancer types were set are left for billing staff, each
    named in the summary: a settings change never retires billing on its own."""
    result = Plan()
    for item in own:
        ident = identifier_of(item, system)
        start = occurrence_start(item)
        if ident is None or item.get("status") == "entered-in-error":
            continue
        if start is not None and start <= month_last:
            result.notices.append(
                f"ChargeItem/{item.get('id')} ({ident}) left as it is: the patient is billed "
                "fee-for-service (not a CPOC cancer type for this payer); billing staff decide"
            )
    return result


def check_writes(steps: Plan) -> None:
    """Validate (R4B model, once per shape: ``capture.shapes``) every ChargeItem the plan will
    send; items only planned against are built unvalidated. Raises ``ResourceValidationError``
    naming the item."""
    for step in steps.of(Action.CREATE) + steps.of(Action.UPDATE):
        check_charge_item(step.resource)


@dataclass(frozen=True)
class Prepared:
    """One patient read, evaluated and planned, not yet written."""

    patient_id: str
    timeline: Any  # engine.lines.PatientTimeline
    lines: list[Any]  # the timeline's lines up to the run's month
    steps: Plan
    conflicts: list[dict[str, str]]  # FFS conflict rows (capture.ffs.conflict_rows)


@dataclass
class CaptureRun:
    evaluator: Evaluator
    publish: PublishSettings
    store: RecordStore
    month: CaptureMonth
    as_of: date
    entered: datetime
    dry_run: bool = False
    ledger: LedgerRun | None = None
    progress: Callable[[str], None] = lambda patient: None
    first: CaptureMonth | None = None  # catching up: bill every month from this one
    workers: int = 1  # > 1: that many threads prepare the next patients (capture.parallel)
    reads: RecordReads | None = None  # thread-safe reads for workers > 1 (default: store)

    @property
    def window_first(self) -> date:
        """The first day billed: the run's month, or the first catch-up month."""
        return (self.first or self.month).first

    def run(self, patient_ids: Iterable[str], skip: Iterable[str] = ()) -> CaptureSummary:
        summary = CaptureSummary(str(self.month), str(self.first or self.month))
        done = set(skip)
        if self.workers > 1 and self.reads is None:
            raise ValueError("reading with several workers needs thread-safe reads")
        reads = self.reads or self.store

        def skipped(patient_id: str) -> bool:
            return f"Patient/{patient_id}" in done or patient_id in done

        def prepare(patient_id: str) -> Prepared:
            return self._prepare(patient_id, reads)

        group: list[Prefetched[str, Prepared]] = []
        try:
            for ahead in prefetch(patient_ids, prepare, self.workers, skipped):
                group.append(ahead)
                if len(group) >= self.workers:
                    self._commit_group(group, summary)
                    group = []
            if group:
                self._commit_group(group, summary)
        except BaseException:
            # Record what was written before the error (a group commit's pending patients);
            # a failure to do so must not hide the error itself.
            with suppress(Exception):
                self._flush_ledger()
            raise
        self._flush_ledger()
        return summary

    def _flush_ledger(self) -> None:
        """Record a group commit's pending patients (``capture.group_commit``), if any."""
        flush = getattr(self.ledger, "flush", None)
        if flush is not None:
            flush()

    def _commit_group(
        self, group: list[Prefetched[str, Prepared]], summary: CaptureSummary
    ) -> None:
        """Write, count and record a group of patients, in patient order; their creates go
        in one Bundle (``ServerStore.apply_many``). One worker: groups of one."""
        prepared: list[Prepared | CpocError | None] = []
        for ahead in group:
            if ahead.skipped:
                prepared.append(None)
                continue
            try:
                prepared.append(ahead.result())
            except CpocError as exc:
                prepared.append(exc)
        ready = [p for p in prepared if isinstance(p, Prepared)]
        written = iter(self._write(ready))
        for ahead, one in zip(group, prepared, strict=True):
            ref = f"Patient/{ahead.item}"
            if isinstance(one, Prepared):
                outcomes = next(written)
                try:
                    if isinstance(outcomes, CpocError):
                        raise outcomes
                    self._commit(one, outcomes, summary)
                except CpocError as exc:
                    one = exc
            if isinstance(one, CpocError):
                summary.failed_patients += 1
                summary.errors.append(f"{ref}: {one}")
                if self.ledger is not None:
                    self.ledger.patient_failed(ref, str(one))
            self.progress(ahead.item)

    def _write(self, ready: list[Prepared]) -> list[list[WriteOutcome] | CpocError]:
        """Each patient's write outcomes, or the error that failed the patient."""
        if self.dry_run:
            return [_dry_run(p.steps) for p in ready]
        many = getattr(self.store, "apply_many", None)
        if many is not None and len(ready) > 1:
            sweeps = getattr(self.reads, "sweep_items_many", None)  # the sweeps' reads at once
            done: list[list[WriteOutcome] | CpocError] = many(
                [(p.patient_id, p.steps) for p in ready], sweeps
            )
            return done
        out: list[list[WriteOutcome] | CpocError] = []
        for p in ready:
            try:
                out.append(self.store.apply(p.patient_id, p.steps))
            except CpocError as exc:
                out.append(exc)
        return out

    def _prepare(self, patient_id: str, reads: RecordReads) -> Prepared:
        """Read, evaluate and plan one patient: no write, no ledger, nothing shared changed
        (with ``workers`` > 1 this runs on a reading thread)."""
        resources = reads.patient_resources(patient_id)
        charges = reads.charge_resources(patient_id)
        ev = self.evaluator
        record = read_record(resources, ev.knowledge, ev.reader)
        timeline = ev.evaluate(record, self.as_of)
        context = charge_context(record, ev.payer, self.publish, self.entered)
        lines = [line for line in timeline.lines if line.start <= self.month.last]
        system = self.publish.practice_identifier_system
        own = [r for r in charges if r.get("resourceType") == "ChargeItem"]
        if timeline.fee_for_service is None:
            first, last = self.window_first, self.month.last
            # Only the items the plan can use (capture.desired), built unvalidated; only what
            # is sent is validated (check_writes).
            desired = desired_items(lines, context, own, first)
            steps = plan(desired, own, system, first, last, charge_item_changed)
        else:
            steps = fee_for_service_plan(own, system, self.month.last)
        check_writes(steps)
        conflicts = self._ffs_conflicts(ffs_charges(charges, system), timeline)
        rows = conflict_rows(f"Patient/{patient_id}", conflicts)
        return Prepared(patient_id, timeline, lines, steps, rows)

    def _commit(
        self, ready: Prepared, outcomes: list[WriteOutcome], summary: CaptureSummary
    ) -> None:
        """Count one written patient and record it in the ledger (always in the run's thread,
        in patient order)."""
        ref = f"Patient/{ready.patient_id}"
        steps = ready.steps
        self._count(summary, ready.timeline, ready.lines, steps, outcomes, ready.conflicts)
        if self.ledger is not None:
            failed = [o for o in outcomes if o.outcome == "failed"]
            if failed:
                self.ledger.patient_failed(ref, f"{len(failed)} write(s) failed", list(outcomes))
            else:
                self.ledger.patient_done(ref, len(ready.lines), list(outcomes))

    def _ffs_conflicts(self, charges: list[Any], timeline: Any) -> list[Any]:
        """cpoc-rules §10 conflicts, only in months of a pack that replaces fee-for-service
        (CPOC); OCM/EOM/CPC+ months keep FFS billing. A patient billed fee-for-service
        (value-and-models §14.3) has none."""
        if timeline.fee_for_service is not None:
            return []
        settings = self.evaluator.models
        replacing = {
            model
            for model in {line.model for line in timeline.lines}
            if load_pack(model, settings).replaces_fee_for_service
        }
        return ffs_conflicts(charges, [ln for ln in timeline.lines if ln.model in replacing])

    def _count(
        self,
        summary: CaptureSummary,
        timeline: Any,
        lines: list[Any],
        steps: Plan,
        outcomes: list[WriteOutcome],
        conflicts: list[dict[str, str]],
    ) -> None:
        summary.patients += 1
        if timeline.fee_for_service is not None:
            # Counted apart, not as a warning: the notice is the patient's whole timeline.
            summary.fee_for_service.append(timeline.patient_ref)
        # A line repeats the record's warnings it depends on: each is counted once.
        texts = dict.fromkeys([*timeline.warnings, *(w for x in lines for w in x.warnings)])
        texts.pop(timeline.fee_for_service or "", None)
        summary.warnings += len(texts)
        summary.warning_list += [capture_warning(timeline.patient_ref, t) for t in texts]
        for line in lines:
            if line.start < self.window_first:
                continue
            summary.lines_by_code[line.code] += 1
            summary.lines_by_model[line.model] += 1
            summary.amount_by_code[line.code] = (
                summary.amount_by_code.get(line.code, Decimal("0.00")) + line.amount
            )
            if line.status is LineStatus.PROVISIONAL:
                summary.provisional += 1
            elif line.status is LineStatus.NOT_BILLABLE:
                summary.not_billable += 1
        summary.conflicts.extend(conflicts)
        summary.notices.extend(f"{timeline.patient_ref}: {n}" for n in steps.notices)
        summary.kept_reviewed.extend(f"{timeline.patient_ref}: {n}" for n in steps.kept)
        summary.review_conflicts.extend(
            f"{timeline.patient_ref}: {n}" for n in steps.review_conflicts
        )
        for outcome in outcomes:
            summary.writes[outcome.outcome] += 1
            if outcome.outcome == "duplicate-retired":  # the sweep's: reported by name
                summary.notices.append(
                    f"{timeline.patient_ref}: ChargeItem/{outcome.chargeitem_id} "
                    f"({outcome.identifier}) {outcome.message}"
                )
            if outcome.outcome == "failed":
                summary.errors.append(
                    f"{timeline.patient_ref} {outcome.identifier}: {outcome.message}"
                )
