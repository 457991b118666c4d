"""A practice pack with two codes in its own system and no lines (tests only): an item of it
may be corrected from one code to the other."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.facts import PatientRecord
from cpoc_fhir.engine.lines import ModelSpan, PatientTimeline
from cpoc_fhir.packs.base import PackCode, PackEnvironment, PaymentModelPack

SYSTEM = "http://example.org/fhir/CodeSystem/two-code-test"


@dataclass(frozen=True)
class NoLines:
    def evaluate(
        self, record: PatientRecord, as_of: date, spans: tuple[ModelSpan, ...]
    ) -> PatientTimeline:
        return PatientTimeline(record.patient_ref, as_of, ())


def _bind(env: PackEnvironment) -> NoLines:
    return NoLines()


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
