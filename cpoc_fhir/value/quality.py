"""The quality measures Q1-Q6 of value-and-models §12.2, computed from the FHIR R4 record.

``QUALITY_MEASURES`` lists them; ``measure.evaluate(py, settings)`` gives one patient's
cases in the initial population, denominator, exclusions and numerator (FHIR
measure-population codes) with the resources ("Type/id") behind each. The contribution also
carries ``warnings`` (``QualityContribution``): what could not be counted and why, naming
resources by id only.

Windows count calendar days as the record writes them (no time-zone shift), both ends
included. Each choice the table leaves open is marked **Interpretation**
(docs/value-based-adjustment.md lists them all).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

from cpoc_fhir.engine.facts import EpisodeKind
from cpoc_fhir.engine.lines import LineStatus, is_resource_reference
from cpoc_fhir.value.model import (
    DENOMINATOR,
    EXCLUSION,
    INITIAL_POPULATION,
    NUMERATOR,
    Contribution,
    PatientYear,
)
from cpoc_fhir.value.quality_facts import QualityFacts, facts_for, in_value_set, is_liquid
from cpoc_fhir.value.settings import ValueSettings

# §12.2 Q1: performance status "in the 30 days up to the first dose": day −30 … day 0.
Q1_WINDOW = timedelta(days=30)
# §12.2 Q2: anti-cancer drug "within 30 days before or after" the visit: day −30 … day +30.
Q2_WINDOW = timedelta(days=30)
# §12.2 Q4, NQF 0210 "in the last 14 days of life". **Interpretation:** day of death − 14 …
# day of death, both included: the measure's developers (Earle et al., J Clin Oncol
# 2003;21:1133, the basis of NQF 0210) count therapy "within 14 days of death", i.e. the
# days between the last dose and death are at most 14. Day −15 does not count.
Q4_WINDOW = timedelta(days=14)
# §12.2 Q5 (OCM-3, EOM-2; MIPS 457 counts "fewer than three days" as the failure): hospice
# starting at least 3 days before death, i.e. on or before day −3.
Q5_MINIMUM_STAY = timedelta(days=3)
# **Interpretation** (Q4, Q5 "under the practice's care"): the practice was caring for the
# patient in the 6 months up to death (OCM's and EOM's 6-month episode).
CARE_LOOKBACK = timedelta(days=180)


@dataclass
class QualityContribution(Contribution):
    """A ``Contribution`` with the warnings met while counting it."""

    warnings: list[str] = field(default_factory=list)


Rule = Callable[[QualityFacts, PatientYear, QualityContribution], None]


@dataclass(frozen=True)
class QualityMeasure:
    id: str
    title: str
    improvement: Literal["increase", "decrease"]
    unit: Literal["line starts", "visits", "patients"]
    source: str
    rule: Rule = field(repr=False, compare=False)

    def evaluate(self, py: PatientYear, settings: ValueSettings) -> Contribution:
        """One patient's cases; nothing (and a warning) without a readable Patient (§11)."""
        facts = facts_for(py)
        out = QualityContribution(warnings=facts.warnings(self.id))
        if facts.readable:
            self.rule(facts, py, out)
        return out


def _q1(facts: QualityFacts, py: PatientYear, out: QualityContribution) -> None:
    """Starts of a new line of therapy in the year; ECOG/Karnofsky in day −30 … 0 of the
    first dose. **Interpretation:** every line the engine starts counts (first and later,
    hormonal included), its first dose being the line's first day (an oral drug's supply
    start, not its order date)."""
    for start in facts.line_starts:
        if not facts.in_year(start.day):
            continue
        out.add(INITIAL_POPULATION, start.case, *start.refs)
        out.add(DENOMINATOR, start.case, *start.refs)
        found = [
            p.ref for p in facts.record.performance if start.day - Q1_WINDOW <= p.on <= start.day
        ]
        if found:
            out.add(NUMERATOR, start.case, *found)


