"""What the payer mix makes each pack bill, reasoned from the generator's choices alone
(value-and-models §15, §15.2) — for the cross tests, never from the files written.

- The pack on a day: the payer of the order-1 Coverage in force that day (the mix writes at
  most one), mapped by ``[models] payers``; no Coverage in force: the default pack.
- EOM episodes: an initiating systemic therapy is an anti-cancer drug *administration* (or a
  dispense) while the patient has an EOM cancer — the generator's cancers (colon, lung, breast,
  lymphoma) all are. Oral drugs are written as orders only (MedicationRequest), and an order
  triggers nothing (§15.1), so only the infusion days trigger; tamoxifen (hormonal only) is
  oral anyway. An episode starts on a trigger day the pack holds the patient, runs six
  months (the day before the same day-of-month six months on; an anchor on the 31st or on
  28/29 February keeps to month ends — cpoc-rules §2), and the next one starts on the first
  trigger after it ends. A month bills when it starts on a day the pack holds the patient, on
  or before the last billable day (as-of, the day of death, the start of hospice care).
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from cpoc_fhir.synthetic.truth import PatientTruth

ONE_DAY = timedelta(days=1)


def pack_on(
    patient: PatientTruth, day: date, payers: Mapping[str, str], default: str = "cpoc"
) -> str:
    primary = [c for c in patient.coverages if c.order == 1 and c.holds(day)]
    if not primary:
        return default
    (coverage,) = primary  # the mix never writes two primaries on one day
    return payers.get(coverage.payer, default)


def is_dual(patient: PatientTruth, day: date) -> bool:
    """A Medicaid Coverage (SOPT 2) in force on ``day``."""
    return any(c.sopt.startswith("2") and c.holds(day) for c in patient.coverages)


def _nth_month(anchor: date, k: int) -> date:
    """S_k of months anchored on ``anchor`` (k ≥ 1), as cpoc-rules §2 defines them."""
    months = anchor.month - 1 + k - 1
    year, month = anchor.year + months // 12, months % 12 + 1
    last = calendar.monthrange(year, month)[1]
    month_end = anchor.day == 31 or (anchor.month == 2 and anchor.day >= 28)
    return date(year, month, last if month_end else min(anchor.day, last))


@dataclass(frozen=True)
class ExpectedEpisode:
    start: date
    end: date  # inclusive
    month_starts: tuple[date, ...]  # the months that bill (1-based index = position + 1)
    month_indexes: tuple[int, ...]


def last_billable_day(patient: PatientTruth, as_of: date) -> date:
    days = [as_of]
    if patient.death is not None:
        days.append(patient.death)
    if patient.hospice_start is not None:
        days.append(patient.hospice_start)
    return min(days)


@dataclass(frozen=True)
class ModelWindow:
    """A model that ran for a while (OCM, §15.1): the days an episode may start on, and the
    last day a month may start on."""

    first_start: date
    last_start: date
    end: date


def expected_episodes(
    patient: PatientTruth,
    as_of: date,
    payers: Mapping[str, str],
    pack: str = "eom",
    default: str = "cpoc",
    window: ModelWindow | None = None,
) -> list[ExpectedEpisode]:
    """The episodes ``pack`` (an episode model triggered by infusions: EOM, and OCM with its
    ``window``) bills the patient."""
    last = last_billable_day(patient, as_of)
    triggers = [d for d in patient.infusion_days if pack_on(patient, d, payers, default) == pack]
    if window is not None:
        last = min(last, window.end)
        triggers = [d for d in triggers if window.first_start <= d <= window.last_start]
    out: list[ExpectedEpisode] = []
    after = date.min
    for day in sorted(triggers):
        if day <= after or day > last:
            continue
        end = _nth_month(day, 7) - ONE_DAY
        starts = [_nth_month(day, k) for k in range(1, 7)]
        billed = [
            (k, s)
            for k, s in enumerate(starts, start=1)
            if s <= last and pack_on(patient, s, payers, default) == pack
        ]
        out.append(
            ExpectedEpisode(day, end, tuple(s for _, s in billed), tuple(k for k, _ in billed))
        )
        after = end
    return out
