"""Validation of the regimen catalog's data files: parsed TOML → drugs and regimens.

Every problem is a KnowledgeError naming the entry and the field (``regimen 'folfox', field
'hospitalization.source': …``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from cpoc_fhir.errors import KnowledgeError
from cpoc_fhir.knowledge.regimen_model import Dose, Drug, Regimen, ToxicityFigure
from cpoc_fhir.knowledge.regimen_points import ORAL_PATTERNS
from cpoc_fhir.vocabulary import DrugRole, Route

_ROLES = {"anticancer": DrugRole.ANTICANCER, "supportive": DrugRole.SUPPORTIVE}
_ROUTES = {"parenteral": Route.PARENTERAL, "oral": Route.ORAL}
FIGURES = ("hospitalization", "qol", "death")
FIGURE_BASES = ("treatment-related", "all-cause")
_FIGURE_KEYS = frozenset({"percent", "source", "trial", "arm", "table", "number", "basis"})
_FIGURE_KEYS_TEXT = ", ".join(sorted(_FIGURE_KEYS))
DOSE_ROUTES = ("intravenous", "oral", "subcutaneous", "intramuscular")
_DOSE_KEYS = frozenset(
    {"drug", "route", "text", "amount", "unit", "dose_text", "days", "days_range", "cycle_days",
     "times_per_day", "minutes", "cancers", "cycles", "setting"}
)  # fmt: skip
# UCUM's characters (no spaces, no "²"); the spellings below are common but not UCUM.
_UCUM_RE = re.compile(r"[A-Za-z0-9.\[\]{}%*/-]+")
_NOT_UCUM = {"mcg": "ug", "IU": "[iU]", "iu": "[iU]", "units": "U", "unit": "U", "cc": "mL"}


def catalog_error(what: str, name: str, problem: str) -> KnowledgeError:
    return KnowledgeError(f"regimen catalog: {what}, field '{name}': {problem}")


def _entries(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    entries = data.get(key)
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
        raise KnowledgeError(f"regimen catalog: '{key}' must be a list of tables")
    return entries


def _text(entry: Mapping[str, Any], what: str, name: str) -> str:
    value = entry.get(name)
    if not isinstance(value, str) or not value.strip():
        raise catalog_error(what, name, "missing or empty")
    return value.strip()


def _texts(entry: Mapping[str, Any], what: str, name: str) -> tuple[str, ...]:
    value = entry.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise catalog_error(what, name, "must be a list of non-empty strings")
    return tuple(v.strip() for v in value)


def _listed_texts(value: Any, what: str, name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise catalog_error(what, name, "must be a list of non-empty strings")
    return tuple(v.strip() for v in value)


def _cancer_companions(
    entry: Mapping[str, Any], what: str, defining: Sequence[str], drugs: Mapping[str, Drug]
) -> dict[str, tuple[str, ...]]:
    """``cancer_companions = { prostate = ["prednisone"] }``: companions for one cancer only."""
    raw = entry.get("cancer_companions", {})
    if not isinstance(raw, Mapping):
        raise catalog_error(what, "cancer_companions", "must be a table: cancer = [drug ids]")
    out: dict[str, tuple[str, ...]] = {}
    for cancer, ids in raw.items():
        here = f"cancer_companions.{cancer}"
        listed = _listed_texts(ids, what, here)
        for drug_id in listed:
            if drug_id not in drugs:
                raise catalog_error(what, here, f"unknown drug {drug_id!r}")
            if drug_id in defining:
                raise catalog_error(what, here, f"{drug_id!r} defines the regimen")
        out[str(cancer)] = listed
    return out


def _code(value: Any, what: str, name: str) -> str:
    if not isinstance(value, str) or not value.isdigit():
        raise catalog_error(what, name, f"{value!r} is not an RxNorm code (digits)")
    return value


def _category(entry: Mapping[str, Any], what: str, name: str) -> int | None:
    value = entry.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 4:
        raise catalog_error(what, name, f"{value!r} is not a Table 4 category 0-4")
    return value


def _choice(entry: Mapping[str, Any], what: str, name: str, options: Mapping[str, Any]) -> Any:
    value = entry.get(name)
    if not isinstance(value, str) or value not in options:
        raise catalog_error(what, name, f"{value!r} is not one of {sorted(options)}")
    return options[value]


def parse_drug(entry: Mapping[str, Any]) -> Drug:
    what = f"drug {entry.get('id')!r}"
    classes = _texts(entry, what, "classes")
    role = _choice(entry, what, "role", _ROLES)
    if role is DrugRole.ANTICANCER and not classes:
        raise catalog_error(what, "classes", "an anti-cancer drug needs at least one class")
    products = entry.get("product_rxcuis", [])
    if not isinstance(products, list):
        raise catalog_error(what, "product_rxcuis", "must be a list")
    formulation_of = entry.get("formulation_of")
    if formulation_of is not None and not isinstance(formulation_of, str):
        raise catalog_error(what, "formulation_of", "must be a drug id")
    confirmed = entry.get("rxcui_confirmed", True)
    if not isinstance(confirmed, bool):
        raise catalog_error(what, "rxcui_confirmed", f"{confirmed!r} is not true or false")
    note = entry.get("rxcui_note", "")
    if not isinstance(note, str):
        raise catalog_error(what, "rxcui_note", "must be text: what the code was checked against")
    return Drug(
        id=_text(entry, what, "id"),
        name=_text(entry, what, "name"),
        rxcui=_code(entry.get("rxcui"), what, "rxcui"),
        role=role,
        classes=classes,
        route=_choice(entry, what, "route", _ROUTES),
        single_agent_category=_category(entry, what, "single_agent_category"),
        product_rxcuis=tuple(_code(p, what, "product_rxcuis") for p in products),
        synonyms=tuple(s.lower() for s in _texts(entry, what, "synonyms")),
        formulation_of=formulation_of,
        rxcui_confirmed=confirmed,
        rxcui_note=note.strip(),
    )


def check_formulation(drug: Drug, drugs: Mapping[str, Drug]) -> None:
    if drug.formulation_of is None:
        return
    parent = drugs.get(drug.formulation_of)
    if parent is None or parent.formulation_of is not None:
        raise catalog_error(
            f"drug {drug.id!r}", "formulation_of", f"{drug.formulation_of!r} unknown"
        )
    if parent.rxcui != drug.rxcui:
        raise catalog_error(f"drug {drug.id!r}", "rxcui", f"must be {parent.id}'s ingredient code")


def _figure(entry: Mapping[str, Any], what: str, name: str) -> ToxicityFigure:
    value = entry.get(name)
    if not isinstance(value, Mapping):
        raise catalog_error(what, name, "missing (a table with percent and source)")
    percent = value.get("percent")
    if isinstance(percent, bool) or not isinstance(percent, int | float | Decimal):
        raise catalog_error(what, name, f"percent {percent!r} is not a number")
    number = Decimal(str(percent))
    if not 0 <= number <= 100:
        raise catalog_error(what, name, f"percent {number} is outside 0-100")
    source = value.get("source")
    if not isinstance(source, str) or not source.strip():
        raise catalog_error(what, f"{name}.source", "every figure needs its published source")
    unknown = sorted(set(value) - _FIGURE_KEYS)
    if unknown:
        raise catalog_error(
            what, f"{name}.{unknown[0]}", f"unknown key; expected {_FIGURE_KEYS_TEXT}"
        )
    parts = {}
    for key in ("trial", "arm", "table", "number"):
        part = value.get(key, "")
        if not isinstance(part, str):
            raise catalog_error(what, f"{name}.{key}", f"{part!r} is not text")
        parts[key] = part.strip()
    basis = value.get("basis", "treatment-related")
    if basis not in FIGURE_BASES:
        raise catalog_error(what, f"{name}.basis", f"{basis!r} is not one of {list(FIGURE_BASES)}")
    return ToxicityFigure(number, source.strip(), basis=basis, **parts)


def _drug_ids(
    entry: Mapping[str, Any], what: str, name: str, drugs: Mapping[str, Drug]
) -> tuple[str, ...]:
    ids = _texts(entry, what, name)
    for drug_id in ids:
        if drug_id not in drugs:
            raise catalog_error(what, name, f"unknown drug {drug_id!r}")
    if len(set(ids)) != len(ids):
        raise catalog_error(what, name, "a drug is listed twice")
    return ids


def _count(value: Any, what: str, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise catalog_error(what, name, f"{value!r} is not a whole number >= {minimum}")
    return value


def _dose_days(entry: Mapping[str, Any], what: str, here: str) -> tuple[int, ...]:
    """``days`` as given, or ``days_range = [first, last]`` expanded; sorted, no repeats."""
    if "days" in entry and "days_range" in entry:
        raise catalog_error(what, f"{here}.days", "give days or days_range, not both")
    if "days_range" in entry:
        bounds = entry["days_range"]
        if not isinstance(bounds, list) or len(bounds) != 2:
            raise catalog_error(what, f"{here}.days_range", f"{bounds!r} is not [first, last]")
        first = _count(bounds[0], what, f"{here}.days_range")
        last = _count(bounds[1], what, f"{here}.days_range")
        if last < first:
            raise catalog_error(what, f"{here}.days_range", f"last day {last} is before {first}")
        return tuple(range(first, last + 1))
    days = entry.get("days", [])
    if not isinstance(days, list):
        raise catalog_error(what, f"{here}.days", "must be a list of cycle days (1-based)")
    numbers = [_count(day, what, f"{here}.days") for day in days]
    if numbers != sorted(set(numbers)):
        raise catalog_error(what, f"{here}.days", "days must be in order, each once")
    return tuple(numbers)


def _parse_dose(
    entry: Any, what: str, here: str, members: Sequence[str], drugs: Mapping[str, Drug]
) -> Dose:
    """One ``dosing`` entry, checked; ``members`` are the regimen's drugs and companions."""
    if not isinstance(entry, Mapping):
        raise catalog_error(what, here, "must be a table")
    unknown = sorted(set(entry) - _DOSE_KEYS)
    if unknown:
        raise catalog_error(
            what, f"{here}.{unknown[0]}", f"unknown key (one of {sorted(_DOSE_KEYS)})"
        )
    drug_id = entry.get("drug")
    if not isinstance(drug_id, str) or drug_id not in drugs:
        raise catalog_error(what, f"{here}.drug", f"unknown drug {drug_id!r}")
    if drug_id not in members:
        raise catalog_error(what, f"{here}.drug", f"{drug_id!r} is not one of the regimen's drugs")
    route = entry.get("route")
    if route not in DOSE_ROUTES:
        raise catalog_error(what, f"{here}.route", f"{route!r} is not one of {list(DOSE_ROUTES)}")
    drug = drugs[drug_id]
    oral = route == "oral"
    if drug.role is DrugRole.ANTICANCER and oral != (drug.route is Route.ORAL):
        raise catalog_error(what, f"{here}.route", f"{route!r} but {drug_id} is {drug.route.value}")
    amount, unit, dose_text = entry.get("amount"), entry.get("unit"), entry.get("dose_text")
    if (amount is None) == (dose_text is None):
        raise catalog_error(
            what, f"{here}.amount", "give amount (with unit) or dose_text, not both"
        )
    if amount is not None:
        if isinstance(amount, bool) or not isinstance(amount, int | float | Decimal):
            raise catalog_error(what, f"{here}.amount", f"{amount!r} is not a number")
        amount = Decimal(str(amount))
        if amount <= 0:
            raise catalog_error(what, f"{here}.amount", f"{amount} is not above 0")
        if not isinstance(unit, str) or not unit.strip():
            raise catalog_error(what, f"{here}.unit", "missing: an amount needs its UCUM unit")
        if unit in _NOT_UCUM or not _UCUM_RE.fullmatch(unit):
            hint = f"; write {_NOT_UCUM[unit]!r}" if unit in _NOT_UCUM else ""
            raise catalog_error(what, f"{here}.unit", f"{unit!r} is not a UCUM unit{hint}")
    else:
        if unit is not None:
            raise catalog_error(what, f"{here}.unit", "a unit goes with an amount, not dose_text")
        if not isinstance(dose_text, str) or not dose_text.strip():
            raise catalog_error(what, f"{here}.dose_text", "missing or empty")
        dose_text = dose_text.strip()
    days = _dose_days(entry, what, here)
    cycle = entry.get("cycle_days")
    if cycle is not None:
        cycle = _count(cycle, what, f"{here}.cycle_days")
        if not days:
            raise catalog_error(what, f"{here}.days", "needed with cycle_days: the days given")
        if days[-1] > cycle:
            raise catalog_error(
                what, f"{here}.days", f"day {days[-1]} is beyond cycle_days {cycle}"
            )
    elif days:
        raise catalog_error(what, f"{here}.cycle_days", "needed with days: the cycle's length")
    minutes = entry.get("minutes")
    if minutes is not None:
        minutes = _count(minutes, what, f"{here}.minutes")
        if oral:
            raise catalog_error(
                what, f"{here}.minutes", "an infusion duration: not for an oral dose"
            )
    text = entry.get("text")
    if not isinstance(text, str) or not text.strip():
        raise catalog_error(what, f"{here}.text", "missing or empty: the dose as an order reads")
    return Dose(
        drug=drug_id,
        route=route,
        text=text.strip(),
        amount=amount,
        unit=unit.strip() if isinstance(unit, str) else None,
        dose_text=dose_text,
        days=days,
        cycle_days=cycle,
        times_per_day=_count(entry.get("times_per_day", 1), what, f"{here}.times_per_day"),
        minutes=minutes,
        cancers=_listed_texts(entry.get("cancers", []), what, f"{here}.cancers"),
        cycles=None
        if entry.get("cycles") is None
        else _count(entry["cycles"], what, f"{here}.cycles"),
        setting=_setting(entry.get("setting"), what, f"{here}.setting"),
    )


