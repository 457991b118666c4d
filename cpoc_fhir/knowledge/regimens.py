"""The regimen catalog: drugs (RxNorm ingredients, classes, roles) and regimens (Tables 3-4).

Each regimen may also carry its dosing (``Dose``: drug, amount or dose wording, route, cycle
days), so an order-time suggestion can write complete MedicationRequests for it.

Pure: ``RegimenCatalog.from_data`` builds it from already-parsed TOML (the files of
``data/regimens/``, merged by ``knowledge.loader``; validated by ``regimen_data``); no I/O, no
clock. ``resolve`` (codings → drug), ``match`` (a line's drug set → regimens) and
``identify`` (a day's drugs → its regimens, cpoc-rules §5) are dict look-ups plus one
precompiled regex, memoised: they run for every order and every treatment day of every patient.

Identity (cpoc-rules §5): a regimen is identified by its anti-cancer drugs; companions and
supportive drugs never change it. Variants share one anti-cancer set and differ by companions
(lenalidomide + dexamethasone vs lenalidomide maintenance): among them the one whose companions
were all given wins, most companions first, else the variant with no companions, else the first
listed (``_variant``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Any

from cpoc_fhir.knowledge.regimen_data import DOSE_ROUTES, catalog_error, parse_catalog
from cpoc_fhir.knowledge.regimen_model import (
    Coding,
    Dose,
    Drug,
    DrugResolution,
    Regimen,
    RegimenMatch,
    ToxicityFigure,
)
from cpoc_fhir.vocabulary import DrugRole

__all__ = [
    "DOSE_ROUTES",
    "RXNORM_SYSTEMS",
    "Coding",
    "Dose",
    "Drug",
    "DrugResolution",
    "Regimen",
    "RegimenCatalog",
    "RegimenMatch",
    "ToxicityFigure",
]

# RxNorm's canonical FHIR URI and its OID form.
RXNORM_SYSTEMS = frozenset(
    {"http://www.nlm.nih.gov/research/umls/rxnorm", "urn:oid:2.16.840.1.113883.6.88"}
)
_CACHE_LIMIT = 8192  # memo entries kept per catalog; the recurring sets are few


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
    # anti-cancer set → its variants, in catalog order
    _variants: dict[frozenset[str], tuple[Regimen, ...]] = field(default_factory=dict, repr=False)
    _largest_first: list[frozenset[str]] = field(default_factory=list, repr=False)
    _companion_ids: frozenset[str] = field(default=frozenset(), repr=False)
    _match_memo: dict[Any, RegimenMatch] = field(default_factory=dict, repr=False)
    _identify_memo: dict[Any, RegimenMatch] = field(default_factory=dict, repr=False)
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
                    raise catalog_error(
                        f"drug {drug.id!r}", "synonyms", f"{name!r} also names {owner!r}"
                    )
        # Longest names first, so the alternation prefers "nab-paclitaxel" to "paclitaxel".
        names = sorted(self._by_name, key=lambda n: (-len(n), n))
        if names:
            alternation = "|".join(re.escape(n) for n in names)
            self._name_re = re.compile(f"(?<![a-z0-9])(?:{alternation})(?![a-z0-9])")
        variants: dict[frozenset[str], list[Regimen]] = {}
        for regimen in self.regimens.values():
            variants.setdefault(frozenset(regimen.drugs), []).append(regimen)
        self._variants = {key: tuple(found) for key, found in variants.items()}
        # Stable sort: among sets of one size the catalog order stands (the tie-break).
        self._largest_first = sorted(self._variants, key=lambda k: -len(k))
        self._companion_ids = frozenset(c for r in self.regimens.values() for c in r.companions)

    def _add_code(self, drug: Drug, code: str, name: str) -> None:
        owner = self._by_code.setdefault(code, drug.id)
        if owner != drug.id or (code in self._ingredients and name != "rxcui"):
            raise catalog_error(f"drug {drug.id!r}", name, f"code {code} is already {owner!r}'s")

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> RegimenCatalog:
        """Validate parsed catalog data and build the catalog (KnowledgeError if bad)."""
        drugs, regimens = parse_catalog(data)
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

        Supportive drugs in ``drug_ids`` only choose among variants (their companions). (1) A
        regimen with exactly these defining drugs; else (2) the cover of ``identify``; (3) drugs
        still left: the smallest regimen containing them all and at least 2 of them, with a
        warning ("matched FOLFOX without fluorouracil"): a line's order names its regimen even
        when a drug is missing from the record (pathways); (4) the rest is ``unmatched``.
        """
        key, present = self._split(drug_ids)
        memo_key = (key, present)
        hit = self._match_memo.get(memo_key)
        if hit is None:
            hit = self._match(key, present)
            _remember(self._match_memo, memo_key, hit)
        return hit

    def identify(self, drug_ids: Set[str]) -> RegimenMatch:
        """The regimens of one treatment day, from the drugs given or covered that day (§5).

        The regimen whose anti-cancer set equals the day's; else the largest catalog set inside
        the day's drugs (ties: listed first), then the same for the drugs left, with a warning;
        drugs no regimen explains are ``unmatched`` (scored conservatively by the engine). No
        partial match: a day's regimen is never one whose drugs were not all given. Supportive
        drugs only choose among variants. Memoised on the day's drug set.
        """
        key, present = self._split(drug_ids)
        memo_key = (key, present)
        hit = self._identify_memo.get(memo_key)
        if hit is None:
            chosen, left = self._cover(key, present)
            warnings: tuple[str, ...] = ()
            if len(chosen) > 1 or (chosen and left):
                names = _join([r.name for r in chosen] + [self._name(d) for d in sorted(left)])
                warnings = (f"no catalog regimen has exactly these drugs: scored as {names}",)
            hit = RegimenMatch(tuple(chosen), frozenset(left), warnings)
            _remember(self._identify_memo, memo_key, hit)
        return hit

    def _split(self, drug_ids: Set[str]) -> tuple[frozenset[str], frozenset[str]]:
        """(the defining drugs, the companions present) of a drug set."""
        key = frozenset(d for d in drug_ids if self._defines(d))
        if not self._companion_ids or len(key) == len(drug_ids):
            return key, frozenset()
        return key, frozenset(d for d in drug_ids if d in self._companion_ids)

    def _variant(self, key: frozenset[str], present: frozenset[str]) -> Regimen:
        """§5 variants: all companions given (most first), else none needed, else first listed."""
        found = self._variants[key]
        if len(found) == 1:
            return found[0]
        given = [r for r in found if r.companions and present.issuperset(r.companions)]
        if given:
            return max(given, key=lambda r: len(r.companions))  # the first of the most
        return next((r for r in found if not r.companions), found[0])

    def _cover(
        self, key: frozenset[str], present: frozenset[str]
    ) -> tuple[list[Regimen], set[str]]:
        """Exact set, else greedy: repeatedly the largest catalog set inside the drugs left."""
        if not key:
            return [], set()
        if key in self._variants:
            return [self._variant(key, present)], set()
        chosen: list[Regimen] = []
        left = set(key)
        # Drugs only ever leave ``left``, so one pass in largest-first order is the greedy cover.
        for drugset in self._largest_first:
            if left.issuperset(drugset):
                chosen.append(self._variant(drugset, present))
                left.difference_update(drugset)
                if not left:
                    break
        return chosen, left

    def _match(self, key: frozenset[str], present: frozenset[str]) -> RegimenMatch:
        chosen, left = self._cover(key, present)
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
