"""Condition code lists: cancers (primary / secondary, type), treatment toxicity, late effects.

INTERFACE STUB — filled in by the knowledge work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cpoc_fhir.engine.facts import CancerRole


def normalize_icd10(code: str) -> str:
    """ICD-10-CM code without the dot, upper case, trimmed ("e11.22 " → "E1122")."""
    return code.replace(".", "").strip().upper()


@dataclass(frozen=True)
class ConditionClass:
    cancer_role: CancerRole = CancerRole.NONE
    cancer_type: str | None = None
    toxicity: bool = False
    late_effect: bool = False


@dataclass
class ConditionKnowledge:
    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ConditionKnowledge:
        raise NotImplementedError

    def classify(self, icd10: Sequence[str], snomed: Sequence[str], text: str = "") -> ConditionClass:
        raise NotImplementedError
