"""The shared vocabulary of clinical facts: enums both the knowledge layer (catalogs, code
lists) and the engine's facts use (value-and-models §15; issue 15 item 9: knowledge imports
neither the engine nor a pack). ``cpoc_fhir.engine.facts`` re-exports them, so
``from cpoc_fhir.engine.facts import DrugRole`` keeps working.
"""

from __future__ import annotations

from enum import Enum


class CancerRole(Enum):
    """Whether a diagnosis is a cancer and which kind (mCODE primary vs secondary)."""

    NONE = "none"
    PRIMARY = "primary"
    SECONDARY = "secondary"  # metastatic site (ICD-10-CM C77-C79, C7B; mCODE secondary)


class Route(Enum):
    """How a drug reaches the patient, as Table 4 distinguishes it."""

    PARENTERAL = "parenteral"  # infused or injected
    ORAL = "oral"


class DrugRole(Enum):
    """Why a drug counts as treatment (cpoc-rules §3)."""

    ANTICANCER = "anticancer"  # anti-cancer or hormonal therapy
    SUPPORTIVE = "supportive"  # prevents or mitigates symptoms or side effects


class DiseaseState(Enum):
    """mCODE cancer disease status (LOINC 97509-4) reduced to what the rules need."""

    NED = "ned"  # remission / not detected
    IMPROVED = "improved"
    STABLE = "stable"
    WORSENED = "worsened"  # 271299001: progression documented by a result
    # 399409002 distant metastasis present (mCODE STU3+): not NED, not itself an event
    METASTATIC = "metastatic"
    UNDETERMINED = "undetermined"
