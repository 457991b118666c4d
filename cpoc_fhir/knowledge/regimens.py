"""The regimen catalog: drugs (RxNorm ingredients, classes, roles) and regimens (Tables 3-4).

INTERFACE STUB — data, resolution and matching are filled in by the knowledge work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cpoc_fhir.engine.facts import DrugRole, Route
from cpoc_fhir.engine.tables import toxicity_points

# A FHIR Coding reduced to (system, code, display); any part may be None.
Coding = tuple[str | None, str | None, str | None]


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


@dataclass(frozen=True)
class ToxicityFigure:
    """One Table 3 figure (percent) with the published source it comes from."""

    percent: Decimal
    source: str


@dataclass(frozen=True)
class Regimen:
    """A catalog regimen with what Tables 3 and 4 need."""

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
    """Drugs and regimens by id, with lookups from codings and drug sets."""

    drugs: Mapping[str, Drug]
    regimens: Mapping[str, Regimen]
    version: str = ""
    _by_code: dict[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> RegimenCatalog:
        raise NotImplementedError

    def drug(self, drug_id: str) -> Drug | None:
        return self.drugs.get(drug_id)

    def resolve(self, codings: Sequence[Coding], text: str | None) -> DrugResolution:
        raise NotImplementedError

    def match(self, drug_ids: Set[str]) -> RegimenMatch:
        raise NotImplementedError
