"""Condition classification: cancer role and type, toxicity (§7 (b)), late effects (§6)."""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from cpoc_fhir.engine.facts import CancerRole
from cpoc_fhir.errors import KnowledgeError
from cpoc_fhir.knowledge.charlson import CharlsonMap
from cpoc_fhir.knowledge.conditions import ConditionClass, ConditionKnowledge, normalize_icd10
from cpoc_fhir.knowledge.loader import read_data_file

P, S, N = CancerRole.PRIMARY, CancerRole.SECONDARY, CancerRole.NONE
EXTERNAL = Path(__file__).parents[1].parent / "shared" / "data" / "external"


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    return read_data_file("conditions.toml")


@pytest.fixture(scope="module")
def knowledge(data: dict[str, Any]) -> ConditionKnowledge:
    return ConditionKnowledge.from_data(data)


def test_normalize_icd10() -> None:
    assert normalize_icd10(" e11.22 ") == "E1122"
    assert normalize_icd10("T45.1X5A") == "T451X5A"


@pytest.mark.parametrize(
    ("code", "role", "kind"),
    [
        ("C34.90", P, "lung"),
        ("C3411", P, "lung"),
        ("c18.9", P, "colorectal"),
        ("C19", P, "colorectal"),
        ("C20", P, "colorectal"),
        ("C21.0", P, "other"),  # anal canal: not grouped with colorectal
        ("C50.919", P, "breast"),
        ("C61", P, "prostate"),
        ("C25.0", P, "pancreas"),
        ("C15.9", P, "gastroesophageal"),
        ("C16.0", P, "gastroesophageal"),
        ("C56.1", P, "ovarian"),
        ("C67.9", P, "bladder"),
        ("C64.1", P, "kidney"),
        ("C43.9", P, "melanoma"),
        ("C02.1", P, "head-and-neck"),
        ("C32.9", P, "head-and-neck"),
        ("C71.9", P, "brain"),
        ("C81.90", P, "lymphoma"),
        ("C83.30", P, "lymphoma"),
        ("C90.00", P, "myeloma"),
        ("C91.10", P, "leukemia"),
        ("C92.00", P, "leukemia"),
        ("C73", P, "other"),
        ("C44.91", P, "other"),
        ("C4A.9", P, "other"),
        ("C7A.010", P, "other"),
        ("C80.1", P, "other"),
        ("C77.3", S, None),
        ("C78.00", S, None),
        ("C78.7", S, None),
        ("C79.51", S, None),
        ("C79.81", S, None),
        ("C7B.02", S, None),
        ("C80.0", S, None),  # disseminated
        ("D05.10", P, "breast"),  # in situ counts
        ("D07.5", P, "prostate"),
        ("D09.0", P, "bladder"),
        ("D04.5", N, None),  # ... except in situ of skin
        ("D45", P, "other"),  # myeloid neoplasms count
        ("D46.9", P, "other"),
        ("D47.1", P, "other"),
        ("D47.3", P, "other"),
        ("D47.2", N, None),  # monoclonal gammopathy: not a cancer
        ("D12.6", N, None),  # benign
        ("D49.2", N, None),  # unspecified behaviour
        ("Z85.3", N, None),  # personal history
        ("E11.9", N, None),
    ],
)
def test_icd10(
    knowledge: ConditionKnowledge, code: str, role: CancerRole, kind: str | None
) -> None:
    result = knowledge.classify([code], [])
    assert (result.cancer_role, result.cancer_type) == (role, kind)


@pytest.mark.parametrize(
    ("code", "role", "kind"),
    [
        ("254637007", P, "lung"),
        ("424132000", P, "lung"),
        ("425048006", P, "lung"),
        ("423121009", P, "lung"),
        ("254632001", P, "lung"),
        ("67811000119102", P, "lung"),
        ("363406005", P, "colorectal"),
        ("93761005", P, "colorectal"),
        ("109838007", P, "colorectal"),
        ("254837009", P, "breast"),
        ("408643008", P, "breast"),
        ("353431000119107", P, "breast"),
        ("399068003", P, "prostate"),
        ("126906006", P, "prostate"),  # Synthea's prostate cancer (see conditions.toml)
        ("92691004", P, "prostate"),  # carcinoma in situ of prostate
        ("91861009", P, "leukemia"),
        ("92814006", P, "leukemia"),
        ("277571004", P, "leukemia"),
        ("118600007", P, "lymphoma"),
        ("109989006", P, "myeloma"),
        ("363346000", P, "other"),
        ("372087000", P, "other"),
        ("128462008", S, None),
        ("94225005", S, None),
        ("94222008", S, None),
        ("94381002", S, None),
        ("94391008", S, None),
        ("94260004", S, None),
        ("94503003", S, None),
        ("162573006", N, None),  # suspected lung cancer
        ("315268008", N, None),  # suspected prostate cancer
        ("38341003", N, None),  # hypertension: unknown to the list, no wording
    ],
)
def test_snomed(
    knowledge: ConditionKnowledge, code: str, role: CancerRole, kind: str | None
) -> None:
    result = knowledge.classify([], [code])
    assert (result.cancer_role, result.cancer_type) == (role, kind)


