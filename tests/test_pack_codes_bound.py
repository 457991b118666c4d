"""A pack's codes come from the data file it is bound with (value-and-models §15): a practice
overriding EOM's MEOS code in ``[models] data_files.eom`` gets lines, ``code_entry`` lookups
and ChargeItem codings that all carry its code."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from episode_facts import administered
from fhir.resources.R4B.chargeitem import ChargeItem

from cpoc_fhir.config import load_config, load_payer
from cpoc_fhir.engine.facts import (
    Diagnosis,
    PatientRecord,
)
from cpoc_fhir.fhir.write.charge_item import ChargeContext, build_charge_item
from cpoc_fhir.fhir.write.publish import PublishSettings, line_codings
from cpoc_fhir.knowledge.loader import load_knowledge
from cpoc_fhir.packs.base import HCPCS
from cpoc_fhir.packs.eom.pack import DATA_FILE
from cpoc_fhir.packs.registry import code_entry, load_pack, pack_codes
from cpoc_fhir.packs.settings import ModelSettings
from cpoc_fhir.service import Evaluator


def _override(tmp_path: Path) -> Path:
    """The shipped EOM file with its MEOS code and display replaced."""
    text = DATA_FILE.read_text(encoding="utf-8")
    assert 'code = "M0010"' in text
    text = text.replace('code = "M0010"', 'code = "M9999"').replace(
        'display = "Monthly enhanced oncology services (EOM MEOS)"',
        'display = "Practice MEOS code"',
    )
    path = tmp_path / "eom-practice.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _record() -> PatientRecord:
    exposure = administered("a1", "oxaliplatin", date(2025, 3, 3))
    return PatientRecord(
        "Patient/p1",
        diagnoses=(Diagnosis("Condition/c1", icd10=("C180",), onset=date(2025, 1, 1)),),
        exposures=(exposure,),
    )


def test_an_overriding_data_files_code_reaches_lines_lookups_and_charge_items(
    tmp_path: Path,
) -> None:
    models = ModelSettings(default="eom", data_files={"eom": str(_override(tmp_path))})
    payer = load_payer(None)
    evaluator = Evaluator(load_knowledge(), load_config(environ={}).rules, payer, models=models)
    # Oxaliplatin on 2025-03-03 for colon cancer: one episode, months from 03-03; as of 03-31
    # only month 1 (03-03) is billable — one line, coded as the practice's file says.
    timeline = evaluator.evaluate(_record(), date(2025, 3, 31))
    assert [line.code for line in timeline.lines] == ["M9999"]
    entry = code_entry("M9999", "eom", models)
    assert entry is not None
    assert (entry.display, entry.system) == ("Practice MEOS code", HCPCS)
    # The shipped code is not the bound pack's; the shipped pack still has only M0010.
    assert code_entry("M0010", "eom", models) is None
    assert set(load_pack("eom").codes) == {"M0010"}
    assert set(pack_codes("eom")) == {"M0010"}
    # The ChargeItem (built with no model settings at hand) codes the line M9999 in HCPCS.
    (line,) = timeline.lines
    publish = PublishSettings()
    assert line_codings(line, payer, publish) == [
        {"system": HCPCS, "code": "M9999", "display": "Practice MEOS code"}
    ]
    context = ChargeContext(
        patient_ref="Patient/p1",
        episode_ref=None,
        diagnosis=None,
        entered=datetime(2025, 3, 3, 9, tzinfo=UTC),
        payer=payer,
        settings=publish,
    )
    item = build_charge_item(line, context)
    ChargeItem.model_validate(item)
    assert item["code"]["coding"][0]["code"] == "M9999"


def test_the_shipped_file_named_explicitly_gives_the_shipped_codes() -> None:
    models = ModelSettings(data_files={"eom": str(DATA_FILE)})
    assert set(pack_codes("eom", models)) == {"M0010"}
    assert code_entry("M0010", "eom", models) is load_pack("eom").codes["M0010"]


def test_a_code_no_file_gives_is_not_found() -> None:
    assert code_entry("M8888", "eom") is None
    assert code_entry("M8888", "eom", ModelSettings()) is None


def test_a_bad_overriding_file_is_an_input_error_naming_it(tmp_path: Path) -> None:
    from cpoc_fhir.errors import InputError

    bad = tmp_path / "bad.toml"
    bad.write_text("[meos]\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        pack_codes("eom", ModelSettings(data_files={"eom": str(bad)}))
    assert str(bad) in str(caught.value)
