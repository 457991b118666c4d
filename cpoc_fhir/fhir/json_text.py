"""JSON text of FHIR resources, with Decimal values written as numbers exactly as they are.

FHIR decimals keep their precision (R4 §2.24.0.1: 430.00 is not 430.0), and money must not take
a float round trip, so resources may hold ``Decimal`` values; ``json.dumps`` cannot write them.
"""

from __future__ import annotations

import json
import re
import uuid
from decimal import Decimal
from typing import Any

# Stands in for each Decimal (as "<marker>:<n>"), then is replaced by its digits. One random
# marker per process, so the pattern is compiled once: a pattern made per call (as before) was
# compiled on every call, past ``re``'s cache — 0.5 s of a 600-patient capture's 11 s.
_MARKER = uuid.uuid4().hex
_PLACEHOLDER = re.compile(f'"{_MARKER}:(\\d+)"')
_COMPACT = (",", ":")
_INDENTED = (",", ": ")


def dumps(resource: Any, indent: int | None = None) -> str:
    """Compact JSON (or indented with `indent`); a Decimal becomes its fixed-point number."""
    decimals: list[Decimal] = []

    def placeholder(value: Any) -> str:
        if not isinstance(value, Decimal):
            raise TypeError(f"cannot write {type(value).__name__} as JSON")
        if not value.is_finite():
            raise ValueError(f"not a finite number: {value}")
        decimals.append(value)
        return f"{_MARKER}:{len(decimals) - 1}"

    text = json.dumps(
        resource,
        default=placeholder,
        ensure_ascii=False,
        allow_nan=False,
        indent=indent,
        separators=_COMPACT if indent is None else _INDENTED,
    )
    if not decimals:
        return text
    return _PLACEHOLDER.sub(lambda m: format(decimals[int(m[1])], "f"), text)