@pytest.mark.parametrize(
    ("text", "role", "kind"),
    [
        ("Non-small cell lung cancer", P, "lung"),
        ("Malignant neoplasm of colon", P, "colorectal"),
        ("Adenocarcinoma of prostate", P, "prostate"),
        ("Acute myeloid leukaemia", P, "leukemia"),
        ("Diffuse large B-cell lymphoma of stomach", P, "lymphoma"),
        ("Multiple myeloma", P, "myeloma"),
        ("Glioblastoma", P, "brain"),
        ("Neuroblastoma", P, "other"),
        ("Pleural mesothelioma", P, "other"),
        ("Ewing sarcoma", P, "other"),
        ("Melanoma of skin of lip", P, "melanoma"),
        ("Squamous cell carcinoma of tongue", P, "head-and-neck"),
        ("Pancreatic cancer", P, "pancreas"),
        ("Carcinoma in situ of breast", P, "breast"),
        ("Non-metastatic breast cancer", P, "breast"),
        ("Secondary malignant neoplasm of liver", S, None),
        ("Metastasis to bone", S, None),
        ("Breast cancer, metastatic to liver", S, None),
        ("Suspected lung cancer (situation)", N, None),
        ("History of breast cancer", N, None),
        ("Family history of colon cancer", N, None),
        ("Screening for malignant neoplasm of cervix", N, None),
        ("Benign neoplasm of colon", N, None),
        ("Fear of cancer", N, None),
        ("At risk for breast cancer", N, None),
        ("Premalignant lesion of skin", N, None),
        ("Cancer-related pain", N, None),
        ("Malignant hypertension", N, None),
        ("Neuroleptic malignant syndrome", N, None),
        ("Secondary hypertension", N, None),
        ("Osteoblastoma", N, None),  # benign bone tumour
        ("Sarcoidosis", N, None),
        ("Polyp of colon", N, None),
        ("", N, None),
    ],
)
def test_text_fallback(
    knowledge: ConditionKnowledge, text: str, role: CancerRole, kind: str | None
) -> None:
    result = knowledge.classify([], [], text)
    assert (result.cancer_role, result.cancer_type) == (role, kind)


@pytest.mark.parametrize(
    ("icd10", "snomed", "text", "role", "kind"),
    [
        # mCODE extraction fixture: ICD-10-CM secondary beats a primary SNOMED translation.
        (["C79.81"], ["188152004"], "Malignant neoplasm of breast", S, None),
        # A coded non-cancer is not overruled by its wording...
        (["R91.8"], [], "Lung cancer", N, None),
        (["Z51.11"], [], "Chemotherapy for breast cancer", N, None),
        # ... but a SNOMED cancer concept next to it decides.
        (["R97.20"], ["399068003"], "", P, "prostate"),
        # An unknown SNOMED code leaves the wording to decide; a listed "none" does not.
        ([], ["999999999"], "Carcinoma of colon", P, "colorectal"),
        ([], ["162573006"], "Lung cancer", N, None),
        # The type of an unspecified code comes from the other codes or the wording.
        (["C80.1"], ["254837009"], "", P, "breast"),
        (["C80.1"], [], "Malignant neoplasm of lung, primary", P, "lung"),
        (["C34.90", "C78.00"], [], "", S, None),
    ],
)
def test_precedence(
    knowledge: ConditionKnowledge,
    icd10: list[str],
    snomed: list[str],
    text: str,
    role: CancerRole,
    kind: str | None,
) -> None:
    result = knowledge.classify(icd10, snomed, text)
    assert (result.cancer_role, result.cancer_type) == (role, kind)


