"""The value-set loader (cpoc_fhir/value/valuesets.py): matching, ICD-10-CM dots and case,
prefixes, and errors that name the file and the entry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cpoc_fhir.errors import KnowledgeError
from cpoc_fhir.value.valuesets import (
    ICD10CM,
    bundled_value_sets,
    parse_value_sets,
    read_value_sets,
    value_set,
)

LOINC = "http://loinc.org"


def one(codes: list[dict[str, Any]], **entry: Any) -> dict[str, Any]:
    body = {"title": "T", "source": "S", "date": "2026-12-02", "codes": codes, **entry}
    return {"value_sets": {"vs": body}}


def test_exact_codes_match_only_their_system() -> None:
    vs = parse_value_sets(one([{"system": LOINC, "code": "72514-3"}]), "f.toml")["vs"]
    assert vs.matches([{"system": LOINC, "code": "72514-3"}])
    assert not vs.matches([{"system": "http://snomed.info/sct", "code": "72514-3"}])
    assert not vs.matches([{"system": LOINC, "code": "72514"}])  # no prefix unless asked
    assert not vs.matches([{"code": "72514-3"}])  # a coding without a system
    assert not vs.matches([{"system": LOINC, "code": 72514}])  # not a string: no match, no error


def test_icd10_codes_compare_without_dot_and_case() -> None:
    data = one(
        [
            {"system": ICD10CM, "code": "F34.1"},
            {"system": ICD10CM, "code": "c91", "prefix": True},
        ]
    )
    vs = parse_value_sets(data, "f.toml")["vs"]
    for code in ("F34.1", "F341", "f34.1", " F34.1 "):
        assert vs.contains(ICD10CM, code), code
    assert not vs.contains(ICD10CM, "F34.10")  # exact: a child code is another code
    for code in ("C91", "C91.10", "c9110", "C91.Z2"):
        assert vs.contains(ICD10CM, code), code
    assert not vs.contains(ICD10CM, "C92.0")
    assert not vs.contains(ICD10CM, "C9")  # shorter than the prefix


def test_dots_are_kept_in_other_systems() -> None:
    vs = parse_value_sets(one([{"system": LOINC, "code": "1.2"}]), "f.toml")["vs"]
    assert vs.contains(LOINC, "1.2") and not vs.contains(LOINC, "12")


@given(st.from_regex(r"[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?", fullmatch=True))
def test_an_icd10_prefix_matches_every_code_of_its_category(code: str) -> None:
    category = code[:3]
    vs = parse_value_sets(one([{"system": ICD10CM, "code": category, "prefix": True}]), "f")["vs"]
    assert vs.contains(ICD10CM, code)
    assert vs.contains(ICD10CM, code.replace(".", "").lower())


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "f.toml: no [value_sets.<id>] tables"),
        ({"value_sets": {"vs": 3}}, "f.toml: value_sets.vs is not a table"),
        (one([], title=""), "f.toml: value_sets.vs.title is required (text)"),
        (
            {"value_sets": {"vs": {"title": "T", "date": "d", "codes": []}}},
            "f.toml: value_sets.vs.source is required (text)",
        ),
        (one([]), "f.toml: value_sets.vs.codes: at least one code is required"),
        (
            one([{"system": LOINC, "code": "1"}, {"system": LOINC}]),
            "f.toml: value_sets.vs.codes[1] needs 'system' and 'code'",
        ),
    ],
)
def test_errors_name_the_file_and_the_entry(data: dict[str, Any], message: str) -> None:
    with pytest.raises(KnowledgeError) as caught:
        parse_value_sets(data, "f.toml")
    assert str(caught.value) == message


def test_files_read_and_a_set_defined_twice(tmp_path: Path) -> None:
    text = (
        '[value_sets.mine]\ntitle = "Mine"\nsource = "a practice"\ndate = "2026-01-01"\n'
        '[[value_sets.mine.codes]]\nsystem = "http://loinc.org"\ncode = "1-8"\n'
    )
    first, second = tmp_path / "a.toml", tmp_path / "b.toml"
    first.write_text(text, encoding="utf-8")
    second.write_text(text, encoding="utf-8")
    assert read_value_sets([first])["mine"].contains(LOINC, "1-8")
    with pytest.raises(KnowledgeError, match=r"b\.toml: value set 'mine' is defined twice"):
        read_value_sets([first, second])


def test_unreadable_and_missing_files_are_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[value_sets.x\n", encoding="utf-8")
    with pytest.raises(KnowledgeError, match=r"bad\.toml: cannot read value sets"):
        read_value_sets([bad])
    with pytest.raises(KnowledgeError, match=r"gone\.toml: cannot read value sets"):
        read_value_sets([tmp_path / "gone.toml"])


def test_unknown_value_set_is_a_clear_error() -> None:
    with pytest.raises(KnowledgeError, match="no value set 'nope' in knowledge/data/value-sets/"):
        value_set("nope")


def test_every_shipped_value_set_has_its_source_and_date() -> None:
    shipped = bundled_value_sets()
    for vs_id in (
        "pain-score",
        "depression-screening",
        "depression-or-bipolar",
        "hospice-care",
        "hospice-discharge",
        "face-to-face-class",
        "haematologic-malignancy",
        "not-systemic-cancer-therapy",
        "screening-declined",
    ):
        vs = shipped[vs_id]
        assert vs.source.strip() and len(vs.date) == 10, vs_id
    # §12.2's codes, exactly
    assert {c for _, c in shipped["pain-score"].exact} == {"72514-3", "38208-5", "75893-0"}
    assert {c for _, c in shipped["depression-screening"].exact} == {
        "55757-9",
        "73831-0",
        "44249-1",
        "44261-6",
    }


def test_the_hormonal_drugs_of_the_catalog_are_not_systemic_therapy() -> None:
    # Every catalog drug of a hormonal class is in the Q4 set, and no cytotoxic drug is.
    from cpoc_fhir.knowledge.loader import load_knowledge

    hormonal = {
        "serm",
        "serd",
        "aromatase-inhibitor",
        "gnrh-agonist",
        "gnrh-antagonist",
        "androgen-synthesis-inhibitor",
        "androgen-receptor-inhibitor",
        "antiandrogen",
    }
    vs = value_set("not-systemic-cancer-therapy")
    rxnorm = "http://www.nlm.nih.gov/research/umls/rxnorm"
    for drug in load_knowledge().regimens.drugs.values():
        if drug.role.value != "anticancer":
            continue
        expected = bool(hormonal & set(drug.classes)) or drug.id == "leucovorin"
        assert vs.contains(rxnorm, drug.rxcui) is expected, drug.id