def _q2(facts: QualityFacts, py: PatientYear, out: QualityContribution) -> None:
    """The practice's face-to-face visits in the year with an anti-cancer drug given within
    30 days before or after; a pain score with a value on the visit day (or recorded in the
    visit). CMS 157 has no exclusions or exceptions: none here."""
    for visit in facts.visits:
        lo, hi = visit.on - Q2_WINDOW, visit.on + Q2_WINDOW
        drugs = [e.ref for e in facts.given if e.start <= hi and e.end >= lo]
        if not drugs:
            continue
        out.add(INITIAL_POPULATION, visit.ref, visit.ref, *drugs)
        out.add(DENOMINATOR, visit.ref, visit.ref, *drugs)
        scores = [
            s.ref
            for s in facts.reading.pain
            if s.result and (s.on == visit.on or s.encounter == visit.ref)
        ]
        if scores:
            out.add(NUMERATOR, visit.ref, *scores)


def _q3(facts: QualityFacts, py: PatientYear, out: QualityContribution) -> None:
    """Patients with a solid tumour whose first anti-cancer drug falls in the year (initial
    population = denominator, as the published Measure says); a stage group dated on or
    before it (a stage group Observation, or a cancer Condition's ``stage.summary``).
    **Interpretation:** the tumour is solid unless a haematologic malignancy is among the
    cancers diagnosed by the first treatment (all cancers when none is dated by then)."""
    first = facts.first_treatment
    if first is None or not facts.in_year(first.day) or not facts.cancers:
        return
    known = [c for c in facts.cancers if c.onset is None or c.onset <= first.day]
    cancers = known or list(facts.cancers)
    if any(is_liquid(c) for c in cancers):
        return
    case = facts.patient
    out.add(INITIAL_POPULATION, case, *first.refs, *(c.ref for c in cancers))
    out.add(DENOMINATOR, case, *first.refs, *(c.ref for c in cancers))
    stages = [s.ref for s in facts.record.stages if s.on <= first.day]
    cancer_refs = {c.ref for c in facts.cancers}
    stages += [
        ref
        for ref, on in facts.reading.condition_stages
        if ref in cancer_refs and on <= first.day and ref not in stages
    ]
    if stages:
        out.add(NUMERATOR, case, *stages)


def _died_in_care(facts: QualityFacts, py: PatientYear, out: QualityContribution) -> date | None:
    """Q4/Q5's population (initial population = denominator, as the published Measure
    says): a cancer on record, death in the year, under the practice's care. The day of death
    when the patient is in it."""
    death = facts.record.death
    if death is None or not facts.in_year(death):
        return None
    cancers = [c.ref for c in facts.cancers if c.onset is None or c.onset <= death]
    care = _under_care(facts, py, death) if cancers else None
    if care is None:
        return None
    out.add(INITIAL_POPULATION, facts.patient, facts.patient, *cancers)
    out.add(DENOMINATOR, facts.patient, facts.patient, *care)
    return death


def _under_care(facts: QualityFacts, py: PatientYear, death: date) -> list[str] | None:
    """**Interpretation:** under the practice's care at death = care not transferred before
    death (every oncology EpisodeOfCare of the practice ended earlier: cpoc-rules §9), and an
    oncology episode open on the day of death, or in the 180 days up to death a final CPOC
    line, a face-to-face oncology visit, or a treatment the practice ordered or gave (a
    provisional line alone is not care: level-1 surveillance is provisional until a visit).
    Returns the resources that show it."""
    episodes = [e for e in facts.record.episodes if e.kind is EpisodeKind.ONCOLOGY]
    if episodes and all(e.end is not None and e.end < death for e in episodes):
        return None
    open_ = [
        e.ref
        for e in episodes
        if (e.start is None or e.start <= death) and (e.end is None or e.end >= death)
    ]
    if open_:
        return open_
    since = death - CARE_LOOKBACK
    for line in reversed(py.timeline.lines):
        if line.status is LineStatus.FINAL and line.start <= death and line.end >= since:
            cited = [e for e in line.evidence if is_resource_reference(e)]
            return cited or [facts.patient]
    record = facts.record
    seen = [v for v in record.visits if v.face_to_face and v.oncology and since <= v.on <= death]
    treated = [e for e in record.exposures if e.start <= death and e.end >= since]
    # The latest visit and the latest treatment show it; the rest would only repeat it.
    cited = [max(seen, key=lambda v: v.on).ref] if seen else []
    cited += [max(treated, key=lambda e: e.end).ref] if treated else []
    return cited or None


