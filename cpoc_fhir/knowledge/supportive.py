"""The supportive-care knowledge (``knowledge/data/supportive-care.toml``): emetogenic risk per
drug and its rules, antiemetic prophylaxis per risk (ASCO 2020), premedication and vitamin
supplementation per drug, febrile-neutropenia risk per regimen (G-CSF), and the products.

Only the care-pathway suggestions read it: its products are not in the billing regimen
catalog, so folic acid or an antiemetic never makes a month a treatment month (cpoc-rules §5).
Every problem is a KnowledgeError naming the entry and the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from cpoc_fhir.errors import KnowledgeError
from cpoc_fhir.knowledge.loader import read_data_file

LEVELS = ("minimal", "low", "moderate", "high")  # in rising order
ROUTES = ("intravenous", "oral", "subcutaneous", "intramuscular")
_NAME = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
FILE = "supportive-care.toml"


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    rxcui: str  # RxNorm ingredient


@dataclass(frozen=True)
class SupportItem:
    """One supportive dose: days are offsets from each day its deciding drug is given."""

    product: str
    amount: Decimal
    unit: str  # UCUM
    route: str
    purpose: str
    offsets: tuple[int, ...] = ()
    times_per_day: int = 1
    when: str = ""  # "30 minutes before chemotherapy"
    continuous: bool = False  # daily throughout (folic acid)
    every_days: int | None = None  # its own period (vitamin B12 every 63 days)


@dataclass(frozen=True)
class EmetogenicRule:
    name: str
    level: str
    source: str
    variant: str = ""  # the antiemetic set "<level>-<variant>" ("high-ac", "moderate-nk1")
    all_of: tuple[tuple[str, ...], ...] = ()  # a combination: one drug of each group
    drug: str = ""  # a dose rule: this drug at or above a dose
    amount_at_least: Decimal | None = None
    unit: str = ""
    auc_at_least: Decimal | None = None  # carboplatin dosed by AUC ("AUC 5")


@dataclass(frozen=True)
class FebrileNeutropeniaRisk:
    name: str
    percent: Decimal
    basis: str  # "trial" or "guideline list"
    source: str
    regimen: str = ""  # a catalog regimen id, or
    drugs: frozenset[str] = frozenset()  # the regimen's anti-cancer drugs, whatever its id
    cycle_days: int | None = None  # and its cycle length (dose-dense AC: 14)


@dataclass(frozen=True)
class GcsfPolicy:
    item: SupportItem  # offsets: from the cycle's last chemotherapy day
    min_cycle_days: int


@dataclass(frozen=True)
class SupportiveCare:
    version: str
    date: str
    products: Mapping[str, Product]
    emetogenic: Mapping[str, str]  # catalog drug id → level
    rules: tuple[EmetogenicRule, ...]
    antiemetics: Mapping[str, tuple[SupportItem, ...]]  # "high", "high-ac", …
    premedication: Mapping[str, tuple[SupportItem, ...]]  # catalog drug id → items
    gcsf: GcsfPolicy
    febrile_neutropenia: tuple[FebrileNeutropeniaRisk, ...]

    def product(self, product_id: str) -> Product:
        return self.products[product_id]


def _error(what: str, name: str, problem: str) -> KnowledgeError:
    return KnowledgeError(f"supportive care: {what}, field '{name}': {problem}")


def _text(entry: Mapping[str, Any], what: str, name: str, required: bool = True) -> str:
    value = entry.get(name, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise _error(what, name, "missing or empty text")
    return value.strip()


def _int(value: Any, what: str, name: str, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _error(what, name, f"{value!r} is not a whole number")
    if minimum is not None and value < minimum:
        raise _error(what, name, f"{value} is below {minimum}")
    return value


def _decimal(value: Any, what: str, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise _error(what, name, f"{value!r} is not a number")
    number = Decimal(str(value))
    if number <= 0:
        raise _error(what, name, f"{number} is not above 0")
    return number


def _offsets(entry: Mapping[str, Any], what: str) -> tuple[int, ...]:
    if "offsets_range" in entry:
        bounds = entry["offsets_range"]
        if not isinstance(bounds, list) or len(bounds) != 2:
            raise _error(what, "offsets_range", f"{bounds!r} is not [first, last]")
        first, last = (_int(b, what, "offsets_range") for b in bounds)
        if last < first:
            raise _error(what, "offsets_range", f"{last} is before {first}")
        return tuple(range(first, last + 1))
    raw = entry.get("offsets", [])
    if not isinstance(raw, list):
        raise _error(what, "offsets", "must be a list of day offsets")
    days = tuple(_int(d, what, "offsets") for d in raw)
    if list(days) != sorted(set(days)):
        raise _error(what, "offsets", "offsets must be in order, each once")
    return days


def _item(entry: Any, what: str, products: Mapping[str, Product]) -> SupportItem:
    if not isinstance(entry, Mapping):
        raise _error(what, "", "must be a table")
    product = _text(entry, what, "product")
    if product not in products:
        raise _error(what, "product", f"unknown product {product!r}")
    route = entry.get("route")
    if route not in ROUTES:
        raise _error(what, "route", f"{route!r} is not one of {list(ROUTES)}")
    continuous = entry.get("continuous", False)
    if not isinstance(continuous, bool):
        raise _error(what, "continuous", "must be true or false")
    every = entry.get("every_days")
    offsets = _offsets(entry, what)
    timings = sum([continuous, every is not None, bool(offsets)])
    if timings != 1:
        raise _error(what, "offsets", "give exactly one of offsets, continuous, every_days")
    return SupportItem(
        product=product,
        amount=_decimal(entry.get("amount"), what, "amount"),
        unit=_text(entry, what, "unit"),
        route=route,
        purpose=_text(entry, what, "purpose"),
        offsets=offsets,
        times_per_day=_int(entry.get("times_per_day", 1), what, "times_per_day", 1),
        when=_text(entry, what, "when", required=False),
        continuous=continuous,
        every_days=None if every is None else _int(every, what, "every_days", 1),
    )


def _items(raw: Any, what: str, products: Mapping[str, Product]) -> tuple[SupportItem, ...]:
    if not isinstance(raw, list):
        raise _error(what, "", "must be a list of doses")
    return tuple(_item(e, f"{what}[{i}]", products) for i, e in enumerate(raw))


def _level(value: Any, what: str, name: str) -> str:
    if value not in LEVELS:
        raise _error(what, name, f"{value!r} is not one of {list(LEVELS)}")
    return str(value)


def _rule(entry: Any, index: int) -> EmetogenicRule:
    what = f"emetogenic_rules[{index}]"
    if not isinstance(entry, Mapping):
        raise _error(what, "", "must be a table")
    groups = entry.get("all_of", [])
    if not isinstance(groups, list) or not all(
        isinstance(g, list) and g and all(isinstance(d, str) for d in g) for g in groups
    ):
        raise _error(what, "all_of", "must be a list of lists of drug ids")
    drug = _text(entry, what, "drug", required=False)
    if bool(groups) == bool(drug):
        raise _error(what, "drug", "give a drug (dose rule) or all_of (combination), not both")
    amount, auc = entry.get("amount_at_least"), entry.get("auc_at_least")
    if drug and (amount is None) == (auc is None):
        raise _error(what, "amount_at_least", "a dose rule needs amount_at_least or auc_at_least")
    variant = _text(entry, what, "variant", required=False)
    if variant and not _NAME.fullmatch(variant):
        raise _error(what, "variant", f"{variant!r} is not a name (lower-case, -)")
    return EmetogenicRule(
        name=_text(entry, what, "name"),
        level=_level(entry.get("level"), what, "level"),
        source=_text(entry, what, "source"),
        variant=variant,
        all_of=tuple(tuple(g) for g in groups),
        drug=drug,
        amount_at_least=None if amount is None else _decimal(amount, what, "amount_at_least"),
        unit=_text(entry, what, "unit", required=amount is not None),
        auc_at_least=None if auc is None else _decimal(auc, what, "auc_at_least"),
    )


def _fn_risk(entry: Any, index: int) -> FebrileNeutropeniaRisk:
    what = f"febrile_neutropenia[{index}]"
    if not isinstance(entry, Mapping):
        raise _error(what, "", "must be a table")
    regimen = _text(entry, what, "regimen", required=False)
    drugs = entry.get("drugs", [])
    if not isinstance(drugs, list) or not all(isinstance(d, str) for d in drugs):
        raise _error(what, "drugs", "must be a list of drug ids")
    if bool(regimen) == bool(drugs):
        raise _error(what, "regimen", "give a regimen id or its drugs, not both")
    percent = _decimal(entry.get("percent"), what, "percent")
    if percent > 100:
        raise _error(what, "percent", f"{percent} is above 100")
    cycle = entry.get("cycle_days")
    return FebrileNeutropeniaRisk(
        name=_text(entry, what, "name", required=False) or regimen,
        percent=percent,
        basis=_text(entry, what, "basis"),
        source=_text(entry, what, "source"),
        regimen=regimen,
        drugs=frozenset(drugs),
        cycle_days=None if cycle is None else _int(cycle, what, "cycle_days", 1),
    )


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise _error(key, key, "must be a table")
    return value


def parse_supportive_care(data: Mapping[str, Any]) -> SupportiveCare:
    """Validate the parsed file. Drug and regimen ids are not checked against the regimen
    catalog: an id it does not (yet) know is simply never matched."""
    products = {}
    for pid, entry in _table(data, "products").items():
        what = f"product {pid!r}"
        if not isinstance(entry, Mapping):
            raise _error(what, "", "must be a table")
        rxcui = entry.get("rxcui")
        if not isinstance(rxcui, str) or not rxcui.isdigit():
            raise _error(what, "rxcui", f"{rxcui!r} is not an RxNorm code (digits)")
        products[pid] = Product(pid, _text(entry, what, "name"), rxcui)
    emetogenic = {
        drug: _level(level, "emetogenic", drug)
        for drug, level in _table(data, "emetogenic").items()
    }
    rules = data.get("emetogenic_rules", [])
    if not isinstance(rules, list):
        raise _error("emetogenic_rules", "", "must be a list of tables")
    parsed_rules = tuple(_rule(r, i) for i, r in enumerate(rules))
    antiemetics = {
        name: _items(raw, f"antiemetics.{name}", products)
        for name, raw in _table(data, "antiemetics").items()
    }
    needed = [*LEVELS, *(f"{r.level}-{r.variant}" for r in parsed_rules if r.variant)]
    for name in needed:
        if name not in antiemetics:
            raise _error("antiemetics", name, "missing: every risk (and rule variant) needs a set")
    premedication = {
        drug: _items(raw, f"premedication.{drug}", products)
        for drug, raw in _table(data, "premedication").items()
    }
    gcsf = _table(data, "gcsf")
    offset = _int(gcsf.get("offset_after_last_day"), "gcsf", "offset_after_last_day", 1)
    item = _item({**gcsf, "offsets": [offset]}, "gcsf", products)
    fn = data.get("febrile_neutropenia", [])
    if not isinstance(fn, list):
        raise _error("febrile_neutropenia", "", "must be a list of tables")
    return SupportiveCare(
        version=_text(data, "file", "version"),
        date=_text(data, "file", "date"),
        products=products,
        emetogenic=emetogenic,
        rules=parsed_rules,
        antiemetics=antiemetics,
        premedication=premedication,
        gcsf=GcsfPolicy(item, _int(gcsf.get("min_cycle_days"), "gcsf", "min_cycle_days", 1)),
        febrile_neutropenia=tuple(_fn_risk(e, i) for i, e in enumerate(fn)),
    )


@cache
def load_supportive_care() -> SupportiveCare:
    """The shipped supportive-care knowledge, parsed once per process."""
    return parse_supportive_care(read_data_file(FILE))
