"""patient-view: EOM's enhanced services missing in the current episode (value-and-models
§15.2), as one info card.

EOM expects a health-related social needs screening and electronic patient-reported outcomes
during each episode; they are recorded, not billed (reports/eom_services.py finds them, the
same way here). Only the episode holding today is looked at, and only what is on record so
far: the card says what is still missing, not that the episode failed.
"""

from __future__ import annotations

from datetime import date

from cds_hooks.cards import Card, CardSource
from cds_hooks.pack_cards import enhanced_services_card
from cpoc_fhir.engine.facts import PatientRecord
from cpoc_fhir.engine.lines import PatientTimeline
from cpoc_fhir.packs.evaluate import ModelEvaluation
from cpoc_fhir.reports.eom_services import episode_rows

EOM = "eom"


def enhanced_services_cards(
    source: CardSource,
    evaluation: ModelEvaluation,
    record: PatientRecord,
    timeline: PatientTimeline,
    today: date,
) -> list[Card]:
    current = [e for e in timeline.episodes if e.model == EOM and e.start <= today <= e.end]
    if not current:
        return []
    # The bound EOM model's data (the practice's data file when configured): which
    # questionnaires count as ePRO.
    data = getattr(evaluation.bound(EOM), "data", None)
    questionnaires: frozenset[str] = getattr(data, "epro_questionnaires", frozenset())
    cards = []
    for episode, row in zip(current, episode_rows(record, current, questionnaires), strict=True):
        if row["missing"]:
            cards.append(
                enhanced_services_card(source, evaluation.pack(EOM), episode, row["missing"])
            )
    return cards
