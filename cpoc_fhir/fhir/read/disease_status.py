"""A cancer disease status Observation's value → the engine's ``DiseaseState`` (cpoc-rules §6).

Codes come first (``knowledge/data/disease-status.toml``: mCODE STU1–STU4 and the SNOMED CT
values records carry instead). A value with no known code is read from its text
(``valueString``, ``valueCodeableConcept.text``, the codings' displays) with negation
(``disease_text``). Whatever cannot be read, or contradicts itself, is undetermined with a
problem for the warning: never NED by guess.
"""

from __future__ import annotations

from functools import cache

from cpoc_fhir.engine.facts import DiseaseState
from cpoc_fhir.fhir.read.disease_text import TextReader, TextReading
from cpoc_fhir.fhir.read.values import SNOMED_SYSTEMS, codings
from cpoc_fhir.knowledge.disease_status import FILE, DiseaseStatusKnowledge
from cpoc_fhir.knowledge.loader import read_data_file

UNDETERMINED = DiseaseState.UNDETERMINED


@cache
def disease_status_knowledge() -> DiseaseStatusKnowledge:
    """The shipped disease status values, parsed once per process."""
    return DiseaseStatusKnowledge.from_data(read_data_file(FILE))


@cache
def text_reader() -> TextReader:
    return TextReader(disease_status_knowledge().text)


def value_state(concept: dict[str, object] | None, written: str | None) -> TextReading:
    """The state of a value given as a (checked) CodeableConcept and/or a string."""
    known = disease_status_knowledge()
    found = codings(concept)
    states = {known.codes[(s, c)].state for s, c, _ in found if s and c and (s, c) in known.codes}
    if len(states) == 1:
        return TextReading(next(iter(states)))
    if states:
        return TextReading(UNDETERMINED, "codes contradicting disease statuses")
    if any(s in SNOMED_SYSTEMS and c in known.evidence for s, c, _ in found):
        return TextReading(UNDETERMINED, "value is an evidence type, not a disease status")
    texts = [t for t in (written, (concept or {}).get("text")) if isinstance(t, str) and t.strip()]
    texts += [display for _, _, display in found if display and display.strip()]
    if texts:
        return text_reader().read(" ; ".join(texts))
    if found:
        return TextReading(UNDETERMINED, "value has no known disease status code")
    return TextReading(UNDETERMINED, "no value")
