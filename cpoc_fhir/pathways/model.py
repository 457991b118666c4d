"""Care pathways as the product reasons over them (proposal IV-A).

A pathway is, for one cancer in one setting, the regimens the practice's pathway puts first,
in value order (the proposal's "value-based" pathway lists the lower-cost option first when
efficacy and toxicity are equivalent). Pathways are published as FHIR PlanDefinitions
(``cpoc_fhir.pathways.plandefinition``); this module is the FHIR-free model both the
authoring form and the PlanDefinitions turn into.

Applicability is a list of criteria, all of which must hold (FHIR's rule for several
``action.condition`` of one kind). Each criterion is one clause of a small language
(``fact op value``, e.g. ``PD-L1 >= 50``), so that a clinician can read it and a patient
context can answer it with yes, no, or "not on record" — never a guess.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from cpoc_fhir.errors import KnowledgeError
from cpoc_fhir.knowledge.regimen_model import Regimen

# The facts a criterion may ask about, with the words a patient context answers with, and
# what the card says when the record does not tell ("PD-L1 not on record").
FACTS: Mapping[str, tuple[str, ...] | None] = {
    "cancer": None,  # a cancer type of knowledge/data/conditions.toml
    "icd10": None,  # an ICD-10-CM prefix of the cancer diagnosis ("C18", "C83.3")
    "snomed": None,  # a SNOMED CT code of the cancer diagnosis
    "metastatic": ("yes", "no"),
    "stage": ("0", "I", "II", "III", "IV"),  # AJCC stage group, major group only
    "line": None,  # line of therapy in the setting (a number)
    "site": ("colon", "rectum"),  # colorectal primary site
    "histology": ("squamous", "non-squamous", "small-cell", "dlbcl"),
    "EGFR": ("positive", "negative"),
    "ALK": ("positive", "negative"),
    "PD-L1": None,  # tumour proportion score, percent
    "HER2": ("positive", "negative"),
    "HR": ("positive", "negative"),  # oestrogen or progesterone receptor
    "castration": ("sensitive", "resistant"),
}
NUMERIC_FACTS = frozenset({"line", "PD-L1"})
MISSING: Mapping[str, str] = {
    "metastatic": "stage not on record (no stage group and no metastasis)",
    "stage": "stage group not on record",
    "histology": "histology not on record",
    "site": "primary site (colon or rectum) not on record",
    "EGFR": "EGFR mutation status not on record",
    "ALK": "ALK rearrangement status not on record",
    "PD-L1": "PD-L1 tumour proportion score not on record",
    "HER2": "HER2 status not on record",
    "HR": "hormone receptor (ER/PR) status not on record",
    "castration": "castration status (sensitive or resistant) not on record",
}
OPERATORS = ("=", "!=", ">=", "<=", ">", "<", "in")
_CLAUSE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9-]*)\s*(!=|>=|<=|=|>|<|\bin\b)\s*(.+?)\s*$")

Answer = str | Decimal | tuple[str, ...] | None  # what a context knows of one fact


@dataclass(frozen=True)
class Criterion:
    """One applicability clause, e.g. ``PD-L1 >= 50`` ("PD-L1 TPS at least 50 %")."""

    fact: str
    op: str
    values: tuple[str, ...]
    description: str = ""

    @property
    def expression(self) -> str:
        joined = ", ".join(self.values)
        return f"{self.fact} {self.op} {joined}"

    @classmethod
    def parse(cls, expression: str, description: str = "", where: str = "") -> Criterion:
        match = _CLAUSE.match(expression)
        if match is None:
            raise KnowledgeError(f"{where}: {expression!r} is not 'fact op value'")
        fact, op, raw = match.groups()
        if fact not in FACTS:
            raise KnowledgeError(f"{where}: unknown fact {fact!r}; known: {', '.join(FACTS)}")
        values = tuple(v.strip() for v in raw.split(",")) if op == "in" else (raw.strip(),)
        if not all(values):
            raise KnowledgeError(f"{where}: {expression!r} has an empty value")
        if op != "in" and len(values) != 1:
            raise KnowledgeError(f"{where}: only 'in' takes a list")
        if op in (">=", "<=", ">", "<") and fact not in NUMERIC_FACTS:
            raise KnowledgeError(f"{where}: {fact} is not a number; use = or in")
        if fact in NUMERIC_FACTS:
            for value in values:
                _number(value, where)
        allowed = FACTS[fact]
        if allowed is not None:
            wrong = [v for v in values if v not in allowed]
            if wrong:
                raise KnowledgeError(f"{where}: {fact} cannot be {wrong[0]!r}; one of {allowed}")
        return cls(fact, op, values, description or expression)

    def holds(self, known: Answer) -> bool | None:
        """True / False, or None when the context does not know the fact."""
        if known is None:
            return None
        if isinstance(known, tuple):  # several codes (icd10, snomed): any may satisfy
            results = [self.holds(k) for k in known]
            return any(results) if self.op not in ("!=",) else all(results)
        if self.fact in NUMERIC_FACTS:
            number = known if isinstance(known, Decimal) else _number(str(known), self.fact)
            targets = [_number(v, self.fact) for v in self.values]
            return _compare(number, self.op, targets)
        text = str(known)
        if self.fact == "icd10":
            hit = any(_icd10_under(text, v) for v in self.values)
            return hit if self.op in ("=", "in") else not hit
        if self.op in ("=", "in"):
            return text in self.values
        if self.op == "!=":
            return text not in self.values
        return None


def _icd10_under(code: str, prefix: str) -> bool:
    return code.replace(".", "").upper().startswith(prefix.replace(".", "").upper())


def _compare(number: Decimal, op: str, targets: list[Decimal]) -> bool:
    target = targets[0]
    if op == "in":
        return number in targets
    return {
        "=": number == target,
        "!=": number != target,
        ">=": number >= target,
        "<=": number <= target,
        ">": number > target,
        "<": number < target,
    }[op]


def _number(value: str, where: str) -> Decimal:
    try:
        return Decimal(value.rstrip("%").strip())
    except InvalidOperation:
        raise KnowledgeError(f"{where}: {value!r} is not a number") from None


@dataclass(frozen=True)
class PathwayOption:
    """One on-pathway regimen (a regimen-catalog id), in the pathway's value order."""

    regimen: str
    note: str = ""
    # Which of the regimen's per-setting doses to order (catalog ``Dose.setting``; abiraterone's
    # prednisone: "castration-sensitive" once daily, LATITUDE). "" = the catalog's first.
    dose_setting: str = ""


