"""What a pathway needs from the record beyond the billing facts: biomarkers, histology, the
colorectal site and castration status — each with the resource it rests on.

Codes read (documented in the README, "Care pathways"):

- Genomic variants (mCODE / Genomics Reporting): LOINC 69548-6 "Genetic variant assessment"
  with component 48018-6 "Gene studied" = HGNC:3236 EGFR or HGNC:427 ALK; value LA9633-4
  Present → positive, LA9634-2 Absent → negative. A fusion naming ALK counts for ALK.
- PD-L1: LOINC 85147-7 "PD-L1 by clone 22C3 … Immune stain", or any Observation whose code
  names PD-L1 / CD274; the tumour proportion score from valueQuantity (percent), a
  "NN %" string value, a component named "tumor proportion score", or a note "NN% tumor
  proportion score" (as the Genomics Reporting example writes it). Positive/negative without a
  percentage does not give a score.
- HER2: LOINC 48676-1, 85319-2, 85318-4, 18474-7; ER: 85337-4, 16112-5; PR: 85339-0, 16113-3;
  value LA6576-8 Positive / LA6577-6 Negative (or the words); "equivocal" is not a result.
- EGFR / ALK as a single test: an Observation whose code names EGFR / ALK with a
  positive/negative, detected/not-detected value.
- Histology: the cancer Condition's codes and wording and mCODE's histology-morphology-behavior
  extension: squamous / adenocarcinoma, large cell, non-squamous / small cell / diffuse large
  B-cell lymphoma (ICD-10-CM C83.3, SNOMED CT 109969005).
- Castration status (prostate): ICD-10-CM Z19.1 hormone sensitive / Z19.2 hormone resistant
  malignancy status, SNOMED CT 427492003 hormone refractory prostate cancer, or the words
  castration-/castrate-/hormone-sensitive, -resistant, -refractory, mCSPC / mCRPC.

The latest result (effective date) of each marker wins. Nothing is inferred from a drug.
Elements are read through the checked access (``access``): a resource with an element of the
wrong FHIR type gives no finding (the record's reader names it in a warning, cpoc-rules §11).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from cpoc_fhir.fhir.read import access
from cpoc_fhir.fhir.read.access import UnreadableElement
from cpoc_fhir.fhir.read.references import resource_key
from cpoc_fhir.fhir.read.resources import PatientResources
from cpoc_fhir.fhir.read.values import LOINC, as_dict, as_list, codings, concept_words

Resource = dict[str, Any]

GENETIC_VARIANT = "69548-6"
GENE_STUDIED = "48018-6"
GENES = {"HGNC:3236": "EGFR", "HGNC:427": "ALK"}
PDL1_CODES = frozenset({"85147-7"})
HER2_CODES = frozenset({"48676-1", "85319-2", "85318-4", "18474-7"})
ER_CODES = frozenset({"85337-4", "16112-5"})
PR_CODES = frozenset({"85339-0", "16113-3"})
# The Observation codes above, for the record's Observation search (fhir/record_queries.py).
BIOMARKER_LOINC = (GENETIC_VARIANT, *sorted(PDL1_CODES | HER2_CODES | ER_CODES | PR_CODES))

POSITIVE = frozenset({"LA6576-8", "LA9633-4", "LA11882-0", "10828004", "52101004"})
NEGATIVE = frozenset({"LA6577-6", "LA9634-2", "LA11883-8", "260385009", "2667000"})
_POSITIVE_WORDS = re.compile(r"\b(positive|present|detected|amplified|mutated)\b", re.I)
_NEGATIVE_WORDS = re.compile(
    r"\b(negative|absent|not detected|wild[- ]?type|not amplified|non-?amplified)\b", re.I
)
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%")
_TPS_NOTE = re.compile(r"(\d+(?:\.\d+)?)\s*%\s*(?:tumou?r proportion score|tps)", re.I)

HISTOLOGY_EXTENSION = "mcode-histology-morphology-behavior"
DLBCL_SNOMED = frozenset({"109969005"})
_HISTOLOGY_WORDS = (
    ("small-cell", re.compile(r"\bsmall[- ]cell\b(?!.*\bnon[- ]small)", re.I)),
    ("dlbcl", re.compile(r"\bdiffuse large b[- ]?cell\b|\bdlbcl\b", re.I)),
    ("squamous", re.compile(r"(?<!non-)(?<!non)\bsquamous\b", re.I)),
    ("non-squamous", re.compile(r"\bnon-?squamous\b|\badenocarcinoma\b|\blarge cell\b", re.I)),
)
_RESISTANT = r"castrat\w*[- ]resistant|hormone[- ](?:resistant|refractory)|\bm?crpc\b"
_SENSITIVE = r"castrat\w*[- ](?:sensitive|naive)|hormone[- ](?:sensitive|naive)|\bm[hc]spc\b"
_CASTRATION_WORDS = (
    ("resistant", re.compile(_RESISTANT, re.I)),
    ("sensitive", re.compile(_SENSITIVE, re.I)),
)
_SITE_ICD10 = (("C20", "rectum"), ("C19", "colon"), ("C18", "colon"))
_SITE_WORDS = (
    ("rectum", re.compile(r"\brect(?:um|al)\b", re.I)),
    ("colon", re.compile(r"\bcolon\b|\bcolonic\b|\bsigmoid\b|\bc(?:a)?ecum\b|rectosigmoid", re.I)),
)
_SITE_SNOMED = {
    "363406005": "colon", "93761005": "colon", "109838007": "colon", "363414004": "colon",
    "363351006": "rectum",
}  # fmt: skip


@dataclass(frozen=True)
class Finding:
    """One fact the record states, with the resource that states it."""

    value: str | Decimal
    ref: str
    on: date | None = None


@dataclass(frozen=True)
class PathwayFacts:
    """Markers by name ("EGFR", "ALK", "PD-L1", "HER2", "ER", "PR"), castration status."""

    markers: dict[str, Finding]
    castration: Finding | None
    notes: tuple[str, ...] = ()  # results seen but not usable ("HER2 equivocal")


def read_pathway_facts(resources: PatientResources, as_of: date) -> PathwayFacts:
    latest: dict[str, Finding] = {}
    notes: list[str] = []
    for resource in resources.of_type("Observation"):
        try:
            found = _observation(resource, as_of, notes)
        except UnreadableElement:
            continue  # left out, as the record's reader leaves it out
        for name, value, on in found:
            held = latest.get(name)
            if held is None or (on or date.min) >= (held.on or date.min):
                latest[name] = Finding(value, resource_key(resource), on)
    castration: Finding | None = None
    for resource in resources.of_type("Condition"):
        try:
            status = _castration(resource)
            on = access.date(resource, "onsetDateTime") or access.date(resource, "recordedDate")
        except UnreadableElement:
            continue
        if status is None or (on is not None and on > as_of):
            continue
        if castration is None or (on or date.min) >= (castration.on or date.min):
            castration = Finding(status, resource_key(resource), on)
    return PathwayFacts(latest, castration, tuple(dict.fromkeys(notes)))


def _observation(
    resource: Resource, as_of: date, notes: list[str]
) -> list[tuple[str, str | Decimal, date | None]]:
    if access.code(resource, "status") in ("entered-in-error", "cancelled", "registered"):
        return []
    on = access.date(resource, "effectiveDateTime") or access.period(resource, "effectivePeriod")[0]
    if on is not None and on > as_of:
        return []
    return [(name, value, on) for name, value in _observation_markers(resource, notes)]


def condition_histology(resource: Resource) -> str | None:
    """squamous | non-squamous | small-cell | dlbcl from a cancer Condition, or None.

    Called on a Condition the record's reader has read (its code checked); the histology
    extension is read leniently (an unreadable one says nothing)."""
    code = as_dict(resource.get("code"))
    words = [concept_words(code)]
    snomed = {c for _, c, _ in codings(code) if c}
    icd = {c.replace(".", "").upper() for s, c, _ in codings(code) if c and s and "icd-10" in s}
    if snomed & DLBCL_SNOMED or any(c.startswith("C833") for c in icd):
        return "dlbcl"
    for extension in as_list(resource.get("extension")):
        if isinstance(extension, dict) and str(extension.get("url", "")).endswith(
            HISTOLOGY_EXTENSION
        ):
            words.append(concept_words(extension.get("valueCodeableConcept")))
    text = " ".join(w for w in words if w)
    for histology, pattern in _HISTOLOGY_WORDS:
        if pattern.search(text):
            return histology
    return None


def condition_site(resource: Resource) -> str | None:
    """colon | rectum for a colorectal cancer Condition, or None."""
    code = as_dict(resource.get("code"))
    for system, value, _ in codings(code):
        if value and system and "icd-10" in system:
            normal = value.replace(".", "").upper()
            for prefix, site in _SITE_ICD10:
                if normal.startswith(prefix):
                    return site
        if value in _SITE_SNOMED:
            return _SITE_SNOMED[value]
    text = concept_words(code)
    for site, pattern in _SITE_WORDS:
        if pattern.search(text):
            return site
    return None


def _castration(resource: Resource) -> str | None:
    verification = access.concept(resource, "verificationStatus")
    if any(c in ("refuted", "entered-in-error") for _, c, _ in codings(verification)):
        return None
    code = access.concept(resource, "code") or {}
    for system, value, _ in codings(code):
        normal = (value or "").replace(".", "").upper()
        if system and "icd-10" in system and normal.startswith("Z192"):
            return "resistant"
        if system and "icd-10" in system and normal.startswith("Z191"):
            return "sensitive"
        if value == "427492003":  # Hormone refractory prostate cancer (disorder)
            return "resistant"
    text = concept_words(code)
    for status, pattern in _CASTRATION_WORDS:
        if pattern.search(text):
            return status
    return None


def _observation_markers(resource: Resource, notes: list[str]) -> list[tuple[str, str | Decimal]]:
    code = access.concept(resource, "code") or {}
    loinc = {c for s, c, _ in codings(code) if c and s == LOINC}
    words = concept_words(code)
    if GENETIC_VARIANT in loinc:
        return _variant(resource)
    if loinc & PDL1_CODES or re.search(r"\bpd-?l1\b|\bcd274\b", words, re.I):
        score = _tps(resource)
        if score is None:
            notes.append(
                f"{resource_key(resource)}: PD-L1 result without a tumour proportion score"
            )
            return []
        return [("PD-L1", score)]
    named: tuple[tuple[str, frozenset[str], str], ...] = (
        ("HER2", HER2_CODES, r"\bher-?2\b|\berbb2\b"),
        ("ER", ER_CODES, r"\bestrogen receptor\b"),
        ("PR", PR_CODES, r"\bprogesterone receptor\b"),
        ("EGFR", frozenset(), r"\begfr\b"),
        ("ALK", frozenset(), r"\balk\b"),
    )
    for name, loinc_codes, pattern in named:
        found = bool(loinc & loinc_codes) or bool(re.search(pattern, words, re.I))
        if found:
            result = _result(resource)
            if result is None:
                notes.append(
                    f"{resource_key(resource)}: {name} result is neither positive nor negative"
                )
                return []
            return [(name, result)]
    return []


def _variant(resource: Resource) -> list[tuple[str, str | Decimal]]:
    genes = set()
    for number, component in enumerate(access.objects(resource, "component")):
        at = f"component[{number}]"
        if GENE_STUDIED in {c for _, c, _ in codings(access.concept(component, "code", at))}:
            value_concept = access.concept(component, "valueCodeableConcept", at)
            for _, value, display in codings(value_concept):
                gene = GENES.get(value or "") or (display or "").upper()
                if gene in ("EGFR", "ALK"):
                    genes.add(gene)
    result = _result(resource)
    if result is None:
        return []
    return [(gene, result) for gene in sorted(genes)]


def _result(resource: Resource) -> str | None:
    value = access.concept(resource, "valueCodeableConcept") or {}
    written = access.string(resource, "valueString")
    coded = {c for _, c, _ in codings(value) if c}
    if coded & POSITIVE:
        return "positive"
    if coded & NEGATIVE:
        return "negative"
    text = concept_words(value) or written or ""
    if re.search(r"\bequivocal\b|\bindeterminate\b", text, re.I):
        return None
    if _NEGATIVE_WORDS.search(text):
        return "negative"
    if _POSITIVE_WORDS.search(text):
        return "positive"
    return None


def _tps(resource: Resource) -> Decimal | None:
    quantity = access.quantity(resource, "valueQuantity") or {}
    if quantity.get("value") is not None and quantity.get("unit", "%") in ("%", "percent"):
        return Decimal(str(quantity["value"]))
    for number, component in enumerate(access.objects(resource, "component")):
        at = f"component[{number}]"
        words = concept_words(access.concept(component, "code", at))
        if re.search(r"proportion score|\btps\b", words, re.I):
            inner = access.quantity(component, "valueQuantity", at) or {}
            if inner.get("value") is not None:
                return Decimal(str(inner["value"]))
    candidates = [access.string(resource, "valueString") or ""]
    candidates += [
        access.string(note, "text", f"note[{number}]") or ""
        for number, note in enumerate(access.objects(resource, "note", expected="Annotation"))
    ]
    for text in candidates:
        match = _TPS_NOTE.search(text) or (_PERCENT.search(text) if text is candidates[0] else None)
        if match:
            try:
                return Decimal(match.group(1))
            except InvalidOperation:
                return None
    return None
