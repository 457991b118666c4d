"""FHIR R4 ``Measure`` resources of the value-based adjustment (value-and-models §12.1-§12.3).

One Measure per quality measure Q1-Q6 (§12.2), one for avoidable emergency visits (§12.3) and
one for pathway adherence (§12.1), DEQM style: scoring, improvement notation, type, the
population criteria and the source measure each derives from. Published by
``cpoc fhir-resources`` beside the CodeSystem and ChargeItemDefinitions, under the product's
canonical base (``PublishSettings.measure_url``).

No CQL library is published: each population's ``criteria`` is narrative
(``Expression.language = text/plain``) and the computation is this product's code
(``cpoc_fhir/value/quality.py``, ``er.py``, the pathway report). A registry reads the counts
from the MeasureReports (``measure_reports.py``), not by re-running the Measure.

Scoring of the emergency-visit measure: **ratio** (R4 measure-scoring). The numerator
(oncology-related emergency visits) is not a subset of the denominator (patient-months of
CPOC Treatment and Active Monitoring): an events-per-exposure rate, which a proportion
cannot express and which is no aggregate of one observation per case (continuous-variable).
The score is weighted visits per 100 patient-months; the weights and the indirect
standardisation are in the text, the weighted count on the report (``weighted-count``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fhir.resources.R4B.measure import Measure

from cpoc_fhir.fhir.write.publish import PublishSettings, Resource, compact, to_json, validated
from cpoc_fhir.value.quality import QUALITY_MEASURES

# The date these definitions were last changed (Measure.date): the text below, not a run.
DEFINITIONS_DATE = "2026-12-02"
PUBLISHER = "cpoc-fhir"
RULES = "value-and-models §12 (ASCO, Consolidated Payments for Oncology Care, May 2014, IV)"

POPULATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/measure-population"
SCORING_SYSTEM = "http://terminology.hl7.org/CodeSystem/measure-scoring"
TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/measure-type"
IMPROVEMENT_SYSTEM = "http://terminology.hl7.org/CodeSystem/measure-improvement-notation"

# Ids of the value report's measures (common shape: "Q1"…"Q6"; "er" and "pathways" are its
# objects) → the Measure's id, also the last segment of its canonical URL.
ER = "er"
PATHWAYS = "pathways"


@dataclass(frozen=True)
class MeasureSpec:
    """What the Measure of one §12 measure says."""

    key: str  # "Q1" … "Q6", "er", "pathways"
    name: str  # computable name
    title: str
    source: str  # the measure it derives from
    improvement: str  # increase | decrease
    kind: str  # process | outcome (measure-type)
    unit: str  # what one case is
    populations: tuple[tuple[str, str], ...]  # (measure-population code, criterion in words)
    scoring: str = "proportion"
    description: str = ""
    stratifier: tuple[str, str] | None = None  # (code, criterion in words)

    @property
    def id(self) -> str:
        return f"cpoc-{self.key.lower()}"


_SAME = "Equals the initial population."


def _none(source: str) -> str:
    return f"None: {source} lists no exclusions (the count is 0)."


def _q(
    key: str,
    name: str,
    initial: str,
    denominator: str,
    exclusion: str,
    numerator: str,
    kind: str = "process",
) -> MeasureSpec:
    """A quality measure's spec: title, source, improvement and unit are those of
    ``quality.QUALITY_MEASURES`` (what the value report computes), the criteria its rules'."""
    q = next(m for m in QUALITY_MEASURES if m.id == key)
    populations = (
        ("initial-population", initial),
        ("denominator", denominator),
        ("denominator-exclusion", exclusion),
        ("numerator", numerator),
    )
    return MeasureSpec(key, name, q.title, q.source, q.improvement, kind, q.unit, populations)


_DIED = "Patients with a cancer on record who died in the performance year (one case per patient)."
_IN_CARE = (
    "Of them, those under the practice's care at death: care not transferred before death, "
    "and an oncology EpisodeOfCare open on the day of death or, in the 180 days up to death, "
    "a final CPOC line, a face-to-face oncology visit or a treatment the practice gave."
)