def _setting(value: Any, what: str, name: str) -> str | None:
    """A dose's setting: a short name (``castration-sensitive``) a pathway option can cite."""
    if value is None:
        return None
    if not isinstance(value, str) or not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", value):
        raise catalog_error(what, name, f"{value!r} is not a setting name (lower-case, -)")
    return value


def _dosing(
    entry: Mapping[str, Any],
    what: str,
    defining: Sequence[str],
    companions: Sequence[str],
    drugs: Mapping[str, Drug],
) -> tuple[tuple[Dose, ...], str]:
    # ``companions`` here: every companion, of all cancers and per cancer.
    """The regimen's doses and their source; absent is allowed, incomplete is not."""
    raw = entry.get("dosing", [])
    source = entry.get("dosing_source", "")
    if not isinstance(raw, list):
        raise catalog_error(what, "dosing", "must be a list of doses")
    if not isinstance(source, str):
        raise catalog_error(what, "dosing_source", "must be a citation (text)")
    if not raw:
        if source.strip():
            raise catalog_error(what, "dosing", "dosing_source is given but no dosing")
        return (), ""
    if not source.strip():
        raise catalog_error(what, "dosing_source", "the dosing needs its published source")
    members = (*defining, *companions)
    doses = tuple(_parse_dose(d, what, f"dosing[{i}]", members, drugs) for i, d in enumerate(raw))
    dosed = {d.drug for d in doses}
    for drug_id in defining:
        if drug_id not in dosed:
            raise catalog_error(what, "dosing", f"no dose for defining drug {drug_id!r}")
    return doses, source.strip()


