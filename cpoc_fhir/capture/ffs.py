"""FFS charges on record for a CPOC patient (cpoc-rules §10): read, check, export as CSV.

ChargeItems and Claims carrying a CPT code that CPOC replaces, dated in a month with a CPOC line
after New Patient was billed, are conflicts: reported, never dropped or changed.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from cpoc_fhir.packs.cpoc.ffs import REPLACED_CODES, FfsCharge, FfsConflict

CPT_SYSTEMS = frozenset({"http://www.ama-assn.org/go/cpt", "urn:oid:2.16.840.1.113883.6.12"})
IGNORED_STATUSES = frozenset({"entered-in-error", "cancelled", "aborted"})
CSV_COLUMNS = ("patient", "month", "cpoc_code", "charge", "cpt_code", "date", "reason")


def ffs_charges(resources: Iterable[Mapping[str, Any]], own_system: str) -> list[FfsCharge]:
    """The replaced-code charges among a patient's ChargeItems and Claims (ours excluded)."""
    charges: list[FfsCharge] = []
    for resource in resources:
        if resource.get("status") in IGNORED_STATUSES:
            continue
        kind = resource.get("resourceType")
        if kind == "ChargeItem":
            if any(i.get("system") == own_system for i in resource.get("identifier") or []):
                continue
            on = _date(resource.get("occurrenceDateTime")) or _date(
                (resource.get("occurrencePeriod") or {}).get("start")
            )
            for code in _cpt_codes(resource.get("code")):
                if on is not None:
                    charges.append(FfsCharge(f"ChargeItem/{resource.get('id')}", code, on))
        elif kind == "Claim":
            claim_date = _date((resource.get("billablePeriod") or {}).get("start"))
            for item in resource.get("item") or []:
                on = (
                    _date(item.get("servicedDate"))
                    or _date((item.get("servicedPeriod") or {}).get("start"))
                    or claim_date
                )
                ref = f"Claim/{resource.get('id')}#item{item.get('sequence', '')}"
                for code in _cpt_codes(item.get("productOrService")):
                    if on is not None:
                        charges.append(FfsCharge(ref, code, on))
    return charges


def _cpt_codes(concept: object) -> list[str]:
    if not isinstance(concept, Mapping):
        return []
    return [
        str(c.get("code"))
        for c in concept.get("coding") or []
        if isinstance(c, Mapping)
        and c.get("system") in CPT_SYSTEMS
        and str(c.get("code")) in REPLACED_CODES
    ]


def _date(value: object) -> date | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def conflict_rows(patient_ref: str, conflicts: Iterable[FfsConflict]) -> list[dict[str, str]]:
    return [
        {
            "patient": patient_ref,
            "month": "" if c.line.month is None else str(c.line.month),
            "cpoc_code": c.line.code,
            "charge": c.charge.ref,
            "cpt_code": c.charge.code,
            "date": c.charge.on.isoformat(),
            "reason": c.reason,
        }
        for c in conflicts
    ]


def write_conflicts_csv(path: Path, rows: Iterable[Mapping[str, str]]) -> int:
    """Write the conflicts report; returns the number of rows."""
    rows = list(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)
