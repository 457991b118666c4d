"""A synthetic oncology practice (Synthea-style) whose every count follows from its choices.

``generate_practice(out, patients, seed=7, year=2025, claims=True) -> PracticeTruth`` writes
Bulk FHIR NDJSON and returns what it chose (``truth.patients[pid]``: treatment days, visits,
emergency visits, death, hospice, claims …), for tests and benchmarks.
"""

from cpoc_fhir.synthetic.practice import generate_practice
from cpoc_fhir.synthetic.truth import (
    ClaimLineTruth,
    ErVisitTruth,
    PatientTruth,
    PracticeTruth,
    VisitTruth,
)

__all__ = [
    "ClaimLineTruth",
    "ErVisitTruth",
    "PatientTruth",
    "PracticeTruth",
    "VisitTruth",
    "generate_practice",
]
