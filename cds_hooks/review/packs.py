"""Which payment-model pack a ChargeItem on the server belongs to, and the codes a correction
may choose within it (value-and-models §15).

A published item carries its pack's coding (fhir/write/publish.py ``line_codings``): CPOC's
codes in the practice CodeSystem, another pack's code in its own system (HCPCS for EOM's MEOS,
the practice CodeSystem for a code no public system defines). The pack is found from that
coding; an item no pack claims is taken for CPOC's (the review app's default). A correction
stays within the item's pack: it never moves a charge to another model's code.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from cds_hooks.review.compare import ServerItem
from cpoc_fhir.engine.lines import DEFAULT_MODEL
from cpoc_fhir.packs.cpoc.codes import CODES
from cpoc_fhir.packs.registry import all_packs, load_pack, pack_codes
from cpoc_fhir.packs.settings import ModelSettings

Resource = dict[str, Any]


def item_pack(item: ServerItem, codesystem: str, models: ModelSettings | None = None) -> str:
    """The id of the pack whose code the item carries (CPOC when none claims it)."""
    codings = [
        (c.get("system"), c.get("code"))
        for c in (item.resource.get("code") or {}).get("coding") or []
        if isinstance(c, Mapping)
    ]
    if any(system == codesystem and code in CODES for system, code in codings):
        return DEFAULT_MODEL
    for pack in all_packs(models):
        if pack.id == DEFAULT_MODEL:
            continue
        codes = pack_codes(pack.id, models)
        for system, code in codings:
            entry = codes.get(str(code))
            if entry is not None and (entry.system or codesystem) == system:
                return pack.id
    return DEFAULT_MODEL


def code_choices(pack_id: str, models: ModelSettings | None = None) -> tuple[str, ...]:
    """The codes a correction of an item of pack ``pack_id`` may choose."""
    if pack_id == DEFAULT_MODEL:
        return tuple(CODES)
    return tuple(pack_codes(pack_id, models))


def known_codes(models: ModelSettings | None = None) -> set[str]:
    """Every code of every pack (the work queue's code filter accepts any of them)."""
    return {code for pack in all_packs(models) for code in code_choices(pack.id, models)}


def short_name(pack_id: str, models: ModelSettings | None = None) -> str:
    return load_pack(pack_id, models).short_name


def pack_correction(
    item: ServerItem,
    pack_id: str,
    code: str,
    codesystem: str,
    models: ModelSettings | None = None,
) -> tuple[list[Resource], Mapping[str, Any]]:
    """The new item's coding and price when a pack's item is corrected to ``code``.

    The code must be one of the pack's (``ValueError`` otherwise). The pack prices its lines
    from its data file, by rules the review app does not run, so the item's amount is kept:
    the next capture run compares it with the computed line and shows any difference."""
    codes = pack_codes(pack_id, models)
    entry = codes.get(code)
    if entry is None:
        short = short_name(pack_id, models)
        raise ValueError(f"not a {short} code: {code!r} (choose one of {', '.join(codes)})")
    coding = {"system": entry.system or codesystem, "code": entry.code, "display": entry.display}
    price = dict(item.resource.get("priceOverride") or {})
    if "value" in price:
        price["value"] = Decimal(str(price["value"]))
    return [coding], price
