"""Code lists the value measures read, from ``knowledge/data/value-sets/*.toml``.

A file holds one or more value sets, each with its source (name, URL, date) and codes::

    [value_sets.pain-score]
    title = "Pain intensity scores"
    source = "LOINC 2.77, https://loinc.org/72514-3/ …"
    date = "2024-08-01"
    [[value_sets.pain-score.codes]]
    system = "http://loinc.org"
    code = "72514-3"
    display = "Pain severity - 0-10 verbal numeric rating [Score] - Reported"

``prefix = true`` on a code entry matches every code it starts (ICD-10-CM categories:
"D70" matches "D70.1" and "D701"). ICD-10-CM codes are compared without the dot, upper case.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from cpoc_fhir.errors import KnowledgeError

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
_DATA = "cpoc_fhir.knowledge"
MEMO_LIMIT = 100_000


@dataclass(frozen=True)
class ValueSet:
    id: str
    title: str
    source: str
    date: str
    exact: frozenset[tuple[str, str]]  # (system, normalised code)
    prefixes: tuple[tuple[str, str], ...]
    # contains() per (system, code) already asked: the measures ask the same few codes of
    # every Encounter and Condition of the practice, and the prefix scan is the slow part.
    _seen: dict[tuple[str, str], bool] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def contains(self, system: object, code: object) -> bool:
        if not isinstance(system, str) or not isinstance(code, str):
            return False
        seen = self._seen
        found = seen.get((system, code))
        if found is None:
            found = self._contains(system, code)
            if len(seen) >= MEMO_LIMIT:
                seen.clear()  # bounded, as fhir.read.memo
            seen[(system, code)] = found
        return found

    def _contains(self, system: str, code: str) -> bool:
        key = _normal(system, code)
        if (system, key) in self.exact:
            return True
        return any(s == system and key.startswith(p) for s, p in self.prefixes)

    def matches(self, codings: Iterable[Mapping[str, Any]]) -> bool:
        """True when any coding (FHIR Coding dicts) is in the set."""
        return any(self.contains(c.get("system"), c.get("code")) for c in codings)


def _normal(system: str, code: str) -> str:
    code = code.strip()
    return code.replace(".", "").upper() if system == ICD10CM else code


def parse_value_sets(data: Mapping[str, Any], where: str) -> dict[str, ValueSet]:
    """The value sets of one parsed file; every problem names the file and the entry."""
    table = data.get("value_sets")
    if not isinstance(table, Mapping) or not table:
        raise KnowledgeError(f"{where}: no [value_sets.<id>] tables")
    out: dict[str, ValueSet] = {}
    for vs_id, entry in table.items():
        at = f"{where}: value_sets.{vs_id}"
        if not isinstance(entry, Mapping):
            raise KnowledgeError(f"{at} is not a table")
        for key in ("title", "source", "date"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise KnowledgeError(f"{at}.{key} is required (text)")
        codes = entry.get("codes")
        if not isinstance(codes, list) or not codes:
            raise KnowledgeError(f"{at}.codes: at least one code is required")
        exact: set[tuple[str, str]] = set()
        prefixes: list[tuple[str, str]] = []
        for i, c in enumerate(codes):
            if not isinstance(c, Mapping) or not c.get("system") or not c.get("code"):
                raise KnowledgeError(f"{at}.codes[{i}] needs 'system' and 'code'")
            system, code = str(c["system"]), _normal(str(c["system"]), str(c["code"]))
            (prefixes.append((system, code)) if c.get("prefix") else exact.add((system, code)))
        out[vs_id] = ValueSet(
            vs_id,
            entry["title"],
            entry["source"],
            entry["date"],
            frozenset(exact),
            tuple(prefixes),
        )
    return out


def read_value_sets(paths: Iterable[Path]) -> dict[str, ValueSet]:
    """Value sets from files (a user's override); a set defined twice is an error."""
    out: dict[str, ValueSet] = {}
    for path in paths:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise KnowledgeError(f"{path}: cannot read value sets: {exc}") from None
        for vs_id, vs in parse_value_sets(data, str(path)).items():
            if vs_id in out:
                raise KnowledgeError(f"{path}: value set {vs_id!r} is defined twice")
            out[vs_id] = vs
    return out


@cache
def bundled_value_sets() -> dict[str, ValueSet]:
    """The value sets shipped with the product (every file in data/value-sets/)."""
    folder = resources.files(_DATA) / "data" / "value-sets"
    out: dict[str, ValueSet] = {}
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if not item.name.endswith(".toml"):
            continue
        data = tomllib.loads(item.read_text(encoding="utf-8"))
        for vs_id, vs in parse_value_sets(data, f"value-sets/{item.name}").items():
            if vs_id in out:
                raise KnowledgeError(f"value-sets/{item.name}: {vs_id!r} is defined twice")
            out[vs_id] = vs
    return out


def value_set(vs_id: str) -> ValueSet:
    try:
        return bundled_value_sets()[vs_id]
    except KeyError:
        raise KnowledgeError(f"no value set {vs_id!r} in knowledge/data/value-sets/") from None
