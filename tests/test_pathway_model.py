"""Pathway files and PlanDefinitions: the criterion language, the FHIR mapping both ways, the
shipped files (published = authored, valid R4), practice folders, and the record readers of
biomarkers, histology and castration status (hand-made resources and the mCODE examples)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.plandefinition import PlanDefinition
from pathway_support import Patient

from cpoc_fhir.errors import KnowledgeError
from cpoc_fhir.fhir.read import patient_resources
from cpoc_fhir.fhir.read.pathway_facts import (
    condition_histology,
    condition_site,
    read_pathway_facts,
)
from cpoc_fhir.knowledge.loader import load_knowledge
from cpoc_fhir.pathways.library import (
    PUBLISHED,
    authored_pathways,
    load_pathways,
    publish,
    shipped_dir,
)
from cpoc_fhir.pathways.model import Criterion
from cpoc_fhir.pathways.plandefinition import from_plan_definition, to_plan_definition

EXTERNAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "external"
REQUIRED = {
    "colon-adjuvant-stage3", "crc-metastatic-line1", "crc-metastatic-line2",
    "nsclc-stage4-egfr", "nsclc-stage4-alk", "nsclc-stage4-pdl1-high", "nsclc-stage4-pdl1-low",
    "nsclc-stage4-line2", "breast-early-hr-pos-her2-neg", "breast-early-her2-pos",
    "breast-metastatic-hr-pos", "prostate-mcspc", "prostate-mcrpc", "dlbcl-line1",
}  # fmt: skip


# ---- the criterion language -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "known", "expected"),
    [
        ("PD-L1 >= 50", Decimal(50), True),
        ("PD-L1 >= 50", Decimal("49.9"), False),
        ("PD-L1 < 50", Decimal(1), True),
        ("PD-L1 >= 50", None, None),
        ("line >= 2", Decimal(2), True),
        ("line = 1", Decimal(2), False),
        ("histology in squamous, non-squamous", "squamous", True),
        ("histology in squamous, non-squamous", "small-cell", False),
        ("EGFR = negative", "positive", False),
        ("icd10 in C18, C19", ("C187",), True),
        ("icd10 in C18, C19", ("C20",), False),
        ("metastatic = yes", None, None),
    ],
)
def test_criteria_answer_yes_no_or_not_on_record(
    expression: str, known: object, expected: bool | None
) -> None:
    assert Criterion.parse(expression).holds(known) is expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("tumour = big", "unknown fact 'tumour'"),
        ("EGFR >= 2", "EGFR is not a number"),
        ("EGFR = maybe", "EGFR cannot be 'maybe'"),
        ("PD-L1 >= lots", "'lots' is not a number"),
        ("stage", "is not 'fact op value'"),
    ],
)
def test_bad_criteria_are_refused_with_where_and_what(expression: str, message: str) -> None:
    with pytest.raises(KnowledgeError) as caught:
        Criterion.parse(expression, where="file.toml pathway 'x' criteria[0]")
    assert message in str(caught.value) and "file.toml pathway 'x'" in str(caught.value)


# ---- shipped pathways --------------------------------------------------------------------------


def test_the_shipped_pathways_cover_the_issue_and_load() -> None:
    library = load_pathways(load_knowledge().regimens)
    assert set(library.by_id) >= REQUIRED
    for pathway in library.pathways:
        assert pathway.sources, pathway.id
        for regimen in pathway.regimens:
            assert load_knowledge().regimens.regimen(regimen).dosing, (pathway.id, regimen)


def test_published_plan_definitions_are_what_the_authoring_files_say() -> None:
    """No drift. Regenerate with:
    cpoc pathways publish --out cpoc_fhir/knowledge/data/pathways/published"""
    shipped = json.loads((shipped_dir() / "published" / PUBLISHED).read_text(encoding="utf-8"))
    assert shipped == publish(authored_pathways(), load_knowledge().regimens)


def test_published_bundle_is_valid_r4_and_reads_back_unchanged() -> None:
    catalog = load_knowledge().regimens
    bundle = publish(authored_pathways(), catalog)
    Bundle.model_validate(bundle)
    for entry, authored in zip(bundle["entry"], authored_pathways(), strict=True):
        PlanDefinition.model_validate(entry["resource"])
        back = from_plan_definition(entry["resource"], authored.origin)
        assert back == authored
    # The option's dose setting survives the round trip (abiraterone's prednisone in mCSPC).
    mcspc = next(p for p in authored_pathways() if p.id == "prostate-mcspc")
    assert mcspc.options[0].dose_setting == "castration-sensitive"


def test_a_practice_folder_adds_pathways_first_and_replaces_by_id(tmp_path: Path) -> None:
    catalog = load_knowledge().regimens
    shipped = load_pathways(catalog)
    melanoma = shipped.get("dlbcl-line1")
    assert melanoma is not None
    plan = to_plan_definition(melanoma, catalog)
    plan["id"] = "our-dlbcl"
    plan["url"] = "https://practice.example/PlanDefinition/our-dlbcl"
    (tmp_path / "ours.json").write_text(json.dumps(plan), encoding="utf-8")
    library = load_pathways(catalog, tmp_path)
    assert library.pathways[0].id == "our-dlbcl"
    assert len(library.pathways) == len(shipped.pathways) + 1
    only = load_pathways(catalog, tmp_path, replace=True)
    assert [p.id for p in only.pathways] == ["our-dlbcl"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('version = "1"\ncancer = "lung"\n[[pathways]]\nid = "x"\ntitle = "X"\nsetting = "s"\n'
         '[[pathways.options]]\nregimen = "no-such-regimen"\n', "'no-such-regimen' is not in"),
        ('version = "1"\ncancer = "lung"\n[[pathways]]\nid = "x"\ntitle = "X"\nsetting = "s"\n',
         "needs at least one option"),
        ('version = "1"\ncancer = "lung"\n[[pathways]]\nid = "bad id!"\ntitle = "X"\n', "FHIR id"),
        ("not toml [", "not valid TOML"),
        ('version = "1"\ncancer = "prostate"\n[[pathways]]\nid = "x"\ntitle = "X"\n'
         'setting = "s"\n[[pathways.options]]\nregimen = "abiraterone-prednisone"\n'
         'dose_setting = "castration-naive"\n', "names dose setting 'castration-naive'"),
    ],
)  # fmt: skip
def test_bad_practice_files_are_refused_naming_the_file(
    tmp_path: Path, content: str, message: str
) -> None:
    (tmp_path / "ours.toml").write_text(content, encoding="utf-8")
    with pytest.raises(KnowledgeError) as caught:
        load_pathways(load_knowledge().regimens, tmp_path)
    assert message in str(caught.value) and "ours.toml" in str(caught.value)


def test_a_plan_definition_without_the_options_action_is_refused(tmp_path: Path) -> None:
    plan = {"resourceType": "PlanDefinition", "id": "x", "url": "https://x", "status": "active",
            "action": [{"title": "something"}]}  # fmt: skip
    (tmp_path / "x.json").write_text(json.dumps(plan), encoding="utf-8")
    with pytest.raises(KnowledgeError, match="PlanDefinition/x: no action coded"):
        load_pathways(load_knowledge().regimens, tmp_path)


# ---- record readers --------------------------------------------------------------------------


def test_markers_latest_result_wins_and_pdl1_needs_a_score() -> None:
    patient = Patient("p").egfr(False).pdl1(30)
    patient.gene("HGNC:3236", "EGFR", True, on="2025-05-01")  # re-biopsy: now positive
    patient._add(
        {"resourceType": "Observation", "status": "final", "subject": {"reference": "Patient/p"},
         "code": {"text": "PD-L1 IHC"}, "effectiveDateTime": "2025-06-01",
         "valueCodeableConcept": {"text": "Positive"}}
    )  # fmt: skip
    facts = read_pathway_facts(patient_resources(patient.resources, "Patient/p"), date(2025, 7, 1))
    assert facts.markers["EGFR"].value == "positive"
    assert facts.markers["PD-L1"].value == Decimal(30)  # the later result has no score
    assert any("without a tumour proportion score" in n for n in facts.notes)
    before = read_pathway_facts(patient_resources(patient.resources, "Patient/p"), date(2025, 2, 1))
    assert before.markers["EGFR"].value == "negative"


def test_histology_site_and_castration_from_conditions() -> None:
    def condition(code: str, system: str, text: str) -> dict[str, object]:
        return {"resourceType": "Condition", "id": "c",
                "code": {"coding": [{"system": system, "code": code}], "text": text}}  # fmt: skip

    icd = "http://hl7.org/fhir/sid/icd-10-cm"
    assert (
        condition_histology(condition("C34.1", icd, "Squamous cell carcinoma of lung"))
        == "squamous"
    )
    assert condition_histology(condition("C34.1", icd, "Non-squamous NSCLC")) == "non-squamous"
    assert (
        condition_histology(
            condition("254626006", "http://snomed.info/sct", "Adenocarcinoma of lung")
        )
        == "non-squamous"
    )
    assert condition_histology(condition("C34.1", icd, "Malignant neoplasm of lung")) is None
    assert condition_histology(condition("C83.30", icd, "Lymphoma")) == "dlbcl"
    assert condition_site(condition("C20", icd, "Malignant neoplasm of rectum")) == "rectum"
    assert condition_site(condition("C18.7", icd, "Sigmoid")) == "colon"
    resistant = Patient("q").condition("Z19.2", "Hormone resistant malignancy status")
    facts = read_pathway_facts(
        patient_resources(resistant.resources, "Patient/q"), date(2026, 1, 1)
    )
    assert facts.castration is not None and facts.castration.value == "resistant"


def test_mcode_example_breast_markers() -> None:
    """The mCODE STU4 patient bundle (Jenny M): ER positive, PR negative, HER2 negative."""
    path = EXTERNAL / "mcode_stu4_examples" / "Bundle-mcode-patient-bundle-jenny-m.json"
    if not path.exists():
        pytest.skip("shared external data not present")
    bundle = json.loads(path.read_text(encoding="utf-8"))
    resources = [e["resource"] for e in bundle["entry"]]
    facts = read_pathway_facts(
        patient_resources(resources, "Patient/cancer-patient-jenny-m"), date(2030, 1, 1)
    )
    assert facts.markers["ER"].value == "positive"
    assert facts.markers["PR"].value == "negative"
    assert facts.markers["HER2"].value == "negative"
