"""What kind of payment a billing line is: the vocabulary every payment-model pack shares.

CPOC's components come from the proposal (II-C; cpoc-rules §1). The episode models bill a
Monthly Enhanced Oncology Services payment (value-and-models §15.1, §15.2) and CPC+ a care
management fee (§15.3). A pack names which of these it bills; lines, renderers and the capture
run only need the kind.
"""

from __future__ import annotations

from enum import Enum


class Component(Enum):
    NEW_PATIENT = "new-patient"
    TREATMENT_MONTH = "treatment-month"
    ACTIVE_MONITORING = "active-monitoring"
    TRANSITION = "transition"
    CLINICAL_TRIAL = "clinical-trial"
    ENHANCED_CARE = "enhanced-care"  # CPOC §13.1, opted-in payers only
    MEOS = "meos"  # OCM / EOM Monthly Enhanced Oncology Services (§15.1, §15.2)
    CARE_MANAGEMENT = "care-management"  # CPC+ care management fee (§15.3)
