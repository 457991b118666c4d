"""What a capture run must write for one patient: desired ChargeItems against existing ones.

Pure: no I/O. The run (``capture.run``) fetches the existing ChargeItems, calls ``plan`` and
performs the actions. Rules (issue "Charge capture"):
- every line whose billing month starts in the run's calendar month is created or updated;
- earlier lines are only finalised: an existing *planned* (provisional) item is updated when its
  line changed; a billed or approved item is never touched (a changed one is reported);
- an existing live item whose line no longer exists (a data correction) becomes
  ``entered-in-error``;
- two live items with one identifier (never expected) keep one (the lowest id, so every run
  keeps the same); the others become ``entered-in-error`` and are reported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from typing import Any

Resource = dict[str, Any]

LIVE_EXCLUDED = frozenset({"entered-in-error"})
# Statuses the product may overwrite. "billed" (sent to the payer) and "aborted" belong to
# billing staff and the payer workflow; they are never changed by a run.
UPDATABLE = frozenset({"planned", "billable", "not-billable"})


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


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # changed after billing, duplicates

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
) -> Plan:
    """The steps for one patient. ``desired`` are the ChargeItems of every current line up to
    the run's month; ``existing`` the patient's ChargeItems on the server with our identifier
    system. ``changed(existing, desired)`` compares the fields the product owns."""
    result = Plan()
    live = _live_by_identifier(existing, system, result)
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
                result.steps.append(Step(Action.CREATE, ident, resource, reason="new line"))
            continue
        result.steps.append(_update_or_keep(ident, resource, current, in_month, changed, result))

    for ident, current in live.items():
        if ident in wanted:
            continue
        start = occurrence_start(current)
        if start is None or start > month_last:
            continue
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


def _enter_in_error(ident: str, current: Resource, reason: str) -> Step:
    resource = dict(current, status="entered-in-error")
    resource.pop("meta", None)
    return Step(
        Action.ENTER_IN_ERROR, ident, resource, current.get("id"), _version(current), reason
    )


def _live_by_identifier(
    existing: Iterable[Resource], system: str, result: Plan
) -> dict[str, Resource]:
    live: dict[str, Resource] = {}
    for resource in sorted(existing, key=_age):
        ident = identifier_of(resource, system)
        if ident is None or resource.get("status") in LIVE_EXCLUDED:
            continue
        if ident in live:
            result.notices.append(
                f"duplicate live ChargeItem/{resource.get('id')} for {ident} "
                f"(keeping ChargeItem/{live[ident].get('id')}): marked entered-in-error"
            )
            result.steps.append(_enter_in_error(ident, resource, "duplicate of a live item"))
            continue
        live[ident] = resource
    return live


def _age(resource: Mapping[str, Any]) -> str:
    """A deterministic order for duplicates: the same one is kept by every run."""
    return str(resource.get("id", ""))


def _version(resource: Mapping[str, Any]) -> str | None:
    version = (resource.get("meta") or {}).get("versionId")
    return str(version) if version is not None else None
