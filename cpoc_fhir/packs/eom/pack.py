"""The EOM pack's PACK (value-and-models §15.2): binds the data file and cuts episodes.

Binding checks the data file against the regimen catalog (a hormonal class or drug id no
catalog drug has is an InputError naming it). Episodes start only inside the model's window
(``[model]`` in the data file) and bill no month starting after the model's end.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from pathlib import Path

from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.episodes import Episode, cut_episodes
from cpoc_fhir.engine.facts import PatientRecord
from cpoc_fhir.engine.lines import BillingLine, ModelSpan, PatientTimeline
from cpoc_fhir.errors import InputError
from cpoc_fhir.knowledge import Knowledge
from cpoc_fhir.packs.base import HCPCS, PackCode, PackEnvironment, PaymentModelPack
from cpoc_fhir.packs.eom import rules
from cpoc_fhir.packs.episode_lines import (
    drug_triggers,
    hospice_stops,
    last_billable_day,
    meos_lines,
)

DATA_FILE = Path(__file__).parent / "data" / "eom.toml"


def load_data(path: str | Path | None = None) -> rules.EomData:
    where = Path(path) if path else DATA_FILE
    try:
        raw = tomllib.loads(where.read_text(encoding="utf-8"))
        return rules.parse(raw, str(where))
    except (OSError, tomllib.TOMLDecodeError, ValueError) as exc:
        raise InputError(str(where), f"cannot read the EOM data: {exc}") from None


@dataclass(frozen=True)
class EomModel:
    knowledge: Knowledge
    data: rules.EomData

    def evaluate(
        self, record: PatientRecord, as_of: date, spans: tuple[ModelSpan, ...]
    ) -> PatientTimeline:
        last, why = last_billable_day(record, as_of)
        if self.data.model_end < last:
            last, why = self.data.model_end, f"EOM ends on {self.data.model_end.isoformat()}"
        catalog = self.knowledge.regimens

        by_ref = {e.ref: e for e in record.exposures}
        classes_of: dict[str, tuple[str, ...]] = {}  # exposure ref → its drug's classes
        triggers = []
        # Every drug day is a candidate; whether it initiates depends on the day (the
        # diagnoses then, the days the model holds the patient), so it is checked per day.
        for trigger in drug_triggers(record, lambda exposure: True):
            if not self.data.may_start(trigger.on) or not any(s.holds(trigger.on) for s in spans):
                continue  # §15: inside the model window, on days the model holds the patient
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
        episodes = cut_episodes("eom", triggers, last, stop_reason=why, stops=hospice_stops(record))
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
    money = (
        f"${line.amount:.2f}" if currency in ("USD", "$", "") else f"{currency} {line.amount:.2f}"
    )
    return f"EOM episode {line.episode}, month {line.month}: MEOS {line.code} {money}{dual}"


def _codes(path: str | None = None) -> dict[str, PackCode]:
    """The MEOS code of the data file at ``path`` (None: the shipped file)."""
    data = load_data(path)
    return {data.code: PackCode(data.code, data.display, Component.MEOS, system=HCPCS)}


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
