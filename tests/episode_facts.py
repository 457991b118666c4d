"""Facts builders for the episode-model tests (OCM, EOM; value-and-models §15.1, §15.2): an
anti-cancer drug given or supplied, and a record evaluated as the service does (the shipped
settings, the payer file's default, the given ``[models]`` settings)."""

from __future__ import annotations

from datetime import date

from cpoc_fhir.config import load_config, load_payer
from cpoc_fhir.engine.facts import (
    DrugRole,
    ExposureKind,
    MedicationExposure,
    PatientRecord,
    Route,
)
from cpoc_fhir.engine.lines import PatientTimeline
from cpoc_fhir.knowledge.loader import load_knowledge
from cpoc_fhir.packs.settings import ModelSettings
from cpoc_fhir.service import Evaluator


def administered(
    ref: str, drug: str, on: date, route: Route = Route.PARENTERAL
) -> MedicationExposure:
    """Anti-cancer ``drug`` (a catalog id; "" a drug the catalog lacks, named "unlisted drug")
    administered on ``on`` (MedicationAdministration/``ref``)."""
    return MedicationExposure(
        ref=f"MedicationAdministration/{ref}",
        drug=drug,
        drug_name=drug or "unlisted drug",
        role=DrugRole.ANTICANCER,
        route=route,
        kind=ExposureKind.ADMINISTERED,
        start=on,
        end=on,
    )


def supplied(
    ref: str, drug: str, start: date, end: date, resource: str = "MedicationDispense"
) -> MedicationExposure:
    """An oral anti-cancer ``drug`` supplied for ``start`` … ``end`` (``resource``/``ref``)."""
    return MedicationExposure(
        ref=f"{resource}/{ref}",
        drug=drug,
        drug_name=drug,
        role=DrugRole.ANTICANCER,
        route=Route.ORAL,
        kind=ExposureKind.SUPPLY,
        start=start,
        end=end,
    )


def evaluate(record: PatientRecord, models: ModelSettings, as_of: date) -> PatientTimeline:
    """``record``'s timeline on ``as_of`` under the ``models`` settings."""
    config = load_config(environ={})
    evaluator = Evaluator(load_knowledge(), config.rules, load_payer(None), models=models)
    return evaluator.evaluate(record, as_of)