@dataclass(frozen=True)
class Pathway:
    """One pathway: a cancer in a setting, when it applies, and its regimens in value order."""

    id: str
    title: str
    url: str
    version: str
    cancer: str  # cancer type (knowledge/data/conditions.toml), for grouping and reports
    setting: str  # the setting in words
    criteria: tuple[Criterion, ...]
    options: tuple[PathwayOption, ...]
    # Regimens given alongside any option (androgen deprivation in prostate cancer): an order
    # of these alone stays on pathway, and they are set aside when judging a combination.
    backbone: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    publisher: str = ""
    date: str = ""
    description: str = ""
    origin: str = "shipped"  # "shipped" or the practice file it came from

    @property
    def regimens(self) -> tuple[str, ...]:
        return tuple(o.regimen for o in self.options)

    def option(self, regimen_id: str) -> PathwayOption | None:
        return next((o for o in self.options if o.regimen == regimen_id), None)


@dataclass(frozen=True)
class PathwayLibrary:
    """The practice's pathways, in the order they are tried (most specific first)."""

    pathways: tuple[Pathway, ...]
    by_id: Mapping[str, Pathway] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_id", {p.id: p for p in self.pathways})

    def get(self, pathway_id: str) -> Pathway | None:
        return self.by_id.get(pathway_id)

    def for_cancer(self, cancer: str) -> tuple[Pathway, ...]:
        return tuple(p for p in self.pathways if p.cancer == cancer)

    @property
    def cancers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.cancer for p in self.pathways))


def check_regimens(pathways: Sequence[Pathway], known: Mapping[str, Regimen]) -> None:
    """Every option and backbone must be a regimen the catalog knows, and an option's dose
    setting one its doses have (load-time check)."""
    for pathway in pathways:
        where = f"pathway {pathway.id!r} ({pathway.origin})"
        for regimen in [*pathway.regimens, *pathway.backbone]:
            if regimen not in known:
                raise KnowledgeError(f"{where}: regimen {regimen!r} is not in the regimen catalog")
        for option in pathway.options:
            settings = {d.setting for d in known[option.regimen].dosing if d.setting}
            if option.dose_setting and option.dose_setting not in settings:
                raise KnowledgeError(
                    f"{where}: option {option.regimen!r} names dose setting "
                    f"{option.dose_setting!r}; the catalog's doses have {sorted(settings)}"
                )
