"""The real value components bound for ``cpoc report value``: the quality measures Q1-Q6
(§12.2), the emergency visit collector (§12.3), the IV-B / IV-C ratings and the II-C.2
adjustment (§12.4). The pipeline (``value.report``) takes them as a parameter, so that its
tests can use measures of their own."""

from __future__ import annotations

from functools import partial

from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.knowledge import Knowledge
from cpoc_fhir.value.adjustment import adjustment
from cpoc_fhir.value.er import ErCollector
from cpoc_fhir.value.quality import QUALITY_MEASURES
from cpoc_fhir.value.ratings import rate_er, rate_quality
from cpoc_fhir.value.report import ValueComponents


def value_components(
    knowledge: Knowledge | None = None, rules: RuleSettings | None = None
) -> ValueComponents:
    """The components; ``knowledge`` and ``rules``: those the report evaluates the patients
    with, so that the ER collector scores Active Monitoring months the same way."""
    return ValueComponents(
        measures=QUALITY_MEASURES,
        er_collector=partial(ErCollector, knowledge=knowledge, rules=rules),
        rate_quality=rate_quality,
        rate_er=rate_er,
        adjustment=adjustment,
    )
