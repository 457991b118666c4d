"""The 11 CPOC codes and their relative values (proposal II-C, II-D; cpoc-rules §1), and the
supplemental ``xx600`` line of an opted-in payer (value-and-models §13.1).

The code strings are the proposal's placeholders; a payer maps them to its own (payer file).
``CODES`` holds the codes priced by relative value; ``xx600`` is not among them: its amount is
the payer file's agreed monthly supplement (``[enhanced_care]``), not a share of the New
Patient payment, so nothing that sums or prices relative values can meet it by accident.
``LINE_CODES`` is every code a line may carry.
"""

from __future__ import annotations

from decimal import Decimal

from cpoc_fhir.engine.components import Component

# code → (component, level, relative value as % of the New Patient payment)
CODES: dict[str, tuple[Component, int | None, Decimal]] = {
    "xx100": (Component.NEW_PATIENT, None, Decimal(100)),
    "xx201": (Component.TREATMENT_MONTH, 1, Decimal(25)),
    "xx202": (Component.TREATMENT_MONTH, 2, Decimal(43)),
    "xx203": (Component.TREATMENT_MONTH, 3, Decimal(61)),
    "xx204": (Component.TREATMENT_MONTH, 4, Decimal(80)),
    "xx301": (Component.ACTIVE_MONITORING, 1, Decimal(2)),
    "xx302": (Component.ACTIVE_MONITORING, 2, Decimal(10)),
    "xx303": (Component.ACTIVE_MONITORING, 3, Decimal(25)),
    "xx401": (Component.TRANSITION, 1, Decimal(30)),
    "xx402": (Component.TRANSITION, 2, Decimal(50)),
    "xx500": (Component.CLINICAL_TRIAL, None, Decimal(5)),
}

# §13.1 Interpretation: the proposal names no code for the supplement; xx600 follows the
# placeholders' numbering. Priced from the payer file (packs/cpoc/enhanced_care.py).
ENHANCED_CARE_CODE = "xx600"

# code → (component, level): every code a billing line may carry
LINE_CODES: dict[str, tuple[Component, int | None]] = {
    **{code: (component, level) for code, (component, level, _) in CODES.items()},
    ENHANCED_CARE_CODE: (Component.ENHANCED_CARE, None),
}

_PREFIX = {
    Component.NEW_PATIENT: "xx10",
    Component.TREATMENT_MONTH: "xx20",
    Component.ACTIVE_MONITORING: "xx30",
    Component.TRANSITION: "xx40",
    Component.CLINICAL_TRIAL: "xx50",
    Component.ENHANCED_CARE: "xx60",
}

# Display names, for tables, cards and the published CodeSystem.
DISPLAY = {
    "xx100": "New Patient Payment",
    "xx201": "Treatment Month Payment, level 1",
    "xx202": "Treatment Month Payment, level 2",
    "xx203": "Treatment Month Payment, level 3",
    "xx204": "Treatment Month Payment, level 4",
    "xx301": "Active Monitoring Month Payment, level 1",
    "xx302": "Active Monitoring Month Payment, level 2",
    "xx303": "Active Monitoring Month Payment, level 3",
    "xx401": "Transition of Treatment Payment, level 1",
    "xx402": "Transition of Treatment Payment, level 2",
    "xx500": "Clinical Trial Payment",
    "xx600": "Supplemental Payment for Enhanced Patient-Centered Care",
}


# (component, level) → code, every valid pair: ``code_for`` runs once per line finished, so
# it looks the answer up and only builds its error message for a pair that has none.
_CODE_OF: dict[tuple[Component, int | None], str] = {
    (component, level): code for code, (component, level) in LINE_CODES.items()
}


def code_for(component: Component, level: int | None = None) -> str:
    """The CPOC code of a component at a level ("xx100", "xx500", "xx600" have none)."""
    code = _CODE_OF.get((component, level))
    if code is not None:
        return code
    return _checked_code_for(component, level)


def _checked_code_for(component: Component, level: int | None) -> str:
    """The derivation from the prefixes, which raises for a pair with no code (the slow path;
    also the reference the table above is tested against)."""
    if component not in _PREFIX:
        raise ValueError(f"{component.value} is not a CPOC component")
    code = _PREFIX[component] + str(level if level is not None else 0)
    if code not in LINE_CODES or LINE_CODES[code][1] != level:
        raise ValueError(f"{component.value} has no level {level}")
    return code
