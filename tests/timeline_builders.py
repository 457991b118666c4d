"""Timelines built in the test, for the terminal and export tests (no FHIR reading)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.lines import BillingLine, LineStatus, ModelSpan, PatientTimeline, Score

LONG_REF = "MedicationAdministration/" + "a" * 60  # a 64-character FHIR id


def treatment_line(
    month: int = 1, code: str = "xx204", amount: str = "800.00", model: str = "cpoc"
) -> BillingLine:
    start = date(2025, 3, 3)
    return BillingLine(
        code=code,
        component=Component.TREATMENT_MONTH,
        level=4,
        month=month,
        start=start,
        end=date(2025, 4, 2),
        status=LineStatus.FINAL,
        amount=Decimal(amount),
        explanation=(
            "Treatment Month 1: treatment on 4 day(s) (FOLFOX); score 0+0+4+6 = 10 → level 4 "
            "(III-B), the long sentence of an explanation that a terminal must wrap",
        ),
        evidence=("Condition/c1", LONG_REF, "Observation/o1"),
        score=Score(0, 0, 4, 6, "folfox", 4),
        warnings=('=HYPERLINK("x") a warning that starts like a formula',),
        model=model,
    )


def new_patient_line() -> BillingLine:
    return BillingLine(
        code="xx100",
        component=Component.NEW_PATIENT,
        level=None,
        month=None,
        start=date(2025, 2, 18),
        end=date(2025, 2, 18),
        status=LineStatus.PROVISIONAL,
        amount=Decimal("1000.00"),
        explanation=("New Patient (III-A)",),
        evidence=("Encounter/e1",),
    )


def timeline(*lines: BillingLine, models: tuple[ModelSpan, ...] = ()) -> PatientTimeline:
    return PatientTimeline(
        patient_ref="Patient/p1",
        as_of=date(2025, 12, 15),
        lines=lines or (new_patient_line(), treatment_line()),
        warnings=("a warning about the record " * 6,),
        models=models,
    )
