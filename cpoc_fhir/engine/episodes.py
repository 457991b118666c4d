"""Episodes of an episode-based payment model (value-and-models §15.1, §15.2): the shared cut.

An episode runs six months from its trigger day T: its months are cut like CPOC billing months
anchored on T (cpoc-rules §2, ``months.billing_months``), so it ends on the day before S_7.
The next episode starts on the first qualifying day after an episode ends — the day after, when
chemotherapy continues (an oral supply or an administration on that day), else the next
trigger. What qualifies is the pack's rule (OCM: any anti-cancer drug, hormonal included; EOM:
initiating systemic therapy of one of its cancers); the cut is the same for every pack.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from cpoc_fhir.engine.months import ONE_DAY, BillingMonth, billing_months, month_start

EPISODE_MONTHS = 6


@dataclass(frozen=True)
class Trigger:
    """A day on which something that starts (or continues) an episode happened."""

    on: date
    ref: str  # the evidence: "MedicationAdministration/x", "MedicationDispense/y", …
    cancer_type: str | None = None
    confirmed: bool = True  # False: an infusion ordered, not yet recorded as given


@dataclass(frozen=True)
class Episode:
    """Episode ``index`` (1, 2, … per patient and model) of ``model``."""

    model: str
    index: int
    start: date
    end: date  # inclusive: the last day of its last month
    trigger: str
    cancer_type: str | None = None
    months: tuple[BillingMonth, ...] = ()  # the months that can bill (none after death …)
    note: str = ""  # why it has fewer months than six, when it has
    confirmed: bool = True  # its trigger is on record as given or filled (else provisional)

    def month_of(self, day: date) -> BillingMonth | None:
        return next((m for m in self.months if m.contains(day)), None)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.model,
            "episode": self.index,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "trigger": self.trigger,
            "cancerType": self.cancer_type,
            "months": [
                {"month": m.index, "start": m.start.isoformat(), "end": m.end.isoformat()}
                for m in self.months
            ],
        }
        if self.note:
            out["note"] = self.note
        return out


def episode_end(start: date, months: int = EPISODE_MONTHS) -> date:
    """The last day of an episode starting on ``start``: the day before S_{months+1}."""
    return month_start(start, months + 1) - ONE_DAY


def cut_episodes(
    model: str,
    triggers: Iterable[Trigger],
    last_day: date,
    months: int = EPISODE_MONTHS,
    stop_reason: str = "",
) -> list[Episode]:
    """The back-to-back episodes the qualifying days make, each with its months up to
    ``last_day`` (the earliest of as-of, death, hospice start … — the pack says which, and
    ``stop_reason`` names it for an episode cut short)."""
    ordered = sorted(triggers, key=lambda t: (t.on, t.ref))
    episodes: list[Episode] = []
    after = date.min
    for trigger in ordered:
        if trigger.on <= after or trigger.on > last_day:
            continue
        end = episode_end(trigger.on, months)
        cut = tuple(billing_months(trigger.on, min(end, last_day)))
        note = stop_reason if len(cut) < months and last_day < end and stop_reason else ""
        episodes.append(
            Episode(
                model=model,
                index=len(episodes) + 1,
                start=trigger.on,
                end=end,
                trigger=trigger.ref,
                cancer_type=trigger.cancer_type,
                months=cut,
                note=note,
                confirmed=trigger.confirmed,
            )
        )
        after = end
    return episodes
