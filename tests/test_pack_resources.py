"""``cpoc fhir-resources`` for the payment-model packs (value-and-models §15): a ValueSet per
pack including its codes from their own system (HCPCS for EOM's MEOS), the practice's own
codes as concepts of the practice CodeSystem, and the codes of the bound data file."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from fhir.resources.R4B.codesystem import CodeSystem
from fhir.resources.R4B.valueset import ValueSet

from cpoc_fhir.fhir.write import PublishSettings, ResourceValidationError, write_resources
from cpoc_fhir.fhir.write.definitions import code_system
from cpoc_fhir.fhir.write.pack_resources import practice_concepts
from cpoc_fhir.packs.base import HCPCS
from cpoc_fhir.packs.cpoc.codes import CODES
from cpoc_fhir.packs.cpoc.payer import PayerSchedule
from cpoc_fhir.packs.eom.pack import DATA_FILE
from cpoc_fhir.packs.settings import ModelSettings

SETTINGS = PublishSettings(
    codesystem_url="https://billing.example-practice.org/fhir/CodeSystem/cpoc",
    definition_base="https://billing.example-practice.org/fhir/ChargeItemDefinition",
    version="2.3.0",
)
MODELS = ModelSettings(packs={"own": "own_code_pack.pack", "flat": "flat_fee_pack.pack"})


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)


def test_each_pack_has_a_valueset_of_its_codes_in_their_systems(
    tmp_path: Path, payer: PayerSchedule
) -> None:
    paths = write_resources(payer, SETTINGS, tmp_path, MODELS)
    names = {p.name for p in paths}
    # EOM, the flat pack and the own-code pack have codes; "none" has none: no ValueSet.
    assert {"ValueSet-pack-eom.json", "ValueSet-pack-flat.json", "ValueSet-pack-own.json"} <= (
        names
    )
    assert "ValueSet-pack-none.json" not in names and "ValueSet-pack-cpoc.json" not in names
    eom = _read(tmp_path / "ValueSet-pack-eom.json")
    ValueSet.model_validate(eom)
    # canonical root = definition_base without its last segment
    assert eom["url"] == "https://billing.example-practice.org/fhir/ValueSet/pack-eom"
    assert eom["compose"]["include"] == [
        {
            "system": HCPCS,
            "concept": [
                {"code": "M0010", "display": "Monthly enhanced oncology services (EOM MEOS)"}
            ],
        }
    ]
    assert eom["meta"]["tag"] == [SETTINGS.product_tag]
    flat = _read(tmp_path / "ValueSet-pack-flat.json")
    assert flat["compose"]["include"][0]["system"] == (
        "http://example.org/fhir/CodeSystem/flat-fee-test"
    )
    own = _read(tmp_path / "ValueSet-pack-own.json")
    ValueSet.model_validate(own)
    # The practice's own code is included from the practice CodeSystem …
    assert own["compose"]["include"] == [
        {
            "system": SETTINGS.codesystem_url,
            "concept": [{"code": "PR1", "display": "Practice care fee"}],
        }
    ]
    # … which defines it after CPOC's 11 codes, the 2 settlement codes and CPC+'s 9 practice
    # codes (Track 1 tiers 1-4, Track 2 tiers 1-5; CPC+ has no HCPCS): 23 concepts.
    cs = _read(tmp_path / "CodeSystem-cpoc.json")
    CodeSystem.model_validate(cs)
    assert cs["count"] == len(cs["concept"]) == 23
    pr1 = cs["concept"][-1]
    assert (pr1["code"], pr1["display"]) == ("PR1", "Practice care fee")
    assert pr1["property"] == [
        {"code": "component", "valueCode": "care-management"},
        {"code": "level", "valueInteger": 1},
    ]
    assert "Own-code test model (OWN, pack 'own')" in pr1["definition"]


def test_without_practice_packs_the_codesystem_has_cpoc_and_cpcplus_concepts(
    tmp_path: Path, payer: PayerSchedule
) -> None:
    write_resources(payer, SETTINGS, tmp_path)
    # Of the built-in packs only CPC+ has codes with no public system (CPCP-T<track>-<tier>).
    assert [c["code"] for c in practice_concepts()] == [
        "CPCP-T1-1", "CPCP-T1-2", "CPCP-T1-3", "CPCP-T1-4",
        "CPCP-T2-1", "CPCP-T2-2", "CPCP-T2-3", "CPCP-T2-4", "CPCP-T2-5",
    ]  # fmt: skip
    # CPOC's 11 codes + 2 settlement codes + those 9.
    assert len(_read(tmp_path / "CodeSystem-cpoc.json")["concept"]) == 22


def test_the_valueset_carries_the_code_of_the_bound_data_file(
    tmp_path: Path, payer: PayerSchedule
) -> None:
    override = tmp_path / "eom.toml"
    override.write_text(
        DATA_FILE.read_text(encoding="utf-8").replace('code = "M0010"', 'code = "M9999"'),
        encoding="utf-8",
    )
    out = tmp_path / "out"
    write_resources(payer, SETTINGS, out, ModelSettings(data_files={"eom": str(override)}))
    include = _read(out / "ValueSet-pack-eom.json")["compose"]["include"]
    assert [c["code"] for c in include[0]["concept"]] == ["M9999"]


def test_a_pack_code_equal_to_a_cpoc_code_is_refused() -> None:
    clash = {"code": next(iter(CODES)), "display": "clash", "definition": "x"}
    with pytest.raises(ResourceValidationError, match="already one of CPOC's: xx100"):
        code_system(SETTINGS, pack_concepts=[clash])
