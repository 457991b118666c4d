"""Reading the value report JSON (the shape ``cpoc report value --format json`` writes) for the
MeasureReports: checked values, each error naming the field by its JSON path, never a value
that could be patient data.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from cpoc_fhir.engine.lines import is_resource_reference
from cpoc_fhir.errors import InputError
from cpoc_fhir.value.measure_definitions import ER, MeasureSpec

FOUR_PLACES = Decimal("0.0001")
WHAT = "value report"


def fail(where: str, problem: str) -> InputError:
    return InputError(WHAT, f"{where}: {problem}")


def table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise fail(where, f"expected an object, got {_kind(value)}")
    return value


def items(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise fail(where, f"expected a list, got {_kind(value)}")
    return value


def count(data: Mapping[str, Any], key: str, where: str, default: int | None = None) -> int:
    """A whole number ≥ 0 (an integral decimal string or number is accepted)."""
    value = data.get(key)
    if value is None and default is not None:
        return default
    number = decimal_or_none(data, key, where)
    if number is None or number < 0 or number != number.to_integral_value():
        raise fail(f"{where}.{key}", f"expected a whole number ≥ 0, got {_kind(value)}")
    return int(number)


def decimal_or_none(data: Mapping[str, Any], key: str, where: str) -> Decimal | None:
    """A number, a decimal string ("0.8125") or null; booleans and other text are refused."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise fail(f"{where}.{key}", f"expected a number or a decimal string, got {_kind(value)}")
    try:
        number = Decimal(str(value).strip()) if isinstance(value, str) else Decimal(str(value))
    except InvalidOperation:
        raise fail(f"{where}.{key}", 'expected a decimal number such as "0.8125"') from None
    if not number.is_finite():
        raise fail(f"{where}.{key}", "expected a finite number")
    return number


def text(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise fail(f"{where}.{key}", f"expected text, got {_kind(value)}")
    return value.strip()


def year(report: Mapping[str, Any]) -> int:
    value = report.get("year")
    if isinstance(value, bool) or not isinstance(value, int) or not 1900 <= value <= 9999:
        raise fail("year", f"expected a year such as 2025, got {_kind(value)}")
    return value


def practice_id(report: Mapping[str, Any]) -> tuple[str, str | None]:
    """(the id naming the practice in identifiers, its Location reference or None)."""
    practice = report.get("practice")
    if practice is None:
        return "practice", None
    location = table(practice, "practice").get("location")
    if location is None:
        return "practice", None
    if not isinstance(location, str) or not is_resource_reference(location):
        raise fail("practice.location", "expected a reference Location/<id>")
    return location.partition("/")[2], location


def proportion(numerator: int, eligible: int) -> Decimal | None:
    """numerator / eligible to 4 places (half up), None when nobody is eligible."""
    if eligible <= 0:
        return None
    return rounded(Fraction(numerator, eligible))


def rounded(value: Fraction | Decimal) -> Decimal:
    if isinstance(value, Fraction):
        value = Decimal(value.numerator) / Decimal(value.denominator)
    return value.quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)


def references(value: Any) -> Iterator[str]:
    """Every "Type/id" string inside a patient's entry (cases and evidence), in order; the
    searches that found nothing ("Observation?…") are not resources and are left out."""
    if isinstance(value, str):
        if is_resource_reference(value):
            yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from references(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from references(item)


def patient_counts(spec: MeasureSpec, entry: Mapping[str, Any], where: str) -> dict[str, int]:
    """A patient's count per population: the number of cases the value report lists under
    each measure-population code; for the emergency-visit measure also its own figures
    (``visits``, ``patientMonths``) when the entry has them."""
    codes = [code for code, _ in spec.populations]
    counts = dict.fromkeys(codes, 0)
    for code in codes:
        population = entry.get(code)
        if population is None:
            continue
        cases = table(population, f"{where}.{code}").get("cases")
        counts[code] = len(items(cases, f"{where}.{code}.cases"))
    if spec.key == ER:
        if "patientMonths" in entry:
            months = count(entry, "patientMonths", where)
            counts["initial-population"] = counts["denominator"] = months
        if "visits" in entry:
            visits = entry["visits"]
            counts["numerator"] = (
                len(visits) if isinstance(visits, list) else count(entry, "visits", where)
            )
    return counts


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "true/false", str: "text", dict: "an object", list: "a list"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )
