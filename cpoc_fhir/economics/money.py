"""Money as the model writes it: Decimal, rounded once, half up, to cents (cpoc-rules §1)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def cents(value: Decimal) -> Decimal:
    """``value`` rounded half up to the cent."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def money(value: Decimal) -> str:
    """``value`` rounded to the cent, as the decimal string the JSON carries."""
    return str(cents(value))
