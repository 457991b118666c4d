"""Option 1, CPOC by cancer type (value-and-models §14.3): the setting, the engine, FFS
conflicts. The hooks and capture are in test_cancer_types_hooks.py / _capture.py."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpoc_fhir.cli import bundled_examples, main
from cpoc_fhir.config import load_config, load_payer
from cpoc_fhir.engine.facts import CancerRole, Diagnosis
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.errors import InputError
from cpoc_fhir.fhir.read import patient_resources
from cpoc_fhir.knowledge.loader import load_knowledge
from cpoc_fhir.packs.cpoc.cancer_types import NOT_CPOC_CANCER_TYPE, patient_cancer_types
from cpoc_fhir.packs.cpoc.ffs import FfsCharge, ffs_conflicts, timeline_conflicts
from cpoc_fhir.render import timeline_table
from cpoc_fhir.service import Evaluator

AS_OF = date(2025, 10, 5)
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"


def example(name: str, *extra: dict[str, Any]) -> Any:
    bundle = json.loads((bundled_examples() / f"{name}.json").read_text(encoding="utf-8"))
    resources = [e["resource"] for e in bundle["entry"]] + list(extra)
    return patient_resources(resources, f"Patient/{name}")


def evaluator(types: tuple[str, ...] | None) -> Evaluator:
    return Evaluator(load_knowledge(), RuleSettings(cpoc_cancer_types=types), load_payer(None))


def condition(patient: str, code: str, onset: str, cid: str = "second-primary") -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": cid,
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active",
                }
            ]
        },
        "code": {"coding": [{"system": ICD10, "code": code}]},
        "subject": {"reference": f"Patient/{patient}"},
        "onsetDateTime": onset,
    }


def test_default_bills_every_cancer_type_under_cpoc() -> None:
    # Appendix A (colon cancer, FOLFOX) has its CPOC lines with no setting.
    timeline = evaluator(None).timeline(example("appendix-a-folfox"), AS_OF)
    assert timeline.lines and timeline.fee_for_service is None


def test_other_cancer_type_gets_no_lines_and_one_notice() -> None:
    timeline = evaluator(("lung", "breast")).timeline(example("appendix-a-folfox"), AS_OF)
    assert timeline.lines == ()
    notice = f"{NOT_CPOC_CANCER_TYPE} (colorectal; CPOC covers lung, breast) (V-B.2)"
    assert timeline.warnings == (notice,)
    assert timeline.fee_for_service == notice
    assert timeline.as_json()["feeForService"] == notice
    assert f"(no CPOC lines: {notice})" in timeline_table(timeline, width=None)


def test_listed_type_keeps_its_lines_unchanged() -> None:
    # Appendix B (NSCLC): the same 10 lines with and without the setting.
    resources = example("appendix-b-nsclc")
    everything = evaluator(None).timeline(resources, AS_OF)
    lung_only = evaluator(("lung",)).timeline(resources, AS_OF)
    assert lung_only == everything
    assert len(lung_only.lines) == 10 and "feeForService" not in lung_only.as_json()


def test_two_primaries_one_of_a_cpoc_type_bill_under_cpoc() -> None:
    # Colon cancer treated with FOLFOX, and a lung primary (C34.1) diagnosed later: one CPOC
    # type is enough, so the patient's lines are those of the unrestricted timeline.
    lung = condition("appendix-a-folfox", "C34.1", "2025-06-02")
    resources = example("appendix-a-folfox", lung)
    restricted = evaluator(("lung",)).timeline(resources, AS_OF)
    assert restricted == evaluator(None).timeline(resources, AS_OF)
    assert restricted.lines and restricted.fee_for_service is None


def test_the_second_primary_counts_only_once_known() -> None:
    # As of 2025-05-01 the lung primary (onset 2025-06-02) is not yet on record.
    lung = condition("appendix-a-folfox", "C34.1", "2025-06-02")
    early = evaluator(("lung",)).timeline(example("appendix-a-folfox", lung), date(2025, 5, 1))
    assert early.lines == () and early.fee_for_service is not None


def test_patient_cancer_types() -> None:
    primary = Diagnosis("Condition/a", cancer_role=CancerRole.PRIMARY, cancer_type="breast")
    unplaced = Diagnosis("Condition/b", cancer_role=CancerRole.PRIMARY, cancer_type=None)
    secondary = Diagnosis("Condition/c", cancer_role=CancerRole.SECONDARY)
    other = Diagnosis("Condition/d")
    record = evaluator(None).record(example("appendix-a-folfox"))
    assert patient_cancer_types(replace(record, diagnoses=(primary, unplaced))) == {
        "breast",
        "other",
    }
    # A metastasis with no primary on record: "other"; no cancer at all: no type.
    assert patient_cancer_types(replace(record, diagnoses=(secondary,))) == {"other"}
    assert patient_cancer_types(replace(record, diagnoses=(other,))) == frozenset()


def test_no_cancer_on_record_is_billed_fee_for_service_when_types_are_listed() -> None:
    settings = RuleSettings(cpoc_cancer_types=("other",))
    assert settings.is_cpoc_cancer(frozenset({"other"}))
    assert not settings.is_cpoc_cancer(frozenset())
    assert RuleSettings().is_cpoc_cancer(frozenset())


def test_fee_for_service_patients_have_no_ffs_conflicts() -> None:
    resources = example("appendix-a-folfox")
    cpoc = evaluator(None).timeline(resources, AS_OF)
    # An established-patient visit (99214, replaced by CPOC) inside a CPOC month.
    month = next(line for line in cpoc.lines if line.month == 2)
    charge = FfsCharge("ChargeItem/ffs-1", "99214", month.start)
    assert len(timeline_conflicts([charge], cpoc)) == 1
    assert len(ffs_conflicts([charge], cpoc.lines)) == 1
    restricted = evaluator(("lung",)).timeline(resources, AS_OF)
    assert timeline_conflicts([charge], restricted) == []


def test_setting_from_the_file_and_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "cpoc.toml"
    config.write_text('[rules]\ncpoc_cancer_types = ["lung", "breast"]\n', encoding="utf-8")
    assert load_config(config, {}).rules.cpoc_cancer_types == ("lung", "breast")
    env = {"CPOC_RULES_CPOC_CANCER_TYPES": "colorectal, lung"}
    assert load_config(None, env).rules.cpoc_cancer_types == ("colorectal", "lung")
    assert load_config(None, {}).rules.cpoc_cancer_types is None


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        (
            '[rules]\ncpoc_cancer_types = ["lungs"]\n',
            {},
            "cpoc_cancer_types: 'lungs': unknown cancer type (did you mean lung?)",
        ),
        ("[rules]\ncpoc_cancer_types = []\n", {}, "cpoc_cancer_types cannot be empty"),
        ('[rules]\ncpoc_cancer_types = "lung"\n', {}, "expected a list of text values"),
        ("", {"CPOC_RULES_CPOC_CANCER_TYPES": "lung,colon"}, "'colon': unknown cancer type"),
    ],
)
def test_bad_settings_are_refused(
    tmp_path: Path, text: str, env: dict[str, str], message: str
) -> None:
    config = tmp_path / "cpoc.toml"
    config.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_config(config, env)
    assert message in str(caught.value)
    assert str(caught.value).startswith("CPOC_RULES_" if env else str(config))


def test_timeline_command_shows_the_notice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "cpoc.toml"
    config.write_text('[rules]\ncpoc_cancer_types = ["lung"]\n', encoding="utf-8")
    args = ["--config", str(config), "timeline", "--as-of", "2025-10-05", "--format", "json"]
    assert main(args) == 0
    patients = {p["patient"]: p for p in json.loads(capsys.readouterr().out)["patients"]}
    assert patients["Patient/appendix-b-nsclc"]["lines"]
    folfox = patients["Patient/appendix-a-folfox"]
    assert folfox["lines"] == [] and folfox["feeForService"].startswith(NOT_CPOC_CANCER_TYPE)


KNOWN_TYPES = sorted(load_knowledge().conditions.cancer_types)
RESOURCES = {
    name: example(name) for name in ("appendix-a-folfox", "appendix-b-nsclc", "declined-treatment")
}
UNRESTRICTED = {name: evaluator(None).timeline(r, AS_OF) for name, r in RESOURCES.items()}


@settings(max_examples=40, deadline=None)
@given(st.sets(st.sampled_from(KNOWN_TYPES), min_size=1), st.sampled_from(sorted(RESOURCES)))
def test_a_timeline_is_whole_or_fee_for_service(types: set[str], name: str) -> None:
    # Whatever types are listed, a patient keeps every line of the unrestricted timeline
    # (one of its types listed) or none, with the notice as its only warning.
    timeline = evaluator(tuple(sorted(types))).timeline(RESOURCES[name], AS_OF)
    full = UNRESTRICTED[name]
    record = evaluator(None).record(RESOURCES[name])
    if patient_cancer_types(record) & types or not full.lines:
        assert timeline == full
    else:
        assert timeline.lines == () and timeline.warnings == (timeline.fee_for_service,)
