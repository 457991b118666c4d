"""The regimen catalog's data model: drugs, Table 3 figures, doses, regimens, match results.

Frozen dataclasses only; ``regimen_data`` builds them from parsed TOML and ``regimens`` indexes
them (``RegimenCatalog``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from cpoc_fhir.knowledge.regimen_points import toxicity_points
from cpoc_fhir.vocabulary import DrugRole, Route

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
    # A formulation RxNorm files under another drug's ingredient (nab-paclitaxel → paclitaxel):
    # same ``rxcui``; codes resolve to the parent, and the text's name picks the formulation.
    formulation_of: str | None = None
    # False when the code was not found in a second public source (`cpoc regimens --check`
    # reports it); the note says what was searched.
    rxcui_confirmed: bool = True
    rxcui_note: str = ""


@dataclass(frozen=True)
class ToxicityFigure:
    """One Table 3 figure (percent) with the published source it comes from."""

    percent: Decimal
    source: str
    # cpoc-rules §5's one method: where the figure was read. All optional so a practice catalog
    # may cite loosely; `cpoc regimens --check` reports the figures that lack them.
    trial: str = ""  # e.g. "KEYNOTE-189"
    arm: str = ""  # the experimental arm, e.g. "pembrolizumab + pemetrexed + platinum"
    table: str = ""  # the publication's table, e.g. "Table 3"
    number: str = ""  # the count or rate read, e.g. "272/405 (67.2%)"
    # "treatment-related" (the method) or "all-cause" (the trial reports only all-cause rates).
    basis: str = "treatment-related"


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
    cancers: tuple[str, ...] = ()  # the cancers this dose is for; () = every cancer
    cycles: int | None = None  # a fixed number of cycles ("for 4 cycles"); None = until stopped
    # The setting this dose is for when it differs by setting within one cancer (abiraterone's
    # prednisone: once daily in castration-sensitive disease, LATITUDE; twice daily in
    # castration-resistant, COU-AA-301/302); None = every setting. A pathway option names it.
    setting: str | None = None


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
    # Companions for one cancer only (docetaxel + prednisone in prostate cancer): cancer → drugs.
    cancer_companions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # What the Table 4 category rests on (the infusion times of a full treatment day).
    infusion_basis: str = ""

    def companions_for(self, cancer: str | None) -> tuple[str, ...]:
        """The companions given with this regimen for ``cancer`` (all cancers' plus its own)."""
        extra = self.cancer_companions.get(cancer, ()) if cancer else ()
        return (*self.companions, *(d for d in extra if d not in self.companions))

    def dosing_for(self, cancer: str | None) -> tuple[Dose, ...]:
        """The doses for ``cancer``: doses for every cancer, and those for this one; the
        companions of other cancers left out."""
        companions = set(self.companions_for(cancer))
        return tuple(
            d
            for d in self.dosing
            if (not d.cancers or (cancer is not None and cancer in d.cancers))
            and (d.drug in self.drugs or d.drug in companions)
        )

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
