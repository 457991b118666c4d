"""Charlson map (cpoc-rules §5 C): Quan 2005 ICD-10 prefixes, SNOMED list, weights, hierarchy."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from decimal import Decimal
from importlib import resources
from typing import Any

import pytest

from cpoc_fhir.errors import KnowledgeError
from cpoc_fhir.knowledge.charlson import CANCER_CATEGORIES, CharlsonMap
from cpoc_fhir.knowledge.loader import read_data_file


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    return read_data_file("charlson.toml")


@pytest.fixture(scope="module")
def charlson(data: dict[str, Any]) -> CharlsonMap:
    return CharlsonMap.from_data(data)


# Worked by hand from the weight tables (1987 / Quan 2011) and the hierarchy.
@pytest.mark.parametrize(
    ("icd10", "snomed", "charlson1987", "quan2011"),
    [
        (["E11.22", "E11.9"], [], 2, 1),  # complicated diabetes supersedes uncomplicated
        (["K74.60", "K72.90"], [], 3, 4),  # severe liver supersedes mild
        (["K70.30", "I85.00"], [], 3, 4),  # cirrhosis + varices: severe only
        (["I50.9", "N18.4"], [], 3, 3),  # CHF 1 + renal 2 | CHF 2 + renal 1
        (["C18.9", "C78.7"], [], 0, 0),  # cancer categories are left out
        (["C34.90", "B20"], [], 6, 4),  # ... but HIV still counts
        (["I21.4"], [], 1, 0),
        (["I25.2"], [], 1, 0),  # old MI
        (["I25.10"], [], 0, 0),  # chronic IHD is not in Quan's list
        (["I50.32", "J44.9", "M05.79"], [], 3, 4),
        (["G81.90", "F03.90"], [], 3, 4),
        (["Z99.2"], [], 2, 1),  # dialysis dependence
        (["E11.9"], [], 1, 0),
        (["I21.4", "I50.9", "I70.0", "I63.9", "G30.9", "J45.909", "M32.9", "K25.9"], [], 8, 6),
        ([], [], 0, 0),
        ([], ["44054006", "368581000119106"], 2, 1),  # SNOMED diabetes + diabetic neuropathy
        (["E11.9"], ["127013003"], 2, 1),  # ICD and SNOMED mix, hierarchy across both
        ([], ["88805009", "433144002"], 3, 3),
    ],
)
def test_index_examples(
    charlson: CharlsonMap, icd10: list[str], snomed: list[str], charlson1987: int, quan2011: int
) -> None:
    categories = charlson.categories(icd10, snomed)
    assert charlson.index(categories) == charlson1987
    assert charlson.index(categories, weights="quan2011") == quan2011
    assert charlson.score(icd10, snomed, weights="quan2011") == quan2011


@pytest.mark.parametrize("code", ["E11.22", "E1122", "e11.22", " E11.22 ", "e1122\t"])
def test_dotted_undotted_and_case_alike(charlson: CharlsonMap, code: str) -> None:
    assert charlson.categories([code]) == {"diabetes_complicated"}


@pytest.mark.parametrize(
    ("code", "category"),
    [
        ("I09.9", "congestive_heart_failure"),
        ("I42.0", "congestive_heart_failure"),
        ("I42.5", "congestive_heart_failure"),
        ("I42.7", "congestive_heart_failure"),
        ("I42.9", "congestive_heart_failure"),
        ("P29.0", "congestive_heart_failure"),
        ("I73.9", "peripheral_vascular"),
        ("Z95.9", "peripheral_vascular"),
        ("H34.00", "cerebrovascular"),
        ("I69.351", "cerebrovascular"),
        ("G31.1", "dementia"),
        ("J68.4", "chronic_pulmonary"),
        ("I27.9", "chronic_pulmonary"),
        ("M36.0", "rheumatic"),
        ("K28.9", "peptic_ulcer"),
        ("B18.2", "mild_liver"),
        ("Z94.4", "mild_liver"),
        ("E10.65", "diabetes_uncomplicated"),  # "other specified complications": Quan's E10.6
        ("E13.7", "diabetes_complicated"),
        ("E11.51", "diabetes_complicated"),
        ("G83.4", "hemiplegia_paraplegia"),
        ("I12.0", "renal"),
        ("N03.7", "renal"),
        ("Z49.2", "renal"),
        ("C26.9", "malignancy"),
        ("C97", "malignancy"),
        ("C88.0", "malignancy"),
        ("K76.7", "moderate_severe_liver"),
        ("C80.1", "metastatic_solid_tumor"),
        ("B24", "hiv_aids"),
    ],
)
def test_quan_table_edges(charlson: CharlsonMap, code: str, category: str) -> None:
    assert charlson.categories([code]) == {category}


@pytest.mark.parametrize(
    "code",
    # C44 (skin) and C86 (added to ICD-10 after 2005) are not in Quan's malignancy list.
    ["I42.1", "I25.10", "G83.5", "N03.1", "K71.2", "C44.91", "C86.0", "B23.8"],
)
def test_codes_outside_quan(charlson: CharlsonMap, code: str) -> None:
    assert charlson.categories([code]) == frozenset()


@pytest.mark.parametrize(
    ("code", "category"),
    [
        ("22298006", "myocardial_infarction"),
        ("401303003", "myocardial_infarction"),
        ("88805009", "congestive_heart_failure"),
        ("230690007", "cerebrovascular"),
        ("26929004", "dementia"),
        ("185086009", "chronic_pulmonary"),
        ("195967001", "chronic_pulmonary"),
        ("69896004", "rheumatic"),
        ("13200003", "peptic_ulcer"),
        ("128302006", "mild_liver"),
        ("44054006", "diabetes_uncomplicated"),
        ("1551000119108", "diabetes_complicated"),
        ("50582007", "hemiplegia_paraplegia"),
        ("46177005", "renal"),
        ("86406008", "hiv_aids"),
    ],
)
def test_snomed_curated(charlson: CharlsonMap, code: str, category: str) -> None:
    assert charlson.categories([], [code]) == {category}


def test_unknown_snomed_is_no_category(charlson: CharlsonMap) -> None:
    assert charlson.categories([], ["38341003", "not-a-code"]) == frozenset()  # hypertension


def test_all_seventeen_categories_and_both_schemes(charlson: CharlsonMap) -> None:
    assert len(charlson.names) == 17
    assert set(charlson.names) >= CANCER_CATEGORIES
    assert charlson.schemes == ("charlson1987", "quan2011")
    everything = set(charlson.names)
    # Everything at once: each hierarchy keeps only the severe form; cancers excluded.
    assert charlson.index(everything) == 1 * 8 + 2 * 3 + 3 + 6  # 23
    assert charlson.index(everything, "quan2011") == 2 + 2 + 1 + 1 + 1 + 2 + 1 + 4 + 4  # 18


def test_unknown_weights_and_categories(charlson: CharlsonMap) -> None:
    with pytest.raises(KnowledgeError, match="quan2012"):
        charlson.index(["renal"], weights="quan2012")
    with pytest.raises(ValueError, match="kidney"):
        charlson.index(["kidney"])


def test_data_file_header(data: dict[str, Any]) -> None:
    path = resources.files("cpoc_fhir.knowledge") / "data" / "charlson.toml"
    header = path.read_text(encoding="utf-8").split("\n\n")[0]
    for word in ("Version", "Date", "Sources", "Quan", "1987", "2011", "CURATED"):
        assert word in header
    assert data["version"] and data["date"]


_DELETE = object()


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation of the parsed data: set (or, with _DELETE, remove) the value at ``path``."""

    def apply(d: Any) -> None:
        for key in path[:-1]:
            d = d[key]
        if value is _DELETE:
            del d[path[-1]]
        else:
            d[path[-1]] = value

    return apply


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (_set(["categories", "renal", "icd10"], ["N18", "N1?"]), "categories.renal.icd10: 'N1?'"),
        (_set(["categories", "renal", "icd10"], ["N25-N05"]), "categories.renal.icd10: range"),
        (_set(["categories", "renal", "icd10"], "N18"), "categories.renal.icd10: expected a list"),
        (_set(["categories", "renal", "icd10"], ["I50"]), "renal: 'I50' is already"),
        (_set(["categories", "renal"], "Renal"), "categories.renal: expected a table"),
        (_set(["categories", "malignancy"], _DELETE), "must define"),
        (_set(["weights", "quan2011", "points", "renal"], Decimal("1.5")), "quan2011.points.renal"),
        (_set(["weights", "quan2011", "points", "renal"], -1), "quan2011.points.renal"),
        (_set(["weights", "quan2011", "points", "kidney"], 1), "unknown ['kidney']"),
        (_set(["weights", "charlson1987"], _DELETE), "charlson1987"),
        (_set(["hierarchy", "renal"], ["kidney"]), "hierarchy.renal"),
        (_set(["snomed", "codes", 0, "category"], "heart"), "'22298006'"),
        (_set(["snomed", "codes", 0, "code"], "MI"), "'MI' is not a SNOMED CT concept id"),
        (_set(["snomed", "codes", 1, "code"], "22298006"), "listed twice"),
    ],
)
def test_malformed_data_names_the_entry(
    data: dict[str, Any], mutate: Callable[[dict[str, Any]], None], message: str
) -> None:
    broken = copy.deepcopy(data)
    mutate(broken)
    with pytest.raises(KnowledgeError, match=re.escape(message)):
        CharlsonMap.from_data(broken)
