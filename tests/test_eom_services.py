"""EOM enhanced services (value-and-models §15.2) read from FHIR JSON and reported per
episode by ``cpoc report eom-services``; the M0010 ChargeItem's HCPCS coding."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from episode_facts import administered
from ocm_fhir import colon_patient, write_bundle

from cpoc_fhir.cli import main


def _patient(pid: str, with_services: bool) -> list[dict[str, Any]]:
    subject = {"reference": f"Patient/{pid}"}
    resources = colon_patient(pid, "2025-01-10", "2025-03-03")
    if with_services:
        resources += [
            {
                "resourceType": "Observation",
                "id": f"{pid}-hrsn",
                "status": "final",
                "subject": subject,
                "code": {"coding": [{"system": "http://loinc.org", "code": "96777-8"}]},
                "effectiveDateTime": "2025-03-10",
            },
            {
                "resourceType": "QuestionnaireResponse",
                "id": f"{pid}-pro",
                "status": "completed",
                "subject": subject,
                "questionnaire": "http://example.org/Questionnaire/promis",
                "authored": "2025-04-01",
            },
        ]
    return resources


def _bundle(tmp_path: Path) -> Path:
    return write_bundle(tmp_path / "bundle.json", _patient("p1", True) + _patient("p2", False))


def test_the_services_report_names_the_evidence_and_the_episode_lacking_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both patients: colon cancer, oxaliplatin 2025-03-03 → episode 2025-03-03..2025-09-02.
    # p1 has an AHC HRSN screening on 03-10 and a completed ePRO on 04-01 within it; p2 none.
    settings = tmp_path / "cpoc.toml"
    settings.write_text('[models]\ndefault = "eom"\n', encoding="utf-8")
    monkeypatch.setenv("CPOC_CONFIG", str(settings))
    code = main(
        [
            "report",
            "eom-services",
            str(_bundle(tmp_path)),
            "--as-of",
            "2025-12-31",
            "--format",
            "json",
            "--config",
            str(settings),
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    by_patient = {row["patient"]: row for row in result["episodes"]}
    assert by_patient["Patient/p1"]["evidence"] == {
        "hrsn_screening": ["Observation/p1-hrsn"],
        "epro": ["QuestionnaireResponse/p1-pro"],
    }
    assert by_patient["Patient/p1"]["missing"] == []
    assert by_patient["Patient/p2"]["missing"] == ["hrsn_screening", "epro"]
    assert (by_patient["Patient/p2"]["start"], by_patient["Patient/p2"]["end"]) == (
        "2025-03-03",
        "2025-09-02",
    )
    assert result["totals"] == {
        "episodes": 2,
        "complete": 1,
        "lacking": 1,
        "lacking_hrsn_screening": 1,
        "lacking_epro": 1,
    }


def test_the_charge_item_of_an_m0010_line_validates_with_the_hcpcs_coding() -> None:
    from datetime import date, datetime

    from fhir.resources.R4B.chargeitem import ChargeItem

    from cpoc_fhir.config import load_config, load_payer
    from cpoc_fhir.engine.facts import (
        Diagnosis,
        PatientRecord,
    )
    from cpoc_fhir.fhir.write import ChargeContext, PublishSettings, build_charge_item
    from cpoc_fhir.knowledge.loader import load_knowledge
    from cpoc_fhir.packs.base import HCPCS
    from cpoc_fhir.packs.settings import ModelSettings
    from cpoc_fhir.service import Evaluator

    payer = load_payer(None)
    config = load_config(environ={})
    evaluator = Evaluator(
        load_knowledge(), config.rules, payer, models=ModelSettings(default="eom")
    )
    exposure = administered("a1", "oxaliplatin", date(2025, 3, 3))
    record = PatientRecord(
        "Patient/p1",
        diagnoses=(Diagnosis("Condition/c1", icd10=("C180",), onset=date(2025, 1, 1)),),
        exposures=(exposure,),
    )
    line = evaluator.evaluate(record, date(2025, 3, 31)).lines[0]
    context = ChargeContext(
        patient_ref="Patient/p1",
        episode_ref=None,
        diagnosis=None,
        entered=datetime(2025, 3, 3, 9, tzinfo=UTC),
        payer=payer,
        settings=PublishSettings(),
    )
    item = build_charge_item(line, context)
    ChargeItem.model_validate(item)
    codings = item["code"]["coding"]
    assert {"system": HCPCS, "code": "M0010"}.items() <= codings[0].items()


def test_only_counted_statuses_and_codes_become_enhanced_service_facts(tmp_path: Path) -> None:
    # p1's screening entered in error, a non-HRSN LOINC (8867-4 heart rate) and an in-progress
    # response are not counted; the completed response is.
    from cpoc_fhir.fhir.read import open_source
    from cpoc_fhir.fhir.read.record import read_record
    from cpoc_fhir.knowledge.loader import load_knowledge

    resources = _patient("p1", True)
    resources[3]["status"] = "entered-in-error"
    subject = {"reference": "Patient/p1"}
    resources += [
        {
            "resourceType": "Observation",
            "id": "hr",
            "status": "final",
            "subject": subject,
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "effectiveDateTime": "2025-03-10",
        },
        {
            "resourceType": "QuestionnaireResponse",
            "id": "draft",
            "status": "in-progress",
            "subject": subject,
            "authored": "2025-04-02",
        },
    ]
    path = tmp_path / "p1.json"
    bundle = {"resourceType": "Bundle", "type": "collection"}
    bundle["entry"] = [{"resource": r} for r in resources]
    path.write_text(json.dumps(bundle), encoding="utf-8")
    (patient,) = list(open_source(path).patients())
    record = read_record(patient, load_knowledge())
    assert record.social_needs_screenings == ()
    assert [o.ref for o in record.patient_reported_outcomes] == ["QuestionnaireResponse/p1-pro"]
