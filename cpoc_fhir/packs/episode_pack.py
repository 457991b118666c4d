"""What the episode packs' ``pack.py`` share (value-and-models §15.1 OCM, §15.2 EOM).

The OCM and EOM packs bill an MEOS code and cut six-month episodes the same way; they differ
in what starts an episode and what a month pays. Here is the common part: the MEOS
``PackCode``, the model's last billable day, the drug days that may start an episode (inside the
model's window, on days the model holds the patient) and the episodes cut from the triggers
(a hospice stay stops one). The months' lines are ``episode_lines.meos_lines``.
Reading the data file and the title's money are ``packs/pack_data.py`` (CPC+ uses them too).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date

from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.episodes import Episode, Trigger, cut_episodes
from cpoc_fhir.engine.facts import MedicationExposure, PatientRecord
from cpoc_fhir.engine.lines import ModelSpan
from cpoc_fhir.packs.base import HCPCS, PackCode
from cpoc_fhir.packs.episode_lines import drug_triggers, hospice_stops, last_billable_day


def meos_code(code: str, display: str) -> dict[str, PackCode]:
    """The pack's one code: the data file's MEOS HCPCS code."""
    return {code: PackCode(code, display, Component.MEOS, system=HCPCS)}


def model_last_day(
    record: PatientRecord, as_of: date, model_end: date, ended: str
) -> tuple[date, str]:
    """``last_billable_day``, no later than the model's end (why: ``ended`` and the day)."""
    last, why = last_billable_day(record, as_of)
    if model_end < last:
        return model_end, f"{ended} {model_end.isoformat()}"
    return last, why


def window_triggers(
    record: PatientRecord,
    spans: tuple[ModelSpan, ...],
    may_start: Callable[[date], bool],
    counts: Callable[[MedicationExposure], bool],
) -> Iterator[Trigger]:
    """The drug days (``drug_triggers``) that may start an episode: inside the model's
    episode-start window and on a day one of ``spans`` gives the model the patient (§15)."""
    for trigger in drug_triggers(record, counts):
        if may_start(trigger.on) and any(span.holds(trigger.on) for span in spans):
            yield trigger


def cut_model_episodes(
    pack_id: str, record: PatientRecord, triggers: list[Trigger], last: date, why: str
) -> list[Episode]:
    """Six-month episodes from ``triggers`` up to ``last``; a hospice stay stops one."""
    return cut_episodes(pack_id, triggers, last, stop_reason=why, stops=hospice_stops(record))
