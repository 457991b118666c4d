"""Billing staff's actions on ChargeItems: approve, hold, correct, decline, batch approve.

Each action is one FHIR transaction: the ChargeItem update carries ``If-Match`` on the version
the user saw, and the Provenance (and, for a correction, the new ChargeItem) go in the same
Bundle, so a stale version (412) or any refusal applies nothing. Then an audit row
(``HookLog``, service "review"). Decisions (README, "SMART review app"):

- approve: planned (held or not) → billable; the hold is lifted.
- hold: planned or billable → planned + the ``review-hold`` extension (reason required).
- decline: planned or billable → not-billable (reason required).
- correct: planned or billable, another code of the item's pack (CPOC's: a level is a code;
  another pack's: one of its codes, the amount kept, review/packs.py) and a reason → the old
  item entered-in-error, a new one ``billable`` (a corrected charge has been reviewed) with the
  identifier ``<old>-c<n>``, the payer's amount, a note and the ``review-replaces`` extension
  pointing at the old version (R4 ``partOf`` means "grouped into", not "replaces").
- every item an action writes carries the meta.tag ``review-action|reviewed``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from cds_hooks.review.compare import HOLD_EXTENSION, ServerItem, base_identifier, server_item
from cds_hooks.review.compare import correction_number as _correction_number
from cds_hooks.review.packs import item_pack, pack_correction
from cds_hooks.review.provenance import REVIEW_ACTION, Change, build_provenance
from cpoc_fhir.engine.lines import DEFAULT_MODEL
from cpoc_fhir.errors import CpocError
from cpoc_fhir.fhir.client import FhirClient, FhirError, FhirPreconditionFailed, FhirServerError
from cpoc_fhir.fhir.write import PublishSettings, cpoc_codings, validate_charge_item
from cpoc_fhir.fhir.write.review_marks import REPLACES_EXTENSION, REVIEWED_CODE
from cpoc_fhir.packs.cpoc.codes import CODES
from cpoc_fhir.packs.cpoc.payer import CENT, PayerSchedule
from cpoc_fhir.packs.settings import ModelSettings
from cpoc_fhir.store.hooks import Invocation

Resource = dict[str, Any]

REVIEWED_TAG = {"system": REVIEW_ACTION, "code": REVIEWED_CODE, "display": "Reviewed by staff"}
FROM = {
    "approve": {"planned"},
    "hold": {"planned", "billable"},
    "decline": {"planned", "billable"},
    "correct": {"planned", "billable"},
}
DONE = {"approve": "approved", "hold": "held", "decline": "declined", "correct": "corrected"}


class ReviewError(CpocError):
    """A review action that was not applied; the message is for the user."""


class ReadOnlyError(ReviewError, PermissionError):
    """The granted scopes do not allow writing ChargeItems."""


class ReviewConflict(ReviewError):
    """The item changed since the user saw it (412 on If-Match): nothing was applied."""


class ReviewRefused(ReviewError, ValueError):
    """A missing reason, an unknown code, or an item whose status does not allow the action."""


class AuditLog(Protocol):
    def record(self, call: Invocation) -> None: ...


@dataclass(frozen=True)
class ActionResult:
    """What one action did."""

    action: str
    outcome: str  # approved | held | declined | corrected | conflict | failed
    item_ref: str
    version: str | None = None  # of the updated item
    new_item_ref: str | None = None  # a correction's new item
    provenance_ref: str | None = None
    before: str = ""
    after: str = ""
    message: str = ""


@dataclass(frozen=True)
class Reviewer:
    """One user's review actions against one FHIR server (built per request)."""

    client: FhirClient
    publish: PublishSettings
    payer: PayerSchedule
    user: str | None  # the session's fhirUser ("Practitioner/123"), None when unknown
    can_write: bool  # the granted scopes allow writing ChargeItem (and Provenance)
    now: Callable[[], datetime]
    audit: AuditLog | None = None
    models: ModelSettings | None = None  # §15: the packs (and data files) items belong to

    def approve(self, item_id: str, version: str, reason: str = "") -> ActionResult:
        return self._act("approve", item_id, version, reason.strip())

    def hold(self, item_id: str, version: str, reason: str) -> ActionResult:
        return self._act("hold", item_id, version, _required(reason, "hold"))

    def decline(self, item_id: str, version: str, reason: str) -> ActionResult:
        return self._act("decline", item_id, version, _required(reason, "decline"))

    def correct(
        self,
        item_id: str,
        version: str,
        reason: str,
        code: str | None = None,
        level: int | None = None,
    ) -> ActionResult:
        """Another code, or the same component at another ``level``."""
        return self._act("correct", item_id, version, _required(reason, "correct"), code, level)

    def batch_approve(self, items: Sequence[tuple[str, str]]) -> list[ActionResult]:
        """Approve each (id, version) on its own; a conflict or failure stops only that one."""
        self._writable("approve")
        results = []
        for item_id, version in items:
            try:
                results.append(self.approve(item_id, version))
            except ReviewConflict as exc:
                results.append(ActionResult("approve", "conflict", _ref(item_id), message=str(exc)))
            except (ReviewError, FhirError, ValueError) as exc:
                results.append(ActionResult("approve", "failed", _ref(item_id), message=str(exc)))
        return results

    # --- one action -----------------------------------------------------------------------
    def _act(
        self,
        action: str,
        item_id: str,
        version: str,
        reason: str,
        code: str | None = None,
        level: int | None = None,
    ) -> ActionResult:
        started = time.monotonic()
        self._writable(action)
        current = self.client.read("ChargeItem", item_id)
        item = server_item(current, self._system, self.publish.codesystem_url)
        if item.version != str(version):
            self._audit(action, item, "conflict", 412, started)
            raise _conflict(item_id)
        if item.status not in FROM[action]:
            raise ReviewRefused(f"{item.ref} is {item.review_status}: it cannot be {DONE[action]}")
        try:
            return self._write(action, item, reason, code, level, started)
        except (FhirPreconditionFailed, FhirServerError) as exc:
            if isinstance(exc, FhirPreconditionFailed) or exc.status == 409:
                self._audit(action, item, "conflict", 412, started)
                raise _conflict(item_id) from None
            self._audit(action, item, "failed", exc.status or 0, started)
            raise ReviewError(f"the FHIR server refused to {action} {item.ref}: {exc}") from None

    def _write(
        self,
        action: str,
        item: ServerItem,
        reason: str,
        code: str | None,
        level: int | None,
        started: float,
    ) -> ActionResult:
        now = self.now()
        old = item.resource
        updated = _changed(old, action, reason)
        entries = [_put(updated, if_match=item.version)]
        new_item: Resource | None = None
        if action == "correct":
            pack = item_pack(item, self.publish.codesystem_url, self.models)
            new_code = _new_code(item, code, level) if pack == DEFAULT_MODEL else code or ""
            new_item = self._corrected(item, new_code, reason, now, pack)
            entries.append(_put(new_item))
        previous = f"{item.ref}/_history/{item.version}"
        targets = [_next_version(item.ref, item.version)]
        if new_item is not None:
            targets.append(f"ChargeItem/{new_item['id']}/_history/1")
        change = Change(
            action,
            targets,
            previous,
            describe(old),
            describe(new_item or updated),
            reason,
            self.user,
            now,
        )
        provenance = build_provenance(change, str(uuid.uuid4()))
        results = self.client.transaction([*entries, _put(provenance)])
        actual = [f"{item.ref}/_history/{results[0].version}"]
        if new_item is not None:
            actual.append(f"ChargeItem/{new_item['id']}/_history/{results[1].version}")
        if actual != targets:  # a server whose versions are not 1, 2, 3…: name the real ones
            change = replace(change, targets=actual)
            self.client.update(build_provenance(change, provenance["id"]))
        result = ActionResult(
            action,
            DONE[action],
            item.ref,
            results[0].version,
            f"ChargeItem/{new_item['id']}" if new_item else None,
            f"Provenance/{provenance['id']}",
            change.before,
            change.after,
        )
        self._audit(action, item, result.outcome, 200, started, result, reason)
        return result

    def _corrected(
        self, item: ServerItem, code: str, reason: str, now: datetime, pack: str
    ) -> Resource:
        old = item.resource
        if pack == DEFAULT_MODEL:
            codings = cpoc_codings(code, self.payer, self.publish)
            definition: list[str] | None = [self.publish.definition_url(code)]
            # the year of the item's own month prices it (a Dec line keeps Dec's year)
            amount = self.payer.amount(code, item.start).quantize(CENT)
            price: Mapping[str, Any] = {"value": amount, "currency": self.payer.currency}
        else:
            if code == item.code:
                raise ReviewRefused(f"{item.ref} already has code {code}: nothing to correct")
            try:
                codings, price = pack_correction(
                    item, pack, code, self.publish.codesystem_url, self.models
                )
            except ValueError as exc:
                raise ReviewRefused(str(exc)) from None
            definition = None  # only CPOC's codes have a ChargeItemDefinition
        number = _correction_number(item.identifier or "") + 1
        value = f"{base_identifier(item.identifier or item.id)}-c{number}"
        identifiers = [i for i in old.get("identifier") or [] if i.get("system") != self._system]
        who = self.user or "unknown user"
        new = {
            **{
                k: v
                for k, v in old.items()
                if k not in ("meta", "extension", "text", "definitionCanonical")
            },
            "id": str(uuid.uuid4()),
            "meta": {"tag": _tags(old)},
            "extension": [
                {
                    "url": REPLACES_EXTENSION,
                    "valueReference": {"reference": f"{item.ref}/_history/{item.version}"},
                }
            ],
            "identifier": [{"system": self._system, "value": value}, *identifiers],
            "status": "billable",
            "code": {"coding": codings},
            "definitionCanonical": definition,
            "priceOverride": price,
            "enteredDate": now.isoformat(timespec="seconds"),
            "note": [
                *(old.get("note") or []),
                {
                    "text": f"Corrected from {item.code} ({item.ref}) to {code} by {who}: {reason}",
                    "time": now.isoformat(timespec="seconds"),
                },
            ],
        }
        return validate_charge_item({k: v for k, v in new.items() if v is not None})

    # --- checks and audit -----------------------------------------------------------------
    @property
    def _system(self) -> str:
        return self.publish.practice_identifier_system

    def _writable(self, action: str) -> None:
        if not self.can_write:
            raise ReadOnlyError(
                f"cannot {action}: the scopes granted to this session do not allow writing "
                "ChargeItems (read-only review)"
            )

    def _audit(
        self,
        action: str,
        item: ServerItem,
        outcome: str,
        status: int,
        started: float,
        result: ActionResult | None = None,
        reason: str = "",
    ) -> None:
        if self.audit is None:
            return
        write: dict[str, str | None] = {
            "chargeItem": f"{item.ref}/_history/{item.version}",
            "outcome": outcome,
        }
        if result is not None:
            write |= {
                "version": result.version,
                "newChargeItem": result.new_item_ref,
                "provenance": result.provenance_ref,
                "before": result.before,
                "after": result.after,
                "reason": reason,
            }
        self.audit.record(
            Invocation(
                service="review",
                outcome=outcome,
                http_status=status,
                latency_ms=(time.monotonic() - started) * 1000,
                hook=action,
                client=self.user or "unknown",
                patient_ref=item.patient_ref,
                writes=[{k: v for k, v in write.items() if v}],
                at=self.now(),
            )
        )


