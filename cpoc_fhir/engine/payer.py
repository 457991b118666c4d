"""A payer's CPOC fee schedule: amounts per code (cpoc-rules §1) and its own billing codes.

amount = round-half-up to cents of base × rv/100 × gpci × (1 + vba). Money is Decimal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from cpoc_fhir.engine.codes import CODES
from cpoc_fhir.errors import KnowledgeError

CENT = Decimal("0.01")


@dataclass(frozen=True)
class PayerCode:
    """The payer's own code for a CPOC code (a second coding on the ChargeItem)."""

    system: str
    code: str
    display: str = ""


@dataclass(frozen=True)
class PayerSchedule:
    id: str
    name: str
    base: Decimal  # the payer's New Patient amount
    gpci: Decimal = Decimal(1)  # geographic factor
    vba: Decimal = Decimal(0)  # the practice's value-based adjustment for the year (0.02 = +2 %)
    currency: str = "USD"
    illustrative: bool = False
    year: int | None = None
    codes: Mapping[str, PayerCode] = field(default_factory=dict)

    # code → amount, computed once per schedule (every line of every patient asks)
    _amounts: dict[str, Decimal] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    def amount(self, code: str) -> Decimal:
        """The payment for one line of ``code``, in cents, rounded half up."""
        hit = self._amounts.get(code)
        if hit is None:
            relative_value = CODES[code][2]
            raw = self.base * relative_value / 100 * self.gpci * (1 + self.vba)
            hit = self._amounts[code] = raw.quantize(CENT, rounding=ROUND_HALF_UP)
        return hit

    @classmethod
    def from_data(cls, data: Mapping[str, Any], where: str = "payer file") -> PayerSchedule:
        """Build from a parsed payer file; every problem names the field."""
        payer = data.get("payer")
        if not isinstance(payer, Mapping):
            raise KnowledgeError(f"{where}: missing [payer] table")
        codes: dict[str, PayerCode] = {}
        for cpoc_code, entry in (data.get("codes") or {}).items():
            if cpoc_code not in CODES:
                raise KnowledgeError(f"{where}: codes.{cpoc_code} is not a CPOC code")
            if not isinstance(entry, Mapping) or not entry.get("system") or not entry.get("code"):
                raise KnowledgeError(f"{where}: codes.{cpoc_code} needs 'system' and 'code'")
            codes[cpoc_code] = PayerCode(
                str(entry["system"]), str(entry["code"]), str(entry.get("display", ""))
            )
        schedule = cls(
            id=_text(payer, "id", where),
            name=_text(payer, "name", where),
            base=_money(payer, "new_patient_amount", where),
            gpci=_decimal(payer, "gpci", where, Decimal(1)),
            vba=_decimal(payer, "value_based_adjustment", where, Decimal(0)),
            currency=str(payer.get("currency", "USD")),
            illustrative=bool(payer.get("illustrative", False)),
            year=payer.get("year"),
            codes=codes,
        )
        if schedule.gpci <= 0:
            raise KnowledgeError(f"{where}: payer.gpci must be positive, got {schedule.gpci}")
        if not Decimal(-1) < schedule.vba < Decimal(1):
            raise KnowledgeError(
                f"{where}: payer.value_based_adjustment is a fraction (0.02 = +2 %), "
                f"got {schedule.vba}"
            )
        return schedule


def _text(table: Mapping[str, Any], key: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise KnowledgeError(f"{where}: payer.{key} is required (text)")
    return value


def _decimal(table: Mapping[str, Any], key: str, where: str, default: Decimal) -> Decimal:
    value = table.get(key, default)
    if isinstance(value, float):  # JSON floats: keep the written digits, not the binary value
        value = repr(value)
    try:
        if isinstance(value, bool):
            raise TypeError(value)
        number = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise KnowledgeError(f"{where}: payer.{key} is not a number: {value!r}") from None
    if not number.is_finite():
        raise KnowledgeError(f"{where}: payer.{key} is not a finite number: {value!r}")
    return number


def _money(table: Mapping[str, Any], key: str, where: str) -> Decimal:
    if key not in table:
        raise KnowledgeError(f"{where}: payer.{key} is required (the New Patient amount)")
    value = _decimal(table, key, where, Decimal(0))
    if value <= 0:
        raise KnowledgeError(f"{where}: payer.{key} must be a positive amount, got {value}")
    return value
