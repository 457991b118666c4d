"""Checked access to the elements of parsed FHIR R4 JSON: the one way every reader reads.

Each helper returns the element (``None`` / ``[]`` when it is absent) after checking its FHIR
R4 JSON type (https://hl7.org/fhir/R4/json.html, datatypes.html); an element that is present
with another type raises ``UnreadableElement``. ``ReadContext.reading`` turns that into one
warning naming the resource and the element ("Observation/abc: effectiveDateTime is not a FHIR
dateTime; left out") and leaves the resource out (cpoc-rules §11: unreadable elements).

``at`` is the path of ``node`` inside the resource ("dosageInstruction[0].timing"); paths are
only put together when an element fails. The checks are plain ``type()`` tests on dicts,
lists and strings (no models): they run for every resource read. Two leniencies, because the
meaning stays certain: a repeating element given as a lone object is read as a one-item list,
and a dateTime with a time but no time zone is accepted (only its date is used).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date as Date
from typing import Any

from cpoc_fhir.fhir.read.memo import UNSEEN, BoundedMemo

Node = Mapping[str, Any]
# FHIR R4 dateTime after its date part: a time (seconds required, fraction and zone
# optional). https://hl7.org/fhir/R4/datatypes.html#dateTime
_TIME = re.compile(
    r"T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?(Z|[+-]((0\d|1[0-3]):[0-5]\d|14:00))?"
)
_YEAR_MONTH = re.compile(r"(\d{4})(?:-(0[1-9]|1[0-2]))?")


class UnreadableElement(Exception):
    """An element present with another FHIR type than its definition's.

    ``resource_ref`` is "Type/id" once known (the reading guard fills it in); the message
    names the element and the expected type, never the value (it may be patient data).
    """

    def __init__(self, resource_ref: str | None, element_path: str, expected: str) -> None:
        super().__init__(f"{element_path} is not a FHIR {expected}")
        self.resource_ref = resource_ref
        self.element_path = element_path
        self.expected = expected

    @property
    def problem(self) -> str:
        return f"{self.element_path} is not a FHIR {self.expected}"


def path(at: str, name: str) -> str:
    return f"{at}.{name}" if at else name


def _bad(at: str, name: str, expected: str) -> UnreadableElement:
    return UnreadableElement(None, path(at, name), expected)


# --- primitives ---------------------------------------------------------------------------
def string(node: Node, name: str, at: str = "") -> str | None:
    """A string, uri, id, markdown … element."""
    value = node.get(name)
    if value is None or type(value) is str:
        return value
    raise _bad(at, name, "string")


def code(node: Node, name: str, at: str = "") -> str | None:
    """A code: a non-empty string without leading or trailing blanks."""
    value = node.get(name)
    if value is None:
        return None
    # FHIR R4 code: no leading or trailing blank (a plain comparison: this runs a lot).
    if type(value) is str and value and value[0] > " " and value[-1] > " ":
        return value
    raise _bad(at, name, "code")


def boolean(node: Node, name: str, at: str = "") -> bool | None:
    value = node.get(name)
    if value is None or type(value) is bool:
        return value
    raise _bad(at, name, "boolean")


def integer(node: Node, name: str, at: str = "") -> int | None:
    """An integer / positiveInt / unsignedInt (a JSON number without fraction)."""
    value = node.get(name)
    if value is None or type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    raise _bad(at, name, "integer")


def decimal(node: Node, name: str, at: str = "") -> int | float | None:
    value = node.get(name)
    if value is None or type(value) is int or (type(value) is float and value == value):
        return value
    raise _bad(at, name, "decimal")


def date(node: Node, name: str, at: str = "", expected: str = "dateTime") -> Date | None:
    """The calendar date of a date / dateTime / instant element, as written (no time-zone
    shift); "2020" and "2020-05" give the first day."""
    value = node.get(name)
    if value is None:
        return None
    found = parse_date(value)
    if found is None:
        raise _bad(at, name, expected)
    return found


def dates(node: Node, name: str, at: str = "") -> list[Date]:
    """A repeating dateTime element (Timing.event)."""
    value = node.get(name)
    if value is None:
        return []
    if type(value) is not list:
        value = [value]
    found = []
    for index, item in enumerate(value):
        day = parse_date(item)
        if day is None:
            raise _bad(at, f"{name}[{index}]", "dateTime")
        found.append(day)
    return found


def parse_date(value: object) -> Date | None:
    """The date of a FHIR date/dateTime string, None when it is not one."""
    if type(value) is not str:
        return None
    # Records repeat their dates: each string is checked once. Looked up inline (the memo's
    # table, then the memo for a new string): this runs for every date read.
    found = _seen_dates.get(value, UNSEEN)
    return _dates(value) if found is UNSEEN else found  # type: ignore[return-value]


def _parse_date(value: str) -> Date | None:
    if len(value) >= 10 and value[4] == "-" and value[7] == "-":
        try:
            day = Date.fromisoformat(value[:10])
        except ValueError:
            return None
        if len(value) == 10 or _TIME.fullmatch(value, 10):
            return day
        return None
    match = _YEAR_MONTH.fullmatch(value)
    if match is None or match.group(1) == "0000":
        return None
    return Date(int(match.group(1)), int(match.group(2) or 1), 1)


# --- complex elements -------------------------------------------------------------------------
_dates: BoundedMemo[Date | None] = BoundedMemo(_parse_date)
_seen_dates = _dates.table


def obj(node: Node, name: str, at: str = "", expected: str = "element") -> dict[str, Any] | None:
    """A complex (backbone) element: a JSON object."""
    value = node.get(name)
    if value is None or type(value) is dict:
        return value
    raise _bad(at, name, expected)


def objects(node: Node, name: str, at: str = "", expected: str = "element") -> list[dict[str, Any]]:
    """A repeating complex element: every item a JSON object."""
    value = node.get(name)
    if value is None:
        return []
    if type(value) is dict:
        return [value]
    if type(value) is not list:
        raise _bad(at, name, f"array of {expected}")
    for index, item in enumerate(value):
        if type(item) is not dict:
            raise _bad(at, f"{name}[{index}]", expected)
    return value


def strings(node: Node, name: str, at: str = "") -> list[str]:
    """A repeating string/uri/canonical element."""
    value = node.get(name)
    if value is None:
        return []
    if type(value) is str:
        return [value]
    if type(value) is not list or any(type(item) is not str for item in value):
        raise _bad(at, name, "array of string")
    return value


def period(node: Node, name: str, at: str = "") -> tuple[Date | None, Date | None]:
    """(start, end) of a Period; (None, None) when absent."""
    value = node.get(name)
    if value is None:
        return None, None
    if type(value) is not dict:
        raise _bad(at, name, "Period")
    start, end = value.get("start"), value.get("end")
    first = None if start is None else parse_date(start)
    last = None if end is None else parse_date(end)
    if (first is None and start is not None) or (last is None and end is not None):
        raise _bad(
            path(at, name), "start" if first is None and start is not None else "end", "dateTime"
        )
    return first, last


def _single(
    node: Node, name: str, at: str, expected: str, check: Callable[[Node, str, str], None]
) -> dict[str, Any] | None:
    """One complex element: absent → None; else an object that passes ``check``."""
    value = node.get(name)
    if value is None:
        return None
    if type(value) is not dict:
        raise _bad(at, name, expected)
    check(value, at, name)
    return value


def _repeated(
    node: Node, name: str, at: str, expected: str, check: Callable[[Node, str, str], None]
) -> list[dict[str, Any]]:
    """A repeating complex element whose every item passes ``check``."""
    found = objects(node, name, at, expected)
    for index, value in enumerate(found):
        check(value, at, f"{name}[{index}]")
    return found


def coding(node: Node, name: str, at: str = "") -> dict[str, Any] | None:
    """A lone Coding (Encounter.class, valueCoding)."""
    return _single(node, name, at, "Coding", _check_coding)


def concept(node: Node, name: str, at: str = "") -> dict[str, Any] | None:
    """A CodeableConcept: an object whose ``coding`` are Codings and ``text`` a string."""
    return _single(node, name, at, "CodeableConcept", _check_concept)


def concepts(node: Node, name: str, at: str = "") -> list[dict[str, Any]]:
    """A repeating CodeableConcept."""
    return _repeated(node, name, at, "CodeableConcept", _check_concept)


def _check_concept(value: Node, at: str, name: str) -> None:
    text = value.get("text")
    if text is not None and type(text) is not str:
        raise _bad(path(at, name), "text", "string")
    codings = value.get("coding")
    if codings is None:
        return
    if type(codings) is dict:
        codings = [codings]
    elif type(codings) is not list:
        raise _bad(path(at, name), "coding", "array of Coding")
    for item in codings:  # plain type tests: this runs for every concept read
        if (
            type(item) is not dict
            or type(item.get("system", "")) is not str
            or type(item.get("code", "")) is not str
            or type(item.get("display", "")) is not str
        ):
            _coding_problem(codings, path(at, name))


def _coding_problem(codings: list[Any], at: str) -> None:
    """Raise for the first wrong coding (the slow path: only when one is wrong)."""
    for index, item in enumerate(codings):
        if type(item) is not dict:
            raise _bad(at, f"coding[{index}]", "Coding")
        _check_coding(item, at, f"coding[{index}]")


_CODING_TYPES = (("system", "uri"), ("code", "code"), ("display", "string"))


def _check_coding(value: Node, at: str, name: str) -> None:
    for key, expected in _CODING_TYPES:
        item = value.get(key)
        if item is not None and type(item) is not str:
            raise _bad(path(at, name), key, expected)


def reference(node: Node, name: str, at: str = "") -> dict[str, Any] | None:
    """A Reference: an object whose ``reference``, ``type`` and ``display`` are strings."""
    return _single(node, name, at, "Reference", _check_reference)


def references(node: Node, name: str, at: str = "") -> list[dict[str, Any]]:
    """A repeating Reference."""
    return _repeated(node, name, at, "Reference", _check_reference)


def _check_reference(value: Node, at: str, name: str) -> None:
    if (
        type(value.get("reference", "")) is not str
        or type(value.get("display", "")) is not str
        or type(value.get("type", "")) is not str
    ):
        for key, expected in (("reference", "string"), ("type", "uri"), ("display", "string")):
            item = value.get(key)
            if item is not None and type(item) is not str:
                raise _bad(path(at, name), key, expected)


def quantity(
    node: Node, name: str, at: str = "", expected: str = "Quantity"
) -> dict[str, Any] | None:
    """A Quantity / Duration: ``value`` a number, ``unit`` / ``code`` / ``system`` strings."""
    value = node.get(name)
    if value is None:
        return None
    if type(value) is not dict:
        raise _bad(at, name, expected)
    where = path(at, name)
    decimal(value, "value", where)
    for key in ("unit", "code", "system"):
        string(value, key, where)
    return value


def profiles(resource: Node) -> list[str]:
    """meta.profile (canonical URLs)."""
    meta = obj(resource, "meta", expected="Meta")
    return strings(meta, "profile", "meta") if meta is not None else []
