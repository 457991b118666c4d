"""A fee schedule file: CPT/HCPCS code → amount per unit, for FFS items without an amount.

Format (TOML, or JSON with the same keys when the name ends in ``.json``)::

    [fee_schedule]
    id = "example-pfs-illustrative"
    name = "…"
    source = "…"            # where the figures come from, or "illustrative"
    date = "2025-01-01"
    illustrative = true
    currency = "USD"
    [codes."99213"]
    system = "http://www.ama-assn.org/go/cpt"
    amount = "92.03"        # per unit
    display = "Established patient office visit, level 3"
    [codes.J9035]
    system = "https://bluebutton.cms.gov/resources/codesystem/hcpcs"
    amount = "85.00"
    unit = "10 mg"          # what one unit is (HCPCS drug codes are per dose unit)

An item's price is ``amount × units``. CPT and HCPCS systems are one namespace (CPT is HCPCS
Level I), so a CPT entry prices an item coded under the Blue Button HCPCS system and back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from cpoc_fhir.economics.codes import family
from cpoc_fhir.economics.files import decimal_field, read_table_file, text_field
from cpoc_fhir.errors import InputError


@dataclass(frozen=True)
class FeeEntry:
    system: str
    code: str
    amount: Decimal  # per unit
    display: str = ""
    unit: str = ""


@dataclass(frozen=True)
class FeeSchedule:
    id: str
    name: str
    source: str
    on: date | None
    illustrative: bool
    currency: str
    entries: Mapping[tuple[str | None, str], FeeEntry] = field(default_factory=dict)

    def price(self, system: str | None, code: str, units: Decimal) -> Decimal | None:
        """``amount × units`` for the code, or None when the schedule does not list it."""
        entry = self.entries.get((family(system), code))
        return None if entry is None else entry.amount * units

    def header(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "source": self.source,
            "date": None if self.on is None else self.on.isoformat(),
            "illustrative": self.illustrative,
            "currency": self.currency,
            "codes": len(self.entries),
        }


def load_fee_schedule(path: Path) -> FeeSchedule:
    """Read and check a fee schedule file; a problem raises ``InputError`` naming the field."""
    return fee_schedule_from_data(read_table_file(path), str(path))


def fee_schedule_from_data(data: Mapping[str, Any], where: str) -> FeeSchedule:
    head = data.get("fee_schedule")
    if not isinstance(head, Mapping):
        raise InputError(where, "missing [fee_schedule] table")
    unknown = set(data) - {"fee_schedule", "codes"}
    if unknown:
        raise InputError(where, f"unknown table {sorted(unknown)[0]!r}")
    codes = data.get("codes")
    if not isinstance(codes, Mapping) or not codes:
        raise InputError(where, "codes: at least one [codes.CODE] entry is required")
    entries: dict[tuple[str | None, str], FeeEntry] = {}
    for code, entry in codes.items():
        at = f"codes.{code}"
        if not isinstance(entry, Mapping):
            raise InputError(where, f"{at} must be a table")
        amount = decimal_field(entry, "amount", where, f"{at}.amount")
        if amount < 0:
            raise InputError(where, f"{at}.amount must not be negative, got {amount}")
        system = text_field(entry, "system", where, f"{at}.system")
        entries[(family(system), str(code))] = FeeEntry(
            system, str(code), amount, str(entry.get("display", "")), str(entry.get("unit", ""))
        )
    return FeeSchedule(
        id=text_field(head, "id", where, "fee_schedule.id"),
        name=str(head.get("name", "")),
        source=text_field(head, "source", where, "fee_schedule.source"),
        on=_date(head.get("date"), where),
        illustrative=_flag(head.get("illustrative", False), where),
        currency=str(head.get("currency", "USD")),
        entries=entries,
    )


def _date(value: object, where: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InputError(
            where, f"fee_schedule.date is not a date (YYYY-MM-DD): {value!r}"
        ) from None


def _flag(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise InputError(where, "fee_schedule.illustrative must be true or false")
    return value
