"""The test episode pack's PACK (its rules are the shared ones; no data file)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.episodes import Episode, cut_episodes
from cpoc_fhir.engine.facts import PatientRecord
from cpoc_fhir.engine.lines import BillingLine, ModelSpan, PatientTimeline
from cpoc_fhir.packs.base import PackCode, PackEnvironment, PaymentModelPack
from cpoc_fhir.packs.episode_lines import (
    drug_triggers,
    hospice_stops,
    last_billable_day,
    meos_lines,
)

CODE = "EPI1"
FEE = Decimal("100.00")
SYSTEM = "http://example.org/fhir/CodeSystem/episode-test"


@dataclass(frozen=True)
class EpisodeTestModel:
    def evaluate(
        self, record: PatientRecord, as_of: date, spans: tuple[ModelSpan, ...]
    ) -> PatientTimeline:
        last, why = last_billable_day(record, as_of)
        triggers = [
            t
            for t in drug_triggers(record, lambda exposure: True)
            if any(s.holds(t.on) for s in spans)
        ]
        episodes = cut_episodes(
            "episodic", triggers, last, stop_reason=why, stops=hospice_stops(record)
        )

        def price(episode: Episode, on: date) -> tuple[Decimal, list[str]]:
            return FEE, [f"test fee {FEE}"]

        lines = meos_lines("episodic", CODE, episodes, price)
        return PatientTimeline(
            record.patient_ref, as_of, tuple(lines), record.warnings, episodes=tuple(episodes)
        )


def _bind(env: PackEnvironment) -> EpisodeTestModel:
    return EpisodeTestModel()


def _title(line: BillingLine, currency: str) -> str:
    return f"EPI episode {line.episode}, month {line.month}: {line.code} {currency} {line.amount}"


PACK = PaymentModelPack(
    id="episodic",
    name="Episode test model",
    short_name="EPI",
    codes={CODE: PackCode(CODE, "Episode test monthly fee", Component.MEOS, system=SYSTEM)},
    bind=_bind,
    title=_title,
    source="tests only",
)
