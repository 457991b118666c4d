"""Medication codings and text → catalog drugs: RxNorm codes, names, conflicts, real data."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cpoc_fhir.knowledge.loader import read_regimen_catalog_data
from cpoc_fhir.knowledge.regimens import Coding, RegimenCatalog

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
EXTERNAL = Path(__file__).parents[1].parent / "shared" / "data" / "external"


@pytest.fixture(scope="module")
def catalog() -> RegimenCatalog:
    return RegimenCatalog.from_data(read_regimen_catalog_data())


@pytest.mark.parametrize(
    ("code", "drug_id"),
    [
        ("32592", "oxaliplatin"),
        ("6313", "leucovorin"),
        ("4492", "fluorouracil"),
        ("2555", "cisplatin"),
        ("40048", "carboplatin"),
        ("56946", "paclitaxel"),
        ("3002", "cyclophosphamide"),
        ("3639", "doxorubicin"),
        ("224905", "trastuzumab"),
        ("84857", "anastrozole"),
        ("10324", "tamoxifen"),
        ("8640", "prednisone"),
        ("11202", "vincristine"),
        ("4179", "etoposide"),
        ("12574", "gemcitabine"),
        ("72962", "docetaxel"),
        ("68446", "pemetrexed"),
        ("1547545", "pembrolizumab"),
        ("1597876", "nivolumab"),
        ("5650", "idarubicin"),
        ("1721560", "osimertinib"),
        ("1100072", "abiraterone"),
        ("26225", "ondansetron"),
        ("338036", "pegfilgrastim"),
    ],
)
def test_ingredient_code_resolves(catalog: RegimenCatalog, code: str, drug_id: str) -> None:
    result = catalog.resolve([(RXNORM, code, None)], None)
    assert result.drug is not None and result.drug.id == drug_id
    assert (result.via, result.warning) == ("rxnorm-ingredient", None)


# Product (SCD/SBD) codes as the project's external data writes them.
@pytest.mark.parametrize(
    ("code", "display", "drug_id"),
    [
        ("583214", "PACLitaxel 100 MG Injection", "paclitaxel"),
        ("1736854", "Cisplatin 50 MG Injection", "cisplatin"),
        ("309311", "cisplatin 1 MG/ML Injectable Solution", "cisplatin"),
        ("1736776", "10 ML oxaliplatin 5 MG/ML Injection", "oxaliplatin"),
        ("1803932", "Leucovorin 100 MG Injection", "leucovorin"),
        ("1734340", "Etoposide 100 MG Injection", "etoposide"),
        ("1860480", "1 ML DOCEtaxel 20 MG/ML Injection", "docetaxel"),
        ("349472", "gefitinib 250 MG Oral Tablet", "gefitinib"),
        ("1790099", "10 ML doxorubicin hydrochloride 2 MG/ML Injection", "doxorubicin"),
        ("752899", "0.25 ML Leuprolide Acetate 30 MG/ML Prefilled Syringe", "leuprolide"),
        ("727539", "0.6 ML pegfilgrastim 10 MG/ML Prefilled Syringe", "pegfilgrastim"),
    ],
)
def test_product_code_maps_to_its_ingredient(
    catalog: RegimenCatalog, code: str, display: str, drug_id: str
) -> None:
    result = catalog.resolve([(RXNORM, code, display)], None)
    assert result.drug is not None and result.drug.id == drug_id
    assert (result.via, result.warning) == ("rxnorm-product", None)


@pytest.mark.parametrize(
    ("text", "drug_id"),
    [
        ("Carboplatin", "carboplatin"),  # clinosim: text only, no coding
        ("5-FU", "fluorouracil"),
        ("5FU 400 mg/m2 bolus", "fluorouracil"),
        ("Folinic acid 50 mg", "leucovorin"),
        ("TAXOL 175 mg/m2", "paclitaxel"),
        ("Abraxane 125 mg/m2", "nab-paclitaxel"),
        ("paclitaxel protein-bound particles", "nab-paclitaxel"),  # longest name wins
        ("Keytruda 200 mg IV q3w", "pembrolizumab"),
        ("XELODA 500 MG Oral Tablet", "capecitabine"),
        ("Plan: FOLFOX — oxaliplatin 85 mg/m2", "oxaliplatin"),
        ("Zofran 8 mg", "ondansetron"),
        ("Acetaminophen 325 MG Oral Tablet", None),
        ("Taxoltherapy", None),  # whole words only
        ("", None),
    ],
)
def test_name_fallback(catalog: RegimenCatalog, text: str, drug_id: str | None) -> None:
    result = catalog.resolve([], text)
    assert (result.drug.id if result.drug else None) == drug_id
    assert result.via == ("name" if drug_id else "")
    assert result.warning is None


def test_display_alone_is_enough(catalog: RegimenCatalog) -> None:
    result = catalog.resolve([("http://example.org/local-meds", "T-1", "Trastuzumab")], None)
    assert result.drug is not None and result.drug.id == "trastuzumab"
    assert result.via == "name"


def test_code_of_another_system_is_not_read_as_rxnorm(catalog: RegimenCatalog) -> None:
    result = catalog.resolve([("http://hl7.org/fhir/sid/ndc", "4492", None)], None)
    assert result.drug is None


def test_rxnorm_oid_is_rxnorm(catalog: RegimenCatalog) -> None:
    result = catalog.resolve([("urn:oid:2.16.840.1.113883.6.88", "4492", None)], None)
    assert result.drug is not None and result.drug.id == "fluorouracil"


def test_code_resolves_to_the_formulation_the_text_names(catalog: RegimenCatalog) -> None:
    result = catalog.resolve([(RXNORM, "56946", "paclitaxel")], "Abraxane 260 mg/m2")
    assert result.drug is not None and result.drug.id == "nab-paclitaxel"
    assert (result.via, result.warning) == ("rxnorm-ingredient", None)


def test_known_clinosim_defect_3002_alendronate_is_not_counted(catalog: RegimenCatalog) -> None:
    result = catalog.resolve([(RXNORM, "3002", "Alendronate (Fosamax)")], "Alendronate")
    assert result.drug is None
    assert result.warning == (
        "RxNorm 3002 is cyclophosphamide but the text says 'Alendronate'; not counted"
    )


def test_code_contradicted_by_another_catalog_drug_takes_the_named_drug(
    catalog: RegimenCatalog,
) -> None:
    result = catalog.resolve([(RXNORM, "3002", None)], "Doxorubicin 60 mg/m2")
    assert result.drug is not None and result.drug.id == "doxorubicin"
    assert result.via == "name"
    assert result.warning is not None and "RxNorm 3002 is cyclophosphamide" in result.warning


def test_code_without_wording_is_trusted(catalog: RegimenCatalog) -> None:
    result = catalog.resolve([(RXNORM, "3002", None), (RXNORM, "3002", "  ")], None)
    assert result.drug is not None and result.drug.id == "cyclophosphamide"


def test_unknown_everything_resolves_to_nothing_without_warning(catalog: RegimenCatalog) -> None:
    result = catalog.resolve([(RXNORM, "999999999", "Investigational agent XYZ")], None)
    assert (result.drug, result.via, result.warning) == (None, "", None)


def test_resolution_is_memoised(catalog: RegimenCatalog) -> None:
    codings: list[Coding] = [(RXNORM, "4492", "Fluorouracil")]
    assert catalog.resolve(codings, "5-FU") is catalog.resolve(list(codings), "5-FU")


# ---- every oncology drug in the project's external FHIR data --------------------------

# RxNorm codes in the external data that are not cancer treatment (cpoc-rules §3).
NOT_ONCOLOGY = {
    "11253",  # vitamin D
    "1191",  # aspirin
    "83367",  # atorvastatin
    "1094107",  # phenazopyridine
    "311989",  # nitrofurantoin
    "313782",  # acetaminophen
    "705129",  # nitroglycerin
    "197604",  # digoxin
    "2001499",  # vitamin B12 injection
    "310965",  # ibuprofen
    "316049",  # hydrochlorothiazide
    "406022",  # fluoxetine
    "562251",  # amoxicillin / clavulanate
    "757594",  # norethindrone pack
    "849574",  # naproxen
    "855332",  # warfarin
    "897718",  # verapamil
}


def _concepts(node: Any) -> Iterator[tuple[list[Coding], str | None]]:
    """Every CodeableConcept with an RxNorm coding, and text-only medication concepts."""
    if isinstance(node, dict):
        concept = node.get("medicationCodeableConcept")
        if isinstance(concept, dict) and not concept.get("coding"):
            yield [], concept.get("text")
        codings = node.get("coding")
        if isinstance(codings, list) and any(c.get("system") == RXNORM for c in codings):
            yield (
                [(c.get("system"), c.get("code"), c.get("display")) for c in codings],
                node.get("text"),
            )
        for value in node.values():
            yield from _concepts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _concepts(value)


def _external_concepts() -> set[tuple[tuple[Coding, ...], str | None]]:
    if not EXTERNAL.is_dir():
        pytest.skip(f"external test data not found at {EXTERNAL}")
    found: set[tuple[tuple[Coding, ...], str | None]] = set()
    for path in sorted(EXTERNAL.rglob("*")):
        if path.suffix == ".json":
            documents = [json.loads(path.read_text(encoding="utf-8"))]
        elif path.suffix == ".ndjson":
            lines = path.read_text(encoding="utf-8").splitlines()
            documents = [json.loads(line) for line in lines if line.strip()]
        else:
            continue
        for document in documents:
            found.update((tuple(c), t) for c, t in _concepts(document))
    return found


def test_every_oncology_drug_in_the_external_data_resolves(catalog: RegimenCatalog) -> None:
    concepts = _external_concepts()
    rx_codes = {code for codings, _ in concepts for _, code, _ in codings}
    assert {"583214", "1736854", "32592", "224905", "349472"} <= rx_codes  # the data is read
    resolved: set[str] = set()
    for codings, text in sorted(concepts, key=repr):
        result = catalog.resolve(list(codings), text)
        codes = {code for _, code, _ in codings}
        if codes & NOT_ONCOLOGY:
            assert result.drug is None, (codings, text)
        elif codes == {"3002"} and text == "Alendronate":  # clinosim's known defect
            assert result.drug is None and result.warning is not None
        else:
            assert result.drug is not None and result.warning is None, (codings, text)
            resolved.add(result.drug.id)
    assert {
        "paclitaxel", "cisplatin", "oxaliplatin", "leucovorin", "fluorouracil", "etoposide",
        "docetaxel", "leuprolide", "trastuzumab", "carboplatin", "pemetrexed", "tamoxifen",
        "cyclophosphamide", "doxorubicin", "gefitinib", "idarubicin", "vincristine",
        "anastrozole", "prednisone", "crizotinib", "alectinib",
    } <= resolved  # fmt: skip
