"""Stage group Observations: which ones they are, their stage, and whether it is stage IV.

TNM stage groups are coded LOINC 21908-9 / 21902-2 / 21914-7 (mCODE STU1-2, the
mcode-extraction fixtures: value "3C" in http://cancerstaging.org) or SNOMED CT 399537006 /
399588009 (mCODE STU3-4: value e.g. 1222806003 "American Joint Committee on Cancer stage
IIIC (qualifier value)"). Only AJCC/TNM stage IV counts as metastatic (cpoc-rules §6);
other systems' stages in mCODE's cancer-stage profile (FIGO, Rai, Binet, ISS, Ann Arbor …) give a
StageGroup whose ``metastatic`` is False, since their "IV" does not mean distant spread.
"""

from __future__ import annotations

import re
from collections.abc import Set
from typing import Any

from cpoc_fhir.fhir.read.values import as_dict, codings, concept_words, profiles

MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition/"
TNM_LOINC = frozenset({"21908-9", "21902-2", "21914-7"})  # clinical, pathologic, other
TNM_SNOMED = frozenset({"399537006", "399588009"})  # clinical, pathologic TNM stage grouping
TNM_PROFILES = frozenset(
    MCODE + name
    for name in (
        "mcode-tnm-stage-group",  # STU3+
        "mcode-tnm-clinical-stage-group",  # STU1-2
        "mcode-tnm-pathological-stage-group",  # STU1-2
    )
)
OTHER_STAGE_PROFILES = frozenset({MCODE + "mcode-cancer-stage", MCODE + "mcode-lymphoma-stage"})
AJCC_SYSTEM = "http://cancerstaging.org"
# SNOMED CT AJCC stage values whose display may be missing.
AJCC_SNOMED = {"1222837003": "IV"}

_STAGE = r"((?:[0-4]|IV|I{1,3})(?:[A-E][0-9]?)?)"
_STAGE_IN_TEXT = re.compile(rf"\bstage\s+{_STAGE}\b", re.IGNORECASE)
_STAGE_TOKEN = re.compile(rf"(?:stage\s*)?{_STAGE}", re.IGNORECASE)
_STAGE_FOUR = re.compile(r"(?:IV|4)(?:[A-E][0-9]?)?", re.IGNORECASE)


def is_stage_group(resource: dict[str, Any], loinc: Set[str], snomed: Set[str]) -> bool:
    """A TNM stage group, or another system's stage in mCODE's cancer-stage profiles (those
    profiles also carry grades and depths, such as Gleason or Breslow: a stage says "stage")."""
    if loinc & TNM_LOINC or snomed & TNM_SNOMED:
        return True
    found = profiles(resource)
    if any(p in TNM_PROFILES for p in found):
        return True
    value = f"{concept_words(resource.get('valueCodeableConcept'))} {resource.get('valueString')}"
    return any(p in OTHER_STAGE_PROFILES for p in found) and "stage" in value.lower()


def stage_of(resource: dict[str, Any]) -> tuple[str, bool] | None:
    """(stage as written, e.g. "IIIC" or "4A"; True for AJCC/TNM stage IV), or None."""
    value = as_dict(resource.get("valueCodeableConcept"))
    written = [value.get("text")] + [d for _, _, d in codings(value)]
    if isinstance(resource.get("valueString"), str):
        written.insert(0, resource["valueString"])
    texts = [t.strip() for t in written if isinstance(t, str) and t.strip()]
    value_codes = [(s, c) for s, c, _ in codings(value) if c]
    stage = _parse(texts, value_codes)
    if stage is None:
        return None
    return stage, _is_tnm(resource, texts, value_codes) and bool(_STAGE_FOUR.fullmatch(stage))


def _parse(texts: list[str], value_codes: list[tuple[str | None, str]]) -> str | None:
    for _, code in value_codes:
        if code in AJCC_SNOMED:
            return AJCC_SNOMED[code]
    for text in texts:
        match = _STAGE_IN_TEXT.search(text)
        if match:
            return match.group(1)
    for candidate in [code for _, code in value_codes] + texts:
        match = _STAGE_TOKEN.fullmatch(candidate.strip()) if len(candidate) <= 12 else None
        if match:
            return match.group(1)
    return texts[0] if texts else (value_codes[0][1] if value_codes else None)


def _is_tnm(
    resource: dict[str, Any], texts: list[str], value_codes: list[tuple[str | None, str]]
) -> bool:
    code = as_dict(resource.get("code"))
    loinc = {c for s, c, _ in codings(code) if c and s == "http://loinc.org"}
    snomed = {c for s, c, _ in codings(code) if c and s == "http://snomed.info/sct"}
    if loinc & TNM_LOINC or snomed & TNM_SNOMED:
        return True
    if any(p in TNM_PROFILES for p in profiles(resource)):
        return True
    return any(s == AJCC_SYSTEM for s, _ in value_codes) or any(
        "american joint committee" in t.lower() for t in texts
    )
