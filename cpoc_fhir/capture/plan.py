"""What a capture run must write for one patient: desired ChargeItems against existing ones.

Pure: no I/O. The run (``capture.run``) fetches the existing ChargeItems, calls ``plan`` and
performs the actions. Rules:
- every line whose billing month starts in the run's calendar month is created or updated;
- earlier lines are only finalised: an existing *planned* (provisional) item is updated when its
  line changed; a billed or approved item is never touched (a changed one is reported);
- an existing live item whose line no longer exists (a data correction) becomes
  ``entered-in-error``;
- two live items with one identifier (never expected) keep one (the lowest id, so every run
  keeps the same); the others become ``entered-in-error`` and are reported;
- an item billing staff reviewed in the review app (meta.tag ``review-action|reviewed``, or the
  ``review-hold`` extension) is staff-owned: never changed (status nor content), only reported
  ("kept: reviewed by staff"); when its line now differs in code, level or amount the run
  reports a review conflict instead of writing. A staff correction ``<identifier>-c<n>`` stands
  for its base identifier's line: the line is neither re-created nor the correction retired.

Two write modes (``WriteMode``). The month-end run sees the whole record and may do all of the
above. A hook (order-sign) sees only what its prefetch holds, so in ``HOOK`` mode the plan only
creates a missing line or *raises* a planned item (a higher amount): it never retires an item,
never lowers one, never retires a duplicate — those wait for the month-end run (a hook
with an empty prefetch once retired a live charge).

An entered-in-error item never stands for its line: a line whose items were all retired is
created again, under the next free deterministic id (``capture.ids``), so the retired item
cannot block it (a conditional create by identifier would match the retired item).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from cpoc_fhir.capture.ids import next_free_id
from cpoc_fhir.fhir.write.review_marks import (
    base_identifier,
    correction_number,
    is_staff_owned,
    replaced_reference,
)

Resource = dict[str, Any]

LIVE_EXCLUDED = frozenset({"entered-in-error"})
# Statuses the product may overwrite. "billed" (sent to the payer) and "aborted" belong to
# billing staff and the payer workflow; they are never changed by a run.
# Unless the item is staff-owned (reviewed or held): see ``is_staff_owned``.
UPDATABLE = frozenset({"planned", "billable", "not-billable"})
KEPT_REVIEWED = "kept: reviewed by staff"


class WriteMode(Enum):
    RUN = "run"  # the month-end run, over the whole record: create, update, retire
    HOOK = "hook"  # a hook, over its prefetch: create or raise only


class Action(Enum):
    CREATE = "create"
    UPDATE = "update"
    ENTER_IN_ERROR = "enter-in-error"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class Step:
    action: Action
    identifier: str
    resource: Resource  # the resource to send (or the existing one when unchanged)
    existing_id: str | None = None
    existing_version: str | None = None
    reason: str = ""
    new_id: str | None = None  # a create: the line's deterministic id (capture.ids)
    recreate: bool = False  # a create of a line whose earlier item(s) were retired
    only_raise: bool = False  # an update from a hook: re-planned after a 412 only if it raises


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # changed after billing, duplicates
    kept: list[str] = field(default_factory=list)  # staff-owned items left as they are
    review_conflicts: list[str] = field(default_factory=list)  # lines changed after review

    def of(self, action: Action) -> list[Step]:
        return [s for s in self.steps if s.action is action]


def identifier_of(resource: Mapping[str, Any], system: str) -> str | None:
    for ident in resource.get("identifier") or []:
        if isinstance(ident, Mapping) and ident.get("system") == system and ident.get("value"):
            return str(ident["value"])
    return None


def occurrence_start(resource: Mapping[str, Any]) -> date | None:
    value = (resource.get("occurrencePeriod") or {}).get("start") or resource.get(
        "occurrenceDateTime"
    )
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def plan(
    desired: Iterable[Resource],
    existing: Iterable[Resource],
    system: str,
    month_first: date,
    month_last: date,
    changed: Callable[[Resource, Resource], bool],
    mode: WriteMode = WriteMode.RUN,
) -> Plan:
    """The steps for one patient. ``desired`` are the ChargeItems of every current line up to
    the run's month; ``existing`` the patient's ChargeItems on the server with our identifier
    system. ``changed(existing, desired)`` compares the fields the product owns."""
    result = Plan()
    existing = list(existing)
    hook = mode is WriteMode.HOOK
    live = live_by_identifier(existing, system, result, retire=not hook)
    taken = {str(r["id"]) for r in existing if r.get("id")}
    retired = {identifier_of(r, system) for r in existing if r.get("status") in LIVE_EXCLUDED}
    wanted = {}
    for resource in desired:
        ident = identifier_of(resource, system)
        if ident is None:
            raise ValueError("a desired ChargeItem has no identifier in the practice system")
        wanted[ident] = resource

    for ident, resource in wanted.items():
        start = occurrence_start(resource)
        if start is None or start > month_last:
            continue
        current = live.get(ident)
        in_month = start >= month_first
        if current is None:
            if in_month:
                again = ident in retired
                reason = "line re-created (its earlier item was retired)" if again else "new line"
                new_id = next_free_id(system, ident, taken)
                result.steps.append(
                    Step(
                        Action.CREATE, ident, resource, reason=reason, new_id=new_id, recreate=again
                    )
                )
            continue
        if is_staff_owned(current):
            result.steps.append(_kept(ident, resource, current, existing, system, result))
            continue
        step = _update_or_keep(ident, resource, current, in_month, changed, result)
        result.steps.append(_hook_update(step, current) if hook else step)

    for ident, current in live.items():
        if ident in wanted:
            continue
        start = occurrence_start(current)
        if start is None or start > month_last:
            continue
        if is_staff_owned(current):
            _kept_without_line(ident, current, system, result)
            continue
        if hook:
            continue  # the hook's prefetch may just not hold the line's facts
        if current.get("status") not in UPDATABLE:
            result.notices.append(
                f"ChargeItem/{current.get('id')} ({ident}) has no line any more but is "
                f"{current.get('status')}: left for billing staff"
            )
            continue
        result.steps.append(
            _enter_in_error(ident, current, "its line no longer exists after a data correction")
        )
    return result


def _update_or_keep(
    ident: str,
    desired: Resource,
    current: Resource,
    in_month: bool,
    changed: Callable[[Resource, Resource], bool],
    result: Plan,
) -> Step:
    keep = Step(Action.UNCHANGED, ident, current, current.get("id"), _version(current))
    if not changed(current, desired):
        return keep
    status = current.get("status")
    if status not in UPDATABLE:
        result.notices.append(
            f"ChargeItem/{current.get('id')} ({ident}) is {status} but its line changed: "
            "left for billing staff to correct"
        )
        return keep
    if not in_month and status != "planned":
        result.notices.append(
            f"ChargeItem/{current.get('id')} ({ident}) of an earlier month is {status} and its "
            "line changed: left for billing staff to correct"
        )
        return keep
    resource = dict(desired, id=current.get("id"))
    reason = "provisional line finalised" if status == "planned" else "line changed"
    return Step(Action.UPDATE, ident, resource, current.get("id"), _version(current), reason)


def _hook_update(step: Step, current: Resource) -> Step:
    """In a hook, an update stands only when it raises a planned item's amount."""
    if step.action is not Action.UPDATE:
        return step
    if current.get("status") == "planned" and raises(current, step.resource):
        return Step(
            step.action,
            step.identifier,
            step.resource,
            step.existing_id,
            step.existing_version,
            step.reason,
            only_raise=True,
        )
    return Step(
        Action.UNCHANGED,
        step.identifier,
        current,
        current.get("id"),
        _version(current),
        "a hook never lowers an item: left for the month-end run",
    )


