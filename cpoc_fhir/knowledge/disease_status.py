"""Cancer disease status values (``data/disease-status.toml``): codes → states, text rules.

Pure: built from already-parsed data (``from_data``), no I/O. The text rules are read by
``cpoc_fhir.fhir.read.disease_text``; the codes by ``cpoc_fhir.fhir.read.disease_status``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cpoc_fhir.errors import KnowledgeError
from cpoc_fhir.vocabulary import DiseaseState

FILE = "disease-status.toml"
STATES = {state.value: state for state in DiseaseState}
# What a concept says when affirmed / negated, besides a state (see the data file).
OUTCOME_WORDS = frozenset({"doubt", "none"})
COMPATIBLE = "compatible-"


@dataclass(frozen=True)
class StatusCode:
    system: str  # the first URL of its system
    code: str
    display: str
    state: DiseaseState
    value_sets: tuple[str, ...]


@dataclass(frozen=True)
class TextConcept:
    name: str
    affirmed: str  # a state value, "compatible-<state>", "doubt" or "none"
    negated: str
    phrases: tuple[str, ...]


@dataclass(frozen=True)
class TextRules:
    whole: Mapping[str, DiseaseState]
    concepts: tuple[TextConcept, ...]
    negation_before: tuple[str, ...]
    negation_after: tuple[str, ...]
    uncertain_before: tuple[str, ...]
    uncertain_after: tuple[str, ...]
    terminators: tuple[str, ...]
    window: int
    window_after: int


@dataclass(frozen=True)
class DiseaseStatusKnowledge:
    """``codes``: (system URL, code) → StatusCode; ``evidence``: SNOMED CT evidence types."""

    version: str
    codes: Mapping[tuple[str, str], StatusCode]
    evidence: frozenset[str]
    text: TextRules

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> DiseaseStatusKnowledge:
        systems = _table(data, "systems")
        urls = {name: _strings(systems, name, f"systems.{name}") for name in systems}
        codes: dict[tuple[str, str], StatusCode] = {}
        for number, entry in enumerate(_list(data, "codes"), start=1):
            where = f"codes[{number}]"
            system = _text(entry, "system", where)
            if system not in urls:
                raise _error(f"{where}.system: unknown system {system!r}")
            found = StatusCode(
                urls[system][0],
                _text(entry, "code", where),
                _text(entry, "display", where),
                _state(_text(entry, "state", where), f"{where}.state"),
                _strings(entry, "value_sets", where),
            )
            for url in urls[system]:
                if (url, found.code) in codes:
                    raise _error(f"{where}: code {found.code} listed twice")
                codes[(url, found.code)] = found
        evidence = frozenset(
            _text(e, "code", f"evidence[{n}]") for n, e in enumerate(_list(data, "evidence"), 1)
        )
        return cls(str(data.get("version", "")), codes, evidence, _text_rules(_table(data, "text")))


def _text_rules(text: Mapping[str, Any]) -> TextRules:
    whole = {}
    for number, entry in enumerate(_list(text, "whole"), start=1):
        where = f"text.whole[{number}]"
        whole[_text(entry, "text", where)] = _state(_text(entry, "state", where), where)
    concepts = []
    for number, entry in enumerate(_list(text, "concepts"), start=1):
        where = f"text.concepts[{number}]"
        concepts.append(
            TextConcept(
                _text(entry, "name", where),
                _outcome(_text(entry, "affirmed", where), f"{where}.affirmed"),
                _outcome(_text(entry, "negated", where), f"{where}.negated"),
                _strings(entry, "phrases", where),
            )
        )
    triggers = _table(text, "triggers")
    lists = {
        name: _strings(triggers, name, "text.triggers")
        for name in ("negation_before", "negation_after", "uncertain_before", "uncertain_after")
    }
    return TextRules(
        whole=whole,
        concepts=tuple(concepts),
        terminators=_strings(triggers, "terminators", "text.triggers"),
        window=_count(triggers, "window"),
        window_after=_count(triggers, "window_after"),
        **lists,
    )


def _outcome(value: str, where: str) -> str:
    state = value.removeprefix(COMPATIBLE)
    if value in OUTCOME_WORDS or state in STATES:
        return value
    raise _error(f"{where}: {value!r} is not a state, compatible-<state>, doubt or none")


def _state(value: str, where: str) -> DiseaseState:
    if value not in STATES:
        raise _error(f"{where}: {value!r} is not one of {sorted(STATES)}")
    return STATES[value]


def _table(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = data.get(name)
    if not isinstance(value, Mapping):
        raise _error(f"'{name}' must be a table")
    return value


def _list(data: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    value = data.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise _error(f"'{name}' must be an array of tables")
    return value


def _text(entry: Mapping[str, Any], name: str, where: str) -> str:
    value = entry.get(name)
    if not isinstance(value, str) or not value:
        raise _error(f"{where}.{name} must be a non-empty string")
    return value


def _strings(entry: Mapping[str, Any], name: str, where: str) -> tuple[str, ...]:
    value = entry.get(name)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise _error(f"{where}.{name} must be a non-empty array of strings")
    return tuple(value)


def _count(entry: Mapping[str, Any], name: str) -> int:
    value = entry.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise _error(f"text.triggers.{name} must be a positive integer")
    return value


def _error(message: str) -> KnowledgeError:
    return KnowledgeError(f"knowledge file {FILE}: {message}")
