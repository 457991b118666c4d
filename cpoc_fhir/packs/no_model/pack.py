"""The built-in pack "none" (value-and-models §15): no payment model, fee-for-service only.

It holds the days a payer runs no model the practice bills under — Medicare between OCM's end
(2022-06-30) and EOM's start (2023-07-01), or any payer mapped to "none" in ``[models]
payers`` — and bills no line: the practice's fee-for-service claims stand as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from cpoc_fhir.engine.facts import PatientRecord
from cpoc_fhir.engine.lines import ModelSpan, PatientTimeline
from cpoc_fhir.packs.base import PackEnvironment, PaymentModelPack


@dataclass(frozen=True)
class NoModel:
    def evaluate(
        self, record: PatientRecord, as_of: date, spans: tuple[ModelSpan, ...]
    ) -> PatientTimeline:
        return PatientTimeline(record.patient_ref, as_of, (), record.warnings)


def _bind(env: PackEnvironment) -> NoModel:
    return NoModel()


PACK = PaymentModelPack(
    id="none",
    name="No payment model (fee-for-service only)",
    short_name="FFS",
    codes={},
    bind=_bind,
    source="value-and-models §15: days no payment model holds the patient",
)
