"""Computed lines beside the ChargeItems on the server: matched, missing, extra, differing.

Pure: no I/O. A line and an item pair up by the practice identifier
(``charge_item_identifier``: patient, component, month start). A staff correction
(``<identifier>-c<n>``, see ``actions.correct``) stands in for its original, so a corrected
line shows as "differs" (the staff chose another code) rather than as one missing and one extra
item. Items ``entered-in-error`` take no part: they are history.

"On hold" is not an R4 ChargeItem.status: a held item is ``planned`` and carries the extension
``HOLD_EXTENSION`` whose ``valueString`` is the reason (see README, "SMART review app").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from cpoc_fhir.capture.plan import identifier_of, occurrence_start
from cpoc_fhir.engine.lines import BillingLine
from cpoc_fhir.fhir.write import CHARGE_STATUS, charge_item_identifier
from cpoc_fhir.fhir.write.review_marks import (  # the marks capture also reads
    HOLD_EXTENSION,
    base_identifier,
    correction_number,
)
from cpoc_fhir.packs.cpoc.codes import CODES, DISPLAY

Resource = dict[str, Any]

ON_HOLD = "on-hold"  # a review status shown for planned + HOLD_EXTENSION


class Match(Enum):
    MATCHED = "matched"  # the item says what the line says
    DIFFERS = "differs"  # same identifier, another code, level, amount or status
    MISSING = "missing"  # a line without an item on the server
    EXTRA = "extra"  # an item on the server without a line


MATCH_LABELS = {
    Match.MATCHED: "matches the server",
    Match.DIFFERS: "differs from the server",
    Match.MISSING: "not on the server",
    Match.EXTRA: "on the server only",
}


@dataclass(frozen=True)
class ServerItem:
    """What the review app shows of one ChargeItem."""

    id: str
    version: str | None
    identifier: str | None
    status: str  # the FHIR status
    hold_reason: str | None
    code: str | None  # the CPOC code (codesystem_url coding), else the first coding's code
    amount: Decimal | None
    currency: str | None
    start: date | None
    patient_ref: str | None
    providers: tuple[str, ...]
    resource: Resource

    @property
    def review_status(self) -> str:
        """The FHIR status, or "on-hold" for a held planned item."""
        return ON_HOLD if self.status == "planned" and self.hold_reason else self.status

    @property
    def level(self) -> int | None:
        return CODES[self.code][1] if self.code in CODES else None

    @property
    def display(self) -> str:
        return DISPLAY.get(self.code or "", self.code or "")

    @property
    def ref(self) -> str:
        return f"ChargeItem/{self.id}"

    @property
    def month(self) -> str:
        return self.start.strftime("%Y-%m") if self.start else ""


@dataclass(frozen=True)
class Comparison:
    """One line and/or one item, and which of code, level, amount, status differ."""

    match: Match
    line: BillingLine | None
    item: ServerItem | None
    differences: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return MATCH_LABELS[self.match]

    @property
    def start(self) -> date:
        if self.line is not None:
            return self.line.start
        return (self.item.start if self.item else None) or date.min


def hold_reason(resource: Mapping[str, Any]) -> str | None:
    """The hold's reason when the item is held (the review-hold extension), else None."""
    for ext in resource.get("extension") or []:
        if isinstance(ext, Mapping) and ext.get("url") == HOLD_EXTENSION:
            return str(ext.get("valueString") or "").strip() or "on hold"
    return None


def server_item(resource: Mapping[str, Any], system: str, codesystem: str) -> ServerItem:
    """A ChargeItem as the review app reads it (``system``: the practice identifier system)."""
    codings = [c for c in (resource.get("code") or {}).get("coding") or [] if c.get("code")]
    cpoc = next((c for c in codings if c.get("system") == codesystem), None)
    code = (cpoc or (codings[0] if codings else {})).get("code")
    price = resource.get("priceOverride") or {}
    performers = [
        str((p.get("actor") or {}).get("reference", "")) for p in resource.get("performer") or []
    ]
    enterer = str((resource.get("enterer") or {}).get("reference", ""))
    meta = resource.get("meta") or {}
    return ServerItem(
        id=str(resource.get("id", "")),
        version=str(meta["versionId"]) if meta.get("versionId") is not None else None,
        identifier=identifier_of(resource, system),
        status=str(resource.get("status", "unknown")),
        hold_reason=hold_reason(resource),
        code=str(code) if code else None,
        amount=_decimal(price.get("value")),
        currency=price.get("currency"),
        start=occurrence_start(resource),
        patient_ref=(resource.get("subject") or {}).get("reference"),
        providers=tuple(dict.fromkeys(r for r in [*performers, enterer] if r)),
        resource=dict(resource),
    )


def compare(
    patient_ref: str, lines: Iterable[BillingLine], items: Iterable[ServerItem]
) -> list[Comparison]:
    """Every line and every live item of one patient, paired, sorted by start date."""
    live: dict[str, ServerItem] = {}
    extra: list[ServerItem] = []
    for item in items:
        if item.status == "entered-in-error":
            continue
        if item.identifier is None:
            extra.append(item)
            continue
        key = base_identifier(item.identifier)
        known = live.get(key)
        # The latest correction stands for the line; an older live one is shown as extra.
        if known is None or correction_number(item.identifier) > correction_number(
            known.identifier or ""
        ):
            if known is not None:
                extra.append(known)
            live[key] = item
        else:
            extra.append(item)
    out = []
    for line in lines:
        paired = live.pop(charge_item_identifier(patient_ref, line), None)
        if paired is None:
            out.append(Comparison(Match.MISSING, line, None))
            continue
        diffs = differences(line, paired)
        out.append(Comparison(Match.DIFFERS if diffs else Match.MATCHED, line, paired, diffs))
    out += [Comparison(Match.EXTRA, None, item) for item in [*live.values(), *extra]]
    return sorted(out, key=lambda c: (c.start, c.line is None, c.item.id if c.item else ""))


def differences(line: BillingLine, item: ServerItem) -> tuple[str, ...]:
    """Which of code, level, amount and status the item has otherwise than the line."""
    found = []
    if item.code != line.code:
        found.append("code")
    if item.level != line.level:
        found.append("level")
    if item.amount is None or item.amount != line.amount:
        found.append("amount")
    if item.status != CHARGE_STATUS[line.status]:
        found.append("status")
    return tuple(found)


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None