@pytest.mark.parametrize(
    ("icd10", "text", "toxicity", "late_effect"),
    [
        (["T45.1X5A"], "", True, False),
        (["T451X5D"], "", True, False),
        (["T45.1X5S"], "", True, True),  # sequela: also a late effect
        (["T45.1X1A"], "", False, False),  # poisoning, not an adverse effect
        (["D61.810"], "", True, False),
        (["D61.811"], "", False, False),  # other drug-induced pancytopenia
        (["D70.1"], "", True, False),
        (["D70.0"], "", False, False),
        (["D64.81"], "", True, False),
        (["K12.31"], "", True, False),
        (["K12.30"], "", False, False),
        (["G62.0"], "", True, True),
        (["I42.7"], "", True, True),
        (["I97.2"], "", False, True),
        (["I89.0"], "", False, True),
        (["E89.0"], "", False, True),
        (["E89.41"], "", False, True),
        (["J70.1"], "", False, True),
        (["N18.4"], "", False, False),
        (["Z92.21"], "History of antineoplastic chemotherapy", False, False),
        ([], "Chemotherapy-induced nausea and vomiting", True, False),
        (["D70.9"], "Neutropenia due to chemotherapy", True, False),
        ([], "History of chemotherapy-induced neuropathy", False, False),
        ([], "Nausea", False, False),
    ],
)
def test_toxicity_and_late_effects(
    knowledge: ConditionKnowledge, icd10: list[str], text: str, toxicity: bool, late_effect: bool
) -> None:
    result = knowledge.classify(icd10, [], text)
    assert (result.toxicity, result.late_effect) == (toxicity, late_effect)
    assert result.cancer_role is N


def test_practice_replaces_late_effects(knowledge: ConditionKnowledge) -> None:
    practice = knowledge.with_overrides({"late_effects": {"icd10": ["N18", "I89.0"]}})
    assert practice.classify(["N18.4"], []).late_effect
    assert practice.classify(["I89.0"], []).late_effect
    assert not practice.classify(["G62.0"], []).late_effect
    assert practice.classify(["G62.0"], []).toxicity  # other tables untouched
    assert practice.classify(["C61"], []).cancer_type == "prostate"
    assert not knowledge.classify(["N18.4"], []).late_effect  # the shipped one is unchanged


def test_practice_override_is_validated(knowledge: ConditionKnowledge) -> None:
    with pytest.raises(KnowledgeError, match=re.escape("late_effects.snomed: 'x1'")):
        knowledge.with_overrides({"late_effects": {"snomed": ["x1"]}})


def test_classify_is_memoised(knowledge: ConditionKnowledge) -> None:
    first = knowledge.classify(["C18.9"], [], "Colon cancer")
    assert knowledge.classify(["C18.9"], [], "Colon cancer") is first
    assert first == ConditionClass(cancer_role=P, cancer_type="colorectal")


def test_data_file_header(data: dict[str, Any]) -> None:
    path = resources.files("cpoc_fhir.knowledge") / "data" / "conditions.toml"
    header = path.read_text(encoding="utf-8").split("\n\n")[0]
    for word in ("Version", "Date", "Sources", "In-situ", "Myeloid", "126906006", "Late effects"):
        assert word in header
    assert data["version"] and data["date"]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["cancer", "icd10", "primary", 0], "C00-C9X", "cancer.icd10.primary: range 'C00-C9X'"),
        (["cancer", "icd10", "types", "liver"], ["C22"], "types.liver: unknown cancer type"),
        (["cancer", "icd10", "types", "lung"], ["C34", "C50"], "'C50' is already 'lung'"),
        (["cancer", "types"], ["lung"], "must include 'other'"),
        (["cancer", "snomed", "codes", 0, "role"], "main", "'254637007'): role must be"),
        (["cancer", "snomed", "codes", 0, "type"], None, "'254637007'): a primary needs"),
        (["cancer", "snomed", "codes", 0, "type"], "lungs", "'254637007'): a primary needs"),
        (["cancer", "snomed", "codes", 1, "code"], "254637007", "listed twice"),
        (["cancer", "text", "cancer", 0], "(unclosed", "cancer.text.cancer: bad pattern"),
        (["cancer", "text", "types", 0, "type"], "blood", "cancer.text.types[0]"),
        (["toxicity", "icd10"], "T45.1X5", "toxicity.icd10: expected a list"),
        (["late_effects", "snomed"], ["0123"], "late_effects.snomed: '0123'"),
    ],
)
def test_malformed_data_names_the_entry(
    data: dict[str, Any], path: list[Any], value: Any, message: str
) -> None:
    broken = copy.deepcopy(data)
    target: Any = broken
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(KnowledgeError, match=re.escape(message)):
        ConditionKnowledge.from_data(broken)


# --- the external FHIR test data (read-only, shared/data/external) -------------------------

