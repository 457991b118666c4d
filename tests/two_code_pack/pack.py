"""A practice pack with two codes in its own system and no lines (tests only): an item of it
may be corrected from one code to the other."""

from __future__ import annotations

from cpoc_fhir.engine.components import Component
from cpoc_fhir.packs.base import PackCode, PackEnvironment, PaymentModelPack
from cpoc_fhir.packs.no_model.pack import NoModel

SYSTEM = "http://example.org/fhir/CodeSystem/two-code-test"


def _bind(env: PackEnvironment) -> NoModel:
    return NoModel()  # bills no line, as the built-in pack "none"


PACK = PaymentModelPack(
    id="twocode",
    name="Two-code test model",
    short_name="TWO",
    codes={
        "TC1": PackCode("TC1", "Two-code test, low", Component.CARE_MANAGEMENT, 1, SYSTEM),
        "TC2": PackCode("TC2", "Two-code test, high", Component.CARE_MANAGEMENT, 2, SYSTEM),
    },
    bind=_bind,
    source="tests only",
)
