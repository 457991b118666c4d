"""The items of a plain Claim or ExplanationOfBenefit, read in one go.

``claims.read_claims`` reads every element through ``fhir.read.access``, one checked call per
element: a 10 000-patient payer export has hundreds of thousands of items, and those calls
were most of the model's time above the timeline. Nearly every item has the plain shape (a
list of items, each a date, a quantity, a coded ``productOrService`` and amounts that are
numbers); this reads that shape with the same type tests inline. Whenever anything is not
plainly that — a lone object for a list, an element of the wrong type, an item without a date
or a code, a ``servicedPeriod`` — it gives up (None) and the checked reader reads the resource
from the start, with its warnings and skips: the lines it returns are exactly those the checked
reader returns for that resource (tests/test_perf_equivalence.py, tests/test_claims*.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from cpoc_fhir.economics.codes import NDC_SYSTEM, PROCEDURE_SYSTEMS
from cpoc_fhir.fhir.read.access import parse_date

# (service day, system, code, units, amount, evidence) of one item
PlainLine = tuple[date, str | None, str, Decimal, Decimal | None, str]
ONE = Decimal(1)
ZERO = Decimal(0)


class _NotPlain(Exception):
    """Not the plain shape: the checked reader reads the resource."""


def plain_lines(
    resource: Mapping[str, Any],
    ref: str,
    paid: Sequence[tuple[str, str]] | None,
) -> list[PlainLine] | None:
    """The lines of a Claim (``paid`` None: net, else unitPrice × quantity × factor) or of an
    ExplanationOfBenefit (``paid``: the adjudication categories, the first found wins), as
    ``claims._items`` reads them; None when the resource is not plain."""
    try:
        return _lines(resource, ref, paid)
    except _NotPlain:
        return None


def _lines(
    resource: Mapping[str, Any], ref: str, paid: Sequence[tuple[str, str]] | None
) -> list[PlainLine]:
    billable = _period_start(resource.get("billablePeriod"))
    items = resource.get("item")
    if items is None:
        return []
    if type(items) is not list:
        raise _NotPlain
    out: list[PlainLine] = []
    for index, item in enumerate(items):
        if type(item) is not dict:
            raise _NotPlain
        on = _date(item.get("servicedDate"))
        if on is None:
            if item.get("servicedPeriod") is not None:
                raise _NotPlain
            on = billable
            if on is None:
                raise _NotPlain  # no service date: skipped with a warning
        units = _units(item.get("quantity"))
        amount = _claim_amount(item, units) if paid is None else _paid(item, paid)
        system, code = _chosen(_codings(item.get("productOrService")))
        sequence = item.get("sequence")
        # as claims._item_ref: isinstance, not type() (a boolean sequence is written as is)
        number = sequence if isinstance(sequence, int) else index + 1
        out.append((on, system, code, units, amount, f"{ref}#item{number}"))
    return out


def _date(value: object) -> date | None:
    if value is None:
        return None
    day = parse_date(value)
    if day is None:
        raise _NotPlain
    return day


def _period_start(value: object) -> date | None:
    if value is None:
        return None
    if type(value) is not dict:
        raise _NotPlain
    _date(value.get("end"))  # checked, as access.period checks it
    return _date(value.get("start"))


def _number(value: object) -> Decimal | None:
    """A FHIR decimal as ``claims._dec`` makes it (a float by its shortest repr)."""
    if value is None:
        return None
    kind = type(value)
    if kind is int:
        return Decimal(value)  # type: ignore[arg-type]
    if kind is float and value == value:
        return Decimal(repr(value))
    raise _NotPlain


def _units(quantity: object) -> Decimal:
    if quantity is None:
        return ONE
    if type(quantity) is not dict:
        raise _NotPlain
    for key in ("unit", "code", "system"):
        found = quantity.get(key)
        if found is not None and type(found) is not str:
            raise _NotPlain
    value = _number(quantity.get("value"))
    return ONE if value is None else value


def _money(node: Mapping[str, Any], name: str) -> Decimal | None:
    money = node.get(name)
    if money is None:
        return None
    if type(money) is not dict:
        raise _NotPlain
    return _number(money.get("value"))


def _claim_amount(item: Mapping[str, Any], units: Decimal) -> Decimal | None:
    amount = _money(item, "net")
    if amount is None:
        unit_price = _money(item, "unitPrice")
        factor = _number(item.get("factor"))
        if unit_price is not None:
            amount = unit_price * units * (ONE if factor is None else factor)
    return amount


def _paid(item: Mapping[str, Any], paid: Sequence[tuple[str, str]]) -> Decimal | None:
    adjudications = item.get("adjudication")
    if adjudications is None:
        return None
    if type(adjudications) is not list:
        raise _NotPlain
    found: dict[tuple[Any, Any], Decimal] = {}
    for adjudication in adjudications:
        if type(adjudication) is not dict:
            raise _NotPlain
        for coding in _codings(adjudication.get("category")):
            wanted = (coding.get("system"), coding.get("code"))
            if wanted in paid:
                amount = _money(adjudication, "amount")
                if amount is not None:
                    found[wanted] = found.get(wanted, ZERO) + amount
    return next((found[c] for c in paid if c in found), None)


def _codings(concept: object) -> list[dict[str, Any]]:
    """The Codings of a CodeableConcept whose every Coding has string system, code and
    display (or none of them)."""
    if concept is None:
        return []
    if type(concept) is not dict:
        raise _NotPlain
    text = concept.get("text")
    if text is not None and type(text) is not str:
        raise _NotPlain
    codings = concept.get("coding")
    if codings is None:
        return []
    if type(codings) is not list:
        raise _NotPlain
    for coding in codings:
        if (
            type(coding) is not dict
            or type(coding.get("system", "")) is not str
            or type(coding.get("code", "")) is not str
            or type(coding.get("display", "")) is not str
        ):
            raise _NotPlain
    return codings


def _chosen(codings: list[dict[str, Any]]) -> tuple[str | None, str]:
    """As ``claims._chosen``: the CPT/HCPCS coding, else the NDC one, else the first coded."""
    coded = [c for c in codings if c.get("code")]
    if not coded:
        raise _NotPlain  # no code: skipped with a warning
    for wanted in (PROCEDURE_SYSTEMS, (NDC_SYSTEM,)):
        for coding in coded:
            if coding.get("system") in wanted:
                return coding.get("system"), coding["code"]
    return coded[0].get("system"), coded[0]["code"]
