"""The Spark engine's Parquet output: one row per billing line, one row per patient.

``OUT/lines/`` (one row per ``BillingLine``, value-and-models §15: any pack's line):

==============  ===============  ==========================================================
column          type             meaning
==============  ===============  ==========================================================
patient         string           "Patient/x"
as_of           date             the date the record was evaluated as of
line            int              the line's position in the patient's timeline (0, 1, …)
model           string           the pack that billed it ("cpoc", "ocm", "eom", "cpcplus" …)
episode         int (null)       an episode model's episode number
code            string           the billing code
component       string           the line's component (``Component`` value)
level           int (null)       the line's level
month           int (null)       the billing month index k (null: New Patient before month 1)
start, end      date             the line's days
status          string           ``LineStatus`` value
amount          string           the amount, a decimal string exactly as the JSON has it
explanation     array<string>    why the line is billed
evidence        array<string>    the resources it rests on ("Type/id")
warnings        array<string>    the line's warnings
score_total     int (null)       the complexity score's total, when the line has one
line_json       string           the line exactly as ``cpoc timeline --format json`` prints it
==============  ===============  ==========================================================

``OUT/patients/`` (one row per patient, also those without lines, e.g. fee-for-service):
``patient`` string, ``as_of`` date, ``lines`` int, ``fee_for_service`` string (null),
``warnings`` array<string>, ``timeline_json`` string (``PatientTimeline.as_json``, the same
JSON the local engine prints for the patient).

Amounts stay decimal strings (the project's rule: money is serialised as strings); cast with
``CAST(amount AS DECIMAL(12, 2))`` to sum in SQL. The row builders are pure.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

LINE_COLUMNS = (
    "patient", "as_of", "line", "model", "episode", "code", "component", "level", "month",
    "start", "end", "status", "amount", "explanation", "evidence", "warnings", "score_total",
    "line_json",
)  # fmt: skip
PATIENT_COLUMNS = ("patient", "as_of", "lines", "fee_for_service", "warnings", "timeline_json")
DEFAULT_MODEL = "cpoc"  # a line without "model" in its JSON is CPOC's (engine/lines.py)


def line_rows(timeline: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The ``OUT/lines`` rows of one patient's timeline JSON, in ``LINE_COLUMNS`` order."""
    as_of = date.fromisoformat(timeline["asOf"])
    rows = []
    for number, line in enumerate(timeline["lines"]):
        score = line.get("score")
        rows.append(
            (
                timeline["patient"],
                as_of,
                number,
                line.get("model", DEFAULT_MODEL),
                line.get("episode"),
                line["code"],
                line["component"],
                line["level"],
                line["month"],
                date.fromisoformat(line["start"]),
                date.fromisoformat(line["end"]),
                line["status"],
                line["amount"],
                list(line["explanation"]),
                list(line["evidence"]),
                list(line["warnings"]),
                score.get("total") if isinstance(score, dict) else None,
                json.dumps(line),
            )
        )
    return rows


def patient_row(timeline: dict[str, Any], text: str) -> tuple[Any, ...]:
    """The ``OUT/patients`` row of one timeline (``text``: its JSON as serialised)."""
    return (
        timeline["patient"],
        date.fromisoformat(timeline["asOf"]),
        len(timeline["lines"]),
        timeline.get("feeForService"),
        list(timeline["warnings"]),
        text,
    )


def spark_schemas() -> tuple[Any, Any]:
    """The Spark ``StructType`` of the lines and of the patients table (imports pyspark)."""
    from pyspark.sql.types import (
        ArrayType,
        DateType,
        IntegerType,
        StringType,
        StructField,
        StructType,
    )

    text, day, number = StringType(), DateType(), IntegerType()
    texts = ArrayType(StringType(), containsNull=False)
    line_types = {
        "patient": text, "as_of": day, "line": number, "model": text, "episode": number,
        "code": text, "component": text, "level": number, "month": number, "start": day,
        "end": day, "status": text, "amount": text, "explanation": texts, "evidence": texts,
        "warnings": texts, "score_total": number, "line_json": text,
    }  # fmt: skip
    nullable = {"episode", "level", "month", "score_total"}
    lines = StructType(
        [StructField(c, line_types[c], nullable=c in nullable) for c in LINE_COLUMNS]
    )
    patient_types = {
        "patient": text, "as_of": day, "lines": number, "fee_for_service": text,
        "warnings": texts, "timeline_json": text,
    }  # fmt: skip
    patients = StructType(
        [StructField(c, patient_types[c], nullable=c == "fee_for_service") for c in PATIENT_COLUMNS]
    )
    return lines, patients
