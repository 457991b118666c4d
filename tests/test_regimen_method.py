"""The one Table 3 method (cpoc-rules §5) in the gastrointestinal and lung catalog files, their
Table 4 bases, the regimens added in 1.2.0, and the loader's checks of the new fields."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from cpoc_fhir.errors import KnowledgeError
from cpoc_fhir.knowledge.loader import load_knowledge, read_data_file, read_regimen_catalog_data
from cpoc_fhir.knowledge.regimens import RegimenCatalog

MY_FILES = ("gastrointestinal.toml", "lung.toml")


@pytest.fixture(scope="module")
def catalog() -> RegimenCatalog:
    return RegimenCatalog.from_data(read_regimen_catalog_data())


def _ids(name: str) -> list[str]:
    return [r["id"] for r in read_data_file(f"regimens/{name}").get("regimens", [])]


MY_REGIMENS = [rid for name in MY_FILES for rid in _ids(name)]


def test_my_files_hold_the_regimens_counted() -> None:
    # 1.1.0: 14 gastrointestinal + 19 lung regimens; 1.2.0 adds 10 + 8.
    assert len(MY_REGIMENS) == len(set(MY_REGIMENS)) == 51


@pytest.mark.parametrize("regimen_id", MY_REGIMENS)
def test_every_figure_cites_trial_arm_table_and_number(
    catalog: RegimenCatalog, regimen_id: str
) -> None:
    regimen = catalog.regimens[regimen_id]
    for figure in (regimen.hospitalization, regimen.qol, regimen.death):
        assert figure.trial and figure.arm and figure.table and figure.number, regimen_id
        assert figure.basis in ("treatment-related", "all-cause")
        # An all-cause figure says so in its source too, for a reader of the data file.
        if figure.basis == "all-cause":
            assert re.search(r"any cause|not attributed|with radiotherapy", figure.source)


@pytest.mark.parametrize("regimen_id", MY_REGIMENS)
def test_infused_regimens_state_their_table_4_basis(
    catalog: RegimenCatalog, regimen_id: str
) -> None:
    regimen = catalog.regimens[regimen_id]
    assert regimen.dosing, regimen_id
    if regimen.infusion_category is None:
        assert regimen.infusion_basis == ""
        return
    # The basis ends in the category it supports (Table 4's description checked by hand).
    said = re.findall(r"→ category (\d)", regimen.infusion_basis)
    assert said and int(said[0]) == regimen.infusion_category, regimen.infusion_basis


# Hand-checked against Table 3 from the re-derived figures (cpoc-rules §5 T: 4 if > 35 %,
# >= 75 % or >= 10 %; 2 if >= 20 %, >= 50 % or >= 1 %).
@pytest.mark.parametrize(
    ("regimen_id", "points", "why"),
    [
        ("cisplatin-pemetrexed", 4, "JMDB drug-related grade 3/4 about 38% > 35% (1.1.0: 15.1%)"),
        ("cisplatin-gemcitabine", 4, "JMDB drug-related grade 3/4 about 45% (1.1.0: 26.7%)"),
        ("atezolizumab", 0, "OAK: TR grade 3/4 15%, TR grade 1/2 64-15 = 49%, no TR deaths"),
        ("durvalumab", 2, "PACIFIC grade 3/4 29.9% in 20-35%"),
        ("nivolumab-ipilimumab", 2, "CheckMate 227 TR grade 3/4 32.8%, TR deaths 1.4%"),
        ("pembrolizumab", 2, "KEYNOTE-024 TR grade 3-5 26.6%"),
        ("regorafenib", 4, "CORRECT drug-related grade >= 3 54%"),
        ("trifluridine-tipiracil", 4, "RECOURSE grade >= 3 69%"),
        ("erlotinib", 2, "EURTAC grade 1/2 about 70% >= 50%"),
        ("lv5fu2", 2, "MOSAIC LV5FU2 grade 1/2 about 60% >= 50%"),
        ("bevacizumab", 0, "15% / 40% / 0.5%"),
    ],
)
def test_re_derived_points(catalog: RegimenCatalog, regimen_id: str, points: int, why: str) -> None:
    assert catalog.regimens[regimen_id].toxicity_points == points, why


def test_cisplatin_doublets_are_not_less_toxic_than_carboplatin_ones(
    catalog: RegimenCatalog,
) -> None:
    """No trial shows cisplatin + pemetrexed less toxic than carboplatin + pemetrexed: JMDB
    (cisplatin + pemetrexed) reports per-event rates only and KEYNOTE-189's control arm mixed
    both platinums, so both earn T = 4 (> 35 % grade 3-5) and the cisplatin one is not below."""
    cis = catalog.regimens["cisplatin-pemetrexed"]
    carbo = catalog.regimens["carboplatin-pemetrexed"]
    assert cis.toxicity_points >= carbo.toxicity_points == 4
    cis_pembro = catalog.regimens["cisplatin-pemetrexed-pembrolizumab"]
    carbo_pembro = catalog.regimens["carboplatin-pemetrexed-pembrolizumab"]
    # One arm of KEYNOTE-189 for both: the same figures.
    assert (cis_pembro.hospitalization.trial, cis_pembro.hospitalization.percent) == (
        carbo_pembro.hospitalization.trial,
        carbo_pembro.hospitalization.percent,
    )
    assert cis_pembro.toxicity_points == carbo_pembro.toxicity_points == 4
    # The other cisplatin doublets are at least as toxic as carboplatin + paclitaxel's T 4.
    for rid in ("cisplatin-gemcitabine", "cisplatin-etoposide", "cisplatin-paclitaxel"):
        assert catalog.regimens[rid].toxicity_points == 4, rid


ADDED = {
    "folfox-cetuximab": {"oxaliplatin", "leucovorin", "fluorouracil", "cetuximab"},
    "folfox-panitumumab": {"oxaliplatin", "leucovorin", "fluorouracil", "panitumumab"},
    "folfiri-cetuximab": {"irinotecan", "leucovorin", "fluorouracil", "cetuximab"},
    "folfiri-panitumumab": {"irinotecan", "leucovorin", "fluorouracil", "panitumumab"},
    "capecitabine-bevacizumab": {"capecitabine", "bevacizumab"},
    "trifluridine-tipiracil": {"trifluridine-tipiracil"},
    "trifluridine-tipiracil-bevacizumab": {"trifluridine-tipiracil", "bevacizumab"},
    "regorafenib": {"regorafenib"},
    "gemcitabine-capecitabine": {"gemcitabine", "capecitabine"},
    "nalirifox": {"irinotecan-liposomal", "oxaliplatin", "leucovorin", "fluorouracil"},
    "carboplatin-paclitaxel-pembrolizumab": {"carboplatin", "paclitaxel", "pembrolizumab"},
    "carboplatin-nab-paclitaxel-pembrolizumab": {"carboplatin", "nab-paclitaxel", "pembrolizumab"},
    "cisplatin-pemetrexed-pembrolizumab": {"cisplatin", "pemetrexed", "pembrolizumab"},
    "atezolizumab": {"atezolizumab"},
    "durvalumab": {"durvalumab"},
    "nivolumab-ipilimumab": {"nivolumab", "ipilimumab"},
    "docetaxel-ramucirumab": {"docetaxel", "ramucirumab"},
    "erlotinib": {"erlotinib"},
    # FOLFOXIRI and mFOLFIRINOX: the FOLFIRINOX entry (one anti-cancer set).
    "folfirinox": {"oxaliplatin", "irinotecan", "leucovorin", "fluorouracil"},
}


@pytest.mark.parametrize("regimen_id", sorted(ADDED))
def test_added_regimen_matches_its_drug_set(catalog: RegimenCatalog, regimen_id: str) -> None:
    match = catalog.match(ADDED[regimen_id])
    assert [r.id for r in match.regimens] == [regimen_id]
    assert (match.unmatched, match.warnings) == (frozenset(), ())


def test_folfirinox_entry_doses_each_cancer_its_own_schedule(catalog: RegimenCatalog) -> None:
    regimen = catalog.regimens["folfirinox"]
    irinotecan = {
        cancer: [(d.amount, d.minutes, d.cycles) for d in regimen.dosing_for(cancer)
                 if d.drug == "irinotecan"]
        for cancer in ("pancreas", "colorectal")
    }  # fmt: skip
    # mFOLFIRINOX (PRODIGE 24): 150 mg/m2 over 90 min; FOLFOXIRI (GONO/TRIBE): 165 over 60 min,
    # up to 12 cycles.
    assert irinotecan == {
        "pancreas": [(Decimal(150), 90, None)],
        "colorectal": [(Decimal(165), 60, 12)],
    }
    fluorouracil = [d.amount for d in regimen.dosing_for("colorectal") if d.drug == "fluorouracil"]
    assert fluorouracil == [Decimal(3200)]  # 48 h, no bolus
    assert regimen.dosing_for(None) == ()  # every dose is for one cancer: none without it


def test_liposomal_irinotecan_is_its_own_drug_by_wording(catalog: RegimenCatalog) -> None:
    rxnorm = "http://www.nlm.nih.gov/research/umls/rxnorm"
    coded = [(rxnorm, "51499", "irinotecan")]
    assert catalog.resolve(coded, None).drug is catalog.drugs["irinotecan"]
    onivyde = catalog.resolve(coded, "Onivyde 43 mg/10 mL")
    assert onivyde.drug is catalog.drugs["irinotecan-liposomal"]
    assert catalog.resolve([], "liposomal irinotecan").drug is catalog.drugs["irinotecan-liposomal"]


def test_trifluridine_eye_drops_never_resolve_to_the_oral_drug(catalog: RegimenCatalog) -> None:
    # The catalog codes trifluridine/tipiracil by tipiracil, and "trifluridine" alone is no
    # synonym: Viroptic is not an anti-cancer drug.
    assert catalog.resolve([], "Trifluridine 1% ophthalmic solution").drug is None
    assert catalog.resolve([], "Lonsurf 20 mg").drug is catalog.drugs["trifluridine-tipiracil"]


def test_fixed_cycle_counts_are_data(catalog: RegimenCatalog) -> None:
    def cycles(regimen_id: str) -> dict[str, int | None]:  # the NSCLC schedules
        return {d.drug: d.cycles for d in catalog.regimens[regimen_id].dosing_for("lung")}

    assert cycles("gemcitabine-capecitabine") == {"gemcitabine": 6, "capecitabine": 6}
    assert cycles("carboplatin-paclitaxel-pembrolizumab") == {
        "pembrolizumab": 35, "paclitaxel": 4, "carboplatin": 4,
    }  # fmt: skip
    assert cycles("durvalumab") == {"durvalumab": 13}  # 12 months of 28-day cycles


# ---- the loader's checks of the new fields ----------------------------------------------


def _small() -> dict[str, Any]:
    drug = {"role": "anticancer", "classes": ["x"], "route": "parenteral"}
    figure = {"percent": Decimal(10), "source": "Doe"}
    return {
        "drugs": [
            {**drug, "id": "a", "name": "alpha", "rxcui": "1"},
            {"id": "s", "name": "sigma", "rxcui": "9", "role": "supportive", "route": "oral"},
        ],
        "regimens": [
            {"id": "a1", "name": "A", "drugs": ["a"], "infusion_category": 1, "cancers": ["lung"],
             "hospitalization": dict(figure), "qol": dict(figure), "death": dict(figure),
             "dosing_source": "Doe", "dosing": [
                 {"drug": "a", "route": "intravenous", "amount": 1, "unit": "mg", "text": "a"}]},
        ],
    }  # fmt: skip


def _bad(path: str, value: Any) -> dict[str, Any]:
    data = _small()
    *keys, last = path.split(".")
    target: Any = data
    for key in keys:
        target = target[int(key)] if key.isdigit() else target[key]
    target[last] = value
    return data


def test_small_catalog_with_the_new_fields_loads() -> None:
    data = _small()
    regimen = data["regimens"][0]
    regimen["hospitalization"].update(
        trial="T", arm="A", table="Table 2", number="1/10", basis="all-cause"
    )
    regimen["cancer_companions"] = {"prostate": ["s"]}
    regimen["dosing"][0].update(cancers=["lung"], cycles=4)
    data["drugs"][0].update(rxcui_confirmed=False, rxcui_note="not found")
    catalog = RegimenCatalog.from_data(data)
    loaded = catalog.regimens["a1"]
    assert loaded.hospitalization.basis == "all-cause"
    assert loaded.companions_for("prostate") == ("s",) and loaded.companions_for("lung") == ()
    assert (loaded.dosing[0].cancers, loaded.dosing[0].cycles) == (("lung",), 4)
    assert (catalog.drugs["a"].rxcui_confirmed, catalog.drugs["a"].rxcui_note) == (
        False,
        "not found",
    )


@pytest.mark.parametrize(
    ("path", "value", "names"),
    [
        ("regimens.0.qol.basis", "all-causes", ["regimen 'a1'", "'qol.basis'", "all-causes"]),
        ("regimens.0.qol.basis", None, ["regimen 'a1'", "'qol.basis'"]),
        ("regimens.0.death.trail", "KEYNOTE", ["regimen 'a1'", "'death.trail'", "unknown key"]),
        ("regimens.0.death.number", 12, ["regimen 'a1'", "'death.number'", "not text"]),
        ("regimens.0.cancer_companions", ["s"], ["regimen 'a1'", "'cancer_companions'", "table"]),
        ("regimens.0.cancer_companions", {"prostate": ["ghost"]},
         ["regimen 'a1'", "'cancer_companions.prostate'", "ghost"]),
        ("regimens.0.cancer_companions", {"prostate": ["a"]},
         ["regimen 'a1'", "'cancer_companions.prostate'", "defines"]),
        ("regimens.0.cancer_companions", {"prostate": "s"},
         ["regimen 'a1'", "'cancer_companions.prostate'", "list"]),
        ("regimens.0.dosing.0.cancers", "lung", ["regimen 'a1'", "'dosing[0].cancers'", "list"]),
        ("regimens.0.dosing.0.cancers", [""], ["regimen 'a1'", "'dosing[0].cancers'"]),
        ("regimens.0.dosing.0.cycles", 0, ["regimen 'a1'", "'dosing[0].cycles'", ">= 1"]),
        ("regimens.0.dosing.0.cycles", True, ["regimen 'a1'", "'dosing[0].cycles'"]),
        ("regimens.0.dosing.0.cycles", 2.5, ["regimen 'a1'", "'dosing[0].cycles'"]),
        ("regimens.0.infusion_basis", 3, ["regimen 'a1'", "'infusion_basis'", "text"]),
        ("drugs.0.rxcui_confirmed", "no", ["drug 'a'", "'rxcui_confirmed'", "true or false"]),
        ("drugs.0.rxcui_note", ["x"], ["drug 'a'", "'rxcui_note'", "text"]),
    ],
)  # fmt: skip
def test_bad_new_fields_raise_knowledge_error_naming_the_place(
    path: str, value: Any, names: list[str]
) -> None:
    with pytest.raises(KnowledgeError) as raised:
        RegimenCatalog.from_data(_bad(path, value))
    for name in names:
        assert name in str(raised.value)


def test_carboplatin_paclitaxel_pembrolizumab_doses_per_cancer() -> None:
    # One anti-cancer set, two schedules (cpoc-rules §5: identity is the set): NSCLC per
    # KEYNOTE-407 (paclitaxel 200 mg/m2 day 1, carboplatin AUC 6, pembrolizumab up to 35
    # cycles); early triple-negative breast per KEYNOTE-522 (paclitaxel 80 mg/m2 days 1, 8, 15,
    # carboplatin AUC 5, 4 cycles each).
    regimen = load_knowledge().regimens.regimen("carboplatin-paclitaxel-pembrolizumab")
    assert regimen is not None
    lung = {d.drug: d for d in regimen.dosing_for("lung")}
    breast = {d.drug: d for d in regimen.dosing_for("breast")}
    assert (lung["paclitaxel"].amount, lung["paclitaxel"].days) == (200, (1,))
    assert (breast["paclitaxel"].amount, breast["paclitaxel"].days) == (80, (1, 8, 15))
    assert (lung["carboplatin"].dose_text, breast["carboplatin"].dose_text) == ("AUC 6", "AUC 5")
    assert (lung["pembrolizumab"].cycles, breast["pembrolizumab"].cycles) == (35, 4)
