"""What the review pages show, as plain data: a patient's months and the work queue.

No Flask here: the blueprint calls these with a ``FhirClient``, the ``Evaluator`` and the
user's filters, and renders the result (templates patient.html, print.html, queue.html).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from cds_hooks.review.actions import ActionResult, Reviewer, ReviewRefused
from cds_hooks.review.compare import ON_HOLD, Comparison, ServerItem, compare, server_item
from cds_hooks.review.packs import code_choices, item_pack, known_codes, short_name
from cds_hooks.review.patient_summary import (
    ACTION_FIRST,
    MonthRow,
    PatientHeader,
    YearTotals,
    month_rows,
    ordered_rows,
    patient_header,
    patient_name,
    summary_words,
    year_totals,
)
from cds_hooks.review.record import patient_record, report_foreign
from cpoc_fhir.engine.lines import DEFAULT_MODEL, BillingLine, ModelSpan, is_resource_reference
from cpoc_fhir.fhir.client import FhirClient
from cpoc_fhir.fhir.write import PublishSettings
from cpoc_fhir.packs.cpoc.codes import CODES
from cpoc_fhir.packs.registry import load_pack, pack_modules
from cpoc_fhir.packs.settings import ModelSettings
from cpoc_fhir.pictures.timeline_svg import timeline_svg
from cpoc_fhir.service import Evaluator

PAGE = "200"
QUEUE_STATUSES = ("planned", ON_HOLD)


@dataclass(frozen=True)
class Link:
    ref: str  # "Type/id"
    url: str  # {fhir_base}/Type/id


@dataclass(frozen=True)
class MonthView:
    """One billing month of the patient view: its lines and items side by side."""

    label: str  # "Month 3 (2025-05-03)" or "Before month 1"
    rows: tuple[Comparison, ...]


@dataclass(frozen=True)
class PatientPage:
    patient_ref: str
    name: str
    as_of: date
    fhir_base: str
    months: tuple[MonthView, ...]
    warnings: tuple[str, ...]  # the timeline's (what could not be interpreted)
    retired: tuple[ServerItem, ...]  # entered-in-error items, for the record
    can_write: bool
    counts: Mapping[str, int]  # per Match value
    # value-and-models §15: which pack held the patient when, and why (the Coverage)
    models: tuple[ModelSpan, ...] = ()
    pack_names: Mapping[str, str] = field(default_factory=dict)  # pack id → short name
    item_packs: Mapping[str, str] = field(default_factory=dict)  # item id → its pack's id
    pack_choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # pack → codes
    # issue 17 item 1: the header, the month table, the year totals, the computed currency
    header: PatientHeader | None = None
    rows: tuple[MonthRow, ...] = ()
    totals: tuple[YearTotals, ...] = ()
    currency: str = ""
    picture: str = ""  # the timeline SVG (issue 17 item 2), markup built by timeline_svg

    def __post_init__(self) -> None:
        if not self.rows and self.months:  # built from months alone (tests, older callers)
            object.__setattr__(self, "rows", month_rows((m.label, m.rows) for m in self.months))

    @property
    def patient_id(self) -> str:
        return self.patient_ref.split("/")[-1]

    @property
    def summary(self) -> tuple[str, ...]:
        """The month table counted in plain words."""
        return summary_words(self.rows)

    @property
    def open_count(self) -> int:
        return sum(1 for r in self.rows if r.needs_action)

    def shown_rows(self, open_only: bool, order: str = ACTION_FIRST) -> tuple[MonthRow, ...]:
        """Every row, or (``open_only``) those needing action, in ``order``
        (``patient_summary.ORDERS``)."""
        rows = [r for r in self.rows if r.needs_action or not open_only]
        return ordered_rows(rows, order)

    def pack_label(self, line: BillingLine) -> str:
        """The line's pack (short name) and, for an episode model, "episode N, month k";
        "" for a CPOC line (the page's default)."""
        if line.model == DEFAULT_MODEL:
            return ""
        name = self.pack_names.get(line.model, line.model)
        if line.episode is None:
            return name
        return f"{name} episode {line.episode}, month {line.month}"

    @property
    def codes(self) -> tuple[str, ...]:
        """The CPOC codes a correction may choose."""
        return tuple(CODES)

    def code_choices(self, item: ServerItem) -> tuple[str, ...]:
        """The codes a correction of ``item`` may choose: its own pack's (§15)."""
        pack = self.item_packs.get(item.id, DEFAULT_MODEL)
        return self.pack_choices.get(pack, self.codes if pack == DEFAULT_MODEL else ())

    def viewable(self, ref: str) -> bool:
        """Whether evidence ``ref`` names one resource the evidence viewer can open (a search
        that was run, "Observation?…", names none)."""
        return is_resource_reference(ref)

    def link(self, ref: str) -> Link:
        """A link to a resource of the record on the FHIR server."""
        return Link(ref, f"{self.fhir_base}/{ref}")


def patient_page(
    client: FhirClient,
    evaluator: Evaluator,
    publish: PublishSettings,
    patient_id: str,
    as_of: date,
    can_write: bool,
) -> PatientPage:
    """Read the patient's record and ChargeItems, evaluate as of ``as_of``, pair them up."""
    resources = patient_record(client, patient_id)  # other patients' resources left out
    record = evaluator.record(resources)
    timeline = evaluator.evaluate(record, as_of)
    ref = f"Patient/{patient_id}"
    raw = client.search("ChargeItem", {"subject": ref, "_count": PAGE})
    found = [
        server_item(r, publish.practice_identifier_system, publish.codesystem_url) for r in raw
    ]
    # A server that ignores ``subject`` must not show another patient's charges here.
    items = [i for i in found if _about(i, ref)]
    if len(items) < len(found):
        report_foreign(ref, sorted(f"ChargeItem/{i.id}" for i in found if not _about(i, ref)))
    rows = compare(ref, timeline.lines, items)
    models = evaluator.models
    item_packs = {i.id: item_pack(i, publish.codesystem_url, models) for i in items}
    used = {s.model for s in timeline.models} | {x.model for x in timeline.lines}
    pack_names = {m: load_pack(m, models).short_name for m in used | set(item_packs.values())}
    header = patient_header(resources.patient or {}, record.coverages, as_of, ref)
    months = _months(rows, pack_names)
    return PatientPage(
        patient_ref=ref,
        name=header.name,
        as_of=as_of,
        fhir_base=client.base_url,
        months=tuple(months),
        warnings=tuple(timeline.warnings),
        retired=tuple(i for i in items if i.status == "entered-in-error"),
        can_write=can_write,
        counts=dict(Counter(r.match.value for r in rows)),
        models=timeline.models,
        pack_names=pack_names,
        item_packs=item_packs,
        pack_choices={m: code_choices(m, models) for m in set(item_packs.values())},
        header=header,
        rows=month_rows((m.label, m.rows) for m in months),
        totals=year_totals(i for i in items if i.status != "entered-in-error"),
        currency=evaluator.payer.currency,
        picture=timeline_svg(timeline, record, id_prefix="timeline"),
    )


def _about(item: ServerItem, patient_ref: str) -> bool:
    subject = item.patient_ref or ""
    return subject == patient_ref or subject.endswith(f"/{patient_ref}")


def _months(
    rows: Iterable[Comparison], pack_names: Mapping[str, str] | None = None
) -> list[MonthView]:
    """Rows grouped by billing month: a line's month index; an extra item joins the month
    starting on its date, else stands alone under its date. An episode pack's months are
    "<pack> episode N, month k" (value-and-models §15): month 1 of episode 2 is not month 1 of
    episode 1; those months are shown in date order."""
    rows = list(rows)
    groups: dict[str, list[Comparison]] = {}
    label_of_start: dict[date, str] = {}
    episodic = False
    for row in rows:
        line = row.line
        if line is not None and line.month is not None:
            label = f"Month {line.month}"
            if line.episode is not None:
                episodic = True
                name = (pack_names or {}).get(line.model, line.model.upper())
                label = f"{name} episode {line.episode}, month {line.month}"
            label_of_start.setdefault(line.start, label)
    for row in rows:
        if row.line is not None:
            label = label_of_start.get(row.line.start, "Before month 1")
        else:
            label = label_of_start.get(row.start, "On the server only")
        groups.setdefault(label, []).append(row)
    if episodic:
        ordered = sorted(groups.items(), key=lambda kv: _first_day(kv[1]))
        return [MonthView(label, tuple(group)) for label, group in ordered]
    return [MonthView(label, tuple(group)) for label, group in groups.items()]


def _first_day(rows: Sequence[Comparison]) -> date:
    days = [r.line.start if r.line is not None else r.start for r in rows]
    return min((d for d in days if d is not None), default=date.max)


# --- work queue -----------------------------------------------------------------------------
@dataclass(frozen=True)
class QueueFilters:
    """The work queue's filters; empty strings mean "any"."""

    month: str = ""  # YYYY-MM of the occurrence start
    status: str = ""  # planned | on-hold
    code: str = ""  # a code of any pack
    provider: str = ""  # a performer or enterer reference ("Practitioner/1")
    model: str = ""  # a pack id (value-and-models §15): its items only

    @classmethod
    def from_args(
        cls, args: Mapping[str, str], models: ModelSettings | None = None
    ) -> QueueFilters:
        """From query arguments; unknown values raise ``ValueError`` naming the filter."""
        month = (args.get("month") or "").strip()
        status = (args.get("status") or "").strip()
        code = (args.get("code") or "").strip()
        model = (args.get("model") or "").strip()
        if month:
            try:
                date.fromisoformat(f"{month}-01")
            except ValueError:
                raise ValueError(f"month: not YYYY-MM: {month!r}") from None
        if status and status not in QUEUE_STATUSES:
            raise ValueError(f"status: one of {', '.join(QUEUE_STATUSES)}")
        if model and model not in pack_modules(models):
            known = ", ".join(sorted(pack_modules(models)))
            raise ValueError(f"model: not a known pack: {model!r} (known: {known})")
        if code and code not in known_codes(models):
            raise ValueError(f"code: not a code of any pack: {code!r}")
        return cls(month, status, code, (args.get("provider") or "").strip(), model)

    def as_args(self) -> dict[str, str]:
        """The filters set, as query arguments (the export links keep them)."""
        return {k: v for k, v in vars(self).items() if v}

    def keep(self, item: ServerItem, model: str = DEFAULT_MODEL) -> bool:
        """Whether ``item`` (of pack ``model``) passes the filters."""
        return (
            (not self.model or model == self.model)
            and (not self.month or item.month == self.month)
            and (not self.status or item.review_status == self.status)
            and (not self.code or item.code == self.code)
            and (not self.provider or self.provider in item.providers)
        )


@dataclass(frozen=True)
class QueuePage:
    items: tuple[ServerItem, ...]  # after the filters, by month then patient
    filters: QueueFilters
    total: int  # planned and held items before the filters
    counts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # status/code/month
    providers: tuple[str, ...] = ()  # every provider seen, for the filter's choices
    can_write: bool = False
    names: Mapping[str, str] = field(default_factory=dict)  # "Patient/id" → name shown
    packs: Mapping[str, str] = field(default_factory=dict)  # item id → its pack's short name
    pack_ids: Mapping[str, str] = field(default_factory=dict)  # pack id → short name (filter)

    @property
    def amount_totals(self) -> dict[str, Decimal]:
        """The shown items' amounts summed per currency (the queue's total)."""
        totals: dict[str, Decimal] = {}
        for item in self.items:
            if item.amount is not None:
                currency = item.currency or ""
                totals[currency] = totals.get(currency, Decimal(0)) + item.amount
        return {c: a.quantize(Decimal("0.01")) for c, a in sorted(totals.items())}


def work_queue(
    client: FhirClient,
    publish: PublishSettings,
    filters: QueueFilters,
    can_write: bool,
    models: ModelSettings | None = None,
) -> QueuePage:
    """ChargeItems planned or on hold across patients (every page), filtered and counted."""
    params = {"status": "planned", "_count": PAGE}
    raw = client.search("ChargeItem", params)
    system, codesystem = publish.practice_identifier_system, publish.codesystem_url
    # A server that ignores the status parameter must not put billed items in the queue.
    queue = [i for i in (server_item(r, system, codesystem) for r in raw) if i.status == "planned"]
    pack_of = {i.id: item_pack(i, codesystem, models) for i in queue}
    shown = sorted(
        (i for i in queue if filters.keep(i, pack_of[i.id])),
        key=lambda i: (i.month, i.patient_ref or "", i.start or date.min, i.code or "", i.id),
    )
    counts = {
        "status": dict(Counter(i.review_status for i in queue)),
        "code": dict(sorted(Counter(i.code or "?" for i in queue).items())),
        "month": dict(sorted(Counter(i.month or "?" for i in queue).items())),
        "model": dict(sorted(Counter(pack_of.values()).items())),
    }
    providers = tuple(sorted({p for i in queue for p in i.providers}))
    names = patient_names(client, {i.patient_ref for i in shown if i.patient_ref})
    pack_ids = {m: short_name(m, models) for m in {*pack_of.values(), filters.model} if m}
    return QueuePage(
        tuple(shown),
        filters,
        len(queue),
        counts,
        providers,
        can_write,
        names,
        packs={i.id: pack_ids[pack_of[i.id]] for i in shown},
        pack_ids=pack_ids,
    )


def patient_names(client: FhirClient, refs: Iterable[str]) -> dict[str, str]:
    """The names of the patients ``refs`` ("Patient/id"), one search per 50 (``_id``)."""
    ids = sorted({r.split("/")[-1] for r in refs if r.startswith("Patient/")})
    names: dict[str, str] = {}
    for start in range(0, len(ids), 50):
        chunk = ids[start : start + 50]
        found = client.search("Patient", {"_id": ",".join(chunk), "_count": PAGE})
        for patient in found:
            # Only those asked for: a server that ignores _id must not name anyone else.
            if patient.get("id") in chunk and (name := patient_name(patient)):
                names[f"Patient/{patient['id']}"] = name
    return names


# --- the actions form -----------------------------------------------------------------------
def perform(
    reviewer: Reviewer, form: Mapping[str, str], items: Sequence[str] = ()
) -> list[ActionResult]:
    """Run the action a review form posted (fields: action, item_id, version, reason, code,
    level; a batch approve posts ``item`` = "id@version" repeated, given as ``items``).

    Raises ``ReadOnlyError``, ``ReviewConflict``, ``ReviewRefused`` (→ a page with the message).
    """
    action = form.get("action", "")
    item_id, version = form.get("item_id", ""), form.get("version", "")
    reason = form.get("reason", "")
    if action == "batch-approve":
        pairs = [tuple(i.split("@", 1)) for i in items if "@" in i]
        if not pairs:
            raise ReviewRefused("select at least one charge to approve")
        return reviewer.batch_approve([(p[0], p[1]) for p in pairs])
    if not item_id or not version:
        raise ReviewRefused("the form names no ChargeItem and version")
    if action == "approve":
        return [reviewer.approve(item_id, version, reason)]
    if action == "hold":
        return [reviewer.hold(item_id, version, reason)]
    if action == "decline":
        return [reviewer.decline(item_id, version, reason)]
    if action == "correct":
        level = form.get("level") or ""
        code = form.get("code") or None
        return [
            reviewer.correct(
                item_id, version, reason, code, int(level) if level.isdigit() else None
            )
        ]
    raise ReviewRefused(f"unknown action: {action!r}")