def describe(resource: Resource) -> str:
    """Readable state of a ChargeItem: "planned (on hold: …), xx202, 430.00 USD"."""
    status = str(resource.get("status"))
    held = next(
        (
            e.get("valueString")
            for e in resource.get("extension") or []
            if e.get("url") == HOLD_EXTENSION
        ),
        None,
    )
    codes = [c.get("code") for c in (resource.get("code") or {}).get("coding") or []]
    price = resource.get("priceOverride") or {}
    amount = f", {price.get('value')} {price.get('currency', '')}".rstrip() if price else ""
    return f"{status}{f' (on hold: {held})' if held else ''}, {codes[0] if codes else '?'}{amount}"


def _required(reason: str, action: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise ReviewRefused(f"a reason is required to {action} a charge")
    return text


def _new_code(item: ServerItem, code: str | None, level: int | None) -> str:
    if code is None and level is not None and item.code in CODES:
        component = CODES[item.code][0]
        code = next((c for c, v in CODES.items() if v[0] is component and v[1] == level), None)
        if code is None:
            raise ReviewRefused(f"{component.value} has no level {level}")
    if code not in CODES:
        raise ReviewRefused(f"not a CPOC code: {code!r}")
    if code == item.code:
        raise ReviewRefused(f"{item.ref} already has code {code}: nothing to correct")
    return code


def _changed(old: Resource, action: str, reason: str) -> Resource:
    """The item after approve, hold, decline (or, for correct, the retired old one)."""
    status = {
        "approve": "billable",
        "hold": "planned",
        "decline": "not-billable",
        "correct": "entered-in-error",
    }[action]
    extensions = [e for e in old.get("extension") or [] if e.get("url") != HOLD_EXTENSION]
    if action == "hold":
        extensions.append({"url": HOLD_EXTENSION, "valueString": reason})
    new = {k: v for k, v in old.items() if k not in ("meta", "extension", "text")}
    new |= {"meta": {"tag": _tags(old)}, "status": status}
    if extensions:
        new["extension"] = extensions
    if action == "decline":
        new["note"] = [*(old.get("note") or []), {"text": f"Declined: {reason}"}]
    return validate_charge_item(new)


def _tags(resource: Resource) -> list[Resource]:
    tags = [t for t in (resource.get("meta") or {}).get("tag") or [] if t != REVIEWED_TAG]
    return [*tags, REVIEWED_TAG]


def _put(resource: Resource, if_match: str | None = None) -> Resource:
    request = {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}
    if if_match:
        request["ifMatch"] = f'W/"{if_match}"'
    return {"resource": resource, "request": request}


def _next_version(ref: str, version: str | None) -> str:
    """The version the update will get on servers that count 1, 2, 3… (checked after)."""
    return f"{ref}/_history/{int(version) + 1}" if version and version.isdigit() else ref


def _conflict(item_id: str) -> ReviewConflict:
    return ReviewConflict(
        f"ChargeItem/{item_id} was changed by someone else since you loaded it: "
        "reload the page and try again (nothing was changed)"
    )


def _ref(item_id: str) -> str:
    return f"ChargeItem/{item_id}"
