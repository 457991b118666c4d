"""The OCM pack's PACK (value-and-models §15.1): binds the data file and cuts episodes.

Same shape as the EOM pack (packs/eom/pack.py): ``PACK.codes`` comes from the shipped data
file, the evaluator from the file ``[models] data_files.ocm`` names (else the shipped one).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from pathlib import Path

from cpoc_fhir.engine.episodes import Episode
from cpoc_fhir.engine.facts import MedicationExposure, PatientRecord
from cpoc_fhir.engine.lines import BillingLine, ModelSpan, PatientTimeline
from cpoc_fhir.errors import InputError
from cpoc_fhir.packs.base import PackCode, PackEnvironment, PaymentModelPack
from cpoc_fhir.packs.episode_lines import meos_lines
from cpoc_fhir.packs.episode_pack import (
    cut_model_episodes,
    meos_code,
    model_last_day,
    window_triggers,
)
from cpoc_fhir.packs.ocm import rules
from cpoc_fhir.packs.pack_data import money, read_data_file

DATA_FILE = Path(__file__).parent / "data" / "ocm.toml"


def load_data(path: str | Path | None = None) -> rules.OcmData:
    return read_data_file(path, DATA_FILE, rules.parse, "OCM")


@dataclass(frozen=True)
class OcmModel:
    data: rules.OcmData

    def evaluate(
        self, record: PatientRecord, as_of: date, spans: tuple[ModelSpan, ...]
    ) -> PatientTimeline:
        last, why = model_last_day(record, as_of, self.data.model_end, "OCM ended on")
        triggers = []
        # Every anti-cancer fill or administration day, hormonal included (§15.1); whether it
        # can start an episode depends on the day: the model window, a cancer diagnosis then,
        # and the model holding the patient (a payer switch).
        starts = self.data.not_cancer_directed

        def counts(exposure: MedicationExposure) -> bool:
            return exposure.drug not in starts

        for trigger in window_triggers(record, spans, self.data.may_start, counts):
            day = trigger.on
            if not rules.has_cancer(record, day):
                continue  # OCM: the triggering claim carries a cancer diagnosis
            triggers.append(replace(trigger, cancer_type=rules.cancer_type(record, day)))
        episodes = cut_model_episodes("ocm", record, triggers, last, why)

        def price(episode: Episode, on: date) -> tuple[Decimal, list[str]]:
            return rules.price(on, self.data)

        lines = meos_lines("ocm", self.data.code, episodes, price)
        return PatientTimeline(
            record.patient_ref, as_of, tuple(lines), record.warnings, episodes=tuple(episodes)
        )


def _bind(env: PackEnvironment) -> OcmModel:
    data = load_data(env.data_file)
    unknown = sorted(data.not_cancer_directed - set(env.knowledge.regimens.drugs))
    if unknown:
        raise InputError(
            str(env.data_file or DATA_FILE),
            f"not_cancer_directed entries {unknown} are not regimen-catalog drugs",
        )
    return OcmModel(data)


def _title(line: BillingLine, currency: str) -> str:
    amount = money(line.amount, currency)
    return f"OCM episode {line.episode}, month {line.month}: MEOS {line.code} {amount}"


def _codes(path: str | None = None) -> dict[str, PackCode]:
    """The MEOS code of the data file the pack is bound with (a practice may override it)."""
    data = load_data(path)
    return meos_code(data.code, data.display)


_DATA = load_data()

PACK = PaymentModelPack(
    id="ocm",
    name="Oncology Care Model",
    short_name="OCM",
    codes=_codes(),
    codes_for=_codes,
    bind=_bind,
    title=_title,
    source=_DATA.source,
    default_data_file=str(DATA_FILE),
)
