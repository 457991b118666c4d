"""The two CPOC tables the regimen catalog records per regimen (issue 15 item 9): Table 3's
toxicity points from a regimen's three published figures, and Table 4's oral-drug patterns.

They live here, not in the CPOC pack, because the catalog itself states them (a regimen's
``toxicity_points``, its ``oral_pattern`` checked against the patterns) and the knowledge
layer imports no pack; packs/cpoc/tables.py re-exports both, beside CPOC's other tables.
"""

from __future__ import annotations

from decimal import Decimal


def toxicity_points(hospitalization: Decimal, qol: Decimal, death: Decimal) -> int:
    """Table 3 from a regimen's three figures (percent).

    4 points: hospitalization risk (grade III/IV) > 35 %, or QOL/ADL impact (grade I/II)
    ≥ 75 %, or toxic death ≥ 10 % (the table's "<10 %" in that row is a typo: cpoc-rules §5 T).
    2 points: ≥ 20 %, ≥ 50 % or ≥ 1 %. Else 0.
    """
    if hospitalization > 35 or qol >= 75 or death >= 10:
        return 4
    if hospitalization >= 20 or qol >= 50 or death >= 1:
        return 2
    return 0


# Table 4, "Oral Drugs Only": pattern → (initial month, later months).
ORAL_PATTERNS = {
    "single-daily": (1, 0),
    "single-on-off": (2, 1),
    "multi-daily": (2, 2),
    "multi-on-off": (4, 3),
}
