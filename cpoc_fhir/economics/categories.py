"""Service categories of the shared savings (value-and-models §13.2; proposal II-B.3).

A claim item is placed by the ordered rules of a categories file (the shipped one:
``knowledge/data/service-categories.toml``, an ILLUSTRATIVE grouping of the code sets'
own sections): the first rule whose every field matches wins. A rule may look at

- ``codes``: the item's CPT/HCPCS code (``ClaimLine.code`` under a CPT/HCPCS system), single
  codes or ranges ``A-B`` of codes of the same shape (``J9000-J9999``, ``0001U-0999U``);
- ``revenue``: the item's NUBC revenue code (``item.revenue``, four digits);
- ``place_of_service``: the item's CMS place of service (``item.locationCodeableConcept``);
- ``claim_type``: the claim's ``type`` (http://terminology.hl7.org/CodeSystem/claim-type:
  institutional, professional, pharmacy …);
- ``claim_subtype``: the claim's ``subType`` (CARIN BB institutional inpatient / outpatient).

The item's context (type, subtype, revenue, place of service) is read here from the claim
resources themselves, keyed by the ``ClaimLine.evidence`` "Type/id#itemN" that
``economics.claims`` gives each line, so the FFS reader stays as ``cpoc model`` uses it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cpoc_fhir.economics.claims import ClaimLine
from cpoc_fhir.economics.codes import PROCEDURE_SYSTEMS
from cpoc_fhir.economics.files import read_table_file, text_field
from cpoc_fhir.errors import InputError
from cpoc_fhir.fhir.read import access
from cpoc_fhir.fhir.read.access import UnreadableElement
from cpoc_fhir.fhir.read.references import resource_key

Resource = Mapping[str, Any]
DATA = Path(__file__).resolve().parents[1] / "knowledge" / "data"
DEFAULT_FILE = DATA / "service-categories.toml"
UNCATEGORISED = "uncategorised"
_FIELDS = ("codes", "revenue", "place_of_service", "claim_type", "claim_subtype")
_CLAIM_TYPES = frozenset({"Claim", "ExplanationOfBenefit"})


@dataclass(frozen=True)
class ItemContext:
    """What a category rule may see of a claim item besides its code."""

    claim_type: str | None = None
    claim_subtype: str | None = None
    revenue: str | None = None
    place_of_service: str | None = None


@dataclass(frozen=True)
class _Codes:
    """Single codes and same-shape ranges (digits vary, letters fixed: ``J9000-J9999``)."""

    single: frozenset[str]
    ranges: tuple[tuple[str, str], ...]

    def __contains__(self, code: object) -> bool:
        if not isinstance(code, str):
            return False
        if code in self.single:
            return True
        return any(_same_shape(code, lo) and lo <= code <= hi for lo, hi in self.ranges)


def _same_shape(code: str, model: str) -> bool:
    return len(code) == len(model) and all(
        a.isdigit() if b.isdigit() else a == b for a, b in zip(code, model, strict=True)
    )


@dataclass(frozen=True)
class Rule:
    category: str
    why: str
    codes: _Codes | None
    revenue: _Codes | None
    place_of_service: frozenset[str] | None
    claim_type: frozenset[str] | None
    claim_subtype: frozenset[str] | None

    def matches(self, line: ClaimLine, context: ItemContext) -> bool:
        if self.codes is not None and (
            line.system not in PROCEDURE_SYSTEMS or line.code not in self.codes
        ):
            return False
        if self.revenue is not None and context.revenue not in self.revenue:
            return False
        if self.place_of_service is not None and context.place_of_service not in (
            self.place_of_service
        ):
            return False
        if self.claim_type is not None and context.claim_type not in self.claim_type:
            return False
        return self.claim_subtype is None or context.claim_subtype in self.claim_subtype


@dataclass(frozen=True)
class ServiceCategories:
    id: str
    source: str
    date: str
    illustrative: bool
    labels: Mapping[str, str]  # category id → label, in the file's order
    rules: tuple[Rule, ...]

    def place(self, line: ClaimLine, context: ItemContext) -> str:
        """The item's category id, or ``UNCATEGORISED``."""
        for rule in self.rules:
            if rule.matches(line, context):
                return rule.category
        return UNCATEGORISED

    def header(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "date": self.date,
            "illustrative": self.illustrative,
        }


def load_categories(path: Path | None = None) -> ServiceCategories:
    """The categories file (default: the shipped illustrative one); problems name the field."""
    path = path or DEFAULT_FILE
    return categories_from_data(read_table_file(path), str(path))


