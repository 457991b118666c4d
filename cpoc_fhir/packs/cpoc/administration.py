"""Table 4, drug administration (proposal III-B; cpoc-rules §5 D), from each day's regimen.

Each infusion/injection day takes the highest category given that day: the category of each
day-regimen with a drug infused or injected that day, else the single-agent category of drugs
no such regimen explains. Oral regimens score their own oral pattern, "initial" in their line
of therapy's first month. Infusion plus oral combinations use the infusion column: an oral
day-regimen whose drugs all belong to a combination (infusion + oral) regimen given on an
infusion day of the month is scored there (capecitabine days of a CAPOX cycle, lenalidomide
days of VRd).
"""

from __future__ import annotations

from collections import Counter

from cpoc_fhir.engine.facts import DrugRole, MedicationExposure
from cpoc_fhir.engine.months import BillingMonth
from cpoc_fhir.knowledge import Knowledge
from cpoc_fhir.packs.cpoc import tables
from cpoc_fhir.packs.cpoc.day_regimens import DayRegimen, MonthDays, TreatmentDay
from cpoc_fhir.packs.cpoc.scoring import Factor
from cpoc_fhir.packs.cpoc.treatment import MonthTreatment, drug_key

# A parenteral drug the catalog does not know: Table 4's lowest category ("any injection"),
# the most conservative the rules allow (cpoc-rules §5: "most conservative points").
UNKNOWN_PARENTERAL_CATEGORY = 0
# A catalog anti-cancer drug with no single-agent category given alone: "single agent chemo".
DEFAULT_SINGLE_AGENT_CATEGORY = 2
# An oral drug no catalog regimen explains, or a supportive one: the lowest pattern.
CONSERVATIVE_ORAL_PATTERN = "single-daily"


def administration(
    treatment: MonthTreatment,
    days: MonthDays,
    month: BillingMonth,
    knowledge: Knowledge,
) -> Factor:
    """Table 4: infusion days by category (2+ days rule), oral patterns, transplant; highest."""
    day_categories: list[int] = []
    by_label: Counter[tuple[str, int]] = Counter()
    combination: set[str] = set()
    for first, last, day in days:
        exposures = treatment.parenteral.get(first)
        if not exposures:
            continue
        # every day of the run has the same exposures, so the same category
        category, label = _day_category(day, exposures, knowledge)
        # A transplant day keeps its 6 points whatever else is infused that day (an antiemetic,
        # the conditioning drug): Table 4's stem cell transplant row is the day's highest.
        transplanted = sum(1 for d in treatment.transplant_days if first <= d <= last)
        count = last - first + 1 - transplanted
        day_categories += [category] * count
        if count:
            by_label[(label, category)] += count
        if transplanted:
            day_categories += [tables.STEM_CELL_TRANSPLANT_CATEGORY] * transplanted
            by_label[("stem cell transplant", tables.STEM_CELL_TRANSPLANT_CATEGORY)] += transplanted
        for found in day.regimens:
            regimen = found.regimen
            if (
                found.parenteral
                and regimen is not None
                and regimen.oral_pattern
                and regimen.infusion_category is not None
            ):
                combination |= found.drugs
    transplants = len(set(treatment.transplant_days) - set(treatment.parenteral))
    day_categories += [tables.STEM_CELL_TRANSPLANT_CATEGORY] * transplants
    if transplants:
        by_label[("stem cell transplant", tables.STEM_CELL_TRANSPLANT_CATEGORY)] += transplants
    infusion = tables.infusion_points(day_categories)
    oral, oral_text = _oral_points(treatment, days, month, combination)
    points = max(infusion, oral)
    parts = []
    if day_categories:
        cats = ", ".join(str(c) for c in day_categories)
        which = "; ".join(
            f"{label}: category {c} on {n} day(s)" for (label, c), n in by_label.items()
        )
        parts.append(
            f"{len(day_categories)} infusion/injection day(s) at categories {cats} ({which})"
        )
    if oral_text:
        parts.append(oral_text)
    detail = "; ".join(parts) if parts else "no administration"
    return Factor(points, f"Administration: {detail} → {points} points (Table 4)")


def _day_category(
    day: TreatmentDay, exposures: list[MedicationExposure], knowledge: Knowledge
) -> tuple[int, str]:
    """The highest category given on an infusion day, and what gave it (first on a tie)."""
    candidates: list[tuple[int, str]] = []
    covered: set[str] = set()
    for found in day.regimens:
        regimen = found.regimen
        if found.parenteral and regimen is not None and regimen.infusion_category is not None:
            covered |= found.drugs
            candidates.append((regimen.infusion_category, regimen.name))
    for exposure in exposures:
        if drug_key(exposure) not in covered:
            name = exposure.drug or exposure.drug_name.strip() or "unknown injection"
            candidates.append((single_category(exposure, knowledge), name))
    return max(candidates, key=lambda c: c[0], default=(UNKNOWN_PARENTERAL_CATEGORY, "none"))


def single_category(exposure: MedicationExposure, knowledge: Knowledge) -> int:
    """A drug given on a day with no regimen of it: its single-agent category (conservative)."""
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
    days: MonthDays,
    month: BillingMonth,
    combination: set[str],
) -> tuple[int, str]:
    """Table 4 oral column: each oral day-regimen's own pattern, initial in its line's first
    month; supportive oral drugs take the lowest pattern, initial in the month they start."""
    best, text = 0, ""
    seen: set[tuple[str, int | None]] = set()
    for _, _, day in days:
        for found in day.regimens:
            key = (found.key, found.line.index if found.line else None)
            if found.parenteral or key in seen:
                continue
            seen.add(key)
            if found.drugs <= combination:
                continue  # part of an infusion + oral combination: the infusion column
            points, said = _oral_regimen(found, month)
            if points >= best:
                best, text = points, said
    for exposure in treatment.oral:
        if exposure.role is not DrugRole.SUPPORTIVE:
            continue
        initial = month.contains(exposure.start)
        points = tables.oral_points(CONSERVATIVE_ORAL_PATTERN, initial)
        if points > best or not text:
            best, text = points, _oral_text(CONSERVATIVE_ORAL_PATTERN, initial, "supportive drugs")
    return best, text


def _oral_regimen(found: DayRegimen, month: BillingMonth) -> tuple[int, str]:
    regimen = found.regimen
    pattern = (regimen.oral_pattern if regimen else None) or CONSERVATIVE_ORAL_PATTERN
    start = found.line.start if found.line is not None else month.start
    initial = month.contains(start)
    return tables.oral_points(pattern, initial), _oral_text(pattern, initial, found.label)


def _oral_text(pattern: str, initial: bool, label: str) -> str:
    month_word = "initial" if initial else "later"
    return f"oral {pattern} ({month_word} month) for {label}"
