"""The Treatment Month score: C + P + T + D (proposal III-B, Tables 1-4; cpoc-rules §5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from cpoc_fhir.engine import tables
from cpoc_fhir.engine.facts import CancerRole, MedicationExposure, PatientRecord
from cpoc_fhir.engine.months import BillingMonth
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.engine.treatment import MonthTreatment, TherapyLine, drug_key
from cpoc_fhir.knowledge import Knowledge

# A parenteral drug the catalog does not know: Table 4's lowest category ("any injection"),
# the most conservative the rules allow (cpoc-rules §5: "most conservative points").
UNKNOWN_PARENTERAL_CATEGORY = 0
# A catalog anti-cancer drug with no single-agent category given alone: "single agent chemo".
DEFAULT_SINGLE_AGENT_CATEGORY = 2


@dataclass(frozen=True)
class Factor:
    """One factor's points, the sentence that explains them and what they rest on."""

    points: int
    explanation: str
    evidence: tuple[str, ...] = ()
    warning: str | None = None


def comorbidity(
    record: PatientRecord, month: BillingMonth, knowledge: Knowledge, settings: RuleSettings
) -> Factor:
    """Table 1 from the Charlson index of conditions active in the month, cancers excluded."""
    icd10: list[str] = []
    snomed: list[str] = []
    evidence = []
    for diagnosis in record.diagnoses:
        if diagnosis.cancer_role is not CancerRole.NONE:
            continue
        if not diagnosis.active_during(month.start, month.end):
            continue
        found = knowledge.charlson.categories(diagnosis.icd10, diagnosis.snomed)
        if found:
            icd10.extend(diagnosis.icd10)
            snomed.extend(diagnosis.snomed)
            evidence.append(diagnosis.ref)
    categories = knowledge.charlson.categories(icd10, snomed)
    index = knowledge.charlson.index(categories, settings.charlson_weights)
    points = tables.comorbidity_points(index)
    named = ", ".join(sorted(categories)) if categories else "none"
    return Factor(
        points,
        f"Comorbidity: Charlson index {index} without cancer ({named}; "
        f"{settings.charlson_weights} weights) → {points} points (Table 1)",
        tuple(evidence),
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


def toxicity(lines: list[TherapyLine]) -> tuple[Factor, str | None]:
    """Table 3: the most toxic regimen given in the month. Unknown regimens add 0 points."""
    best: tuple[int, str | None, str] = (0, None, "")
    warning = None
    for line in lines:
        for regimen in line.regimens:
            if best[1] is None or regimen.toxicity_points > best[0]:
                best = (regimen.toxicity_points, regimen.id, regimen.name)
        if not line.fully_known:
            warning = f"{line.name}: not fully in the regimen catalog, toxicity scored 0"
    points, regimen_id, name = best
    if regimen_id is None:
        text = "Toxicity: no catalog regimen in the month → 0 points (Table 3, conservative)"
    else:
        text = f"Toxicity: {name} → {points} points (Table 3)"
    return Factor(points, text, warning=warning), regimen_id


def administration(
    treatment: MonthTreatment,
    month: BillingMonth,
    lines: tuple[TherapyLine, ...],
    line_of: dict[str, int],
    knowledge: Knowledge,
) -> Factor:
    """Table 4: infusion days by category (2+ days rule), oral patterns, transplant; highest."""
    day_categories = [
        _day_category(exposures, lines, line_of, knowledge)
        for _, exposures in sorted(treatment.parenteral.items())
    ]
    day_categories += [tables.STEM_CELL_TRANSPLANT_CATEGORY] * len(
        set(treatment.transplant_days) - set(treatment.parenteral)
    )
    infusion = tables.infusion_points(day_categories)
    oral, oral_text = _oral_points(treatment, month, lines, line_of)
    points = max(infusion, oral)
    parts = []
    if day_categories:
        cats = ", ".join(str(c) for c in day_categories)
        parts.append(f"{len(day_categories)} infusion/injection day(s) at categories {cats}")
    if oral_text:
        parts.append(oral_text)
    detail = "; ".join(parts) if parts else "no administration"
    return Factor(points, f"Administration: {detail} → {points} points (Table 4)")


def _day_category(
    exposures: list[MedicationExposure],
    lines: tuple[TherapyLine, ...],
    line_of: dict[str, int],
    knowledge: Knowledge,
) -> int:
    """One infusion day's category: a regimen's full-day category when 2+ of its drugs (or its
    only parenteral drug) are given that day, else each drug's single-agent category."""
    categories = [UNKNOWN_PARENTERAL_CATEGORY]
    by_line: dict[int, set[str]] = {}
    for exposure in exposures:
        if exposure.ref in line_of:
            by_line.setdefault(line_of[exposure.ref], set()).add(drug_key(exposure))
        else:  # supportive drugs are not in a line of therapy
            categories.append(_single_category(exposure, knowledge))
    for index, given in by_line.items():
        covered: set[str] = set()
        for regimen in lines[index].regimens:
            if regimen.infusion_category is None:
                continue
            in_regimen = given & set(regimen.drugs)
            parenteral = {
                d
                for d in regimen.drugs
                if (drug := knowledge.regimens.drug(d)) is not None
                and drug.route.value == "parenteral"
            }
            if len(in_regimen) >= 2 or (parenteral and in_regimen == parenteral):
                categories.append(regimen.infusion_category)
                covered |= in_regimen
        for exposure in exposures:
            if drug_key(exposure) in given - covered:
                categories.append(_single_category(exposure, knowledge))
    return max(categories)


def _single_category(exposure: MedicationExposure, knowledge: Knowledge) -> int:
    drug = knowledge.regimens.drug(exposure.drug) if exposure.drug else None
    if drug is None:
        return UNKNOWN_PARENTERAL_CATEGORY
    if drug.single_agent_category is not None:
        return drug.single_agent_category
    if drug.role.value == "anticancer":
        return DEFAULT_SINGLE_AGENT_CATEGORY
    return UNKNOWN_PARENTERAL_CATEGORY


def _oral_points(
    treatment: MonthTreatment,
    month: BillingMonth,
    lines: tuple[TherapyLine, ...],
    line_of: dict[str, int],
) -> tuple[int, str]:
    """Table 4 oral column for lines with no infusion day this month (infusion + oral
    combinations use the infusion column). Oral drugs outside any line (supportive, or unknown)
    take the lowest pattern, single drug daily."""
    parenteral_lines = {
        line_of[e.ref] for exps in treatment.parenteral.values() for e in exps if e.ref in line_of
    }
    best, text = 0, ""
    for exposure in treatment.oral:
        index = line_of.get(exposure.ref)
        if index is not None and index in parenteral_lines:
            continue
        line = lines[index] if index is not None else None
        start = line.start if line is not None else exposure.start
        initial = month.start <= start <= month.end
        patterns = [r.oral_pattern for r in line.regimens if r.oral_pattern] if line else []
        pattern = max(patterns, key=lambda p: tables.oral_points(p, initial), default=None)
        pattern = pattern or "single-daily"
        points = tables.oral_points(pattern, initial)
        if points >= best:
            month_word = "initial" if initial else "later"
            best, text = points, f"oral {pattern} ({month_word} month)"
    return best, text


def first_of(days: set[int]) -> date:
    return date.fromordinal(min(days))
