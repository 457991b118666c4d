"""A practice pack whose code has no public system (``PackCode.system`` None), like CPC+'s
illustrative codes: it is published in the practice CodeSystem. No lines (tests only)."""

from __future__ import annotations

from cpoc_fhir.engine.components import Component
from cpoc_fhir.packs.base import PackCode, PackEnvironment, PaymentModelPack
from cpoc_fhir.packs.no_model.pack import NoModel


def _bind(env: PackEnvironment) -> NoModel:
    return NoModel()  # bills no line, as the built-in pack "none"


PACK = PaymentModelPack(
    id="own",
    name="Own-code test model",
    short_name="OWN",
    codes={"PR1": PackCode("PR1", "Practice care fee", Component.CARE_MANAGEMENT, 1)},
    bind=_bind,
    source="tests only",
)