# Per file: the cancers found, as (role, type) counts, and the Charlson categories found.
EXPECTED: dict[str, tuple[dict[tuple[str, str | None], int], set[str]]] = {
    "clinosim_us_generated/clinosim_us_seed42_carbopem_lung.ndjson": (
        {("primary", "lung"): 1},
        {"malignancy"},
    ),
    "clinosim_us_generated/clinosim_us_seed42_folfox_esophagus.ndjson": (
        {("primary", "gastroesophageal"): 1},
        {"malignancy", "renal"},
    ),
    "clinosim_us_generated/clinosim_us_seed42_trastuzumab_breast.ndjson": (
        {("primary", "breast"): 1},
        {"malignancy"},
    ),
    "mcode_extraction_fixtures/primary-cancer-condition.json": (
        {("primary", "breast"): 1},
        {"malignancy"},
    ),
    "mcode_extraction_fixtures/secondary-cancer-condition.json": (
        {("secondary", None): 1},
        {"metastatic_solid_tumor"},
    ),
    "mcode_stu4_examples/Bundle-mcode-patient-bundle-jenny-m.json": (
        {("primary", "breast"): 1},
        set(),
    ),
    "mcode_stu4_examples/Condition-john-anyperson-chf.json": ({}, {"congestive_heart_failure"}),
    # 363346000 "Malignant neoplastic disease": the breast is only in bodySite.
    "mcode_stu4_examples/Condition-primary-cancer-condition-breast.json": (
        {("primary", "other"): 1},
        set(),
    ),
    "mcode_stu4_examples/Condition-primary-cancer-condition-brian-l.json": (
        {("primary", "leukemia"): 1},
        set(),
    ),
    "mcode_stu4_examples/Condition-primary-cancer-condition-cll.json": (
        {("primary", "leukemia"): 1},
        set(),
    ),
    "mcode_stu4_examples/Condition-primary-cancer-condition-jenny-m.json": (
        {("primary", "breast"): 1},
        set(),
    ),
    # Profiled as a primary, coded 128462008 "Metastatic malignant neoplasm": metastatic.
    "mcode_stu4_examples/Condition-primary-cancer-condition-nonspecific.json": (
        {("secondary", None): 1},
        set(),
    ),
    "mcode_stu4_examples/Condition-primary-cancer-condition-nsclc.json": (
        {("primary", "lung"): 1},
        set(),
    ),
    "mcode_stu4_examples/Condition-secondary-cancer-condition-brain-mets.json": (
        {("secondary", None): 1},
        set(),
    ),
    "synthea_bulk_10pt_subset/Condition.sumiko.ndjson": (
        {("primary", "lung"): 2, ("primary", "breast"): 1},
        set(),
    ),
    "synthea_r4_transaction/Andy_Schaden_d630c6ca-046c-470a-8f3a-4dbc3850e7ae.json": (
        {("primary", "prostate"): 2},
        {"cerebrovascular"},
    ),
    "synthea_r4_transaction/Austin_Franecki_f23eef30-acb2-49da-8091-159b61dc1ed5.json": (
        {("primary", "lung"): 2},
        set(),
    ),
    "synthea_r4_transaction/Gabriela_Streich_2469aaa6-cd76-46be-89cf-1443858151b5.json": (
        {("primary", "colorectal"): 1},
        set(),
    ),
    "synthea_r4_transaction/Sherman_McGlynn_8ef2ef98-48c5-427e-80d4-5e8f30ac8bf5.json": (
        {("primary", "prostate"): 2, ("primary", "lung"): 2},
        set(),
    ),
}


def _conditions(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        if value.get("resourceType") == "Condition":
            yield value
        for item in value.values():
            yield from _conditions(item)
    elif isinstance(value, list):
        for item in value:
            yield from _conditions(item)


def _codes(condition: dict[str, Any]) -> tuple[list[str], list[str], str]:
    code = condition.get("code", {})
    codings = code.get("coding", [])
    icd = [c["code"] for c in codings if "sid/icd-10" in c.get("system", "")]
    sct = [c["code"] for c in codings if c.get("system") == "http://snomed.info/sct"]
    text = code.get("text") or next((c["display"] for c in codings if c.get("display")), "")
    return icd, sct, text


def _external_files() -> list[Path]:
    if not EXTERNAL.is_dir():
        return []
    return sorted(p for p in EXTERNAL.rglob("*") if p.suffix in {".json", ".ndjson"})


@pytest.mark.skipif(not EXTERNAL.is_dir(), reason="shared/data/external is not present")
def test_external_conditions_classified(knowledge: ConditionKnowledge) -> None:
    charlson = CharlsonMap.from_data(read_data_file("charlson.toml"))
    found: dict[str, tuple[dict[tuple[str, str | None], int], set[str]]] = {}
    total = 0
    for path in _external_files():
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".ndjson":
            docs = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            docs = [json.loads(text)]
        cancers: Counter[tuple[str, str | None]] = Counter()
        categories: set[str] = set()
        for condition in (c for doc in docs for c in _conditions(doc)):
            icd, sct, wording = _codes(condition)
            result = knowledge.classify(icd, sct, wording)
            total += 1
            if result.cancer_role is not N:
                cancers[(result.cancer_role.value, result.cancer_type)] += 1
            assert not (result.toxicity or result.late_effect), condition.get("id")
            categories |= charlson.categories(icd, sct)
        if cancers or categories:
            found[str(path.relative_to(EXTERNAL))] = (dict(cancers), categories)
    assert total > 100
    assert found == EXPECTED
