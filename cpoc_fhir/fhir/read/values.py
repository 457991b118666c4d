"""Small readers for FHIR datatypes in plain JSON: dates, periods, codings, quantities.

Every function tolerates malformed input (wrong JSON type, missing parts) and answers
"nothing" rather than raising; callers decide what deserves a warning.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CPT = "http://www.ama-assn.org/go/cpt"
ICD10_SYSTEMS = frozenset(
    {
        "http://hl7.org/fhir/sid/icd-10-cm",
        "http://hl7.org/fhir/sid/icd-10",
        "urn:oid:2.16.840.1.113883.6.90",  # ICD-10-CM
        "urn:oid:2.16.840.1.113883.6.3",  # ICD-10
    }
)
SNOMED_SYSTEMS = frozenset({SNOMED, "urn:oid:2.16.840.1.113883.6.96"})
CPT_SYSTEMS = frozenset({CPT, "urn:oid:2.16.840.1.113883.6.12"})

_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")

# A FHIR Coding as (system, code, display), the shape knowledge.regimens expects.
Coding = tuple[str | None, str | None, str | None]


def fhir_date(value: object) -> date | None:
    """The calendar date as written (no time-zone shift); "2020" / "2020-05" → first day."""
    if not isinstance(value, str):
        return None
    if len(value) >= 10 and value[4] == "-" and value[7] == "-":
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    match = _DATE.fullmatch(value)
    if match is None:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2) or 1), int(match.group(3) or 1))
    except ValueError:
        return None


def period_start(period: object) -> date | None:
    return fhir_date(period.get("start")) if isinstance(period, dict) else None


def period_end(period: object) -> date | None:
    return fhir_date(period.get("end")) if isinstance(period, dict) else None


def as_list(value: object) -> list[Any]:
    """A repeating element as a list (a lone object becomes a one-item list). The list may
    be the resource's own: read it, never change it."""
    if isinstance(value, list):
        return value
    return [] if value is None else [value]


def as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def codings(concept: object) -> list[Coding]:
    """The codings of a CodeableConcept (or a lone Coding) as (system, code, display)."""
    if type(concept) is not dict:
        return []
    raw = concept.get("coding")
    if raw is None:  # a lone Coding (Encounter.class, Observation.valueCoding …)
        if "code" not in concept and "system" not in concept:
            return []
        raw = [concept]
    elif type(raw) is not list:
        raw = [raw]
    # Plain type tests in one comprehension: this runs for every concept of every resource.
    return [
        (
            system if type(system := coding.get("system")) is str else None,
            code if type(code := coding.get("code")) is str else None,
            display if type(display := coding.get("display")) is str else None,
        )
        for coding in raw
        if type(coding) is dict
    ]


def _raw_codings(concept: object) -> list[Any]:
    """The Coding objects of a concept as ``codings`` finds them (items may be any JSON)."""
    if type(concept) is not dict:
        return []
    raw = concept.get("coding")
    if raw is None:
        return [concept] if "code" in concept or "system" in concept else []
    return raw if type(raw) is list else [raw]


def _systems(systems: Iterable[str] | str) -> frozenset[str] | set[str]:
    if type(systems) is frozenset:  # the module's *_SYSTEMS constants: no copy per call
        return systems
    return {systems} if isinstance(systems, str) else set(systems)


def codes(concept: object, systems: Iterable[str] | str) -> set[str]:
    """The codes of a concept in the given system(s)."""
    wanted = _systems(systems)
    # Straight over the Codings rather than through ``codings``' tuples: this runs for every
    # coded element read; same answer (a non-string system never matches).
    found: set[str] = set()
    for coding in _raw_codings(concept):
        if type(coding) is dict:
            code = coding.get("code")
            system = coding.get("system")
            if type(code) is str and code and type(system) is str and system in wanted:
                found.add(code)
    return found


def has_code(concept: object, systems: Iterable[str] | str, among: Iterable[str]) -> bool:
    """True when the concept has a code of the given system(s) in ``among`` (a set): the
    test ``bool(codes(concept, systems) & among)`` without building the set."""
    wanted = _systems(systems)
    for coding in _raw_codings(concept):
        if type(coding) is dict:
            code = coding.get("code")
            system = coding.get("system")  # a non-string (unhashable) system never matches
            # an empty code is no code (as in ``codes``): the test above found it counted
            if (
                type(code) is str
                and code
                and code in among
                and type(system) is str
                and system in wanted
            ):
                return True
    return False


def any_codes(concept: object) -> set[str]:
    """The codes of a concept whatever their system."""
    return {code for _, code, _ in codings(concept) if code}


def concepts_codes(concepts: Iterable[object], systems: Iterable[str] | str) -> set[str]:
    found: set[str] = set()
    for concept in concepts:
        found |= codes(concept, systems)
    return found


def concept_text(concept: object) -> str:
    """A concept's text, else its first display, else ""."""
    if not isinstance(concept, dict):
        return ""
    text = concept.get("text")
    if isinstance(text, str) and text.strip():
        return text.strip()
    for _, _, display in codings(concept):
        if display and display.strip():
            return display.strip()
    return ""


def concept_words(concept: object) -> str:
    """Text and every display of a concept, lower case, for keyword tests."""
    if type(concept) is not dict:
        return ""
    # Straight over the Codings (as ``codes``) rather than ``codings``' tuples: every
    # Encounter type, medication and reason is tested by its words; the same parts joined.
    text = concept.get("text")
    parts = [text] if type(text) is str else []
    for coding in _raw_codings(concept):
        if type(coding) is dict and type(display := coding.get("display")) is str:
            parts.append(display)
    return " ".join(parts).lower()


def status_code(value: object) -> str | None:
    """A status given as a code string or as a CodeableConcept (first coding's code)."""
    if isinstance(value, str):
        return value
    for _, code, _ in codings(value):
        if code:
            return code
    return None


def profiles(resource: Mapping[str, Any]) -> list[str]:
    meta = resource.get("meta")
    return (
        [p for p in as_list(meta.get("profile")) if isinstance(p, str)]
        if isinstance(meta, dict)
        else []
    )


_DAYS_PER_UNIT = {
    "d": 1, "day": 1, "days": 1,
    "wk": 7, "week": 7, "weeks": 7,
    "mo": 30, "month": 30, "months": 30,
    "a": 365, "year": 365, "years": 365,
}  # fmt: skip


def duration_days(quantity: object) -> int | None:
    """Whole days in a Duration/Quantity (d, wk, mo = 30 d, a = 365 d), None if unusable."""
    if not isinstance(quantity, dict):
        return None
    value = quantity.get("value")
    unit = quantity.get("code") or quantity.get("unit") or "d"
    factor = _DAYS_PER_UNIT.get(unit.lower()) if isinstance(unit, str) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or factor is None:
        return None
    days = round(value * factor)
    return days if days > 0 else None


def add_days(start: date, days: int) -> date:
    return start + timedelta(days=days)
