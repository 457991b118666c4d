"""The EOM pack's PACK (value-and-models §15.2): binds the data file and cuts episodes.

Binding checks the data file against the regimen catalog (a hormonal class or drug id no
catalog drug has is an InputError naming it). Episodes start only inside the model's window
(``[model]`` in the data file) and bill no month starting after the model's end.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from pathlib import Path

from cpoc_fhir.engine.episodes import Episode
from cpoc_fhir.engine.facts import PatientRecord
from cpoc_fhir.engine.lines import BillingLine, ModelSpan, PatientTimeline
from cpoc_fhir.errors import InputError
from cpoc_fhir.knowledge import Knowledge
from cpoc_fhir.packs.base import PackCode, PackEnvironment, PaymentModelPack
from cpoc_fhir.packs.eom import rules
from cpoc_fhir.packs.episode_lines import meos_lines
from cpoc_fhir.packs.episode_pack import (
    cut_model_episodes,
    meos_code,
    model_last_day,
    window_triggers,
)
from cpoc_fhir.packs.pack_data import money, read_data_file

DATA_FILE = Path(__file__).parent / "data" / "eom.toml"


def load_data(path: str | Path | None = None) -> rules.EomData:
    return read_data_file(path, DATA_FILE, rules.parse, "EOM")


@dataclass(frozen=True)
class EomModel:
    knowledge: Knowledge
    data: rules.EomData

    def evaluate(
        self, record: PatientRecord, as_of: date, spans: tuple[ModelSpan, ...]
    ) -> PatientTimeline:
        last, why = model_last_day(record, as_of, self.data.model_end, "EOM ends on")
        catalog = self.knowledge.regimens

        by_ref = {e.ref: e for e in record.exposures}
        classes_of: dict[str, tuple[str, ...]] = {}  # exposure ref → its drug's classes
        triggers = []
        # Every drug day is a candidate; whether it initiates depends on the day (the
        # diagnoses then, the days the model holds the patient), so it is checked per day.
        # §15: inside the model window, on days the model holds the patient.
        for trigger in window_triggers(record, spans, self.data.may_start, lambda _: True):
            exposure = by_ref[trigger.ref]
            classes = classes_of.get(exposure.ref)
            if classes is None:
                drug = catalog.drug(exposure.drug) if exposure.drug else None
                classes = classes_of[exposure.ref] = tuple(drug.classes) if drug else ()
            cancers = rules.eom_cancer_types(record, trigger.on, self.data)
            start = rules.initiates(exposure, classes, cancers, self.data)
            if start is rules.Initiation.YES:
                triggers.append(trigger)
            elif start is rules.Initiation.PROVISIONAL:
                triggers.append(replace(trigger, confirmed=False, why_provisional=_UNKNOWN))
        episodes = cut_model_episodes("eom", record, triggers, last, why)
        # A warning per unclassified drug that started an episode (its resource id, no PHI).
        unknown = (e.trigger for e in episodes if e.why_provisional == _UNKNOWN)
        warnings = (*record.warnings, *(f"{ref}: {_UNKNOWN}" for ref in dict.fromkeys(unknown)))

        duals: dict[tuple[int, date], str] = {}  # (episode, month start) → Medicaid Coverage

        def price(episode: Episode, on: date) -> tuple[Decimal, list[str]]:
            priced = rules.price(record, episode, on, self.data)
            if priced.dual_coverage is not None:
                duals[(episode.index, on)] = priced.dual_coverage
            return priced.amount, priced.why

        lines = [
            rules.with_dual_evidence(line, duals[key])
            if (key := (line.episode or 0, line.start)) in duals
            else line
            for line in meos_lines("eom", self.data.code, episodes, price)
        ]
        return PatientTimeline(
            record.patient_ref, as_of, tuple(lines), tuple(warnings), episodes=tuple(episodes)
        )


_UNKNOWN = (
    "EOM episode provisional: the drug is not in the regimen catalog, so whether it is "
    "hormonal therapy only (no episode for breast or prostate cancer) is unknown"
)


def _bind(env: PackEnvironment) -> EomModel:
    data = load_data(env.data_file)
    drugs = env.knowledge.regimens.drugs
    classes = {c for d in drugs.values() for c in d.classes}
    problems = rules.catalog_problems(data, classes, set(drugs))
    if problems:
        raise InputError(str(env.data_file or DATA_FILE), "; ".join(problems))
    return EomModel(env.knowledge, data)


def _title(line: BillingLine, currency: str) -> str:
    # Structured: a dual month's line cites the Medicaid Coverage its add-on rests on.
    dual = ", dual-eligible" if rules.is_dual_line(line) else ""
    amount = money(line.amount, currency)
    return f"EOM episode {line.episode}, month {line.month}: MEOS {line.code} {amount}{dual}"


def _codes(path: str | None = None) -> dict[str, PackCode]:
    """The MEOS code of the data file at ``path`` (None: the shipped file)."""
    data = load_data(path)
    return meos_code(data.code, data.display)


_DATA = load_data()

PACK = PaymentModelPack(
    id="eom",
    name="Enhancing Oncology Model",
    short_name="EOM",
    codes=_codes(),
    codes_for=_codes,
    bind=_bind,
    title=_title,
    source=_DATA.source,
    default_data_file=str(DATA_FILE),
)
