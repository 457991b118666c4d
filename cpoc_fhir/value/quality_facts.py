"""One patient's facts as the quality measures Q1-Q6 read them (value-and-models §12.2).

Derived once per ``PatientYear`` and shared by the six measures (the value report hands the
same ``PatientYear`` to each in turn): the record as known on ``as_of``, the practice's
face-to-face visits of the year, the anti-cancer drugs given, the engine's lines of therapy,
and what ``quality_fhir`` reads (pain scores, depression screens, hospice care).

Every choice the table of §12.2 leaves open is marked **Interpretation** here or in
``quality`` and listed in docs/value-based-adjustment.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache

from cpoc_fhir.engine.facts import (
    CancerRole,
    Diagnosis,
    DrugRole,
    ExposureKind,
    MedicationExposure,
    PatientRecord,
    Visit,
)
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.fhir.read import access
from cpoc_fhir.fhir.read.access import UnreadableElement
from cpoc_fhir.knowledge.loader import load_knowledge
from cpoc_fhir.knowledge.regimens import RegimenCatalog
from cpoc_fhir.packs.cpoc.treatment import build_lines, counted_exposures
from cpoc_fhir.value.model import PatientYear
from cpoc_fhir.value.quality_fhir import QualityReading, read_quality
from cpoc_fhir.value.valuesets import ICD10CM, value_set

SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ALL = frozenset({"Q1", "Q2", "Q3", "Q4", "Q5", "Q6"})
# **Interpretation:** "given" = administered (MedicationAdministration) or supplied (an oral
# dispense / order / statement covering the day, cpoc-rules §3). An infusion ordered but not
# recorded as given is not a drug the patient received (Q2's "with anti-cancer drug", Q4's
# "therapy in the last 14 days"): billing counts it provisionally, a measure of care does not.
GIVEN = frozenset({ExposureKind.ADMINISTERED, ExposureKind.SUPPLY})
# Cancer types of conditions.toml that are haematologic (not solid tumours, Q3).
LIQUID_TYPES = frozenset({"lymphoma", "leukemia", "myeloma"})


@dataclass(frozen=True)
class LineStart:
    """The first day of a line of therapy (engine.treatment.build_lines) and its first doses."""

    day: date
    refs: tuple[str, ...]  # the exposures starting the line that day, sorted

    @property
    def case(self) -> str:
        return self.refs[0]


@dataclass(frozen=True)
class QualityFacts:
    patient: str  # "Patient/id"
    readable: bool  # the input has a readable Patient (cpoc-rules §11)
    record: PatientRecord  # as known on as_of
    year_start: date
    year_end: date
    visits: tuple[Visit, ...]  # the practice's face-to-face visits in the year, by date
    given: tuple[MedicationExposure, ...]  # anti-cancer drugs given (GIVEN), by start
    systemic: tuple[MedicationExposure, ...]  # those that are systemic cancer-directed therapy
    line_starts: tuple[LineStart, ...]  # every line of therapy started by as_of
    first_treatment: LineStart | None  # the first anti-cancer drug ever, by as_of
    cancers: tuple[Diagnosis, ...]  # primary or secondary cancers
    reading: QualityReading

    def in_year(self, day: date) -> bool:
        return self.year_start <= day <= self.year_end

    def warnings(self, measure: str) -> list[str]:
        return [text for ids, text in self.reading.warnings if measure in ids]


_last: tuple[PatientYear, QualityFacts] | None = None


def facts_for(py: PatientYear) -> QualityFacts:
    """The facts of ``py``; the last patient's are kept, so six measures derive them once."""
    global _last
    last = _last  # one read: another thread may replace it
    if last is not None and last[0] is py:
        return last[1]
    found = _derive(py)
    _last = (py, found)
    return found


