"""CPOC as a payment-model pack: the product's first, and its default (value-and-models §15).

Its rules are the modules beside this one (timeline.py is the entry point); its amounts come
from the practice's CPOC payer file (``[billing] payer_file``, packs/cpoc/payer.py), so the
pack is bound with the schedule the process loaded and reads no file of its own.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

from cpoc_fhir.engine.facts import PatientRecord
from cpoc_fhir.engine.lines import ModelSpan, PatientTimeline
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.knowledge import Knowledge
from cpoc_fhir.packs.base import PackCode, PackEnvironment, PaymentModelPack
from cpoc_fhir.packs.cpoc.codes import DISPLAY, LINE_CODES
from cpoc_fhir.packs.cpoc.payer import PayerSchedule
from cpoc_fhir.packs.cpoc.timeline import evaluate

CODES = {
    code: PackCode(code, DISPLAY[code], component, level)
    for code, (component, level) in LINE_CODES.items()
}


@dataclass(frozen=True)
class CpocModel:
    knowledge: Knowledge
    rules: RuleSettings
    payer: PayerSchedule

    def evaluate(
        self, record: PatientRecord, as_of: date, spans: tuple[ModelSpan, ...]
    ) -> PatientTimeline:
        # CPOC's months run from the first treatment whoever paid then (cpoc-rules §2); the
        # caller keeps the lines dated on CPOC's days.
        return evaluate(record, self.knowledge, self.rules, self.payer, as_of)

    def evaluate_months(
        self,
        record: PatientRecord,
        as_of: date,
        spans: tuple[ModelSpan, ...],
        starts: Collection[date],
    ) -> PatientTimeline:
        """``evaluate``, billing only the months starting on ``starts`` (timeline.evaluate)."""
        return evaluate(record, self.knowledge, self.rules, self.payer, as_of, starts)


def _bind(env: PackEnvironment) -> CpocModel:
    return CpocModel(env.knowledge, env.rules, env.cpoc_payer)


PACK = PaymentModelPack(
    id="cpoc",
    name="Consolidated Payments for Oncology Care",
    short_name="CPOC",
    codes=CODES,
    bind=_bind,
    replaces_fee_for_service=True,
    source="ASCO, Consolidated Payments for Oncology Care, May 2014 (seed 002); cpoc-rules.md",
)
