"""The proposal's Tables 1-4 and the level bands (III-B), as pure functions.

Each function is one table of ASCO's CPOC proposal (May 2014), as cpoc-rules.md §5 reads it.
"""

from __future__ import annotations

from collections.abc import Iterable

# Table 3 and Table 4's oral patterns are the regimen catalog's (knowledge/regimen_points.py):
# re-exported here with CPOC's other tables.
from cpoc_fhir.knowledge.regimen_points import ORAL_PATTERNS as ORAL_PATTERNS
from cpoc_fhir.knowledge.regimen_points import toxicity_points as toxicity_points

# Level bands of III-B: total score 0-2 → 1, 3-5 → 2, 6-8 → 3, 9-16 → 4.
_LEVEL_BANDS = ((2, 1), (5, 2), (8, 3), (16, 4))


def treatment_level(total: int) -> int:
    """Treatment Month level for a total score (III-B)."""
    if total < 0:
        raise ValueError(f"score cannot be negative: {total}")
    for upper, level in _LEVEL_BANDS:
        if total <= upper:
            return level
    return 4


def comorbidity_points(charlson_index: int) -> int:
    """Table 1: Charlson index without cancer points, 0-3 → 0, 4-7 → 1, 8+ → 2."""
    if charlson_index >= 8:
        return 2
    if charlson_index >= 4:
        return 1
    return 0


def performance_points(ecog: int) -> int:
    """Table 2: ECOG 0-1 → 0, 2 → 1, 3+ → 2."""
    if ecog >= 3:
        return 2
    if ecog == 2:
        return 1
    return 0


def karnofsky_to_ecog(karnofsky: int) -> int:
    """cpoc-rules §5 P: Karnofsky 90-100 → 0, 70-80 → 1, 50-60 → 2, 30-40 → 3, 10-20 → 4.

    0 (dead) maps to 5, as on the ECOG scale.
    """
    if not 0 <= karnofsky <= 100:
        raise ValueError(f"Karnofsky score out of range 0-100: {karnofsky}")
    if karnofsky >= 90:
        return 0
    if karnofsky >= 70:
        return 1
    if karnofsky >= 50:
        return 2
    if karnofsky >= 30:
        return 3
    if karnofsky >= 10:
        return 4
    return 5


# Table 4, "Multiple Infusions/Month": 2+ treatment days at category c or higher earn these.
_TWO_PLUS_POINTS = {0: 1, 1: 2, 2: 4, 3: 6, 4: 8}
STEM_CELL_TRANSPLANT_CATEGORY = 6


def infusion_points(day_categories: Iterable[int]) -> int:
    """Table 4, infusion column, for a month's infusion days (one category per day).

    A day at category c earns c (stem cell transplant: 6); when 2 or more days are at c or
    higher, c earns its "2+ per month" points: 1, 2, 4, 6, 8 for c = 0..4. The highest wins.
    """
    days = list(day_categories)
    if not days:
        return 0
    best = max(days)
    for category, points in _TWO_PLUS_POINTS.items():
        if sum(1 for d in days if d >= category) >= 2:
            best = max(best, points)
    return best


def oral_points(pattern: str, initial_month: bool) -> int:
    """Table 4, oral column. ``initial_month`` is the regimen's first month."""
    try:
        initial, later = ORAL_PATTERNS[pattern]
    except KeyError:
        raise ValueError(
            f"unknown oral pattern {pattern!r}; expected one of {sorted(ORAL_PATTERNS)}"
        ) from None
    return initial if initial_month else later