def parse_regimen(entry: Mapping[str, Any], drugs: Mapping[str, Drug]) -> Regimen:
    what = f"regimen {entry.get('id')!r}"
    defining = _drug_ids(entry, what, "drugs", drugs)
    companions = _drug_ids(entry, what, "companions", drugs)
    if not defining:
        raise catalog_error(what, "drugs", "a regimen needs at least one defining drug")
    for drug_id in defining:
        if drugs[drug_id].role is not DrugRole.ANTICANCER:
            raise catalog_error(what, "drugs", f"{drug_id!r} is supportive: list it in companions")
    if set(defining) & set(companions):
        raise catalog_error(what, "companions", "a drug cannot both define and accompany")
    pattern = entry.get("oral_pattern")
    if pattern is not None and pattern not in ORAL_PATTERNS:
        raise catalog_error(
            what, "oral_pattern", f"{pattern!r} is not one of {sorted(ORAL_PATTERNS)}"
        )
    category = _category(entry, what, "infusion_category")
    routes = {drugs[d].route for d in defining}
    if Route.PARENTERAL in routes and category is None:
        raise catalog_error(
            what, "infusion_category", "needed: the regimen has an infused/injected drug"
        )
    if Route.ORAL in routes and pattern is None:
        raise catalog_error(what, "oral_pattern", "needed: the regimen has an oral drug")
    transplant = entry.get("stem_cell_transplant", False)
    if not isinstance(transplant, bool):
        raise catalog_error(what, "stem_cell_transplant", "must be true or false")
    classes = dict.fromkeys(c for d in defining for c in drugs[d].classes)
    by_cancer = _cancer_companions(entry, what, defining, drugs)
    every_companion = tuple(
        dict.fromkeys([*companions, *(d for v in by_cancer.values() for d in v)])
    )
    dosing, dosing_source = _dosing(entry, what, defining, every_companion, drugs)
    basis = entry.get("infusion_basis", "")
    if not isinstance(basis, str):
        raise catalog_error(what, "infusion_basis", "must be text: the infusion times it rests on")
    return Regimen(
        id=_text(entry, what, "id"),
        name=_text(entry, what, "name"),
        drugs=defining,
        classes=tuple(classes),
        hospitalization=_figure(entry, what, "hospitalization"),
        qol=_figure(entry, what, "qol"),
        death=_figure(entry, what, "death"),
        infusion_category=category,
        oral_pattern=pattern,
        stem_cell_transplant=transplant,
        cancers=_texts(entry, what, "cancers"),
        sources=_texts(entry, what, "sources"),
        companions=companions,
        dosing=dosing,
        dosing_source=dosing_source,
        cancer_companions=by_cancer,
        infusion_basis=basis.strip(),
    )


