"""The *(config)* items of value-and-models §12, with the defaults that document names."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class ValueSettings:
    # §12.2: a measure with a denominator under this is reported, left out of the composite
    minimum_denominator: int = 10
    # §12.1: deviations whose reason is "clinical trial" leave the pathway denominator
    trial_deviations_excluded: bool = True
    # §12.1: a practice uses a pathway when it gave a reason for at least this share of
    # its deviations for the cancer type (and had a decision for it in the year)
    pathway_reason_share: Decimal = Decimal("0.80")
    # §12.3: weight of an oncology-related emergency visit within `er_window_days` after a
    # treatment day, and otherwise
    er_weight_near_treatment: Decimal = Decimal("1.0")
    er_weight_other: Decimal = Decimal("0.5")
    er_window_days: int = 30
    # §12.3 Phase 1: an accredited oncology medical home rates high on ER use
    medical_home: bool = False
