"""CodeSystem, ChargeItemDefinitions and `cpoc fhir-resources` files."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.chargeitemdefinition import ChargeItemDefinition
from fhir.resources.R4B.codesystem import CodeSystem
from fhir.resources.R4B.valueset import ValueSet

from cpoc_fhir.fhir.write import (
    PublishSettings,
    charge_item_definitions,
    code_system,
    empty_paths,
    to_json,
    write_resources,
)
from cpoc_fhir.fhir.write.definitions import SETTLEMENT_CODES
from cpoc_fhir.fhir.write.pack_resources import published_packs
from cpoc_fhir.packs.cpoc.codes import CODES, DISPLAY
from cpoc_fhir.packs.cpoc.payer import PayerSchedule

SETTINGS = PublishSettings(
    codesystem_url="https://billing.example-practice.org/fhir/CodeSystem/cpoc",
    definition_base="https://billing.example-practice.org/fhir/ChargeItemDefinition/",
    version="2.3.0",
)


def schedule(**payer: object) -> PayerSchedule:
    data = {
        "payer": {"id": "acme", "name": "Acme Health", "new_patient_amount": "1000.00", **payer},
        "codes": {"xx204": {"system": "http://acme.example/codes", "code": "AC204"}},
    }
    return PayerSchedule.from_data(data)


def components(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    [group] = definition["propertyGroup"]
    return {c["code"]["coding"][0]["code"]: c for c in group["priceComponent"]}


def test_code_system_has_the_eleven_codes() -> None:
    resource = code_system(SETTINGS)
    CodeSystem.model_validate(resource)
    assert empty_paths(resource) == []
    assert resource["url"] == "https://billing.example-practice.org/fhir/CodeSystem/cpoc"
    assert resource["version"] == "2.3.0"
    assert (resource["name"], resource["status"], resource["content"]) == (
        "CPOCCodes",
        "active",
        "complete",
    )
    assert resource["caseSensitive"] is True
    assert resource["count"] == 11 + len(SETTLEMENT_CODES)
    assert [c["code"] for c in resource["concept"]][:11] == list(CODES)
    assert [c["display"] for c in resource["concept"]][:11] == [DISPLAY[c] for c in CODES]
    assert "placeholder" in resource["description"]
    assert "ASCO, Consolidated Payments for Oncology Care, May 2014" in resource["description"]


@pytest.mark.parametrize(
    ("code", "component", "level", "relative_value"),
    [
        ("xx100", "new-patient", None, "100"),
        ("xx203", "treatment-month", 3, "61"),
        ("xx301", "active-monitoring", 1, "2"),
        ("xx402", "transition", 2, "50"),
        ("xx500", "clinical-trial", None, "5"),
    ],
)
def test_code_system_concepts_carry_component_level_and_relative_value(
    code: str, component: str, level: int | None, relative_value: str
) -> None:
    concept = next(c for c in code_system(SETTINGS)["concept"] if c["code"] == code)
    props = {
        p["code"]: next(v for k, v in p.items() if k.startswith("value"))
        for p in concept["property"]
    }
    assert props["component"] == component
    assert props.get("level") == level
    assert props["relativeValue"] == Decimal(relative_value)
    assert f"Relative value: {relative_value} %" in concept["definition"]


def test_one_definition_per_code_with_canonical_url_and_codings() -> None:
    payer = schedule()
    definitions = charge_item_definitions(payer, SETTINGS)
    assert len(definitions) == 11
    for code, definition in zip(CODES, definitions, strict=True):
        ChargeItemDefinition.model_validate(definition)
        assert empty_paths(definition) == []
        assert definition["url"] == (
            f"https://billing.example-practice.org/fhir/ChargeItemDefinition/cpoc-{code}"
        )
        assert definition["status"] == "active"
        assert definition["code"]["coding"][0] == {
            "system": SETTINGS.codesystem_url,
            "code": code,
            "display": DISPLAY[code],
        }
        assert "Acme Health" in definition["title"] and code in definition["title"]
    by_code = dict(zip(CODES, definitions, strict=True))
    assert by_code["xx204"]["code"]["coding"][1] == {
        "system": "http://acme.example/codes",
        "code": "AC204",
    }
    assert len(by_code["xx203"]["code"]["coding"]) == 1  # the payer maps only xx204


def test_gpci_and_vba_components_recover_the_line_amounts() -> None:
    payer = schedule(gpci="1.1", value_based_adjustment="0.02")
    by_code = dict(zip(CODES, charge_item_definitions(payer, SETTINGS), strict=True))
    # Hand-computed: 1000 × 80 % = 800.00; × 1.1 = 880.00 (+80.00); × 1.02 = 897.60 (+17.60).
    xx204 = components(by_code["xx204"])
    assert [(c["type"], c["factor"], c["amount"]["value"]) for c in xx204.values()] == [
        ("base", Decimal("0.8"), Decimal("800.00")),
        ("surcharge", Decimal("1.1"), Decimal("80.00")),
        ("surcharge", Decimal("1.02"), Decimal("17.60")),
    ]
    assert payer.amount("xx204") == Decimal("897.60")
    for code, definition in by_code.items():
        assert _sum_of_amounts(components(definition)) == payer.amount(code), code
        assert _product_of_factors(components(definition), payer.base) == payer.amount(code)


@pytest.mark.parametrize(
    ("fields", "types"),
    [
        ({"gpci": "1.1", "value_based_adjustment": "0.02"}, ("surcharge", "surcharge")),
        ({"gpci": "0.95", "value_based_adjustment": "-0.03"}, ("deduction", "deduction")),
        ({}, ("informational", "informational")),
        (
            {"new_patient_amount": "333.33", "gpci": "1.05", "value_based_adjustment": "-0.01"},
            ("surcharge", "deduction"),
        ),
    ],
)
def test_components_add_up_exactly_for_any_payer(
    fields: dict[str, str], types: tuple[str, str]
) -> None:
    payer = schedule(**fields)
    for code, definition in zip(CODES, charge_item_definitions(payer, SETTINGS), strict=True):
        parts = components(definition)
        assert (parts["gpci"]["type"], parts["value-based-adjustment"]["type"]) == types
        assert parts["gpci"]["factor"] == payer.gpci
        assert parts["value-based-adjustment"]["factor"] == 1 + payer.vba
        assert _sum_of_amounts(parts) == payer.amount(code), code
        assert all(p["amount"]["currency"] == "USD" for p in parts.values())


def test_illustrative_payer_is_marked_as_not_a_real_fee_schedule(payer: PayerSchedule) -> None:
    assert payer.illustrative
    for definition in charge_item_definitions(payer, PublishSettings()):
        assert "not a real fee schedule" in definition["description"]
        assert definition["experimental"] is True
        # the example lists 2025 and 2026 (one price group per year)
        assert definition["effectivePeriod"] == {"start": "2025-01-01", "end": "2026-12-31"}
    for definition in charge_item_definitions(schedule(), PublishSettings()):
        assert "not a real fee schedule" not in definition["description"]
        assert "experimental" not in definition and "effectivePeriod" not in definition


def test_write_resources_writes_twelve_r4_files(tmp_path: Path, payer: PayerSchedule) -> None:
    # Twelve CPOC files, and a ValueSet of each other built-in pack with codes (EOM, …).
    out = tmp_path / "resources"
    paths = write_resources(payer, PublishSettings(), out)
    packs = [f"ValueSet-pack-{pack.id}.json" for pack, _ in published_packs()]
    assert "ValueSet-pack-eom.json" in packs
    assert sorted(p.name for p in paths) == sorted(
        ["CodeSystem-cpoc.json"] + [f"ChargeItemDefinition-cpoc-{c}.json" for c in CODES] + packs
    )
    assert sorted(out.iterdir()) == sorted(paths)
    for path in paths:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text, parse_float=Decimal)
        model = {"CodeSystem": CodeSystem, "ValueSet": ValueSet}.get(
            data["resourceType"], ChargeItemDefinition
        )
        model.model_validate(data)
        assert text.startswith('{\n  "resourceType"')
    xx204 = (out / "ChargeItemDefinition-cpoc-xx204.json").read_text(encoding="utf-8")
    assert '"value": 800.00' in xx204  # money written exactly, not 800.0
    before = {p: p.read_bytes() for p in paths}
    write_resources(payer, PublishSettings(), out)
    assert {p: p.read_bytes() for p in paths} == before  # deterministic


def test_resources_serialise_to_the_same_data() -> None:
    resource = charge_item_definitions(schedule(gpci="1.1"), SETTINGS)[0]
    assert json.loads(to_json(resource), parse_float=Decimal) == resource


def _sum_of_amounts(parts: dict[str, dict[str, Any]]) -> Decimal:
    sign = {"base": 1, "surcharge": 1, "deduction": -1, "informational": 0}
    return sum((sign[p["type"]] * p["amount"]["value"] for p in parts.values()), start=Decimal(0))


def _product_of_factors(parts: dict[str, dict[str, Any]], base: Decimal) -> Decimal:
    raw = base
    for part in parts.values():
        raw *= part["factor"]
    return raw.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
