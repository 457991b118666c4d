"""The regimen catalog: drugs (RxNorm ingredients, classes, roles) and regimens (Tables 3-4).

Each regimen may also carry its dosing (``Dose``: drug, amount or dose wording, route, cycle
days), so an order-time suggestion can write complete MedicationRequests for it.

Pure: ``RegimenCatalog.from_data`` builds it from already-parsed TOML (the files of
``data/regimens/``, merged by ``knowledge.loader``; validated by ``regimen_data``); no I/O, no
clock. ``resolve`` (codings → drug) and ``match`` (drug set → regimens) are dict look-ups plus
one precompiled regex, memoised: they run for every order of every patient.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Any

from cpoc_fhir.engine.facts import DrugRole
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
    _by_drugset: dict[frozenset[str], Regimen] = field(default_factory=dict, repr=False)
    # Drug sets with more than one regimen (variants by companions), in catalog order.
    _variants: dict[frozenset[str], tuple[Regimen, ...]] = field(default_factory=dict, repr=False)
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
                    raise catalog_error(
                        f"drug {drug.id!r}", "synonyms", f"{name!r} also names {owner!r}"
                    )
        # Longest names first, so the alternation prefers "nab-paclitaxel" to "paclitaxel".
        names = sorted(self._by_name, key=lambda n: (-len(n), n))
        if names:
            alternation = "|".join(re.escape(n) for n in names)
            self._name_re = re.compile(f"(?<![a-z0-9])(?:{alternation})(?![a-z0-9])")
        by_set: dict[frozenset[str], list[Regimen]] = {}
        for regimen in self.regimens.values():
            by_set.setdefault(frozenset(regimen.drugs), []).append(regimen)
        self._variants = {k: tuple(v) for k, v in by_set.items() if len(v) > 1}
        self._by_drugset = {k: _plain_variant(v) for k, v in by_set.items()}
        # Stable sort: among regimens of one size the catalog order stands (the tie-break).
        self._largest_first = sorted(self.regimens.values(), key=lambda r: -len(r.drugs))

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
        if self._variants and any(frozenset(r.drugs) in self._variants for r in hit.regimens):
            return self._pick_variants(hit, frozenset(drug_ids))
        return hit

    def _pick_variants(self, hit: RegimenMatch, given: frozenset[str]) -> RegimenMatch:
        """Variants of one drug set differ by companions (cpoc-rules §5: lenalidomide alone
        vs lenalidomide + dexamethasone): the variant whose companions are all given (the
        most of them), else the one without companions. Identity stays the anti-cancer set."""
        chosen = []
        for regimen in hit.regimens:
            variants = self._variants.get(frozenset(regimen.drugs))
            if variants:
                given_with = [v for v in variants if v.companions and given >= set(v.companions)]
                regimen = (
                    max(given_with, key=lambda v: len(v.companions))
                    if given_with
                    else _plain_variant(variants)
                )
            chosen.append(regimen)
        return RegimenMatch(tuple(chosen), hit.unmatched, hit.warnings)

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


def _plain_variant(variants: Sequence[Regimen]) -> Regimen:
    """Of one drug set's regimens, the one without companions, else the first listed."""
    return next((v for v in variants if not v.companions), variants[0])


def _remember(memo: dict[Any, Any], key: Any, value: Any) -> None:
    if len(memo) >= _CACHE_LIMIT:
        memo.clear()
    memo[key] = value


def _join(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
