"""Episodes of an episode-based payment model (value-and-models §15.1, §15.2): the shared cut.

An episode runs six months from its trigger day T: its months are cut like CPOC billing months
anchored on T (cpoc-rules §2, ``months.billing_months``), so it ends on the day before S_7.
The next episode starts on the first qualifying day after an episode ends — the day after, when
chemotherapy continues (an oral supply or an administration on that day), else the next
trigger. What qualifies is the pack's rule (OCM: any anti-cancer drug, hormonal included; EOM:
initiating systemic therapy of one of its cancers); the cut is the same for every pack.

A stop (a hospice stay) ends the billing of the episode running when it starts — its months
up to the one containing the stop's first day still bill — and no episode starts on a later
day of the stop; after a stop that ended (hospice revoked or discharged), the next trigger after
both the stopped episode's end and the stop's end starts a new episode.
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
    why_provisional: str = ""  # when not confirmed: why (else the planned-infusion wording)


@dataclass(frozen=True)
class Stop:
    """Days on which no episode may start and at whose start a running episode stops billing
    (a hospice stay): ``start`` to ``end`` inclusive, ``end`` None while it lasts."""

    start: date
    end: date | None
    reason: str  # "hospice care from 2025-01-10"

    def blocks(self, day: date) -> bool:
        """No episode starts on ``day``: after the stop's first day, up to its end. (On the
        first day itself an episode may start; its first month is then its only one, as a
        month containing the stop's start bills.)"""
        return self.start < day and (self.end is None or day <= self.end)


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
    why_provisional: str = ""  # when not confirmed: why (the trigger's reason)

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
    stops: Iterable[Stop] = (),
) -> list[Episode]:
    """The back-to-back episodes the qualifying days make, each with its months up to
    ``last_day`` (the earlier of as-of and death — the pack says which, and ``stop_reason``
    names it for an episode cut short) and up to the first ``stops`` day inside it."""
    # On one day a confirmed trigger is taken before a provisional one.
    ordered = sorted(triggers, key=lambda t: (t.on, not t.confirmed, t.ref))
    blocked = sorted(stops, key=lambda s: s.start)
    episodes: list[Episode] = []
    after = date.min
    for trigger in ordered:
        if trigger.on <= after or trigger.on > last_day:
            continue
        if any(s.blocks(trigger.on) for s in blocked):
            continue  # no episode starts during a stop (a hospice stay)
        end = episode_end(trigger.on, months)
        until, why = last_day, stop_reason
        stop = next((s for s in blocked if trigger.on <= s.start <= end), None)
        if stop is not None and stop.start < until:
            until, why = stop.start, stop.reason
        cut = tuple(billing_months(trigger.on, min(end, until)))
        note = why if len(cut) < months and until < end and why else ""
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
                why_provisional=trigger.why_provisional,
            )
        )
        after = end
    return episodes