def parse_catalog(data: Mapping[str, Any]) -> tuple[dict[str, Drug], dict[str, Regimen]]:
    """Validate parsed catalog data (all files merged) into drugs and regimens, in order."""
    drugs: dict[str, Drug] = {}
    for entry in _entries(data, "drugs"):
        drug = parse_drug(entry)
        if drug.id in drugs:
            raise catalog_error(f"drug {drug.id!r}", "id", "duplicate id")
        drugs[drug.id] = drug
    for drug in drugs.values():
        check_formulation(drug, drugs)
    regimens: dict[str, Regimen] = {}
    seen: dict[tuple[frozenset[str], frozenset[str]], str] = {}
    for entry in _entries(data, "regimens"):
        regimen = parse_regimen(entry, drugs)
        if regimen.id in regimens:
            raise catalog_error(f"regimen {regimen.id!r}", "id", "duplicate id")
        # Identity is the anti-cancer set; variants of one set differ by their companions
        # (lenalidomide + dexamethasone vs lenalidomide alone), cpoc-rules §5.
        key = (frozenset(regimen.drugs), frozenset(regimen.companions))
        if key in seen:
            raise catalog_error(
                f"regimen {regimen.id!r}", "drugs", f"same drugs and companions as {seen[key]!r}"
            )
        seen[key] = regimen.id
        regimens[regimen.id] = regimen
    return drugs, regimens