def _q4(facts: QualityFacts, py: PatientYear, out: QualityContribution) -> None:
    """Systemic anti-cancer therapy (not hormonal, NQF 0210) given on a day of death − 14 …
    death. NQF 0210 lists no exclusions: none here."""
    death = _died_in_care(facts, py, out)
    if death is None:
        return
    lo = death - Q4_WINDOW
    found = [e.ref for e in facts.systemic if e.start <= death and e.end >= lo]
    if found:
        out.add(NUMERATOR, facts.patient, *found)


def _q5(facts: QualityFacts, py: PatientYear, out: QualityContribution) -> None:
    """Hospice care starting on or before death − 3 days and not ended before death.
    **Interpretation:** hospice ended (live discharge) before death does not count."""
    death = _died_in_care(facts, py, out)
    if death is None:
        return
    latest = death - Q5_MINIMUM_STAY
    found = [
        h.ref
        for h in facts.reading.hospice
        if h.start is not None and h.start <= latest and (h.end is None or h.end >= death)
    ]
    if found:
        out.add(NUMERATOR, facts.patient, *found)


def _q6(facts: QualityFacts, py: PatientYear, out: QualityContribution) -> None:
    """Patients with a face-to-face visit of the practice in the year; a PHQ-2/PHQ-9 result
    in the year. Exclusions from CMS 2: depression or bipolar disorder diagnosed before the
    first visit of the year (denominator exclusion: CMS 2's diagnosis "starts before" the
    qualifying encounter, resolved or not; a diagnosis without any date counts as before), and
    a screen the patient declined with no screen done (CMS 2's denominator exception "patient
    refuses", counted among the exclusions: §12.2's populations have no exception)."""
    if not facts.visits:
        return
    case, visits = facts.patient, [v.ref for v in facts.visits]
    out.add(INITIAL_POPULATION, case, *visits)
    out.add(DENOMINATOR, case, *visits)
    first = facts.visits[0].on
    diagnosed = [
        d.ref
        for d in facts.record.diagnoses
        if in_value_set(d, "depression-or-bipolar") and (d.onset is None or d.onset < first)
    ]
    if diagnosed:
        out.add(EXCLUSION, case, *diagnosed)
        return
    screens = [s for s in facts.reading.depression if facts.in_year(s.on)]
    done = [s.ref for s in screens if s.result]
    if done:
        out.add(NUMERATOR, case, *done)
    elif declined := [s.ref for s in screens if s.declined]:
        out.add(EXCLUSION, case, *declined)


QUALITY_MEASURES: tuple[QualityMeasure, ...] = (
    QualityMeasure(
        "Q1",
        "Performance status documented before chemotherapy",
        "increase",
        "line starts",
        "QOPI core",
        _q1,
    ),
    QualityMeasure(
        "Q2",
        "Pain intensity quantified",
        "increase",
        "visits",
        "NQF 0384 / CMS 157",
        _q2,
    ),
    QualityMeasure(
        "Q3",
        "Stage documented before treatment",
        "increase",
        "patients",
        "QOPI core",
        _q3,
    ),
    QualityMeasure(
        "Q4",
        "Chemotherapy in the last 14 days of life",
        "decrease",
        "patients",
        "NQF 0210",
        _q4,
    ),
    QualityMeasure(
        "Q5",
        "Hospice 3 days or more before death",
        "increase",
        "patients",
        "OCM-3 / EOM-2",
        _q5,
    ),
    QualityMeasure(
        "Q6",
        "Depression screening",
        "increase",
        "patients",
        "CMS 2 / OCM-5",
        _q6,
    ),
)
