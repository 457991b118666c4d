"""Condition code lists: cancers (primary / secondary, type), treatment toxicity, late effects.

Built from ``data/conditions.toml`` (see its header for sources and the decisions it records).
Pure: no I/O. ``classify`` is called for every Condition of every patient, so lookups are
dict/set probes on precomputed prefixes, text patterns are compiled once, and results are
memoised on the (codes, text) key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from cpoc_fhir.errors import KnowledgeError
from cpoc_fhir.vocabulary import CancerRole

T = TypeVar("T")

_ICD10 = re.compile(r"[A-Z][0-9][0-9A-Z]{0,5}")
_SNOMED = re.compile(r"[1-9][0-9]{5,17}")
_ROLES = {"primary": CancerRole.PRIMARY, "secondary": CancerRole.SECONDARY, "none": CancerRole.NONE}
_CACHE_LIMIT = 65536  # distinct (codes, text) keys kept before the memo starts over


def normalize_icd10(code: str) -> str:
    """ICD-10-CM code without the dot, upper case, trimmed ("e11.22 " → "E1122")."""
    return code.replace(".", "").strip().upper()


def expand_icd10(entry: str, where: str) -> list[str]:
    """Normalised prefixes for one data entry: a code ("I25.2") or sibling range ("I42.5-I42.9")."""
    first, dash, last = str(entry).partition("-")
    lo, hi = normalize_icd10(first), normalize_icd10(last if dash else first)
    if not (_ICD10.fullmatch(lo) and _ICD10.fullmatch(hi)):
        raise KnowledgeError(f"{where}: {entry!r} is not an ICD-10 code or range")
    if lo == hi:
        return [lo]
    # A range runs over the digits after the letter: "C00-C14", "E10.2-E10.5", "Z49.0-Z49.2".
    tail_lo, tail_hi = lo[1:], hi[1:]
    if lo[0] != hi[0] or not (tail_lo.isdigit() and tail_hi.isdigit()):
        raise KnowledgeError(f"{where}: range {entry!r} must be digits after one letter")
    if len(tail_lo) != len(tail_hi) or int(tail_lo) > int(tail_hi):
        raise KnowledgeError(f"{where}: range {entry!r} is not ascending codes of one length")
    width = len(tail_lo)
    return [f"{lo[0]}{n:0{width}d}" for n in range(int(tail_lo), int(tail_hi) + 1)]


def snomed_code(entry: Any, where: str) -> str:
    """A SNOMED CT concept id from the data, checked for shape (digits, no leading zero)."""
    code = str(entry).strip()
    if not _SNOMED.fullmatch(code):
        raise KnowledgeError(f"{where}: {entry!r} is not a SNOMED CT concept id")
    return code


def snomed_entries(
    entries: Iterable[Any], where: str
) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """(place, code, table) for each ``{code = ...}`` table of a curated SNOMED list."""
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise KnowledgeError(f"{where}[{i}]: expected a table with a code")
        place = f"{where}[{i}] ({entry.get('code')!r})"
        code = snomed_code(entry.get("code"), place)
        if code in seen:
            raise KnowledgeError(f"{place}: listed twice")
        seen.add(code)
        yield place, code, entry


def entry_list(data: Mapping[str, Any], key: str, where: str) -> list[Any]:
    """``data[key]`` as a list (absent: empty), or a KnowledgeError naming the place."""
    value = data.get(key, [])
    if not isinstance(value, list):
        raise KnowledgeError(f"{where}.{key}: expected a list, got {type(value).__name__}")
    return value


def table(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    """``data[key]`` as a table (absent: empty), or a KnowledgeError naming the place."""
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise KnowledgeError(f"{where}.{key}: expected a table, got {type(value).__name__}")
    return value


@dataclass(frozen=True)
class PrefixTable(Generic[T]):
    """Normalised ICD-10 prefixes → values; a code matches every prefix it starts with."""

    entries: Mapping[str, T]
    lengths: tuple[int, ...]  # the prefix lengths present, longest first

    @classmethod
    def of(cls, entries: Mapping[str, T]) -> PrefixTable[T]:
        return cls(dict(entries), tuple(sorted({len(p) for p in entries}, reverse=True)))

    def longest(self, code: str) -> T | None:
        """The value of the longest prefix of ``code`` (normalised), or None."""
        for n in self.lengths:
            if n <= len(code) and (hit := self.entries.get(code[:n])) is not None:
                return hit
        return None

    def every(self, code: str) -> list[T]:
        """The values of all prefixes of ``code`` (normalised), longest first."""
        return [self.entries[code[:n]] for n in self.lengths if code[:n] in self.entries]


def _prefixes(data: Mapping[str, Any], key: str, where: str) -> PrefixTable[str]:
    """A prefix table whose values are the data entries themselves (for explanations)."""
    return PrefixTable.of(
        {p: str(e) for e in entry_list(data, key, where) for p in expand_icd10(e, f"{where}.{key}")}
    )


def _pattern(data: Mapping[str, Any], key: str, where: str) -> re.Pattern[str] | None:
    """The data's regex fragments for ``key`` joined into one case-insensitive pattern."""
    parts = entry_list(data, key, where)
    if not parts:
        return None
    try:
        return re.compile("|".join(f"(?:{p})" for p in parts), re.IGNORECASE)
    except re.error as exc:
        raise KnowledgeError(f"{where}.{key}: bad pattern ({exc})") from exc


