"""Charlson comorbidity index from ICD-10-CM (Quan 2005) and SNOMED CT codes (cpoc-rules §5 C).

Built from ``data/charlson.toml``. Pure: no I/O. ICD-10 codes match Quan's prefixes (so
ICD-10-CM's longer codes, E11.22 or I50.32, fall in their categories); SNOMED CT codes match a
curated list. The index leaves out the cancer categories and applies the hierarchy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cpoc_fhir.errors import KnowledgeError
from cpoc_fhir.knowledge.conditions import (
    PrefixTable,
    entry_list,
    expand_icd10,
    normalize_icd10,
    snomed_entries,
    table,
)

# The cancer categories cpoc-rules §5 C excludes from the index.
CANCER_CATEGORIES = frozenset({"malignancy", "metastatic_solid_tumor"})


@dataclass(eq=False)
class CharlsonMap:
    """Category lookup and weighted index, cancer categories excluded."""

    names: Mapping[str, str]  # category id → name as Quan prints it
    icd10: PrefixTable[str]  # normalised Quan prefix → category id
    snomed: Mapping[str, str]  # SNOMED CT concept id → category id
    weights: Mapping[str, Mapping[str, int]]  # scheme → category id → points
    supersedes: Mapping[str, frozenset[str]]  # category → the categories it makes moot
    _memo: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> CharlsonMap:
        """Build from parsed charlson.toml; KnowledgeError names any malformed entry."""
        categories = table(data, "categories", "charlson")
        if not set(categories) >= CANCER_CATEGORIES:
            raise KnowledgeError(
                f"charlson.categories: must define {sorted(CANCER_CATEGORIES)} among others"
            )
        names: dict[str, str] = {}
        prefixes: dict[str, str] = {}
        for cat, spec in categories.items():
            where = f"charlson.categories.{cat}"
            if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
                raise KnowledgeError(f"{where}: expected a table with name and icd10")
            names[cat] = spec["name"]
            for entry in entry_list(spec, "icd10", where):
                for prefix in expand_icd10(entry, f"{where}.icd10"):
                    if prefixes.setdefault(prefix, cat) != cat:
                        raise KnowledgeError(f"{where}: {entry!r} is already {prefixes[prefix]}")
        return cls(
            names=names,
            icd10=PrefixTable.of(prefixes),
            snomed=_snomed(entry_list(table(data, "snomed", "charlson"), "codes", "snomed"), names),
            weights=_weights(table(data, "weights", "charlson"), names),
            supersedes=_hierarchy(table(data, "hierarchy", "charlson"), names),
        )

    @property
    def schemes(self) -> tuple[str, ...]:
        """The weight schemes the data defines (e.g. "charlson1987", "quan2011")."""
        return tuple(self.weights)

    def categories(self, icd10: Iterable[str], snomed: Iterable[str] = ()) -> frozenset[str]:
        """Every Charlson category the codes fall in (hierarchy and exclusions not applied)."""
        found: set[str] = set()
        for code in icd10:
            found |= self._icd_categories(normalize_icd10(code))
        for code in snomed:
            if (cat := self.snomed.get(code.strip())) is not None:
                found.add(cat)
        return frozenset(found)

    def index(self, categories: Iterable[str], weights: str = "charlson1987") -> int:
        """Weighted index without the cancer categories, the hierarchy applied, no age points."""
        points = self.weights.get(weights)
        if points is None:
            raise KnowledgeError(f"Charlson weights {weights!r} unknown; have {self.schemes}")
        present = set(categories) - CANCER_CATEGORIES
        unknown = present - set(self.names)
        if unknown:
            raise ValueError(f"not Charlson categories: {sorted(unknown)}")
        for cat in list(present):
            present -= self.supersedes.get(cat, frozenset())
        return sum(points[cat] for cat in present)

    def score(
        self, icd10: Iterable[str], snomed: Iterable[str] = (), weights: str = "charlson1987"
    ) -> int:
        """``index(categories(icd10, snomed), weights)`` in one call."""
        return self.index(self.categories(icd10, snomed), weights)

    def _icd_categories(self, code: str) -> frozenset[str]:
        hit = self._memo.get(code)
        if hit is None:
            hit = self._memo[code] = frozenset(self.icd10.every(code))
        return hit


def _snomed(entries: list[Any], names: Mapping[str, str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for where, code, entry in snomed_entries(entries, "charlson.snomed.codes"):
        if entry.get("category") not in names:
            raise KnowledgeError(f"{where}: unknown category {entry.get('category')!r}")
        found[code] = str(entry["category"])
    return found


def _weights(schemes: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, dict[str, int]]:
    if "charlson1987" not in schemes:
        raise KnowledgeError("charlson.weights: the default scheme charlson1987 is missing")
    out: dict[str, dict[str, int]] = {}
    for scheme, spec in schemes.items():
        where = f"charlson.weights.{scheme}"
        points = table(spec, "points", where) if isinstance(spec, Mapping) else None
        if points is None or set(points) != set(names):
            missing = sorted(set(names) - set(points or {}))
            extra = sorted(set(points or {}) - set(names))
            raise KnowledgeError(f"{where}.points: missing {missing}, unknown {extra}")
        out[scheme] = {
            cat: _points(value, f"{where}.points.{cat}") for cat, value in points.items()
        }
    return out


def _points(value: Any, where: str) -> int:
    # TOML floats arrive as Decimal; a weight must be a whole, non-negative number.
    if isinstance(value, bool) or not isinstance(value, int | Decimal) or value < 0:
        raise KnowledgeError(f"{where}: {value!r} is not a non-negative whole number")
    if value != int(value):
        raise KnowledgeError(f"{where}: {value!r} is not a whole number")
    return int(value)


def _hierarchy(spec: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, frozenset[str]]:
    out: dict[str, frozenset[str]] = {}
    for cat, lower in spec.items():
        where = f"charlson.hierarchy.{cat}"
        lower = lower if isinstance(lower, list) else [lower]
        bad = [c for c in [cat, *lower] if c not in names]
        if bad:
            raise KnowledgeError(f"{where}: unknown categories {bad}")
        out[cat] = frozenset(lower)
    return out
