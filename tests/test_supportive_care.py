"""The supportive-care data file: it loads, covers the catalog's drugs (and those being
added), tolerates ids the catalog does not know, and refuses bad entries naming them."""

from __future__ import annotations

import copy
from importlib import resources
from typing import Any

import pytest

from cpoc_fhir.errors import KnowledgeError
from cpoc_fhir.knowledge.loader import read_data_file
from cpoc_fhir.knowledge.supportive import (
    FILE,
    LEVELS,
    load_supportive_care,
    parse_supportive_care,
)

# The catalog's anti-cancer drugs at the time of writing, and the ids the catalog engineers
# are adding: each needs an emetogenic risk.
CATALOG_DRUGS = [
    "oxaliplatin",
    "cisplatin",
    "carboplatin",
    "fluorouracil",
    "capecitabine",
    "leucovorin",
    "irinotecan",
    "gemcitabine",
    "pemetrexed",
    "cytarabine",
    "paclitaxel",
    "nab-paclitaxel",
    "docetaxel",
    "cabazitaxel",
    "etoposide",
    "cyclophosphamide",
    "bendamustine",
    "doxorubicin",
    "epirubicin",
    "idarubicin",
    "vincristine",
    "pembrolizumab",
    "nivolumab",
    "trastuzumab",
    "pertuzumab",
    "bevacizumab",
    "rituximab",
    "polatuzumab-vedotin",
    "bortezomib",
    "lenalidomide",
    "imatinib",
    "osimertinib",
    "gefitinib",
    "erlotinib",
    "crizotinib",
    "ceritinib",
    "alectinib",
    "brigatinib",
    "lorlatinib",
    "tamoxifen",
    "anastrozole",
    "letrozole",
    "palbociclib",
    "fulvestrant",
    "leuprolide",
    "abiraterone",
    "enzalutamide",
    "apalutamide",
]
ADDED = [
    "cetuximab",
    "panitumumab",
    "trifluridine-tipiracil",
    "regorafenib",
    "irinotecan-liposomal",
    "atezolizumab",
    "durvalumab",
    "ipilimumab",
    "ramucirumab",
    "trastuzumab-emtansine",
    "trastuzumab-deruxtecan",
    "ribociclib",
    "abemaciclib",
    "exemestane",
    "darolutamide",
    "relugolix",
    "degarelix",
    "bicalutamide",
    "ifosfamide",
    "daratumumab",
    "carfilzomib",
    "pomalidomide",
    "melphalan",
    "dasatinib",
    "nilotinib",
    "bosutinib",
]


def data() -> dict[str, Any]:
    return copy.deepcopy(read_data_file(FILE))


def test_the_shipped_file_loads_with_its_header() -> None:
    care = load_supportive_care()
    assert care.version == "1.0.0" and care.date
    path = resources.files("cpoc_fhir.knowledge") / "data" / FILE
    header = path.read_text(encoding="utf-8").split("\n\n")[0]
    for part in ("# What:", "# Version: 1.0.0", "# Date:", "# Sources:", "Hesketh PJ"):
        assert part in header, part
    assert {"high", "high-ac", "moderate", "moderate-nk1", "low", "minimal"} <= set(
        care.antiemetics
    )
    assert care.antiemetics["minimal"] == ()
    assert set(care.premedication) == {"paclitaxel", "docetaxel", "cabazitaxel", "pemetrexed"}


@pytest.mark.parametrize("drug", CATALOG_DRUGS + ADDED)
def test_every_catalog_drug_and_every_new_one_has_an_emetogenic_risk(drug: str) -> None:
    assert load_supportive_care().emetogenic[drug] in LEVELS


def test_asco_2020_classes_of_the_common_agents() -> None:
    levels = load_supportive_care().emetogenic
    assert levels["cisplatin"] == "high"
    assert {levels[d] for d in ("oxaliplatin", "carboplatin", "irinotecan")} == {"moderate"}
    assert {levels[d] for d in ("paclitaxel", "docetaxel", "pemetrexed")} == {"low"}
    assert {levels[d] for d in ("pembrolizumab", "bevacizumab", "rituximab")} == {"minimal"}


def test_febrile_neutropenia_list_has_its_sources() -> None:
    risks = load_supportive_care().febrile_neutropenia
    assert {r.regimen or r.name for r in risks} >= {"tc", "dose-dense AC (every 14 days)"}
    assert all(r.percent >= 20 and r.source for r in risks)


def test_unknown_drug_and_regimen_ids_do_not_break_loading() -> None:
    raw = data()
    raw["emetogenic"]["a-drug-nobody-has"] = "low"
    raw["premedication"]["another-unknown"] = raw["premedication"]["paclitaxel"]
    raw["febrile_neutropenia"].append(
        {"regimen": "not-in-the-catalog", "percent": 25, "basis": "trial", "source": "Doe"}
    )
    care = parse_supportive_care(raw)
    assert care.emetogenic["a-drug-nobody-has"] == "low"


def _set(path: str, value: Any) -> Any:
    def change(raw: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = raw
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        target[int(last) if last.isdigit() else last] = value

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set("emetogenic.cisplatin", "very high"), "field 'cisplatin'"),
        (_set("products.folic-acid.rxcui", "abc"), "product 'folic-acid', field 'rxcui'"),
        (_set("antiemetics.low.0.product", "nothing"), "antiemetics.low[0], field 'product'"),
        (_set("antiemetics.low.0.continuous", True), "give exactly one of offsets"),
        (_set("antiemetics.low.0.route", "rectal"), "field 'route'"),
        (_set("premedication.pemetrexed.1.every_days", 0), "field 'every_days'"),
        (_set("emetogenic_rules.0.level", "extreme"), "emetogenic_rules[0], field 'level'"),
        (_set("febrile_neutropenia.0.percent", 120), "febrile_neutropenia[0], field 'percent'"),
    ],
)
def test_bad_entries_are_refused_naming_entry_and_field(change: Any, message: str) -> None:
    raw = data()
    change(raw)
    with pytest.raises(KnowledgeError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_supportive_care(raw)


def test_a_missing_antiemetic_set_is_refused() -> None:
    raw = data()
    del raw["antiemetics"]["moderate-nk1"]
    with pytest.raises(KnowledgeError, match="moderate-nk1"):
        parse_supportive_care(raw)