@dataclass(frozen=True)
class ConditionClass:
    """What a Condition is for the rules (copied onto ``engine.facts.Diagnosis``)."""

    cancer_role: CancerRole = CancerRole.NONE
    cancer_type: str | None = None
    toxicity: bool = False
    late_effect: bool = False


@dataclass(frozen=True)
class _Text:
    """Compiled wording rules, used when no code decides (see conditions.toml [cancer.text])."""

    negation: re.Pattern[str] | None  # not a diagnosis: suspected, history of, screening
    consequence: re.Pattern[str] | None  # caused by a cancer, not the cancer: pain, induced
    cancer: re.Pattern[str] | None
    secondary: re.Pattern[str] | None
    types: tuple[tuple[str, re.Pattern[str]], ...]
    toxicity: re.Pattern[str] | None

    def role(self, text: str) -> CancerRole:
        if not text or self._negated(text) or (self.consequence and self.consequence.search(text)):
            return CancerRole.NONE
        if self.secondary and self.secondary.search(text):
            return CancerRole.SECONDARY
        if self.cancer and self.cancer.search(text):
            return CancerRole.PRIMARY
        return CancerRole.NONE

    def cancer_type(self, text: str) -> str | None:
        return next((name for name, rx in self.types if rx.search(text)), None) if text else None

    def is_toxicity(self, text: str) -> bool:
        named = bool(text and self.toxicity and self.toxicity.search(text))
        return named and not self._negated(text)

    def _negated(self, text: str) -> bool:
        return self.negation is not None and self.negation.search(text) is not None


@dataclass(eq=False)
class ConditionKnowledge:
    """Classifies a Condition's codes and wording for the engine (cpoc-rules §6, §7)."""

    icd_role: PrefixTable[CancerRole]
    icd_type: PrefixTable[str]
    snomed_cancer: Mapping[str, tuple[CancerRole, str | None]]
    toxicity_icd: PrefixTable[str]
    toxicity_snomed: frozenset[str]
    late_icd: PrefixTable[str]
    late_snomed: frozenset[str]
    text: _Text
    cancer_types: frozenset[str]
    source: Mapping[str, Any] = field(default_factory=dict, repr=False)
    _memo: dict[tuple[Any, ...], ConditionClass] = field(default_factory=dict, repr=False)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ConditionKnowledge:
        """Build from parsed conditions.toml; KnowledgeError names any malformed entry."""
        cancer = table(data, "cancer", "conditions")
        types = frozenset(str(t) for t in entry_list(cancer, "types", "cancer"))
        if "other" not in types:
            raise KnowledgeError("cancer.types: must include 'other'")
        icd = table(cancer, "icd10", "cancer")
        toxicity = table(data, "toxicity", "conditions")
        late = table(data, "late_effects", "conditions")
        text = table(cancer, "text", "cancer")
        sct = table(cancer, "snomed", "cancer")
        return cls(
            icd_role=_icd_roles(icd),
            icd_type=_icd_types(table(icd, "types", "cancer.icd10"), types),
            snomed_cancer=_snomed_cancers(entry_list(sct, "codes", "cancer.snomed"), types),
            toxicity_icd=_prefixes(toxicity, "icd10", "toxicity"),
            toxicity_snomed=frozenset(_snomed_list(toxicity, "toxicity")),
            late_icd=_prefixes(late, "icd10", "late_effects"),
            late_snomed=frozenset(_snomed_list(late, "late_effects")),
            text=_Text(
                negation=_pattern(text, "negation", "cancer.text"),
                consequence=_pattern(text, "consequence", "cancer.text"),
                cancer=_pattern(text, "cancer", "cancer.text"),
                secondary=_pattern(text, "secondary", "cancer.text"),
                types=_text_types(entry_list(text, "types", "cancer.text"), types),
                toxicity=_pattern(toxicity, "text", "toxicity"),
            ),
            cancer_types=types,
            source=data,
        )

    def with_overrides(self, overrides: Mapping[str, Any]) -> ConditionKnowledge:
        """A copy with a practice's tables merged over the shipped data (e.g. [late_effects]).

        Each key of a top-level table the practice gives replaces the shipped key (so a
        practice's ``late_effects.icd10`` list is the whole ICD-10 value set); other keys stay.
        """
        merged: dict[str, Any] = dict(self.source)
        for key, value in overrides.items():
            base = merged.get(key)
            if isinstance(base, Mapping) and isinstance(value, Mapping):
                value = {**base, **value}
            merged[key] = value
        return ConditionKnowledge.from_data(merged)

    def classify(
        self, icd10: Sequence[str], snomed: Sequence[str], text: str = ""
    ) -> ConditionClass:
        """Cancer role and type, toxicity and late-effect flags for one Condition."""
        key = (tuple(icd10), tuple(snomed), text)
        hit = self._memo.get(key)
        if hit is None:
            if len(self._memo) >= _CACHE_LIMIT:
                self._memo.clear()
            icd = [n for n in map(normalize_icd10, icd10) if n]
            hit = self._memo[key] = self._classify(icd, [c.strip() for c in snomed], text)
        return hit

    def _classify(self, icd: list[str], snomed: Sequence[str], text: str) -> ConditionClass:
        role, types = self._cancer(icd, snomed, text)
        cancer_type = None
        if role is CancerRole.PRIMARY:
            types.append(self.text.cancer_type(text))
            cancer_type = next((t for t in types if t and t != "other"), "other")
        return ConditionClass(
            cancer_role=role,
            cancer_type=cancer_type,
            toxicity=any(self.toxicity_icd.longest(c) for c in icd)
            or any(c in self.toxicity_snomed for c in snomed)
            or self.text.is_toxicity(text),
            late_effect=any(self.late_icd.longest(c) for c in icd)
            or any(c in self.late_snomed for c in snomed),
        )

    def _cancer(
        self, icd: list[str], snomed: Sequence[str], text: str
    ) -> tuple[CancerRole, list[str | None]]:
        """Role, and the candidate types of its primary codes: ICD-10, then SNOMED, then text."""
        icd_hits = [(r, self.icd_type.longest(c)) for c in icd if (r := self.icd_role.longest(c))]
        sct_hits = [self.snomed_cancer[c] for c in snomed if c in self.snomed_cancer]
        sct_types = [t for _, t in sct_hits]
        for hits in (icd_hits, [h for h in sct_hits if h[0] is not CancerRole.NONE]):
            roles = {r for r, _ in hits}
            if CancerRole.SECONDARY in roles:
                return CancerRole.SECONDARY, []
            if roles:
                return CancerRole.PRIMARY, [t for _, t in hits] + sct_types
        if icd or sct_hits:  # coded, and no code is a cancer: the wording does not overrule it
            return CancerRole.NONE, []
        return self.text.role(text), []


