"""order-sign: the month's ChargeItems, proposed to the EHR and/or written by the service.

Proposals are ``systemActions`` (CDS Hooks 2.0.1 §System Action) creating each line's
ChargeItem with status ``planned``. With a write credential the service writes them itself,
with the month-end capture's writes (a PUT by deterministic id where the server allows
updateCreate, else a conditional create; If-Match updates; items billing staff moved on left
alone), so signing twice, or the capture run afterwards, never bills a line twice. What the
service wrote is not proposed again: an EHR auto-applying the create would make a second item.

A hook sees only what its prefetch holds, so it plans in ``WriteMode.HOOK``: it creates missing
lines and raises planned items, and never retires or lowers one (only the month-end run, over
the whole record, does; docs/exactly-once.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from cds_hooks.settings import WriteTarget
from cpoc_fhir.capture.capabilities import allows_update_create
from cpoc_fhir.capture.plan import WriteMode, plan
from cpoc_fhir.capture.run import WriteOutcome, check_writes
from cpoc_fhir.capture.server import ServerStore
from cpoc_fhir.engine.facts import PatientRecord
from cpoc_fhir.engine.lines import DEFAULT_MODEL, BillingLine, LineStatus, PatientTimeline
from cpoc_fhir.errors import CpocError, InputError
from cpoc_fhir.fhir.client import FhirClient
from cpoc_fhir.fhir.write import (
    ChargeContext,
    PublishSettings,
    build_charge_item,
    charge_context,
    charge_item_changed,
    charge_item_identifier,
)
from cpoc_fhir.packs.cpoc.codes import DISPLAY
from cpoc_fhir.packs.cpoc.payer import PayerSchedule
from cpoc_fhir.packs.registry import load_pack

Resource = dict[str, Any]

# Whether each write server allows updateCreate, asked once per base URL (not per hook call).
_UPDATE_CREATE: dict[str, bool] = {}


@dataclass(frozen=True)
class ChargeOutcome:
    system_actions: tuple[Resource, ...]
    writes: tuple[WriteOutcome, ...]
    write_error: str | None = None  # the write failed as a whole (server down…)


@dataclass(frozen=True)
class ChargeRequest:
    record: PatientRecord
    timeline: PatientTimeline
    lines: Sequence[BillingLine]  # the lines of the order's months to charge
    month_first: date
    month_last: date
    entered: datetime


def capture_charges(
    request: ChargeRequest,
    payer: PayerSchedule,
    publish: PublishSettings,
    propose: bool,
    target: WriteTarget | None,
    client_for: Callable[[WriteTarget], FhirClient] | None = None,
) -> ChargeOutcome:
    """Write (when a target is configured) then propose what was not written."""
    ctx = charge_context(request.record, payer, publish, request.entered)
    billable = [line for line in request.lines if line.status is not LineStatus.NOT_BILLABLE]
    writes: tuple[WriteOutcome, ...] = ()
    error = None
    if target is not None and billable:
        try:
            writes = tuple(_write(request, ctx, publish, target, client_for or _client))
        except CpocError as exc:
            error = str(exc)
    done = {w.identifier for w in writes if w.outcome != "failed"}
    actions: list[Resource] = []
    if propose:
        for line in billable:
            ident = charge_item_identifier(ctx.patient_ref, line)
            if ident not in done:
                actions.append(_proposal(line, build_charge_item(line, ctx)))
    return ChargeOutcome(tuple(actions), writes, error)


def _proposal(line: BillingLine, item: Resource) -> Resource:
    planned = dict(item, status="planned")
    month = f"month {line.month}" if line.month else line.start.isoformat()
    if line.model == DEFAULT_MODEL:
        what = f"the CPOC charge {line.code} {DISPLAY[line.code]} ({month})"
    else:  # another pack's line (value-and-models §15): its coding's display, its episode
        display = item["code"]["coding"][0].get("display") or line.code
        episode = f"episode {line.episode}, " if line.episode is not None else ""
        what = f"the {_short_name(line.model)} charge {line.code} {display} ({episode}{month})"
    return {
        "type": "create",
        "description": f"Capture {what} as a planned ChargeItem",
        "resource": planned,
    }


def _short_name(model: str) -> str:
    try:
        return load_pack(model).short_name  # loaded by the evaluation already
    except InputError:
        return model


def _write(
    request: ChargeRequest,
    ctx: ChargeContext,
    publish: PublishSettings,
    target: WriteTarget,
    client_for: Callable[[WriteTarget], FhirClient],
) -> list[WriteOutcome]:
    """The capture run's plan-and-apply, for the order's months only."""
    system = publish.practice_identifier_system
    # Every line up to the month, as the capture run builds them: earlier items are only
    # finalised (never created) by the plan, the month's are created or updated.
    lines = [line for line in request.timeline.lines if line.start <= request.month_last]
    desired = [build_charge_item(line, ctx, validate=False) for line in lines]
    patient_id = ctx.patient_ref.split("/", 1)[1]
    with client_for(target) as client:
        if target.fhir_base not in _UPDATE_CREATE:
            _UPDATE_CREATE[target.fhir_base] = allows_update_create(client.capabilities())
        store = ServerStore(
            client, system, charge_item_changed, _UPDATE_CREATE[target.fhir_base], sweep=False
        )
        query = {"subject": ctx.patient_ref, "_count": "200"}
        existing = list(client.search("ChargeItem", query))
        steps = plan(
            desired,
            existing,
            system,
            request.month_first,
            request.month_last,
            charge_item_changed,
            WriteMode.HOOK,
        )
        check_writes(steps)
        return store.apply(patient_id, steps)


def _client(target: WriteTarget) -> FhirClient:
    return FhirClient(target.fhir_base, auth=target.auth, max_retries=1)