def _derive(py: PatientYear) -> QualityFacts:
    record = py.known
    reading = read_quality(py.resources) if py.resources.patient is not None else QualityReading()
    _known_by(reading, py.as_of)
    patient = py.record.patient_ref or f"Patient/{py.patient_id}"
    readable = _readable(py, record)
    if not readable:
        reading.warn(ALL, f"{patient}: no readable Patient resource; left out of Q1-Q6")
    elif py.record.death is None and _deceased_undated(py):
        reading.warn(("Q4", "Q5"), f"{patient}: deceased without a date of death; left out")
    for hospice in reading.hospice:
        if hospice.start is None:
            reading.warn(("Q5",), f"{hospice.ref}: hospice care without a start date; not counted")
    visits = tuple(
        v for v in record.visits if v.face_to_face and v.oncology and py.start <= v.on <= py.end
    )
    given = tuple(e for e in record.exposures if e.role is DrugRole.ANTICANCER and e.kind in GIVEN)
    starts = _line_starts(record, py.as_of)
    return QualityFacts(
        patient=patient,
        readable=readable,
        record=record,
        year_start=py.start,
        year_end=py.end,
        visits=visits,
        given=given,
        systemic=tuple(e for e in given if _systemic(e.drug)),
        line_starts=starts,
        first_treatment=starts[0] if starts else None,
        cancers=tuple(d for d in record.diagnoses if d.cancer_role is not CancerRole.NONE),
        reading=reading,
    )


def _known_by(reading: QualityReading, as_of: date) -> None:
    """What was recorded by ``as_of``, as the engine's ``known_on`` does for its facts."""
    reading.pain = [s for s in reading.pain if s.on <= as_of]
    reading.depression = [s for s in reading.depression if s.on <= as_of]
    reading.hospice = [h for h in reading.hospice if h.start is None or h.start <= as_of]
    reading.condition_stages = [(r, on) for r, on in reading.condition_stages if on <= as_of]


def _readable(py: PatientYear, record: PatientRecord) -> bool:
    # read_record leaves a record without facts and says why when the Patient is missing or
    # unreadable; its warnings name the reference.
    if py.resources.patient is None:
        return False
    return not any("the Patient cannot be read" in w for w in record.warnings)


def _deceased_undated(py: PatientYear) -> bool:
    patient = py.resources.patient or {}
    try:
        return access.boolean(patient, "deceasedBoolean") is True
    except UnreadableElement:
        return False


@cache
def _catalog() -> RegimenCatalog:
    return load_knowledge().regimens


@cache
def _systemic(drug_id: str) -> bool:
    """NQF 0210's systemic cancer-directed therapy: not hormonal therapy, steroids or
    supportive care. **Interpretation:** a drug the catalog does not know, given for a
    cancer (the reader counts it as anti-cancer), counts as systemic therapy."""
    drug = _catalog().drug(drug_id) if drug_id else None
    if drug is None:
        return True
    return not value_set("not-systemic-cancer-therapy").contains(RXNORM, drug.rxcui)


def _line_starts(record: PatientRecord, as_of: date) -> tuple[LineStart, ...]:
    """The engine's lines of therapy (cpoc_fhir.packs.cpoc.treatment.build_lines), each with the
    exposures that start it. **Interpretation:** the lines are grouped with the default rule
    settings (regimen window 28 days, new line after a 90-day gap): ValueSettings does not
    carry the practice's RuleSettings."""
    exposures = counted_exposures(record)
    lines, line_of = build_lines(exposures, _catalog(), _RULES)
    firsts: dict[int, list[str]] = {}
    for exposure in exposures:
        index = line_of.get(exposure.ref)
        if index is not None and exposure.start == lines[index].start:
            firsts.setdefault(index, []).append(exposure.ref)
    return tuple(
        LineStart(line.start, tuple(sorted(firsts.get(line.index, ()))))
        for line in lines
        if line.start <= as_of and firsts.get(line.index)
    )


_RULES = RuleSettings()


def is_liquid(diagnosis: Diagnosis) -> bool:
    """A haematologic malignancy (value set haematologic-malignancy, or its cancer type)."""
    if diagnosis.cancer_type in LIQUID_TYPES:
        return True
    found = value_set("haematologic-malignancy")
    return any(found.contains(ICD10CM, code) for code in diagnosis.icd10)


def in_value_set(diagnosis: Diagnosis, vs_id: str) -> bool:
    found = value_set(vs_id)
    return any(found.contains(ICD10CM, c) for c in diagnosis.icd10) or any(
        found.contains(SNOMED, c) for c in diagnosis.snomed
    )
