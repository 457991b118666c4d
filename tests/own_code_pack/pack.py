"""A practice pack whose code has no public system (``PackCode.system`` None), like CPC+'s
illustrative codes: it is published in the practice CodeSystem. No lines (tests only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.facts import PatientRecord
from cpoc_fhir.engine.lines import ModelSpan, PatientTimeline
from cpoc_fhir.packs.base import PackCode, PackEnvironment, PaymentModelPack


@dataclass(frozen=True)
class NoLines:
    def evaluate(
        self, record: PatientRecord, as_of: date, spans: tuple[ModelSpan, ...]
    ) -> PatientTimeline:
        return PatientTimeline(record.patient_ref, as_of, ())


def _bind(env: PackEnvironment) -> NoLines:
    return NoLines()


PACK = PaymentModelPack(
    id="own",
    name="Own-code test model",
    short_name="OWN",
    codes={"PR1": PackCode("PR1", "Practice care fee", Component.CARE_MANAGEMENT, 1)},
    bind=_bind,
    source="tests only",
)
