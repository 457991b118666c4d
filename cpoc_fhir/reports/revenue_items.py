"""ChargeItems → revenue rows (reports/revenue.py): which group, pack, level and reasons
each item counts under. Shared by ``cpoc report revenue`` and the review app's dashboard.

The pack: the item's coding — a CPOC code in the practice CodeSystem is CPOC's; otherwise the
pack whose data file names the code in that system (value-and-models §15); an item no pack
claims counts as CPOC's, as in the review app. The provisional reasons are the note's
"Warning: …" lines (fhir/write/charge_item.py ``note_text``), else its last sentence (where
the engine says what the line waits for).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.lines import DEFAULT_MODEL
from cpoc_fhir.packs.cpoc.codes import CODES
from cpoc_fhir.packs.registry import all_packs, pack_codes
from cpoc_fhir.packs.settings import ModelSettings
from cpoc_fhir.reports.revenue import BILLED, HELD, NOT_BILLABLE, PLANNED, RevenueRow

# = fhir/write/review_marks.HOLD_EXTENSION (tested): that package imports fhir.resources.
HOLD_EXTENSION = "https://cpoc-fhir.example.org/fhir/StructureDefinition/review-hold"
_GROUP = {"billable": BILLED, "billed": BILLED, "not-billable": NOT_BILLABLE}
WARNING = "Warning: "
MAX_REASON = 160


class PackIndex:
    """(system, code) → (pack id, component, level) for every pack of the settings."""

    def __init__(self, codesystem: str, models: ModelSettings | None = None) -> None:
        self.codesystem = codesystem
        self._codes: dict[tuple[str, str], tuple[str, Component, int | None]] = {}
        for code, (component, level, _) in CODES.items():
            self._codes[(codesystem, code)] = (DEFAULT_MODEL, component, level)
        for pack in all_packs(models):
            if pack.id == DEFAULT_MODEL:
                continue
            for entry in pack_codes(pack.id, models).values():
                key = (entry.system or codesystem, entry.code)
                self._codes.setdefault(key, (pack.id, entry.component, entry.level))

    def find(
        self, codings: Iterable[Mapping[str, Any]]
    ) -> tuple[str, str, Component | None, int | None] | None:
        """(code, pack id, component, level) of the first coding a pack claims; None when no
        pack claims any: a fee-for-service charge (a visit, an infusion) on the same server is
        not payment-model revenue (the dashboard shows it among the FFS conflicts instead)."""
        listed = [c for c in codings if isinstance(c, Mapping) and c.get("code")]
        for coding in listed:
            found = self._codes.get((str(coding.get("system") or ""), str(coding["code"])))
            if found is not None:
                return str(coding["code"]), *found
        return None


def revenue_row(resource: Mapping[str, Any], packs: PackIndex) -> RevenueRow | None:
    """The item as a revenue row; None for one entered in error, without a date, or with no
    payment model's code."""
    status = str(resource.get("status", ""))
    start = _start(resource)
    if status == "entered-in-error" or start is None or status not in (*_GROUP, "planned"):
        return None
    hold = _hold_reason(resource)
    group = _GROUP.get(status) or (HELD if hold is not None else PLANNED)
    found = packs.find((resource.get("code") or {}).get("coding") or [])
    if found is None:
        return None  # no payment model's code: fee-for-service, not this revenue
    code, model, component, level = found
    price = resource.get("priceOverride") or {}
    performers = [
        str((p.get("actor") or {}).get("reference", "")) for p in resource.get("performer") or []
    ]
    enterer = str((resource.get("enterer") or {}).get("reference", ""))
    reasons: tuple[str, ...] = ()
    if group == PLANNED:
        reasons = _warnings(resource)
    elif group == HELD and hold:
        reasons = (hold[:MAX_REASON],)
    return RevenueRow(
        item_id=str(resource.get("id", "")),
        patient_ref=str((resource.get("subject") or {}).get("reference", "")),
        start=start,
        code=code,
        model=model,
        group=group,
        amount=_amount(price.get("value")),
        currency=str(price.get("currency") or "USD"),
        level=level if component is Component.TREATMENT_MONTH else None,
        treatment_month=component is Component.TREATMENT_MONTH,
        providers=tuple(dict.fromkeys(r for r in [*performers, enterer] if r)),
        reasons=reasons,
    )


def revenue_rows(resources: Iterable[Mapping[str, Any]], packs: PackIndex) -> Iterator[RevenueRow]:
    """The ChargeItems among ``resources`` as rows (others skipped)."""
    for resource in resources:
        if resource.get("resourceType") == "ChargeItem":
            row = revenue_row(resource, packs)
            if row is not None:
                yield row


def _blank() -> Decimal:
    return Decimal("0.00")


def _amount(value: Any) -> Decimal:
    if value is None or isinstance(value, bool):
        return _blank()
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return _blank()
    return amount if amount.is_finite() else _blank()


def _start(resource: Mapping[str, Any]) -> date | None:
    value = (resource.get("occurrencePeriod") or {}).get("start") or resource.get(
        "occurrenceDateTime"
    )
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _hold_reason(resource: Mapping[str, Any]) -> str | None:
    for ext in resource.get("extension") or []:
        if isinstance(ext, Mapping) and ext.get("url") == HOLD_EXTENSION:
            return str(ext.get("valueString") or "").strip() or "on hold"
    return None


def _warnings(resource: Mapping[str, Any]) -> tuple[str, ...]:
    texts = [str(n.get("text", "")) for n in resource.get("note") or [] if isinstance(n, Mapping)]
    lines = [line.strip() for text in texts for line in text.splitlines() if line.strip()]
    warned = [line[len(WARNING) :] for line in lines if line.startswith(WARNING)]
    chosen = warned or lines[-1:]
    return tuple(dict.fromkeys(text[:MAX_REASON] for text in chosen))