def _icd_roles(icd: Mapping[str, Any]) -> PrefixTable[CancerRole]:
    # Secondary prefixes override primary ones of the same length ("C77-C79" inside "C00-C96").
    roles: dict[str, CancerRole] = {}
    for name in ("primary", "secondary"):
        for entry in entry_list(icd, name, "cancer.icd10"):
            for prefix in expand_icd10(entry, f"cancer.icd10.{name}"):
                roles[prefix] = _ROLES[name]
    return PrefixTable.of(roles)


def _icd_types(types: Mapping[str, Any], known: frozenset[str]) -> PrefixTable[str]:
    found: dict[str, str] = {}
    for name, entries in types.items():
        where = f"cancer.icd10.types.{name}"
        if name not in known:
            raise KnowledgeError(f"{where}: unknown cancer type (not in cancer.types)")
        for entry in entries if isinstance(entries, list) else [entries]:
            for prefix in expand_icd10(entry, where):
                if found.setdefault(prefix, name) != name:
                    raise KnowledgeError(f"{where}: {entry!r} is already {found[prefix]!r}")
    return PrefixTable.of(found)


def _snomed_cancers(
    entries: Iterable[Any], known: frozenset[str]
) -> dict[str, tuple[CancerRole, str | None]]:
    found: dict[str, tuple[CancerRole, str | None]] = {}
    for where, code, entry in snomed_entries(entries, "cancer.snomed.codes"):
        role = _ROLES.get(str(entry.get("role")))
        kind = entry.get("type")
        if role is None:
            raise KnowledgeError(f"{where}: role must be primary, secondary or none")
        if (kind is None) != (role is not CancerRole.PRIMARY) or (kind and kind not in known):
            raise KnowledgeError(f"{where}: a primary needs a known type; others none")
        found[code] = (role, kind)
    return found


def _snomed_list(data: Mapping[str, Any], where: str) -> list[str]:
    return [snomed_code(c, f"{where}.snomed") for c in entry_list(data, "snomed", where)]


def _text_types(
    entries: Iterable[Any], known: frozenset[str]
) -> tuple[tuple[str, re.Pattern[str]], ...]:
    out = []
    for i, entry in enumerate(entries):
        where = f"cancer.text.types[{i}]"
        if not isinstance(entry, Mapping) or entry.get("type") not in known:
            raise KnowledgeError(f"{where}: expected {{type = <known type>, pattern = [...]}}")
        rx = _pattern(entry, "pattern", where)
        if rx is not None:
            out.append((str(entry["type"]), rx))
    return tuple(out)
