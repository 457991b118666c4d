"""Shared by the mixed-practice tests (tests/test_mixed_practice*.py)."""

from __future__ import annotations

from datetime import date

from cpoc_fhir.config import load_config, load_payer
from cpoc_fhir.knowledge.loader import load_knowledge
from cpoc_fhir.packs.settings import ModelSettings
from cpoc_fhir.service import Evaluator
from cpoc_fhir.synthetic import PatientTruth

MIX = "medicare-eom=0.4,commercial-cpoc=0.4,medicaid-dual=0.1,none=0.1"
MEDICARE, COMMERCIAL = "Organization/medicare", "Organization/commercial"


def evaluator(payers: dict[str, str] | None = None, default: str = "cpoc") -> Evaluator:
    config = load_config(environ={})
    models = ModelSettings(default=default, payers=payers or {})
    return Evaluator(load_knowledge(), config.rules, load_payer(None), models=models)


def switch_day(patient: PatientTruth) -> date | None:
    """The day the patient's second primary Coverage starts (None: no switch)."""
    primaries = [c for c in patient.coverages if c.order == 1]
    return primaries[1].start if len(primaries) > 1 else None