# §12.2's table, row by row, with the choices cpoc_fhir/value/quality.py makes where the
# table leaves them open (its docstrings and docs/value-based-adjustment.md).
QUALITY_SPECS: tuple[MeasureSpec, ...] = (
    _q(
        "Q1",
        "CPOCPerformanceStatusBeforeChemotherapy",
        "Starts of a new line of anti-cancer therapy in the performance year, every line the "
        "engine starts (first and later, hormonal included); one case per line start, its "
        "first dose being the line's first day.",
        _SAME,
        "None (the count is 0).",
        "Line starts with an ECOG (LOINC 89247-1) or Karnofsky (LOINC 89243-0) performance "
        "status Observation in the 30 days up to and including the first dose.",
    ),
    _q(
        "Q2",
        "CPOCPainIntensityQuantified",
        "The practice's face-to-face visits in the performance year of patients with an "
        "anti-cancer drug given within 30 days before or after the visit (one case per visit).",
        _SAME,
        _none("CMS 157"),
        "Visits with a pain score with a value (LOINC 72514-3, 38208-5 or 75893-0) on the "
        "visit day or recorded in the visit.",
    ),
    _q(
        "Q3",
        "CPOCStageBeforeTreatment",
        "Patients with a cancer on record whose first anti-cancer drug falls in the "
        "performance year (one case per patient).",
        "Of them, patients with a solid tumour: no haematologic malignancy among the cancers "
        "diagnosed by the first treatment.",
        "None (the count is 0).",
        "Patients with a stage group on record on or before the first treatment (a stage "
        "group Observation, or the cancer Condition's stage.summary).",
    ),
    _q(
        "Q4",
        "CPOCChemotherapyLast14Days",
        _DIED,
        _IN_CARE,
        _none("NQF 0210"),
        "Patients given systemic anti-cancer therapy (not hormonal therapy only) on a day "
        "from 14 days before death to the day of death.",
        kind="outcome",
    ),
    _q(
        "Q5",
        "CPOCHospice3DaysBeforeDeath",
        _DIED,
        _IN_CARE,
        "None (the count is 0).",
        "Patients whose hospice care (an EpisodeOfCare or Encounter of a hospice type) "
        "started 3 days or more before death and had not ended before death.",
        kind="outcome",
    ),
    _q(
        "Q6",
        "CPOCDepressionScreening",
        "Patients with a face-to-face visit of the practice in the performance year (one "
        "case per patient).",
        _SAME,
        "As CMS 2: depression or bipolar disorder diagnosed before the first visit of the "
        "year; and a screen the patient declined with no screen done (CMS 2's denominator "
        "exception, counted as an exclusion).",
        "Patients with a PHQ-2 or PHQ-9 result (LOINC 55757-9, 73831-0, 44249-1, 44261-6) "
        "in the performance year.",
    ),
)

ER_SPEC = MeasureSpec(
    ER,
    "CPOCAvoidableEmergencyVisits",
    "Avoidable oncology-related emergency visits, risk-adjusted",
    "Proposal IV-C; OP-35 (CMS) categories",
    "decrease",
    "outcome",
    "patient-months",
    (
        (
            "initial-population",
            "Patient-months of CPOC Treatment and Active Monitoring months in the performance "
            "year (the exposure; one case per patient-month).",
        ),
        ("denominator", "Equals the initial population: the patient-months of exposure."),
        (
            "numerator",
            "Emergency visits (Encounter class EMER or an emergency type) in a CPOC Treatment "
            "or Active Monitoring month with a diagnosis in one of OP-35's ten categories "
            "(anemia, dehydration, diarrhea, emesis, fever, nausea, neutropenia, pain, "
            "pneumonia, sepsis). The count is of visits; the score weighs each 1.0 within 30 "
            "days after a treatment day and 0.5 otherwise (the report's weighted-count).",
        ),
    ),
    scoring="ratio",
    description=(
        "Weighted oncology-related emergency visits per 100 patient-months. Group 'observed': "
        "the observed rate. Group 'risk-adjusted': observed / expected × the reference rate, "
        "each patient-month's expected visits being the reference rate × the factors of its "
        "comorbidity, performance-status and toxicity points and of the patient's distance "
        "band (great-circle distance from the address geolocation to the practice Location), "
        "from the benchmarks file (indirect standardisation). Stratified by calendar quarter."
    ),
    stratifier=("quarter", "The calendar quarter of the patient-month and visit (2025-Q1 …)."),
)

