"""The flat fee pack's rules (pure: no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.facts import DrugRole, PatientRecord
from cpoc_fhir.engine.lines import BillingLine, LineStatus, ModelSpan, PatientTimeline

CODE = "FLAT1"


def _month_end(day: date) -> date:
    following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return following - timedelta(days=1)


@dataclass(frozen=True)
class FlatFee:
    fee: Decimal

    def evaluate(
        self, record: PatientRecord, as_of: date, spans: tuple[ModelSpan, ...]
    ) -> PatientTimeline:
        starts = [e.start for e in record.exposures if e.role is DrugRole.ANTICANCER]
        lines: list[BillingLine] = []
        if starts:
            last = min(as_of, record.death) if record.death else as_of
            month = min(starts).replace(day=1)
            while month <= last:
                lines.append(
                    BillingLine(
                        code=CODE,
                        component=Component.CARE_MANAGEMENT,
                        level=None,
                        month=None,
                        start=month,
                        end=_month_end(month),
                        status=LineStatus.FINAL,
                        amount=self.fee,
                        explanation=(f"flat fee for {month:%Y-%m}",),
                        evidence=(record.patient_ref,),
                        model="flat",
                    )
                )
                month = _month_end(month) + timedelta(days=1)
        return PatientTimeline(record.patient_ref, as_of, tuple(lines), record.warnings)
