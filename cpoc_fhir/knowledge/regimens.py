"""The regimen catalog: drugs (RxNorm ingredients, classes, roles) and regimens (Tables 3-4).

Each regimen may also carry its dosing (``Dose``: drug, amount or dose wording, route, cycle
days), so an order-time suggestion can write complete MedicationRequests for it.

Pure: ``RegimenCatalog.from_data`` builds it from already-parsed TOML (``data/regimens.toml``,
read by ``knowledge.loader``); no I/O, no clock. ``resolve`` (codings → drug) and ``match``
(drug set → regimens) are dict look-ups plus one precompiled regex, memoised: they run for
every order of every patient.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cpoc_fhir.engine.facts import DrugRole, Route
from cpoc_fhir.engine.tables import ORAL_PATTERNS, toxicity_points
from cpoc_fhir.errors import KnowledgeError

# A FHIR Coding reduced to (system, code, display); any part may be None.
Coding = tuple[str | None, str | None, str | None]

# RxNorm's canonical FHIR URI and its OID form.
RXNORM_SYSTEMS = frozenset(
    {"http://www.nlm.nih.gov/research/umls/rxnorm", "urn:oid:2.16.840.1.113883.6.88"}
)
_CACHE_LIMIT = 8192  # memo entries kept per catalog; the recurring sets are few


@dataclass(frozen=True)
class Drug:
    """One ingredient the catalog knows."""

    id: str  # stable catalog id, e.g. "oxaliplatin"
    name: str
    rxcui: str  # RxNorm ingredient (IN) code
    role: DrugRole
    classes: tuple[str, ...]  # drug classes, e.g. ("platinum",)
    route: Route  # usual route; an order's own route wins
    # Table 4 category (0-4) when this drug alone is given on a day; None for oral drugs.
    single_agent_category: int | None = None
    product_rxcuis: tuple[str, ...] = ()  # common SCD/SBD product codes → this ingredient
    synonyms: tuple[str, ...] = ()  # lower-case names and brand names for text fallback
    # A formulation RxNorm files under another drug's ingredient (nab-paclitaxel → paclitaxel):
    # same ``rxcui``; codes resolve to the parent, and the text's name picks the formulation.
    formulation_of: str | None = None


@dataclass(frozen=True)
class ToxicityFigure:
    """One Table 3 figure (percent) with the published source it comes from."""

    percent: Decimal
    source: str


@dataclass(frozen=True)
class Dose:
    """One drug's dose and schedule within a regimen, as a MedicationRequest would carry it.

    ``days`` are the 1-based days of a ``cycle_days``-day cycle on which the dose is given;
    no ``days`` and no ``cycle_days`` means every day, continuously. The dose is a quantity
    (``amount`` + UCUM ``unit``) or, when it is not one (carboplatin AUC 5), ``dose_text``.
    """

    drug: str  # catalog drug id
    route: str  # "intravenous" | "oral" | "subcutaneous" | "intramuscular"
    text: str  # the dose as an order reads
    amount: Decimal | None = None
    unit: str | None = None  # UCUM
    dose_text: str | None = None  # when the dose is not a quantity (carboplatin AUC 5)
    days: tuple[int, ...] = ()  # cycle days given; () with cycle_days None = continuous daily
    cycle_days: int | None = None
    times_per_day: int = 1
    minutes: int | None = None  # infusion duration


@dataclass(frozen=True)
class Regimen:
    """A catalog regimen with what Tables 3 and 4 need, and its dosing when known."""

    id: str  # e.g. "folfox"
    name: str
    drugs: tuple[str, ...]  # anti-cancer drug ids that define the regimen
    classes: tuple[str, ...]  # union of the drugs' classes
    hospitalization: ToxicityFigure  # % grade III/IV toxicity
    qol: ToxicityFigure  # % grade I/II toxicity (QOL / ADL impact)
    death: ToxicityFigure  # % toxic death
    infusion_category: int | None  # Table 4 category 0-4 for a full treatment day; None if oral
    oral_pattern: str | None  # "single-daily" | "single-on-off" | "multi-daily" | "multi-on-off"
    stem_cell_transplant: bool = False
    cancers: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    # Drugs that belong to the regimen (steroids) but neither define nor block a match.
    companions: tuple[str, ...] = ()
    dosing: tuple[Dose, ...] = ()  # every defining drug has one or more doses when given
    dosing_source: str = ""  # where the doses and schedule come from (trial or US label)

    @property
    def toxicity_points(self) -> int:
        """Table 3 points from the three figures."""
        return toxicity_points(self.hospitalization.percent, self.qol.percent, self.death.percent)


@dataclass(frozen=True)
class DrugResolution:
    """What a medication coding resolved to; ``warning`` when it is doubtful."""

    drug: Drug | None
    via: str = ""  # "rxnorm-ingredient" | "rxnorm-product" | "name" | ""
    warning: str | None = None


@dataclass(frozen=True)
class RegimenMatch:
    """The catalog regimens that explain a set of drugs given together."""

    regimens: tuple[Regimen, ...]
    unmatched: frozenset[str] = frozenset()  # drug ids no regimen explains
    warnings: tuple[str, ...] = ()  # e.g. a partial match


@dataclass
class RegimenCatalog:
    """Drugs and regimens by id, with lookups from codings and drug sets.

    Built directly, it indexes what it is given; ``from_data`` also validates the data.
    Regimen order matters: it breaks ties in ``match`` (see there).
    """

    drugs: Mapping[str, Drug]
    regimens: Mapping[str, Regimen]
    version: str = ""
    _by_code: dict[str, str] = field(default_factory=dict, repr=False)  # rxcui → drug id
    _ingredients: set[str] = field(default_factory=set, repr=False)
    _by_name: dict[str, str] = field(default_factory=dict, repr=False)
    _name_re: re.Pattern[str] | None = field(default=None, repr=False)
    _by_drugset: dict[frozenset[str], Regimen] = field(default_factory=dict, repr=False)
    _largest_first: list[Regimen] = field(default_factory=list, repr=False)
    _match_memo: dict[frozenset[str], RegimenMatch] = field(default_factory=dict, repr=False)
    _resolve_memo: dict[Any, DrugResolution] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for drug in self.drugs.values():
            if drug.formulation_of is None:
                self._add_code(drug, drug.rxcui, "rxcui")
                self._ingredients.add(drug.rxcui)
            for code in drug.product_rxcuis:
                self._add_code(drug, code, "product_rxcuis")
            for name in dict.fromkeys((drug.name.lower(), *drug.synonyms)):
                owner = self._by_name.setdefault(name, drug.id)
                if owner != drug.id:
                    raise _error(f"drug {drug.id!r}", "synonyms", f"{name!r} also names {owner!r}")
        # Longest names first, so the alternation prefers "nab-paclitaxel" to "paclitaxel".
        names = sorted(self._by_name, key=lambda n: (-len(n), n))
        if names:
            alternation = "|".join(re.escape(n) for n in names)
            self._name_re = re.compile(f"(?<![a-z0-9])(?:{alternation})(?![a-z0-9])")
        self._by_drugset = {frozenset(r.drugs): r for r in self.regimens.values()}
        # Stable sort: among regimens of one size the catalog order stands (the tie-break).
        self._largest_first = sorted(self.regimens.values(), key=lambda r: -len(r.drugs))

    def _add_code(self, drug: Drug, code: str, name: str) -> None:
        owner = self._by_code.setdefault(code, drug.id)
        if owner != drug.id or (code in self._ingredients and name != "rxcui"):
            raise _error(f"drug {drug.id!r}", name, f"code {code} is already {owner!r}'s")

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> RegimenCatalog:
        """Validate parsed ``regimens.toml`` data and build the catalog (KnowledgeError if bad)."""
        drugs: dict[str, Drug] = {}
        for entry in _entries(data, "drugs"):
            drug = _parse_drug(entry)
            if drug.id in drugs:
                raise _error(f"drug {drug.id!r}", "id", "duplicate id")
            drugs[drug.id] = drug
        for drug in drugs.values():
            _check_formulation(drug, drugs)
        regimens: dict[str, Regimen] = {}
        seen: dict[frozenset[str], str] = {}
        for entry in _entries(data, "regimens"):
            regimen = _parse_regimen(entry, drugs)
            if regimen.id in regimens:
                raise _error(f"regimen {regimen.id!r}", "id", "duplicate id")
            key = frozenset(regimen.drugs)
            if key in seen:
                raise _error(f"regimen {regimen.id!r}", "drugs", f"same drug set as {seen[key]!r}")
            seen[key] = regimen.id
            regimens[regimen.id] = regimen
        return cls(drugs=drugs, regimens=regimens, version=str(data.get("version", "")))

    def drug(self, drug_id: str) -> Drug | None:
        return self.drugs.get(drug_id)

    def regimen(self, regimen_id: str) -> Regimen | None:
        """The regimen with this catalog id, if any."""
        return self.regimens.get(regimen_id)

    def resolve(self, codings: Sequence[Coding], text: str | None) -> DrugResolution:
        """The catalog drug a medication's codings and text name (see ``_resolve``)."""
        try:
            key: Any = (tuple(codings), text)
            hash(key)
        except TypeError:
            return self._resolve(codings, text)
        hit = self._resolve_memo.get(key)
        if hit is None:
            hit = self._resolve(codings, text)
            _remember(self._resolve_memo, key, hit)
        return hit

    def _resolve(self, codings: Sequence[Coding], text: str | None) -> DrugResolution:
        """RxNorm ingredient or product code first, else a name in the displays or text.

        When the code's drug is not named by non-empty wording, the wording wins: another
        catalog drug it names is taken (with a warning), and wording that names no catalog
        drug means the code is not trusted at all (clinosim codes Alendronate as RxNorm 3002,
        cyclophosphamide): billing chemotherapy that did not happen is worse than missing it.
        """
        wording = [d for _, _, d in codings if d and d.strip()]
        if text and text.strip():
            wording.insert(0, text)
        named = self._names_in(wording)
        coded = next(
            (
                (code, self._by_code[code])
                for system, code, _ in codings
                if system in RXNORM_SYSTEMS and code and code in self._by_code
            ),
            None,
        )
        if coded is None:
            return DrugResolution(self.drugs[named[0]], "name") if named else DrugResolution(None)
        code, drug_id = coded
        drug = self.drugs[drug_id]
        via = "rxnorm-ingredient" if code in self._ingredients else "rxnorm-product"
        formulation = next((d for d in named if self.drugs[d].formulation_of == drug_id), None)
        if formulation is not None:
            return DrugResolution(self.drugs[formulation], via)
        if not wording or drug_id in named or drug.formulation_of in named:
            return DrugResolution(drug, via)
        said = wording[0].strip()[:60]
        if named:
            other = self.drugs[named[0]]
            warning = (
                f"RxNorm {code} is {drug.name} but the text says '{said}'; taken as {other.name}"
            )
            return DrugResolution(other, "name", warning)
        warning = f"RxNorm {code} is {drug.name} but the text says '{said}'; not counted"
        return DrugResolution(None, "", warning)

    def _names_in(self, wording: Sequence[str]) -> list[str]:
        """Catalog drugs named (whole words) in the wording: longest name first, then earliest."""
        if self._name_re is None:
            return []
        found: dict[str, tuple[int, int]] = {}
        for position, piece in enumerate(wording):
            for hit in self._name_re.finditer(piece.lower()):
                drug_id = self._by_name[hit.group(0)]
                rank = (-len(hit.group(0)), position * 100_000 + hit.start())
                found[drug_id] = min(found.get(drug_id, rank), rank)
        return sorted(found, key=lambda d: found[d])

    def match(self, drug_ids: Set[str]) -> RegimenMatch:
        """The regimens that explain anti-cancer drugs given together in one line of therapy.

        Supportive drugs (steroids and other companions) are ignored. (1) A regimen with exactly
        these defining drugs; else (2) greedy cover: repeatedly the regimen with the largest
        defining set inside the drugs left, ties to the one listed first in the catalog;
        (3) drugs still left: the smallest regimen containing them all and at least 2 of them,
        with a warning ("matched FOLFOX without fluorouracil"); (4) the rest is ``unmatched``.
        """
        key = frozenset(d for d in drug_ids if self._defines(d))
        hit = self._match_memo.get(key)
        if hit is None:
            hit = self._match(key)
            _remember(self._match_memo, key, hit)
        return hit

    def _match(self, key: frozenset[str]) -> RegimenMatch:
        if not key:
            return RegimenMatch(())
        exact = self._by_drugset.get(key)
        if exact is not None:
            return RegimenMatch((exact,))
        chosen: list[Regimen] = []
        left = set(key)
        # Drugs only ever leave ``left``, so one pass in largest-first order is the greedy cover.
        for regimen in self._largest_first:
            if left.issuperset(regimen.drugs):
                chosen.append(regimen)
                left.difference_update(regimen.drugs)
        warnings: list[str] = []
        if len(left) >= 2:
            partial = min(
                (r for r in self.regimens.values() if left.issubset(r.drugs)),
                key=lambda r: len(r.drugs),
                default=None,
            )
            if partial is not None:
                missing = [self._name(d) for d in partial.drugs if d not in left]
                warnings.append(f"matched {partial.name} without {_join(missing)}")
                chosen.append(partial)
                left.clear()
        return RegimenMatch(tuple(chosen), frozenset(left), tuple(warnings))

    def _defines(self, drug_id: str) -> bool:
        """Unknown ids and anti-cancer drugs take part in matching; supportive drugs do not."""
        drug = self.drugs.get(drug_id)
        return drug is None or drug.role is DrugRole.ANTICANCER

    def _name(self, drug_id: str) -> str:
        drug = self.drugs.get(drug_id)
        return drug.name if drug else drug_id

    def ingredients(self, regimen: Regimen) -> list[str]:
        """RxNorm ingredient codes of the regimen's drugs, then its companions."""
        return [self.drugs[d].rxcui for d in (*regimen.drugs, *regimen.companions)]


