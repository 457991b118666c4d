"""ChargeItems checked once per shape on the capture's hot path (issue 16 item 4).

``check_writes`` validated every ChargeItem a run sends with the R4B model (about half the
cost of building it). The items of one run differ mostly in values whose validity is simple:
the line's identifier, references, dates, amount and note. ``check_charge_item`` masks those
values — each only when a cheap check shows it meets its element's R4B constraint (a non-empty
string; a valid ``YYYY-MM-DD`` date; a finite decimal) — and runs the model once per distinct
masked item (its *shape*: every other field, code, status, system and extension as it is). The
model has no rule across values of these fields, so an item of a shape already accepted whose
masked values pass their checks is accepted by the model too; anything else (a new shape, a
value that fails its cheap check) gets the full model validation, with the same error.
Used only for the capture's own items (``capture.run.check_writes``); items billing staff
edited are validated in full (``validate_charge_item``).
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import orjson

from cpoc_fhir.fhir.write import validate_charge_item
from cpoc_fhir.fhir.write.publish import empty_paths

Resource = dict[str, Any]
_MAX_SHAPES = 4096
_accepted: set[str] = set()  # shapes the R4B model accepted (a set add is atomic in CPython)

_TEXT, _DATE, _AMOUNT = "\x00text", "\x00date", "\x00amount"
_REFERENCES = ("subject", "context", "performingOrganization")
_REFERENCE_LISTS = ("service", "supportingInformation")


def check_charge_item(item: Resource) -> Resource:
    """``item`` itself once valid (see module doc); raises ``ResourceValidationError`` as
    ``validate_charge_item`` does."""
    shape = _shape(item)
    if shape is None or shape not in _accepted:
        validate_charge_item(item)
        if shape is not None:
            if len(_accepted) >= _MAX_SHAPES:
                _accepted.clear()
            _accepted.add(shape)
        return item
    empty = empty_paths(item)  # cheap, and the model's first check
    if empty:  # cannot happen for a masked item that passed its checks; kept for the message
        validate_charge_item(item)
    return item


def _shape(item: Resource) -> str | None:
    """The item with its simple values masked, as text; None when a value fails its check."""
    try:
        masked = _masked(item)
    except _Unsure:
        return None
    try:  # the shape is only a key of this process's set: orjson is 4× faster at it
        return orjson.dumps(masked, option=orjson.OPT_SORT_KEYS, default=str).decode()
    except TypeError:  # what orjson refuses (a non-str key, an int beyond 64 bits)
        return json.dumps(masked, sort_keys=True, default=str)


class _Unsure(Exception):
    """A value that the model must judge itself."""


def _masked(item: Resource) -> Resource:
    out = dict(item)
    out["identifier"] = [_mask_value(i) for i in _list(item.get("identifier"))]
    for key in _REFERENCES:
        if key in item:
            out[key] = _mask_reference(item[key])
    for key in _REFERENCE_LISTS:
        if key in item:
            out[key] = [_mask_reference(r) for r in _list(item[key])]
    if "performer" in item:
        out["performer"] = [
            {**_dict(p), "actor": _mask_reference(_dict(p).get("actor"))}
            for p in _list(item["performer"])
        ]
    if "occurrenceDateTime" in item:
        out["occurrenceDateTime"] = _mask_date(item["occurrenceDateTime"])
    if "occurrencePeriod" in item:
        period = _dict(item["occurrencePeriod"])
        out["occurrencePeriod"] = {k: _mask_date(v) for k, v in period.items()}
    if "priceOverride" in item:
        price = _dict(item["priceOverride"])
        out["priceOverride"] = {**price, "value": _mask_amount(price.get("value"))}
    if "note" in item:
        out["note"] = [
            {**_dict(n), "text": _mask_text(_dict(n).get("text"))} for n in _list(item["note"])
        ]
    return out


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _Unsure
    return value


def _dict(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Unsure
    return value


def _mask_value(identifier: Any) -> Resource:
    found = _dict(identifier)
    return {**found, "value": _mask_text(found.get("value"))}


def _mask_reference(reference: Any) -> Resource:
    found = _dict(reference)
    if set(found) != {"reference"}:
        raise _Unsure
    return {"reference": _mask_text(found["reference"])}


def _mask_text(value: Any) -> str:
    # R4B string / markdown: any non-empty text; FHIR also forbids a blank one (empty_paths).
    if not isinstance(value, str) or not value.strip():
        raise _Unsure
    return _TEXT


def _mask_date(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 10:
        raise _Unsure
    try:
        date.fromisoformat(value)  # YYYY-MM-DD, a real day, year 1 or later
    except ValueError:
        raise _Unsure from None
    return _DATE


def _mask_amount(value: Any) -> str:
    if (
        isinstance(value, bool)
        or not isinstance(value, Decimal | int)
        or not Decimal(value).is_finite()
    ):
        raise _Unsure
    return _AMOUNT
