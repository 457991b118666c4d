"""Reference knowledge shipped as data: regimen catalog, Charlson map, condition code lists.

The model modules (``regimens``, ``charlson``, ``conditions``) are pure: they build from
already-parsed data and do no I/O, so the engine may use them. ``loader`` reads the data files.
"""

from __future__ import annotations

from dataclasses import dataclass

from cpoc_fhir.knowledge.charlson import CharlsonMap
from cpoc_fhir.knowledge.conditions import ConditionKnowledge
from cpoc_fhir.knowledge.regimens import RegimenCatalog


@dataclass(frozen=True)
class Knowledge:
    """All reference knowledge, loaded once and passed down."""

    regimens: RegimenCatalog
    charlson: CharlsonMap
    conditions: ConditionKnowledge