def _remember(memo: dict[Any, Any], key: Any, value: Any) -> None:
    if len(memo) >= _CACHE_LIMIT:
        memo.clear()
    memo[key] = value


def _join(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


# ---- validation of the data file ---------------------------------------------------------

_ROLES = {"anticancer": DrugRole.ANTICANCER, "supportive": DrugRole.SUPPORTIVE}
_ROUTES = {"parenteral": Route.PARENTERAL, "oral": Route.ORAL}
_FIGURES = ("hospitalization", "qol", "death")
DOSE_ROUTES = ("intravenous", "oral", "subcutaneous", "intramuscular")
_DOSE_KEYS = frozenset(
    {"drug", "route", "text", "amount", "unit", "dose_text", "days", "days_range", "cycle_days",
     "times_per_day", "minutes"}
)  # fmt: skip
# UCUM's characters (no spaces, no "²"); the spellings below are common but not UCUM.
_UCUM_RE = re.compile(r"[A-Za-z0-9.\[\]{}%*/-]+")
_NOT_UCUM = {"mcg": "ug", "IU": "[iU]", "iu": "[iU]", "units": "U", "unit": "U", "cc": "mL"}


def _error(what: str, name: str, problem: str) -> KnowledgeError:
    return KnowledgeError(f"regimen catalog: {what}, field '{name}': {problem}")


def _entries(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    entries = data.get(key)
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
        raise KnowledgeError(f"regimen catalog: '{key}' must be a list of tables")
    return entries


def _text(entry: Mapping[str, Any], what: str, name: str) -> str:
    value = entry.get(name)
    if not isinstance(value, str) or not value.strip():
        raise _error(what, name, "missing or empty")
    return value.strip()


def _texts(entry: Mapping[str, Any], what: str, name: str) -> tuple[str, ...]:
    value = entry.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _error(what, name, "must be a list of non-empty strings")
    return tuple(v.strip() for v in value)


def _code(value: Any, what: str, name: str) -> str:
    if not isinstance(value, str) or not value.isdigit():
        raise _error(what, name, f"{value!r} is not an RxNorm code (digits)")
    return value


def _category(entry: Mapping[str, Any], what: str, name: str) -> int | None:
    value = entry.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 4:
        raise _error(what, name, f"{value!r} is not a Table 4 category 0-4")
    return value


def _choice(entry: Mapping[str, Any], what: str, name: str, options: Mapping[str, Any]) -> Any:
    value = entry.get(name)
    if not isinstance(value, str) or value not in options:
        raise _error(what, name, f"{value!r} is not one of {sorted(options)}")
    return options[value]


def _parse_drug(entry: Mapping[str, Any]) -> Drug:
    what = f"drug {entry.get('id')!r}"
    classes = _texts(entry, what, "classes")
    role = _choice(entry, what, "role", _ROLES)
    if role is DrugRole.ANTICANCER and not classes:
        raise _error(what, "classes", "an anti-cancer drug needs at least one class")
    products = entry.get("product_rxcuis", [])
    if not isinstance(products, list):
        raise _error(what, "product_rxcuis", "must be a list")
    formulation_of = entry.get("formulation_of")
    if formulation_of is not None and not isinstance(formulation_of, str):
        raise _error(what, "formulation_of", "must be a drug id")
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
    )


def _check_formulation(drug: Drug, drugs: Mapping[str, Drug]) -> None:
    if drug.formulation_of is None:
        return
    parent = drugs.get(drug.formulation_of)
    if parent is None or parent.formulation_of is not None:
        raise _error(f"drug {drug.id!r}", "formulation_of", f"{drug.formulation_of!r} unknown")
    if parent.rxcui != drug.rxcui:
        raise _error(f"drug {drug.id!r}", "rxcui", f"must be {parent.id}'s ingredient code")


def _figure(entry: Mapping[str, Any], what: str, name: str) -> ToxicityFigure:
    value = entry.get(name)
    if not isinstance(value, Mapping):
        raise _error(what, name, "missing (a table with percent and source)")
    percent = value.get("percent")
    if isinstance(percent, bool) or not isinstance(percent, int | float | Decimal):
        raise _error(what, name, f"percent {percent!r} is not a number")
    number = Decimal(str(percent))
    if not 0 <= number <= 100:
        raise _error(what, name, f"percent {number} is outside 0-100")
    source = value.get("source")
    if not isinstance(source, str) or not source.strip():
        raise _error(what, f"{name}.source", "every figure needs its published source")
    return ToxicityFigure(number, source.strip())


def _drug_ids(
    entry: Mapping[str, Any], what: str, name: str, drugs: Mapping[str, Drug]
) -> tuple[str, ...]:
    ids = _texts(entry, what, name)
    for drug_id in ids:
        if drug_id not in drugs:
            raise _error(what, name, f"unknown drug {drug_id!r}")
    if len(set(ids)) != len(ids):
        raise _error(what, name, "a drug is listed twice")
    return ids


def _count(value: Any, what: str, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _error(what, name, f"{value!r} is not a whole number >= {minimum}")
    return value


def _dose_days(entry: Mapping[str, Any], what: str, here: str) -> tuple[int, ...]:
    """``days`` as given, or ``days_range = [first, last]`` expanded; sorted, no repeats."""
    if "days" in entry and "days_range" in entry:
        raise _error(what, f"{here}.days", "give days or days_range, not both")
    if "days_range" in entry:
        bounds = entry["days_range"]
        if not isinstance(bounds, list) or len(bounds) != 2:
            raise _error(what, f"{here}.days_range", f"{bounds!r} is not [first, last]")
        first = _count(bounds[0], what, f"{here}.days_range")
        last = _count(bounds[1], what, f"{here}.days_range")
        if last < first:
            raise _error(what, f"{here}.days_range", f"last day {last} is before {first}")
        return tuple(range(first, last + 1))
    days = entry.get("days", [])
    if not isinstance(days, list):
        raise _error(what, f"{here}.days", "must be a list of cycle days (1-based)")
    numbers = [_count(day, what, f"{here}.days") for day in days]
    if numbers != sorted(set(numbers)):
        raise _error(what, f"{here}.days", "days must be in order, each once")
    return tuple(numbers)


def _parse_dose(
    entry: Any, what: str, here: str, members: Sequence[str], drugs: Mapping[str, Drug]
) -> Dose:
    """One ``dosing`` entry, checked; ``members`` are the regimen's drugs and companions."""
    if not isinstance(entry, Mapping):
        raise _error(what, here, "must be a table")
    unknown = sorted(set(entry) - _DOSE_KEYS)
    if unknown:
        raise _error(what, f"{here}.{unknown[0]}", f"unknown key (one of {sorted(_DOSE_KEYS)})")
    drug_id = entry.get("drug")
    if not isinstance(drug_id, str) or drug_id not in drugs:
        raise _error(what, f"{here}.drug", f"unknown drug {drug_id!r}")
    if drug_id not in members:
        raise _error(what, f"{here}.drug", f"{drug_id!r} is not one of the regimen's drugs")
    route = entry.get("route")
    if route not in DOSE_ROUTES:
        raise _error(what, f"{here}.route", f"{route!r} is not one of {list(DOSE_ROUTES)}")
    drug = drugs[drug_id]
    oral = route == "oral"
    if drug.role is DrugRole.ANTICANCER and oral != (drug.route is Route.ORAL):
        raise _error(what, f"{here}.route", f"{route!r} but {drug_id} is {drug.route.value}")
    amount, unit, dose_text = entry.get("amount"), entry.get("unit"), entry.get("dose_text")
    if (amount is None) == (dose_text is None):
        raise _error(what, f"{here}.amount", "give amount (with unit) or dose_text, not both")
    if amount is not None:
        if isinstance(amount, bool) or not isinstance(amount, int | float | Decimal):
            raise _error(what, f"{here}.amount", f"{amount!r} is not a number")
        amount = Decimal(str(amount))
        if amount <= 0:
            raise _error(what, f"{here}.amount", f"{amount} is not above 0")
        if not isinstance(unit, str) or not unit.strip():
            raise _error(what, f"{here}.unit", "missing: an amount needs its UCUM unit")
        if unit in _NOT_UCUM or not _UCUM_RE.fullmatch(unit):
            hint = f"; write {_NOT_UCUM[unit]!r}" if unit in _NOT_UCUM else ""
            raise _error(what, f"{here}.unit", f"{unit!r} is not a UCUM unit{hint}")
    else:
        if unit is not None:
            raise _error(what, f"{here}.unit", "a unit goes with an amount, not dose_text")
        if not isinstance(dose_text, str) or not dose_text.strip():
            raise _error(what, f"{here}.dose_text", "missing or empty")
        dose_text = dose_text.strip()
    days = _dose_days(entry, what, here)
    cycle = entry.get("cycle_days")
    if cycle is not None:
        cycle = _count(cycle, what, f"{here}.cycle_days")
        if not days:
            raise _error(what, f"{here}.days", "needed with cycle_days: the days given")
        if days[-1] > cycle:
            raise _error(what, f"{here}.days", f"day {days[-1]} is beyond cycle_days {cycle}")
    elif days:
        raise _error(what, f"{here}.cycle_days", "needed with days: the cycle's length")
    minutes = entry.get("minutes")
    if minutes is not None:
        minutes = _count(minutes, what, f"{here}.minutes")
        if oral:
            raise _error(what, f"{here}.minutes", "an infusion duration: not for an oral dose")
    text = entry.get("text")
    if not isinstance(text, str) or not text.strip():
        raise _error(what, f"{here}.text", "missing or empty: the dose as an order reads")
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
    )


def _dosing(
    entry: Mapping[str, Any],
    what: str,
    defining: Sequence[str],
    companions: Sequence[str],
    drugs: Mapping[str, Drug],
) -> tuple[tuple[Dose, ...], str]:
    """The regimen's doses and their source; absent is allowed, incomplete is not."""
    raw = entry.get("dosing", [])
    source = entry.get("dosing_source", "")
    if not isinstance(raw, list):
        raise _error(what, "dosing", "must be a list of doses")
    if not isinstance(source, str):
        raise _error(what, "dosing_source", "must be a citation (text)")
    if not raw:
        if source.strip():
            raise _error(what, "dosing", "dosing_source is given but no dosing")
        return (), ""
    if not source.strip():
        raise _error(what, "dosing_source", "the dosing needs its published source")
    members = (*defining, *companions)
    doses = tuple(_parse_dose(d, what, f"dosing[{i}]", members, drugs) for i, d in enumerate(raw))
    dosed = {d.drug for d in doses}
    for drug_id in defining:
        if drug_id not in dosed:
            raise _error(what, "dosing", f"no dose for defining drug {drug_id!r}")
    return doses, source.strip()


def _parse_regimen(entry: Mapping[str, Any], drugs: Mapping[str, Drug]) -> Regimen:
    what = f"regimen {entry.get('id')!r}"
    defining = _drug_ids(entry, what, "drugs", drugs)
    companions = _drug_ids(entry, what, "companions", drugs)
    if not defining:
        raise _error(what, "drugs", "a regimen needs at least one defining drug")
    for drug_id in defining:
        if drugs[drug_id].role is not DrugRole.ANTICANCER:
            raise _error(what, "drugs", f"{drug_id!r} is supportive: list it in companions")
    if set(defining) & set(companions):
        raise _error(what, "companions", "a drug cannot both define and accompany")
    pattern = entry.get("oral_pattern")
    if pattern is not None and pattern not in ORAL_PATTERNS:
        raise _error(what, "oral_pattern", f"{pattern!r} is not one of {sorted(ORAL_PATTERNS)}")
    category = _category(entry, what, "infusion_category")
    routes = {drugs[d].route for d in defining}
    if Route.PARENTERAL in routes and category is None:
        raise _error(what, "infusion_category", "needed: the regimen has an infused/injected drug")
    if Route.ORAL in routes and pattern is None:
        raise _error(what, "oral_pattern", "needed: the regimen has an oral drug")
    transplant = entry.get("stem_cell_transplant", False)
    if not isinstance(transplant, bool):
        raise _error(what, "stem_cell_transplant", "must be true or false")
    classes = dict.fromkeys(c for d in defining for c in drugs[d].classes)
    dosing, dosing_source = _dosing(entry, what, defining, companions, drugs)
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
    )


