"""The Treatment Month score: C, P and T (proposal III-B, Tables 1-3; cpoc-rules §5).

D (Table 4) is ``engine.administration``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from cpoc_fhir.engine.facts import CancerRole, Diagnosis, PatientRecord
from cpoc_fhir.engine.fast_init import fast_init
from cpoc_fhir.engine.months import BillingMonth
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.knowledge import Knowledge
from cpoc_fhir.packs.cpoc import tables
from cpoc_fhir.packs.cpoc.day_regimens import DayRegimen, MonthDays, distinct

_LAST = 1 << 30  # ranks after every line of therapy
# What a month with no documented performance status looked for (§11: it cites the search).
ECOG_CODES = "http://loinc.org|89247-1,http://loinc.org|89243-0"


@fast_init  # faster __init__, same dataclass (engine/fast_init.py)
@dataclass(frozen=True)
class Factor:
    """One factor's points, the sentence that explains them and what they rest on."""

    points: int
    explanation: str
    evidence: tuple[str, ...] = ()
    warning: str | None = None


def comorbidity(
    record: PatientRecord,
    month: BillingMonth,
    knowledge: Knowledge,
    settings: RuleSettings,
    memo: dict[Any, Any] | None = None,
) -> Factor:
    """Table 1 from the Charlson index of conditions active in the month, cancers excluded.
    ``memo`` (one per patient: the Context's) keeps the factor of each set of diagnoses seen,
    as most months of a patient share theirs, and the record's Charlson candidates."""
    if memo is None:
        return comorbidity_of(charlson_diagnoses(record, month, knowledge), knowledge, settings)
    # The record's Charlson candidates (non-cancer, in a category) are found once per patient:
    # each month then only tests which are active (same diagnoses, same order).
    candidates = memo.get(_CANDIDATES)
    if candidates is None:
        candidates = memo[_CANDIDATES] = charlson_candidates(record, knowledge)
    diagnoses = tuple(d for d in candidates if d.active_during(month.start, month.end))
    key = tuple(map(id, diagnoses))  # the record holds them: ids are stable while it lives
    found = memo.get(key)
    if found is None:
        found = memo[key] = comorbidity_of(diagnoses, knowledge, settings)
    return found


_CANDIDATES = object()  # the memo's entry for the record's Charlson candidates


def charlson_candidates(record: PatientRecord, knowledge: Knowledge) -> tuple[Diagnosis, ...]:
    """The record's non-cancer diagnoses that fall in a Charlson category, in record order."""
    return tuple(
        diagnosis
        for diagnosis in record.diagnoses
        if diagnosis.cancer_role is CancerRole.NONE
        and knowledge.charlson.categories(diagnosis.icd10, diagnosis.snomed)
    )


def charlson_diagnoses(
    record: PatientRecord, month: BillingMonth, knowledge: Knowledge
) -> tuple[Diagnosis, ...]:
    """The non-cancer diagnoses active in the month that fall in a Charlson category."""
    return tuple(
        diagnosis
        for diagnosis in record.diagnoses
        if diagnosis.cancer_role is CancerRole.NONE
        and diagnosis.active_during(month.start, month.end)
        and knowledge.charlson.categories(diagnosis.icd10, diagnosis.snomed)
    )


def comorbidity_of(
    diagnoses: tuple[Diagnosis, ...], knowledge: Knowledge, settings: RuleSettings
) -> Factor:
    """Table 1's factor from the Charlson diagnoses of a month (``charlson_diagnoses``)."""
    icd10 = [code for diagnosis in diagnoses for code in diagnosis.icd10]
    snomed = [code for diagnosis in diagnoses for code in diagnosis.snomed]
    categories = knowledge.charlson.categories(icd10, snomed)
    index = knowledge.charlson.index(categories, settings.charlson_weights)
    points = tables.comorbidity_points(index)
    named = ", ".join(sorted(categories)) if categories else "none"
    return Factor(
        points,
        f"Comorbidity: Charlson index {index} without cancer ({named}; "
        f"{settings.charlson_weights} weights) → {points} points (Table 1)",
        tuple(diagnosis.ref for diagnosis in diagnoses),
    )


def performance(record: PatientRecord, month: BillingMonth, settings: RuleSettings) -> Factor:
    """Table 2. Interpretation (§5 P, config): the worst ECOG in the month, else the latest in
    the lookback before it; none → 0 points and a warning."""
    in_month = [p for p in record.performance if month.contains(p.on)]
    if in_month:
        chosen = max(in_month, key=lambda p: (p.ecog, p.on))
        how = "worst documented in the month"
    else:
        since = month.start - timedelta(days=settings.performance_lookback_days)
        before = [p for p in record.performance if since <= p.on < month.start]
        if not before:
            return Factor(
                0,
                "Performance: no ECOG or Karnofsky documented in the month or the "
                f"{settings.performance_lookback_days} days before → 0 points (Table 2)",
                (performance_search(record.patient_ref, since, month.end),),
                warning="level not supported by a documented performance status: "
                "no ECOG/Karnofsky in the month or the "
                f"{settings.performance_lookback_days} days before it",
            )
        chosen = max(before, key=lambda p: p.on)
        how = f"latest in the {settings.performance_lookback_days} days before the month"
    points = tables.performance_points(chosen.ecog)
    source = (
        f"Karnofsky {chosen.raw} = ECOG {chosen.ecog}"
        if chosen.scale == "karnofsky"
        else f"ECOG {chosen.ecog}"
    )
    return Factor(
        points,
        f"Performance: {source} on {chosen.on.isoformat()} ({how}) → {points} points (Table 2)",
        (chosen.ref,),
    )


def performance_search(patient_ref: str, since: date, until: date) -> str:
    """The relative FHIR search for the ECOG / Karnofsky Observations that were looked for."""
    return (
        f"Observation?subject={patient_ref}&code={ECOG_CODES}"
        f"&date=ge{since.isoformat()}&date=le{until.isoformat()}"
    )


def toxicity(days: MonthDays) -> tuple[Factor, str | None]:
    """Table 3: the highest toxicity of the month's day-regimens (§5). Drugs no catalog regimen
    explains add 0 points (the most conservative the rules allow) and a warning."""
    found = distinct(days)
    scored = [r for r in found if r.regimen is not None]
    best = min(scored, key=_rank, default=None)
    unexplained = [r.label for r in found if r.regimen is None]
    warning = None
    if unexplained:
        warning = (
            f"{'; '.join(unexplained)}: no catalog regimen, toxicity scored 0 (Table 3, "
            "conservative)"
        )
    if best is None:
        text = "Toxicity: no catalog regimen in the month → 0 points (Table 3, conservative)"
        return Factor(0, text, warning=warning), None
    points = _points(best)
    text = f"Toxicity: {best.label} → {points} points (Table 3)"
    if len(scored) > 1:
        each = ", ".join(f"{r.label} {_points(r)}" for r in scored)
        text = f"{text[:-1]}; the highest of the month's regimens: {each})"
    assert best.regimen is not None
    return Factor(points, text, warning=warning), best.regimen.id


def _rank(found: DayRegimen) -> tuple[int, int, int]:
    """Most points first; a tie goes to the earliest line, then to the line's own order."""
    if found.line is None:
        return (-_points(found), _LAST, _LAST)
    regimens = found.line.regimens
    order = regimens.index(found.regimen) if found.regimen in regimens else len(regimens)
    return (-_points(found), found.line.index, order)


def _points(found: DayRegimen) -> int:
    return found.regimen.toxicity_points if found.regimen is not None else 0


def first_of(days: set[int]) -> date:
    return date.fromordinal(min(days))
