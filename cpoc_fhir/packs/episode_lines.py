"""Lines of the episode models (value-and-models §15.1, §15.2): triggers and monthly MEOS.

Shared by the OCM and EOM packs, which differ in what triggers an episode and what a month
pays, not in how a month is billed: one MEOS line per episode month, dated on the month's
first day, none for a month that starts after death or the start of hospice care, and only
for months that have started by ``as_of`` (a month not yet begun is not billed). A hospice
stay stops the episode running at its start only: once the stay has ended (revoked or
discharged: the CareEpisode's end), a later trigger starts a new episode
(engine/episodes.py ``Stop``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal

from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.episodes import Episode, Stop, Trigger
from cpoc_fhir.engine.facts import (
    DrugRole,
    EpisodeKind,
    ExposureKind,
    MedicationExposure,
    PatientRecord,
)
from cpoc_fhir.engine.lines import BillingLine, LineStatus

# What a month pays, and the sentences that say why (the pack's amounts and wording).
Price = Callable[[Episode, date], tuple[Decimal, list[str]]]


def is_fill_or_administration(exposure: MedicationExposure) -> bool:
    """A Part B administration or a Part D fill (§15.1): given, planned to be given, or
    dispensed — an order or a statement alone triggers nothing."""
    if exposure.kind is ExposureKind.SUPPLY:
        return exposure.ref.startswith("MedicationDispense/")
    return True


def drug_triggers(
    record: PatientRecord,
    qualifies: Callable[[MedicationExposure], bool],
    cancer_type: str | None = None,
) -> list[Trigger]:
    """The days anti-cancer drugs the pack counts were given or supplied on: every day an
    exposure covers (so a supply running past an episode's end continues chemotherapy)."""
    triggers: list[Trigger] = []
    for exposure in record.exposures:
        if exposure.role is not DrugRole.ANTICANCER or not is_fill_or_administration(exposure):
            continue
        if not qualifies(exposure):
            continue
        confirmed = exposure.kind is not ExposureKind.PLANNED
        for ordinal in exposure.days():
            day = date.fromordinal(ordinal)
            triggers.append(Trigger(day, exposure.ref, cancer_type, confirmed))
    return triggers


def last_billable_day(record: PatientRecord, as_of: date) -> tuple[date, str]:
    """The last day a MEOS month may start on, and what set it ("" for ``as_of``): as-of or
    death. Hospice stays are ``hospice_stops`` (they stop one episode, not all later ones)."""
    last, why = as_of, ""
    if record.death is not None and record.death < last:
        last, why = record.death, f"death on {record.death.isoformat()}"
    return last, why


def hospice_stops(record: PatientRecord) -> tuple[Stop, ...]:
    """The patient's hospice stays (a CareEpisode of kind hospice with a start) as stops for
    ``cut_episodes``: open while the stay has no end."""
    return tuple(
        Stop(e.start, e.end, f"hospice care from {e.start.isoformat()}")
        for e in record.episodes
        if e.kind is EpisodeKind.HOSPICE and e.start is not None
    )


def meos_lines(
    model: str,
    code: str,
    episodes: Iterable[Episode],
    price: Price,
    extra_evidence: Iterable[str] = (),
) -> list[BillingLine]:
    """One MEOS line per billable episode month (``Episode.months`` already stops at the
    last billable day)."""
    evidence_tail = tuple(extra_evidence)
    lines: list[BillingLine] = []
    for episode in episodes:
        for month in episode.months:
            amount, why = price(episode, month.start)
            status = LineStatus.FINAL if episode.confirmed else LineStatus.PROVISIONAL
            explanation = [
                f"Episode {episode.index} ({episode.start.isoformat()} to "
                f"{episode.end.isoformat()}), month {month.index} of 6: triggered by "
                f"{episode.trigger}",
                *why,
            ]
            if not episode.confirmed:
                explanation.append(
                    "provisional: "
                    + (
                        episode.why_provisional
                        or "the triggering administration is planned, not yet given"
                    )
                )
            lines.append(
                BillingLine(
                    code=code,
                    component=Component.MEOS,
                    level=None,
                    month=month.index,
                    start=month.start,
                    end=month.end,
                    status=status,
                    amount=amount,
                    explanation=tuple(explanation),
                    evidence=(episode.trigger, *evidence_tail),
                    model=model,
                    episode=episode.index,
                )
            )
    return lines