# ---- views for the CLI (`cpoc regimens`) -------------------------------------------------


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def dose_json(dose: Dose) -> dict[str, Any]:
    """One dose as JSON-ready data (camelCase; the amount a number, absent parts null)."""
    return {
        "drug": dose.drug,
        "route": dose.route,
        "text": dose.text,
        "amount": None if dose.amount is None else _number(dose.amount),
        "unit": dose.unit,
        "doseText": dose.dose_text,
        "days": list(dose.days),
        "cycleDays": dose.cycle_days,
        "timesPerDay": dose.times_per_day,
        "minutes": dose.minutes,
    }


def catalog_json(catalog: RegimenCatalog) -> dict[str, Any]:
    """The catalog's regimens as JSON-ready data (camelCase at this edge)."""
    out = []
    for r in catalog.regimens.values():
        figures = (r.hospitalization, r.qol, r.death)
        sources = dict.fromkeys([*r.sources, *(f.source for f in figures)])
        out.append(
            {
                "id": r.id,
                "name": r.name,
                "ingredients": catalog.ingredients(r),
                "classes": list(r.classes),
                "toxicity": {
                    **{k: _number(f.percent) for k, f in zip(_FIGURES, figures, strict=True)},
                    "points": r.toxicity_points,
                },
                "administration": {
                    "category": r.infusion_category,
                    "oral": r.oral_pattern,
                    "stemCellTransplant": r.stem_cell_transplant,
                },
                "sources": list(sources),
                "dosing": [dose_json(d) for d in r.dosing],
                "dosingSource": r.dosing_source or None,
            }
        )
    return {"regimens": out}


def catalog_table(catalog: RegimenCatalog) -> str:
    """A fixed-width table of the regimens for a person: id, name, T points, Table 4, classes."""
    header = ("ID", "NAME", "T", "TABLE 4", "CLASSES")
    rows = [header]
    for r in catalog.regimens.values():
        admin = []
        if r.infusion_category is not None:
            admin.append(f"infusion {r.infusion_category}")
        if r.oral_pattern:
            admin.append(f"oral {r.oral_pattern}")
        if r.stem_cell_transplant:
            admin.append("transplant")
        rows.append((r.id, r.name, str(r.toxicity_points), " + ".join(admin), ", ".join(r.classes)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    title = f"Regimen catalog {catalog.version}".rstrip() + f" ({len(rows) - 1} regimens)"
    return "\n".join([title, "", *lines]) + "\n"
