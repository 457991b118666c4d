"""Charlson comorbidity index from ICD-10-CM (Quan 2005) and SNOMED CT codes.

INTERFACE STUB — filled in by the knowledge work.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# The cancer categories cpoc-rules §5 C excludes from the index.
CANCER_CATEGORIES = frozenset({"malignancy", "metastatic_solid_tumor"})


@dataclass
class CharlsonMap:
    """Category lookup and weighted index, cancer categories excluded."""

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> CharlsonMap:
        raise NotImplementedError

    def categories(self, icd10: Iterable[str], snomed: Iterable[str] = ()) -> frozenset[str]:
        raise NotImplementedError

    def index(self, categories: Iterable[str], weights: str = "charlson1987") -> int:
        raise NotImplementedError
