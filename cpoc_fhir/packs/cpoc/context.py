"""One patient's evaluation context: the record as known on ``as_of`` and what is derived once.

Built by ``timeline.evaluate``; read by the monitoring, transition and line modules.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace
from datetime import date
from enum import Enum
from typing import Any

from cpoc_fhir.engine.facts import (
    CancerRole,
    Diagnosis,
    DiseaseState,
    DiseaseStatus,
    EpisodeKind,
    ExposureKind,
    PatientRecord,
    Visit,
)
from cpoc_fhir.engine.months import BillingMonth, billing_month, month_index
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.knowledge import Knowledge
from cpoc_fhir.packs.cpoc.payer import PayerSchedule
from cpoc_fhir.packs.cpoc.treatment import MonthTreatment, TherapyLine


class Disease(Enum):
    """Disease state for monitoring levels (cpoc-rules §6)."""

    METASTATIC = "metastatic"
    NED = "no evidence of disease"
    UNKNOWN = "unknown"


_UNSET = object()
# dated_in's answer for a month with nothing dated in it (asked of every month)
_NONE_DATED: tuple[list[DiseaseStatus], list[Diagnosis]] = ([], [])


def known_on(record: PatientRecord, as_of: date) -> PatientRecord:
    """The record as it stood on ``as_of``: later facts dropped, later ends not yet known.

    A run for a past date reproduces what could have been billed then. Orders placed by
    ``as_of`` keep their future days (a supply or a planned infusion is already known).
    """

    def kept(on: date | None) -> bool:
        return on is None or on <= as_of

    def until(end: date | None) -> date | None:
        return end if end is not None and end <= as_of else None

    diagnoses = tuple(
        d
        if d.abatement is None or d.abatement <= as_of
        else replace(d, abatement=None, active=True)
        for d in record.diagnoses
        if kept(d.onset)
    )
    exposures = tuple(
        e
        for e in record.exposures
        if (e.ordered_on or e.start) <= as_of
        and (e.kind is not ExposureKind.ADMINISTERED or e.start <= as_of)
    )
    return replace(
        record,
        death=record.death if kept(record.death) else None,
        diagnoses=diagnoses,
        exposures=exposures,
        order_stops=tuple(s for s in record.order_stops if s.on <= as_of),
        performance=tuple(p for p in record.performance if p.on <= as_of),
        disease_status=tuple(s for s in record.disease_status if s.on <= as_of),
        stages=tuple(s for s in record.stages if s.on <= as_of),
        visits=tuple(v for v in record.visits if v.on <= as_of),
        episodes=tuple(replace(e, end=until(e.end)) for e in record.episodes if kept(e.start)),
        trials=tuple(replace(t, end=until(t.end)) for t in record.trials if kept(t.start)),
        transplants=tuple(t for t in record.transplants if t.on <= as_of),
    )


def _still_active(diagnosis: Diagnosis) -> Diagnosis:
    return replace(diagnosis, abatement=None, active=True)


@dataclass
class Context:
    record: PatientRecord
    knowledge: Knowledge
    settings: RuleSettings
    payer: PayerSchedule
    as_of: date
    anchor: date
    months: list[BillingMonth]
    treatment: dict[int, MonthTreatment]  # month index → its treatment facts
    lines: tuple[TherapyLine, ...]
    line_of: dict[str, int]
    treatment_days: list[int]  # sorted ordinals of every treatment day
    first_treatment: date | None
    last_day: date  # the last day lines may be billed for: as_of, or death / transfer (§9)
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.f2f_visits: list[Visit] = sorted(
            (v for v in self.record.visits if v.face_to_face), key=lambda v: v.on
        )
        self._visit_days = [v.on.toordinal() for v in self.f2f_visits]
        self._month_starts = [m.start.toordinal() for m in self.months]  # month k at k - 1
        self._treated_months = sorted(k for k, month in self.treatment.items() if month.days)
        self.first_primary_onset: date | None = min(
            (
                d.onset
                for d in self.record.diagnoses
                if d.cancer_role is CancerRole.PRIMARY and d.onset
            ),
            default=None,
        )
        # month index → the disease statuses and the diagnoses (by onset) dated in it
        self._dated: dict[int, tuple[list[DiseaseStatus], list[Diagnosis]]] = {}
        for status in self.record.disease_status:
            self._dated_bucket(status.on)[0].append(status)
        for diagnosis in self.record.diagnoses:
            if diagnosis.onset is not None:
                self._dated_bucket(diagnosis.onset)[1].append(diagnosis)
        self._refs_on: dict[int, tuple[str, ...]] = {}
        self._cancer_type: object = _UNSET  # computed on first use (monitoring horizons)
        self.day_memo: dict[Any, Any] = {}  # day identification, per patient (day_regimens)
        # Per-patient lists the monthly disease tests scan (issue 16 item 4): the secondary
        # cancers, the stage IV dates, and the disease statuses sorted by date (stable: record
        # order within a day) with their ordinals, for bisection.
        self._secondaries = [
            d for d in self.record.diagnoses if d.cancer_role is CancerRole.SECONDARY
        ]
        self._stage_iv = [s for s in self.record.stages if s.metastatic]
        self._statuses = sorted(self.record.disease_status, key=lambda s: s.on)
        self._status_days = [s.on.toordinal() for s in self._statuses]
        self.comorbidity_memo: dict[Any, Any] = {}  # scoring.comorbidity, per diagnosis set
        self.hospice_start: date | None = min(
            (e.start for e in self.record.episodes if e.kind is EpisodeKind.HOSPICE and e.start),
            default=None,
        )

    def _dated_bucket(self, day: date) -> tuple[list[DiseaseStatus], list[Diagnosis]]:
        return self._dated.setdefault(month_index(self.anchor, day), ([], []))

    def dated_in(self, k: int) -> tuple[list[DiseaseStatus], list[Diagnosis]]:
        """The disease statuses and diagnoses (by onset) dated in month k, in record order.
        Read them, never change them (a month with none shares one empty pair)."""
        return self._dated.get(k, _NONE_DATED)

    # --- months -----------------------------------------------------------------------
    def month(self, k: int) -> BillingMonth:
        """Month k, also beyond the generated ones (e.g. to close a visit window)."""
        if 1 <= k <= len(self.months):
            return self.months[k - 1]
        return billing_month(self.anchor, k)

    def treated(self, k: int) -> bool:
        month = self.treatment.get(k)
        return month is not None and bool(month.days)

    def treatment_known(self, k: int) -> bool | None:
        """Whether month k has treatment: True, False, or None while it cannot be known."""
        if self.treated(k):
            return True
        if self.month(k).start > self.last_day and self.last_day < self.as_of:
            return False  # after death or the transfer of care: no treatment by the practice
        if k > len(self.months) or self.month(k).is_open(self.as_of):
            return None
        return False

    def last_treated_before(self, k: int) -> int | None:
        i = bisect.bisect_left(self._treated_months, k)
        return self._treated_months[i - 1] if i else None

    # --- visits and treatment days -------------------------------------------------------
    def visits_between(self, start: date, end: date) -> list[Visit]:
        lo = bisect.bisect_left(self._visit_days, start.toordinal())
        hi = bisect.bisect_right(self._visit_days, end.toordinal())
        return self.f2f_visits[lo:hi]

    def last_treatment_day_before(self, day: date) -> date | None:
        i = bisect.bisect_left(self.treatment_days, day.toordinal())
        return date.fromordinal(self.treatment_days[i - 1]) if i else None

    def first_treatment_day_after(self, day: date) -> date | None:
        i = bisect.bisect_right(self.treatment_days, day.toordinal())
        return date.fromordinal(self.treatment_days[i]) if i < len(self.treatment_days) else None

    def treatment_refs_on(self, day: date) -> tuple[str, ...]:
        """The resources that make ``day`` a treatment day (§11 evidence of a treatment)."""
        ordinal = day.toordinal()
        hit = self._refs_on.get(ordinal)
        if hit is not None:
            return hit  # every monitoring month after treatment cites the same last day
        month = self.treatment.get(bisect.bisect_right(self._month_starts, ordinal))
        spans = month.spans if month else []
        refs = [e.ref for lo, hi, e in spans if lo <= ordinal <= hi]
        if month and ordinal in month.transplant_days:
            refs.append(month.transplant_days[ordinal])
        hit = self._refs_on[ordinal] = tuple(dict.fromkeys(refs))
        return hit

    # --- disease state -------------------------------------------------------------------
    def disease(self, month: BillingMonth) -> tuple[Disease, tuple[str, ...]]:
        """§6: metastatic (active secondary cancer or stage IV), else NED (latest disease
        status remission / not detected), else unknown. Metastatic wins over a NED status."""
        secondary = [d.ref for d in self._secondaries if d.active_during(month.start, month.end)]
        stage_iv = [s.ref for s in self._stage_iv if s.on <= month.end]
        if secondary or stage_iv:
            return Disease.METASTATIC, tuple(secondary + stage_iv)
        latest = self.latest_status(month.end)
        if latest is not None and latest.state is DiseaseState.NED:
            return Disease.NED, (latest.ref,)
        return Disease.UNKNOWN, ()

    def latest_status(self, on_or_before: date, after: date | None = None) -> DiseaseStatus | None:
        """The latest disease status dated up to ``on_or_before`` (and after ``after``); of
        several that day, the first in record order (what ``max`` over the record gave)."""
        days = self._status_days
        hi = bisect.bisect_right(days, on_or_before.toordinal())
        if not hi:
            return None
        latest = days[hi - 1]
        if after is not None and latest <= after.toordinal():
            return None
        return self._statuses[bisect.bisect_left(days, latest)]

    def cancer_type(self) -> str | None:
        """The type of the most recent primary cancer (for per-cancer horizons)."""
        if self._cancer_type is _UNSET:
            primaries = [
                d
                for d in self.record.diagnoses
                if d.cancer_role is CancerRole.PRIMARY and d.cancer_type
            ]
            latest = max(primaries, key=lambda d: d.onset or date.min, default=None)
            self._cancer_type = latest.cancer_type if latest else None
        return self._cancer_type  # type: ignore[return-value]