def raises(current: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    """Whether ``desired`` bills more than ``current`` (both amounts known)."""
    before, after = _amount(current), _amount(desired)
    return before is not None and after is not None and after > before


def _kept(
    ident: str,
    desired: Resource,
    current: Resource,
    existing: list[Resource],
    system: str,
    result: Plan,
) -> Step:
    """A staff-owned item answering a current line: left as it is, reported; a review conflict
    when the line now says another code, level or amount than staff reviewed."""
    own = identifier_of(current, system) or ident
    ref = f"ChargeItem/{current.get('id')} ({own})"
    step = Step(Action.UNCHANGED, own, current, current.get("id"), _version(current), KEPT_REVIEWED)
    result.kept.append(f"{ref}: {KEPT_REVIEWED}")
    computed, computed_amount = _code(desired), _amount(desired)
    reviewed = _code(current)
    if replaced_reference(current) is not None or own != ident:
        # A correction: staff chose another code on purpose; the line changed after review
        # when it no longer says what the item staff corrected said.
        original = _replaced(current, existing, ident, system)
        if original is None:
            return step
        before, before_amount = _code(original), _amount(original)
        if computed != before or _amount_differs(computed_amount, before_amount):
            result.review_conflicts.append(
                f"{ref}: line changed after review: computed {_describe(computed, computed_amount)}"
                f", reviewed {_describe(before, before_amount)} (corrected to "
                f"{_describe(reviewed, _amount(current))}): left for billing staff"
            )
        return step
    reviewed_amount = _amount(current)
    if computed != reviewed or _amount_differs(computed_amount, reviewed_amount):
        result.review_conflicts.append(
            f"{ref}: line changed after review: computed {_describe(computed, computed_amount)}, "
            f"reviewed {_describe(reviewed, reviewed_amount)}: left for billing staff"
        )
    return step


def _kept_without_line(ident: str, current: Resource, system: str, result: Plan) -> None:
    own = identifier_of(current, system) or ident
    ref = f"ChargeItem/{current.get('id')} ({own})"
    result.kept.append(f"{ref}: {KEPT_REVIEWED}")
    result.review_conflicts.append(
        f"{ref}: line changed after review: no computed line any more, reviewed "
        f"{_describe(_code(current), _amount(current))}: left for billing staff"
    )
    result.steps.append(
        Step(Action.UNCHANGED, own, current, current.get("id"), _version(current), KEPT_REVIEWED)
    )


def _replaced(
    correction: Resource, existing: list[Resource], base: str, system: str
) -> Resource | None:
    """The item a correction replaced: the ``review-replaces`` target, else the retired item
    with the base identifier."""
    ref = replaced_reference(correction) or ""
    parts = ref.split("/")
    if len(parts) >= 2 and parts[0] == "ChargeItem":
        found = next((r for r in existing if str(r.get("id")) == parts[1]), None)
        if found is not None:
            return found
    retired = [
        r
        for r in existing
        if identifier_of(r, system) == base and r.get("status") == "entered-in-error"
    ]
    return max(retired, key=_age) if retired else None


def _code(resource: Mapping[str, Any]) -> str | None:
    """The item's CPOC code: the first coding (``build_charge_item`` and the review app's
    corrections put the CPOC coding first; a level is a code)."""
    for coding in (resource.get("code") or {}).get("coding") or []:
        if isinstance(coding, Mapping) and coding.get("code"):
            return str(coding["code"])
    return None


def _amount(resource: Mapping[str, Any]) -> Decimal | None:
    value = (resource.get("priceOverride") or {}).get("value")
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _amount_differs(computed: Decimal | None, reviewed: Decimal | None) -> bool:
    return computed is not None and reviewed is not None and computed != reviewed


def _describe(code: str | None, amount: Decimal | None) -> str:
    return f"{code or '?'}" + (f" {amount.quantize(Decimal('0.01'))}" if amount is not None else "")


def _enter_in_error(ident: str, current: Resource, reason: str) -> Step:
    resource = dict(current, status="entered-in-error")
    resource.pop("meta", None)
    return Step(
        Action.ENTER_IN_ERROR, ident, resource, current.get("id"), _version(current), reason
    )


def live_by_identifier(
    existing: Iterable[Resource], system: str, result: Plan, retire: bool = True
) -> dict[str, Resource]:
    """Live items by the line they stand for: a correction ``<identifier>-c<n>`` stands for
    ``<identifier>``. Of several for one line the latest correction is kept, then a staff-owned
    item, then the lowest id; the others are retired as duplicates unless staff-owned
    (reported and left), or, with ``retire`` false (a hook), only reported."""
    candidates: dict[str, list[Resource]] = {}
    for resource in existing:
        ident = identifier_of(resource, system)
        if ident is None or resource.get("status") in LIVE_EXCLUDED:
            continue
        candidates.setdefault(base_identifier(ident), []).append(resource)
    live: dict[str, Resource] = {}
    for base, items in candidates.items():
        ordered = sorted(items, key=lambda r: _preference(r, system))
        kept, *others = ordered
        live[base] = kept
        for resource in others:
            own = identifier_of(resource, system) or base
            if is_staff_owned(resource):
                result.kept.append(f"ChargeItem/{resource.get('id')} ({own}): {KEPT_REVIEWED}")
                result.notices.append(
                    f"second live ChargeItem/{resource.get('id')} for {base} "
                    f"(besides ChargeItem/{kept.get('id')}) was reviewed by staff: "
                    "left for billing staff"
                )
                continue
            if not retire:
                continue  # the month-end run (or its sweep) retires it
            result.notices.append(
                f"duplicate live ChargeItem/{resource.get('id')} for {own} "
                f"(keeping ChargeItem/{kept.get('id')}): marked entered-in-error"
            )
            result.steps.append(_enter_in_error(own, resource, "duplicate of a live item"))
    return live


def _preference(resource: Mapping[str, Any], system: str) -> tuple[int, bool, str]:
    ident = identifier_of(resource, system) or ""
    return (-correction_number(ident), not is_staff_owned(resource), _age(resource))


def _age(resource: Mapping[str, Any]) -> str:
    """A deterministic order for duplicates: the same one is kept by every run."""
    return str(resource.get("id", ""))


def _version(resource: Mapping[str, Any]) -> str | None:
    version = (resource.get("meta") or {}).get("versionId")
    return str(version) if version is not None else None