PATHWAY_SPEC = MeasureSpec(
    PATHWAYS,
    "CPOCPathwayAdherence",
    "Treatment on a care pathway",
    "Proposal IV-A",
    "increase",
    "process",
    "decisions",
    (
        (
            "initial-population",
            "Order-time pathway decisions in the performance year (one per anti-cancer order "
            "assessed against a care pathway).",
        ),
        ("denominator", "Equals the initial population: the pathway decisions."),
        (
            "denominator-exclusion",
            "Deviations whose recorded reason is a clinical trial (value-and-models §12.1 "
            "Interpretation; a setting).",
        ),
        ("numerator", "Decisions on the pathway, one-click switches to the pathway included."),
    ),
    stratifier=("cancer", "The cancer type of the decision's pathway."),
)

ALL_SPECS: tuple[MeasureSpec, ...] = (*QUALITY_SPECS, ER_SPEC, PATHWAY_SPEC)
SPECS: dict[str, MeasureSpec] = {spec.key: spec for spec in ALL_SPECS}


def _concept(system: str, code: str, display: str | None = None) -> Resource:
    return {"coding": [{"system": system, "code": code, "display": display}]}


def _population(code: str, text: str) -> Resource:
    return {
        "code": _concept(POPULATION_SYSTEM, code),
        "description": text,
        "criteria": {"language": "text/plain", "expression": text},
    }


def _group(spec: MeasureSpec, code: str | None, description: str | None) -> Resource:
    stratifier = None
    if spec.stratifier is not None:
        name, text = spec.stratifier
        stratifier = [
            {
                "code": {"text": name},
                "description": text,
                "criteria": {"language": "text/plain", "expression": text},
            }
        ]
    return {
        "code": {"text": code} if code else None,
        "description": description,
        "population": [_population(c, t) for c, t in spec.populations],
        "stratifier": stratifier,
    }


def measure(spec: MeasureSpec, settings: PublishSettings) -> Resource:
    """The R4 Measure of one §12 measure, validated with the R4B model."""
    if spec.key == ER:
        groups = [
            _group(spec, "observed", "Observed weighted visits per 100 patient-months."),
            _group(spec, "risk-adjusted", "Risk-adjusted weighted visits per 100 patient-months."),
        ]
    else:
        groups = [_group(spec, None, None)]
    description = (
        f"{spec.title} ({spec.source}), as value-and-models §12 defines it for CPOC's "
        f"value-based adjustment. Unit of measurement: {spec.unit}. "
        f"{spec.description} "
        "The population criteria are narrative: no CQL library is published; the counts are "
        "computed by cpoc-fhir from the practice's FHIR R4 record for the performance year and "
        "sent as MeasureReports."
    )
    resource = {
        "resourceType": "Measure",
        "id": spec.id,
        "meta": {"tag": [settings.product_tag]},
        "url": settings.measure_url(spec.id),
        "version": settings.version,
        "name": spec.name,
        "title": spec.title,
        "status": "active",
        "date": DEFINITIONS_DATE,
        "publisher": PUBLISHER,
        "description": " ".join(description.split()),
        "purpose": f"A measure of the CPOC value-based adjustment ({RULES}).",
        "relatedArtifact": [{"type": "derived-from", "display": spec.source}],
        "scoring": _concept(SCORING_SYSTEM, spec.scoring),
        "type": [_concept(TYPE_SYSTEM, spec.kind)],
        "improvementNotation": _concept(IMPROVEMENT_SYSTEM, spec.improvement),
        "group": groups,
    }
    return validated(compact(resource), Measure, f"Measure {spec.id}")


def measures(settings: PublishSettings) -> list[Resource]:
    """Every Measure: Q1-Q6, avoidable emergency visits, pathway adherence."""
    return [measure(spec, settings) for spec in ALL_SPECS]


def write_measures(settings: PublishSettings, out_dir: Path) -> list[Path]:
    """Write Measure-<id>.json for each measure; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for resource in measures(settings):
        path = out_dir / f"Measure-{resource['id']}.json"
        path.write_text(to_json(resource, indent=2) + "\n", encoding="utf-8")
        paths.append(path)
    return paths
