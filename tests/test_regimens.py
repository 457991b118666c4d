"""The shipped regimen catalog: content, Table 3 points, matching, validation, CLI views."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest

from cpoc_fhir.errors import KnowledgeError
from cpoc_fhir.knowledge.loader import read_regimen_catalog_data
from cpoc_fhir.knowledge.regimen_views import catalog_json, catalog_table
from cpoc_fhir.knowledge.regimens import RegimenCatalog


@pytest.fixture(scope="module")
def catalog() -> RegimenCatalog:
    return RegimenCatalog.from_data(read_regimen_catalog_data())


# Each required regimen, by the drugs a practice would order: the set must match it exactly.
REQUIRED = [
    ({"oxaliplatin", "leucovorin", "fluorouracil"}, "FOLFOX"),
    ({"irinotecan", "leucovorin", "fluorouracil"}, "FOLFIRI"),
    ({"oxaliplatin", "capecitabine"}, "CAPOX"),
    ({"oxaliplatin", "irinotecan", "leucovorin", "fluorouracil"}, "FOLFIRINOX"),
    ({"capecitabine"}, "Capecitabine"),
    ({"gemcitabine", "nab-paclitaxel"}, "Gemcitabine + nab-paclitaxel"),
    ({"carboplatin", "pemetrexed", "pembrolizumab"}, "Carboplatin + pemetrexed + pembrolizumab"),
    ({"pemetrexed", "pembrolizumab"}, "Pemetrexed + pembrolizumab"),
    ({"carboplatin", "paclitaxel"}, "Carboplatin + paclitaxel"),
    ({"cisplatin", "gemcitabine"}, "Cisplatin + gemcitabine"),
    ({"cisplatin", "etoposide"}, "Cisplatin + etoposide"),
    ({"docetaxel"}, "Docetaxel"),
    ({"pembrolizumab"}, "Pembrolizumab"),
    ({"nivolumab"}, "Nivolumab"),
    ({"osimertinib"}, "Osimertinib"),
    ({"doxorubicin", "cyclophosphamide"}, "AC"),
    ({"docetaxel", "cyclophosphamide"}, "TC"),
    ({"paclitaxel"}, "Paclitaxel (weekly)"),
    ({"trastuzumab"}, "Trastuzumab"),
    ({"trastuzumab", "pertuzumab"}, "Trastuzumab + pertuzumab"),
    ({"tamoxifen"}, "Tamoxifen"),
    ({"anastrozole"}, "Anastrozole"),
    ({"letrozole"}, "Letrozole"),
    ({"leuprolide"}, "Leuprolide"),
    ({"abiraterone", "prednisone"}, "Abiraterone + prednisone"),
    ({"rituximab", "cyclophosphamide", "doxorubicin", "vincristine", "prednisone"}, "R-CHOP"),
    ({"bendamustine", "rituximab"}, "Bendamustine + rituximab"),
    ({"rituximab"}, "Rituximab"),
    ({"imatinib"}, "Imatinib"),
    ({"lenalidomide", "dexamethasone"}, "Lenalidomide + dexamethasone"),
    # Added in 1.1.0 (care pathways suggest them): ids are referenced elsewhere.
    ({"oxaliplatin", "leucovorin", "fluorouracil", "bevacizumab"}, "FOLFOX + bevacizumab"),
    ({"oxaliplatin", "capecitabine", "bevacizumab"}, "CAPOX (XELOX) + bevacizumab"),
    ({"irinotecan", "leucovorin", "fluorouracil", "bevacizumab"}, "FOLFIRI + bevacizumab"),
    ({"alectinib"}, "Alectinib"),
    ({"lorlatinib"}, "Lorlatinib"),
    ({"brigatinib"}, "Brigatinib"),
    ({"docetaxel", "carboplatin", "trastuzumab", "pertuzumab"}, "TCHP"),
    ({"paclitaxel", "trastuzumab"}, "Paclitaxel + trastuzumab"),
    ({"letrozole", "palbociclib"}, "Letrozole + palbociclib"),
    ({"fulvestrant", "palbociclib"}, "Fulvestrant + palbociclib"),
    ({"fulvestrant"}, "Fulvestrant"),
    ({"enzalutamide"}, "Enzalutamide"),
    ({"apalutamide"}, "Apalutamide"),
    ({"cabazitaxel", "prednisone"}, "Cabazitaxel + prednisone"),
    (
        {"polatuzumab-vedotin", "rituximab", "cyclophosphamide", "doxorubicin", "prednisone"},
        "Pola-R-CHP",
    ),
]


def test_catalog_is_versioned_and_large_enough(catalog: RegimenCatalog) -> None:
    assert catalog.version == "1.2.0"
    assert len(catalog.regimens) >= 77


@pytest.mark.parametrize(("drugs", "name"), REQUIRED, ids=[n for _, n in REQUIRED])
def test_required_regimen_matches_its_drugs_exactly(
    catalog: RegimenCatalog, drugs: set[str], name: str
) -> None:
    match = catalog.match(drugs)
    assert [r.name.startswith(name) for r in match.regimens] == [True]
    assert match.unmatched == frozenset()
    assert match.warnings == ()


def test_every_figure_and_regimen_has_a_source(catalog: RegimenCatalog) -> None:
    for regimen in catalog.regimens.values():
        assert regimen.sources, regimen.id
        assert regimen.cancers, regimen.id
        for figure in (regimen.hospitalization, regimen.qol, regimen.death):
            assert figure.source.strip(), regimen.id
            assert Decimal(0) <= figure.percent <= Decimal(100)


# Hand-checked against Table 3 (cpoc-rules §5 T) from each regimen's cited figures.
@pytest.mark.parametrize(
    ("regimen_id", "points", "why"),
    [
        ("folfox", 4, "grade III/IV about 55% (neutropenia alone 41.1%) > 35%"),
        ("gemcitabine-nab-paclitaxel", 4, "grade III/IV 38% > 35%"),
        ("r-chop", 4, "grade I/II 85% >= 75%"),
        ("pembrolizumab", 2, "grade III/IV 26.6% in 20-35%"),
        ("nivolumab", 2, "grade I/II 51% >= 50%, grade III/IV only 7%"),
        ("docetaxel", 4, "grade 3-5 estimate 40% > 35% (TAX 327 reports by event only)"),
        ("trastuzumab", 0, "5% / 30% / 0.1%"),
        ("tamoxifen", 0, "2% / 46% / 0.05%"),
        ("folfox-bevacizumab", 4, "grade III/IV 75% > 35%"),
        ("letrozole-palbociclib", 4, "grade 3-4 neutropenia 66.4% (lower bound) > 35%"),
        ("enzalutamide", 2, "grade III/IV 24.3% in 20-35%"),
        ("fulvestrant", 0, "10% / 35% / 0.1%"),
        ("paclitaxel-trastuzumab", 2, "grade I/II 60% >= 50%"),
    ],
)
def test_toxicity_points_follow_table_3(
    catalog: RegimenCatalog, regimen_id: str, points: int, why: str
) -> None:
    regimen = catalog.regimen(regimen_id)
    assert regimen is not None
    assert regimen.toxicity_points == points, why


@pytest.mark.parametrize(
    ("first", "second", "share"),
    [
        ("folfox", "capox", True),  # same fluoropyrimidine + platinum: no change of class
        ("folfox", "r-chop", False),
        ("carboplatin-pemetrexed-pembrolizumab", "docetaxel", False),
        ("anastrozole", "letrozole", True),
        ("tamoxifen", "anastrozole", False),  # SERM → aromatase inhibitor is a class change
        ("osimertinib", "cisplatin-pemetrexed", False),
        ("paclitaxel-weekly", "nab-paclitaxel", True),  # both taxanes
        ("docetaxel", "cabazitaxel", True),  # taxane after taxane
        ("abiraterone-prednisone", "enzalutamide", False),  # synthesis → receptor inhibitor
        ("enzalutamide", "apalutamide", True),
        ("alectinib", "lorlatinib", True),
    ],
)
def test_drug_classes_tell_a_change_of_class(
    catalog: RegimenCatalog, first: str, second: str, share: bool
) -> None:
    a, b = catalog.regimen(first), catalog.regimen(second)
    assert a is not None and b is not None
    assert bool(set(a.classes) & set(b.classes)) is share


def test_regimen_classes_are_the_union_of_its_drugs(catalog: RegimenCatalog) -> None:
    for regimen in catalog.regimens.values():
        union = {c for d in regimen.drugs for c in catalog.drugs[d].classes}
        assert set(regimen.classes) == union, regimen.id


# ---- matching -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "regimens", "unmatched", "warning"),
    [
        ({"oxaliplatin", "leucovorin", "fluorouracil"}, ["folfox"], set(), None),
        ({"cisplatin", "gemcitabine"}, ["cisplatin-gemcitabine"], set(), None),
        ({"rituximab", "cyclophosphamide", "doxorubicin", "vincristine"}, ["r-chop"], set(), None),
        (
            {"rituximab", "cyclophosphamide", "doxorubicin", "vincristine", "prednisone"},
            ["r-chop"],
            set(),
            None,
        ),
        # THP is one regimen (CLEOPATRA), no longer trastuzumab + pertuzumab and docetaxel.
        ({"trastuzumab", "pertuzumab", "docetaxel"}, ["thp"], set(), None),
        (
            {"oxaliplatin", "leucovorin"},  # Synthea's colon cancer orders
            ["folfox"],
            set(),
            "matched FOLFOX without fluorouracil",
        ),
        (
            {"cisplatin", "gemcitabine", "crizotinib"},
            ["cisplatin-gemcitabine"],
            {"crizotinib"},
            None,
        ),
        ({"investigational-x"}, [], {"investigational-x"}, None),
        # Supportive drugs neither define nor block a match.
        ({"oxaliplatin", "capecitabine", "ondansetron", "dexamethasone"}, ["capox"], set(), None),
        ({"prednisone", "filgrastim"}, [], set(), None),
        # Greedy cover: the largest regimen first, then what is left.
        (
            {"carboplatin", "pemetrexed", "pembrolizumab", "bevacizumab"},
            ["carboplatin-pemetrexed-pembrolizumab", "bevacizumab"],
            set(),
            None,
        ),
        # Tie between two pairs: the one listed first in the catalog wins; etoposide is left.
        ({"cisplatin", "gemcitabine", "etoposide"}, ["cisplatin-gemcitabine"], {"etoposide"}, None),
        # 1.1.0: chemotherapy + bevacizumab is one regimen, no longer FOLFOX and bevacizumab.
        (
            {"oxaliplatin", "leucovorin", "fluorouracil", "bevacizumab"},
            ["folfox-bevacizumab"],
            set(),
            None,
        ),
        # FOLFOXIRI + bevacizumab: FOLFIRINOX is listed before FOLFOX/FOLFIRI + bevacizumab, so
        # the cover leaves nothing unmatched.
        (
            {"oxaliplatin", "irinotecan", "leucovorin", "fluorouracil", "bevacizumab"},
            ["folfirinox", "bevacizumab"],
            set(),
            None,
        ),
        # Weekly paclitaxel + HP: trastuzumab + pertuzumab is listed before paclitaxel +
        # trastuzumab, so the paclitaxel left is the weekly regimen.
        (
            {"paclitaxel", "trastuzumab", "pertuzumab"},
            ["trastuzumab-pertuzumab", "paclitaxel-weekly"],
            set(),
            None,
        ),
        (
            {"letrozole", "palbociclib", "leuprolide"},
            ["letrozole-palbociclib", "leuprolide"],
            set(),
            None,
        ),
        ({"enzalutamide", "leuprolide"}, ["leuprolide", "enzalutamide"], set(), None),
        # R-CHOP without vincristine, with polatuzumab: Pola-R-CHP, not R-CHOP partial.
        (
            {"polatuzumab-vedotin", "rituximab", "cyclophosphamide", "doxorubicin"},
            ["pola-r-chp"],
            set(),
            None,
        ),
    ],
)
def test_match(
    catalog: RegimenCatalog,
    given: set[str],
    regimens: list[str],
    unmatched: set[str],
    warning: str | None,
) -> None:
    match = catalog.match(given)
    assert [r.id for r in match.regimens] == regimens
    assert match.unmatched == frozenset(unmatched)
    assert match.warnings == ((warning,) if warning else ())


def test_match_is_memoised_on_the_drug_set(catalog: RegimenCatalog) -> None:
    first = catalog.match({"cisplatin", "etoposide"})
    assert catalog.match(frozenset({"etoposide", "cisplatin"})) is first


def test_no_two_regimens_share_a_drug_set_and_companions(catalog: RegimenCatalog) -> None:
    # One drug set may have variants (lenalidomide alone / + dexamethasone, cpoc-rules §5),
    # told apart by their companions; never two with the same drugs and companions.
    keys = [(frozenset(r.drugs), frozenset(r.companions)) for r in catalog.regimens.values()]
    assert len(keys) == len(set(keys))


# ---- validation -----------------------------------------------------------------------


def _small() -> dict[str, Any]:
    figure = {"percent": Decimal("10"), "source": "Doe J, J Test 2020;1:1"}
    return {
        "version": "test",
        "drugs": [
            {"id": "a", "name": "alpha", "rxcui": "1", "role": "anticancer",
             "classes": ["x"], "route": "parenteral", "single_agent_category": 2},
            {"id": "b", "name": "beta", "rxcui": "2", "role": "anticancer",
             "classes": ["y"], "route": "oral", "product_rxcuis": ["20"]},
            {"id": "s", "name": "steroid", "rxcui": "3", "role": "supportive",
             "classes": ["corticosteroid"], "route": "oral"},
        ],
        "regimens": [
            {"id": "ab", "name": "AB", "drugs": ["a", "b"], "companions": ["s"],
             "infusion_category": 3, "oral_pattern": "single-on-off", "cancers": ["lung"],
             "sources": ["Doe"], "hospitalization": dict(figure), "qol": dict(figure),
             "death": dict(figure)},
        ],
    }  # fmt: skip


def test_small_valid_catalog_loads() -> None:
    catalog = RegimenCatalog.from_data(_small())
    regimen = catalog.regimen("ab")
    assert regimen is not None and regimen.classes == ("x", "y")
    assert catalog.match({"a", "b", "s"}).regimens == (regimen,)


_DELETE = object()


def _set(path: str, value: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        *keys, last = path.split(".")
        target: Any = data
        for key in keys:
            target = target[int(key)] if key.isdigit() else target[key]
        if value is _DELETE:
            del target[last]
        else:
            target[last] = value

    return change


def _append(kind: str, index: int, changes: dict[str, Any]) -> Any:
    def change(data: dict[str, Any]) -> None:
        data[kind].append({**copy.deepcopy(data[kind][index]), **changes})

    return change


@pytest.mark.parametrize(
    ("change", "names"),
    [
        (_set("regimens.0.drugs", ["a", "zeta"]), ["regimen 'ab'", "'drugs'", "zeta"]),
        (_set("regimens.0.companions", ["ghost"]), ["regimen 'ab'", "'companions'", "ghost"]),
        (_append("drugs", 0, {"rxcui": "9"}), ["drug 'a'", "'id'", "duplicate"]),
        (_append("regimens", 0, {"drugs": ["a"]}), ["regimen 'ab'", "'id'", "duplicate"]),
        (_append("drugs", 0, {"id": "c", "name": "gamma"}), ["drug 'c'", "'rxcui'", "1"]),
        (_set("drugs.1.product_rxcuis", ["1"]), ["drug 'b'", "'product_rxcuis'", "1"]),
        (_append("drugs", 0, {"id": "c", "rxcui": "9", "name": "beta"}), ["drug 'c'", "beta"]),
        (_set("regimens.0.infusion_category", 5), ["regimen 'ab'", "'infusion_category'", "5"]),
        (_set("regimens.0.oral_pattern", "twice-weekly"), ["regimen 'ab'", "'oral_pattern'"]),
        (_set("regimens.0.oral_pattern", _DELETE), ["regimen 'ab'", "'oral_pattern'", "oral"]),
        (_set("regimens.0.qol.source", ""), ["regimen 'ab'", "'qol.source'", "source"]),
        (_set("regimens.0.death", _DELETE), ["regimen 'ab'", "'death'"]),
        (_set("regimens.0.hospitalization.percent", Decimal(120)), ["'hospitalization'", "120"]),
        (_set("regimens.0.drugs", ["a", "s"]), ["regimen 'ab'", "'drugs'", "supportive"]),
        (_append("regimens", 0, {"id": "ba", "drugs": ["b", "a"]}), ["regimen 'ba'", "same drug"]),
        (_set("drugs.0.role", "curative"), ["drug 'a'", "'role'", "curative"]),
        (_set("drugs.0.rxcui", "C123"), ["drug 'a'", "'rxcui'", "C123"]),
    ],
)
def test_bad_data_raises_knowledge_error_naming_the_place(change: Any, names: list[str]) -> None:
    data = _small()
    change(data)
    with pytest.raises(KnowledgeError) as raised:
        RegimenCatalog.from_data(data)
    for name in names:
        assert name in str(raised.value)


# ---- CLI views --------------------------------------------------------------------------


def test_catalog_json_shape_and_values(catalog: RegimenCatalog) -> None:
    data = catalog_json(catalog)
    assert list(data) == ["regimens"]
    json.dumps(data)  # JSON-serialisable: numbers, not Decimal
    by_id = {r["id"]: r for r in data["regimens"]}
    assert len(by_id) == len(catalog.regimens)
    for entry in data["regimens"]:
        assert set(entry) == {
            "id", "name", "ingredients", "classes", "toxicity", "administration", "sources",
            "dosing", "dosingSource", "figures", "infusionBasis",
        }  # fmt: skip
        assert set(entry["figures"]) == {"hospitalization", "qol", "death"}
        assert set(entry["toxicity"]) == {"hospitalization", "qol", "death", "points"}
        assert set(entry["administration"]) == {"category", "oral", "stemCellTransplant"}
    folfox = by_id["folfox"]
    assert folfox["ingredients"] == ["32592", "6313", "4492"]
    # 1.2.0's one method (MOSAIC): grade 3/4 about 55%, worst grade 1/2 about 44%, 0.5% deaths.
    assert folfox["toxicity"] == {"hospitalization": 55, "qol": 44, "death": 0.5, "points": 4}
    assert folfox["administration"] == {"category": 3, "oral": None, "stemCellTransplant": False}
    assert any("MOSAIC" in s for s in folfox["sources"])
    assert "8640" in by_id["r-chop"]["ingredients"]  # the prednisone companion
    assert by_id["capox"]["administration"]["oral"] == "single-on-off"
    assert by_id["osimertinib"]["administration"]["category"] is None
    assert folfox["dosing"][0] == {
        "drug": "oxaliplatin", "route": "intravenous",
        "text": "Oxaliplatin 85 mg/m2 IV over 2 h on day 1, every 14 days",
        "amount": 85, "unit": "mg/m2", "doseText": None, "days": [1], "cycleDays": 14,
        "timesPerDay": 1, "minutes": 120, "cancers": [], "cycles": None, "setting": None,
    }  # fmt: skip
    assert folfox["figures"]["death"] == {
        "percent": 0.5, "basis": "all-cause", "trial": "MOSAIC", "arm": "FOLFOX4 (adjuvant)",
        "table": "Results, Safety (text)",
        "number": "6 of 1108 patients died during treatment (0.5%)",
        "source": "André T et al. MOSAIC, N Engl J Med 2004;350:2343 — deaths during treatment, "
        "not attributed",
    }  # fmt: skip
    assert folfox["infusionBasis"].endswith("(Table 4: combination therapy, 4-5 h of nursing care)")
    assert "mFOLFOX6" in folfox["dosingSource"]
    letrozole = by_id["letrozole"]["dosing"][0]
    assert (letrozole["amount"], letrozole["days"], letrozole["cycleDays"]) == (2.5, [], None)
    carboplatin = next(d for d in by_id["carboplatin-pemetrexed"]["dosing"] if d["doseText"])
    assert (carboplatin["amount"], carboplatin["unit"], carboplatin["doseText"]) == (
        None,
        None,
        "AUC 5",
    )


def test_catalog_table_lists_every_regimen_in_columns(catalog: RegimenCatalog) -> None:
    table = catalog_table(catalog, width=None)
    lines = table.splitlines()
    assert lines[0].startswith("Regimen catalog 1.2.0")
    header = lines[2]
    assert header.split()[:4] == ["ID", "NAME", "T", "TABLE"]
    column = header.index("TABLE 4")
    rows = {line.split()[0]: line for line in lines[3:]}
    assert set(rows) == set(catalog.regimens)
    assert rows["capox"][column:].startswith("infusion 2 + oral single-on-off")
    assert rows["tamoxifen"][column:].startswith("oral single-daily")
