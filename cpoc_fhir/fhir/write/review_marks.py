"""The marks the SMART review app (``cds_hooks.review``) leaves on the ChargeItems it writes,
and what they mean to a capture run: such an item belongs to billing staff.

Defined here, below both users, because ``cds_hooks.review.compare`` imports the capture plan:
``cds_hooks.review`` (actions, compare, provenance) imports them from here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

REVIEW_ACTION = "https://cpoc-fhir.example.org/fhir/CodeSystem/review-action"
REVIEWED_CODE = "reviewed"
HOLD_EXTENSION = "https://cpoc-fhir.example.org/fhir/StructureDefinition/review-hold"
REPLACES_EXTENSION = "https://cpoc-fhir.example.org/fhir/StructureDefinition/review-replaces"
_CORRECTION = re.compile(r"-c(\d+)$")


def is_reviewed(resource: Mapping[str, Any]) -> bool:
    """The item carries the meta.tag ``review-action|reviewed`` (any review action wrote it)."""
    tags = (resource.get("meta") or {}).get("tag") or []
    return any(
        isinstance(t, Mapping)
        and t.get("system") == REVIEW_ACTION
        and t.get("code") == REVIEWED_CODE
        for t in tags
    )


def is_held(resource: Mapping[str, Any]) -> bool:
    return any(
        isinstance(e, Mapping) and e.get("url") == HOLD_EXTENSION
        for e in resource.get("extension") or []
    )


def is_staff_owned(resource: Mapping[str, Any]) -> bool:
    """Reviewed or held: a capture run never changes it (status nor content)."""
    return is_reviewed(resource) or is_held(resource)


def replaced_reference(resource: Mapping[str, Any]) -> str | None:
    """A correction's ``review-replaces`` reference ("ChargeItem/x/_history/2"), else None."""
    for ext in resource.get("extension") or []:
        if isinstance(ext, Mapping) and ext.get("url") == REPLACES_EXTENSION:
            ref = (ext.get("valueReference") or {}).get("reference")
            return str(ref) if ref else None
    return None


def base_identifier(identifier: str) -> str:
    """The identifier a correction replaces: "p.transition.2025-09-01-c2" → "p.transition…01"."""
    return _CORRECTION.sub("", identifier)


def correction_number(identifier: str) -> int:
    """0 for an original item, n for ``…-c<n>``."""
    found = _CORRECTION.search(identifier)
    return int(found.group(1)) if found else 0
