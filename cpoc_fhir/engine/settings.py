"""The rules' settings: every *(config)* item of cpoc-rules.md, and our own interpretations.

One frozen object, built once (defaults → file → environment) and passed to the engine.
Each field names the rule it serves. Changing a default changes what is billed: the defaults
are cpoc-rules.md's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

CHARLSON_WEIGHTS = ("charlson1987", "quan2011")


@dataclass(frozen=True)
class RuleSettings:
    # §5 C: Charlson 1987 weights by default, Quan 2011 as an option.
    charlson_weights: str = "charlson1987"
    # §5 P Interpretation: worst ECOG in the month, else the latest in this many days before it.
    performance_lookback_days: int = 90
    # §6 level 1: NED surveillance lasts to month m = this (5 years), per cancer type overrides.
    surveillance_horizon_months: int = 60
    surveillance_horizon_by_cancer: Mapping[str, int] = field(
        default_factory=lambda: MappingProxyType({})
    )
    # §3 / §9: Treatment Months continue in hospice only if a practice oncologist is the
    # hospice physician.
    hospice_physician_is_practice_oncologist: bool = False
    # §7 (b): a class change is a Transition only with a reason on record this many days before.
    transition_reason_window_days: int = 60
    # §7 level 2: "more than six months after treatment ended".
    delayed_event_months: int = 6
    # Ours (lines of therapy, used for regimen identity, Table 3/4 and §7 (b)): drugs started
    # within this many days of a line's first day belong to its regimen; a new drug later
    # starts a new line; a gap longer than new_line_gap_days also starts one.
    regimen_window_days: int = 28
    new_line_gap_days: int = 90
    # Ours (§4): with no Encounter marked as oncology, the first face-to-face visit on or after
    # the first cancer diagnosis is taken as the New Patient visit.
    new_patient_visit_after_diagnosis: bool = True
    # value-and-models §14.3 (Option 1, CPOC by cancer type): the cancer types the payer
    # bills under CPOC, named as knowledge/data/conditions.toml [cancer] types names them;
    # None: every cancer type. Other patients are billed fee-for-service (no CPOC lines).
    cpoc_cancer_types: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.charlson_weights not in CHARLSON_WEIGHTS:
            raise ValueError(
                f"charlson_weights must be one of {CHARLSON_WEIGHTS}, got {self.charlson_weights!r}"
            )
        for name in (
            "performance_lookback_days",
            "surveillance_horizon_months",
            "transition_reason_window_days",
            "regimen_window_days",
            "new_line_gap_days",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} cannot be negative")
        if self.cpoc_cancer_types is not None:
            if not self.cpoc_cancer_types:
                raise ValueError(
                    "cpoc_cancer_types cannot be empty: list the CPOC cancer types, or leave "
                    "the setting out to bill every cancer type under CPOC"
                )
            # Frozen: a list given by a caller becomes a tuple, so settings stay hashable.
            object.__setattr__(self, "cpoc_cancer_types", tuple(self.cpoc_cancer_types))

    def is_cpoc_cancer(self, cancer_types: frozenset[str]) -> bool:
        """§14.3: whether a patient with these cancer types is billed under CPOC (any listed
        type suffices; see packs/cpoc/cancer_types.py for the patient with two primaries)."""
        if self.cpoc_cancer_types is None:
            return True
        return not cancer_types.isdisjoint(self.cpoc_cancer_types)

    def horizon_for(self, cancer_type: str | None) -> int:
        """Surveillance horizon in months for a cancer type (§6 level 1, config)."""
        if cancer_type is not None and cancer_type in self.surveillance_horizon_by_cancer:
            return self.surveillance_horizon_by_cancer[cancer_type]
        return self.surveillance_horizon_months