def categories_from_data(data: Mapping[str, Any], where: str) -> ServiceCategories:
    head = data.get("service_categories")
    if not isinstance(head, Mapping):
        raise InputError(where, "missing [service_categories] table")
    labels = data.get("categories")
    if not isinstance(labels, Mapping) or not labels:
        raise InputError(where, "categories: a table of category id = label is required")
    rules_data = data.get("rules")
    if not isinstance(rules_data, list) or not rules_data:
        raise InputError(where, "rules: at least one [[rules]] entry is required")
    rules = tuple(_rule(r, i, labels, where) for i, r in enumerate(rules_data))
    illustrative = head.get("illustrative", False)
    if not isinstance(illustrative, bool):
        raise InputError(where, "service_categories.illustrative must be true or false")
    return ServiceCategories(
        id=text_field(head, "id", where, "service_categories.id"),
        source=text_field(head, "source", where, "service_categories.source"),
        date=str(head.get("date", "")),
        illustrative=illustrative,
        labels={str(k): str(v) for k, v in labels.items()},
        rules=rules,
    )


def _rule(data: object, index: int, labels: Mapping[str, Any], where: str) -> Rule:
    at = f"rules[{index}]"
    if not isinstance(data, Mapping):
        raise InputError(where, f"{at} must be a table")
    unknown = set(data) - {"category", "why", *_FIELDS}
    if unknown:
        raise InputError(where, f"{at}: unknown field {sorted(unknown)[0]!r}")
    category = text_field(data, "category", where, f"{at}.category")
    if category not in labels:
        raise InputError(where, f"{at}.category: {category!r} is not in [categories]")
    if not any(name in data for name in _FIELDS):
        raise InputError(where, f"{at}: give at least one of {', '.join(_FIELDS)}")
    values = {name: _strings(data.get(name), where, f"{at}.{name}") for name in _FIELDS}
    return Rule(
        category=category,
        why=str(data.get("why", "")),
        codes=_codes(values["codes"], where, f"{at}.codes"),
        revenue=_codes(values["revenue"], where, f"{at}.revenue"),
        place_of_service=_set(values["place_of_service"]),
        claim_type=_set(values["claim_type"]),
        claim_subtype=_set(values["claim_subtype"]),
    )


def _strings(value: object, where: str, at: str) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise InputError(where, f"{at} must be a non-empty list of strings")
    return [v.strip() for v in value]


def _set(values: list[str] | None) -> frozenset[str] | None:
    return None if values is None else frozenset(values)


def _codes(values: list[str] | None, where: str, at: str) -> _Codes | None:
    if values is None:
        return None
    single, ranges = set(), []
    for value in values:
        lo, dash, hi = value.partition("-")
        if not dash:
            single.add(value)
            continue
        if not _same_shape(hi, lo) or lo > hi:
            raise InputError(where, f"{at}: {value!r} is not a range of same-shape codes A-B")
        ranges.append((lo, hi))
    return _Codes(frozenset(single), tuple(ranges))


# --- the items' context, from the claim resources ---------------------------------------------
def item_contexts(resources: Iterable[Resource]) -> dict[str, ItemContext]:
    """ "Type/id#itemN" → the item's context, for every Claim and ExplanationOfBenefit item.
    An element of the wrong type only leaves that part of the context unknown (the claims
    reader warns about the resource itself)."""
    out: dict[str, ItemContext] = {}
    for resource in resources:
        if resource.get("resourceType") not in _CLAIM_TYPES:
            continue
        ref = resource_key(resource)
        claim_type = _code_of(resource, "type")
        subtype = _code_of(resource, "subType")
        for index, item in enumerate(_items(resource)):
            sequence = item.get("sequence")
            key = f"{ref}#item{sequence if isinstance(sequence, int) else index + 1}"
            revenue = _code_of(item, "revenue")
            out[key] = ItemContext(
                claim_type=claim_type,
                claim_subtype=subtype,
                revenue=revenue.zfill(4) if revenue and revenue.isdigit() else revenue,
                place_of_service=_code_of(item, "locationCodeableConcept"),
            )
    return out


def _items(resource: Resource) -> Sequence[Mapping[str, Any]]:
    try:
        return access.objects(resource, "item")
    except UnreadableElement:
        return ()


def _code_of(node: Resource, name: str) -> str | None:
    try:
        concept = access.concept(node, name)
        codings = [] if concept is None else access.objects(concept, "coding", name)
    except UnreadableElement:
        return None
    for coding in codings:
        code = coding.get("code")
        if isinstance(code, str) and code:
            return code
    return None
