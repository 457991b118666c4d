"""The patient context a pathway is chosen by, for one order: cancer, stage, line, markers.

Built from the engine's facts (diagnoses, stage groups, lines of therapy — the same lines the
billing uses) and from the record's own resources for what billing never needed (biomarkers,
histology, castration status; ``fhir/read/pathway_facts.py``). What the record does not say
stays unknown, so the card can say "PD-L1 … not on record" rather than guess.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from cpoc_fhir.engine.facts import CancerRole, Diagnosis, PatientRecord
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.fhir.read.pathway_facts import (
    condition_histology,
    condition_site,
    read_pathway_facts,
)
from cpoc_fhir.fhir.read.resources import PatientResources
from cpoc_fhir.knowledge.regimens import RegimenCatalog
from cpoc_fhir.packs.cpoc.treatment import TherapyLine, build_lines, counted_exposures
from cpoc_fhir.pathways.model import Answer

_MAJOR_STAGE = re.compile(r"^(IV|III|II|I|0|[1-4])", re.I)
_ARABIC = {"1": "I", "2": "II", "3": "III", "4": "IV"}
_STAGE_IN_NAME = re.compile(r"\bstage\s+(IV|III|II|I|[1-4])\b", re.I)


@dataclass(frozen=True)
class OrderedRegimen:
    """The line of therapy the order belongs to, as the catalog names it."""

    regimen_ids: tuple[str, ...]
    name: str
    identified: bool  # every anti-cancer drug known and explained by a catalog regimen
    unidentified: tuple[str, ...]  # drug names the catalog does not know or explain
    start: date
    line_index: int  # 0-based among all the patient's lines
    order_refs: tuple[str, ...] = ()  # the orders (MedicationRequest "Type/id") of the line


@dataclass(frozen=True)
class PatientContext:
    """What the record says about the facts pathway criteria ask about, for one order."""

    cancer: Diagnosis | None
    answers: Mapping[str, Answer]
    evidence: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    metastatic_since: date | None = None

    def answer(self, fact: str) -> Answer:
        return self.answers.get(fact)

    def describe(self) -> list[str]:
        """The known facts in words, for the card ("stage III", "line 2", "EGFR negative")."""
        out = []
        for fact in ("stage", "metastatic", "histology", "site", "line"):
            value = self.answers.get(fact)
            if value is None:
                continue
            if fact == "metastatic":
                out.append("metastatic" if value == "yes" else "not metastatic")
            elif fact == "line":
                out.append(f"line {value}")
            elif fact == "stage":
                out.append(f"stage {value}")
            else:
                out.append(str(value))
        for marker in ("EGFR", "ALK", "PD-L1", "HER2", "HR", "castration"):
            value = self.answers.get(marker)
            if value is None:
                continue
            if marker == "PD-L1":
                out.append(f"PD-L1 TPS {value} %")
            elif marker == "castration":
                out.append(f"castration-{value}")
            else:
                out.append(f"{marker} {value}")
        return out


def order_context(
    record: PatientRecord,
    resources: PatientResources,
    catalog: RegimenCatalog,
    settings: RuleSettings,
    order_refs: Collection[str],
    as_of: date,
) -> tuple[PatientContext, OrderedRegimen] | None:
    """The context of the order made of ``order_refs`` (MedicationRequest "Type/id"s), or
    None when none of them is an anti-cancer drug."""
    exposures = counted_exposures(record)
    lines, line_of = build_lines(exposures, catalog, settings)
    index = next(
        (
            line_of[e.ref]
            for e in exposures
            if e.ref in line_of and (e.order_ref in order_refs or e.ref in order_refs)
        ),
        None,
    )
    if index is None:
        return None
    line = lines[index]
    refs = sorted({e.order_ref or e.ref for e in exposures if line_of.get(e.ref) == index})
    regimen = _ordered(line, index, tuple(refs))
    day = max(line.start, min(as_of, line.end))
    cancer = _cancer(record, line, day)
    answers: dict[str, Answer] = {}
    evidence: dict[str, tuple[str, ...]] = {}
    notes: list[str] = []
    since = None
    if cancer is not None:
        answers["cancer"] = cancer.cancer_type or "other"
        answers["icd10"] = cancer.icd10 or None
        answers["snomed"] = cancer.snomed or None
        evidence["cancer"] = (cancer.ref,)
        condition = _resource(resources, cancer.ref)
        if condition is not None:
            for fact, value in (
                ("histology", condition_histology(condition)),
                ("site", condition_site(condition) if cancer.cancer_type == "colorectal" else None),
            ):
                if value is not None:
                    answers[fact] = value
                    evidence[fact] = (cancer.ref,)
        since = _stage_and_spread(record, cancer, day, answers, evidence)
    prior = [earlier for earlier in lines[:index] if since is None or earlier.start >= since]
    answers["line"] = Decimal(len(prior) + 1)
    evidence["line"] = tuple(f"line of therapy from {p.start.isoformat()}: {p.name}" for p in prior)
    facts = read_pathway_facts(resources, day)
    notes.extend(facts.notes)
    for marker in ("EGFR", "ALK", "PD-L1", "HER2"):
        found = facts.markers.get(marker)
        if found is not None:
            answers[marker] = found.value
            evidence[marker] = (found.ref,)
    er, pr = facts.markers.get("ER"), facts.markers.get("PR")
    receptors = [f for f in (er, pr) if f is not None]
    if any(f.value == "positive" for f in receptors):
        answers["HR"] = "positive"
        evidence["HR"] = tuple(f.ref for f in receptors if f.value == "positive")
    elif er is not None and pr is not None:
        answers["HR"] = "negative"
        evidence["HR"] = (er.ref, pr.ref)
    if facts.castration is not None:
        answers["castration"] = facts.castration.value
        evidence["castration"] = (facts.castration.ref,)
    context = PatientContext(cancer, answers, evidence, tuple(notes), since)
    return context, regimen


def _ordered(line: TherapyLine, index: int, refs: tuple[str, ...]) -> OrderedRegimen:
    return OrderedRegimen(
        regimen_ids=tuple(r.id for r in line.regimens),
        name=line.name,
        identified=line.fully_known,
        unidentified=tuple(sorted(line.unmatched)) + tuple(line.unknown),
        start=line.start,
        line_index=index,
        order_refs=refs,
    )


def _cancer(record: PatientRecord, line: TherapyLine, day: date) -> Diagnosis | None:
    """The primary cancer the order treats: active on the day, of a type the regimen is used
    for when several are, else the latest diagnosed."""
    active = [
        d
        for d in record.diagnoses
        if d.cancer_role is CancerRole.PRIMARY and d.active_during(day, day)
    ]
    if not active:
        active = [d for d in record.diagnoses if d.cancer_role is CancerRole.PRIMARY]
    if not active:
        return None
    used_for = {c for r in line.regimens for c in r.cancers}
    fitting = [d for d in active if d.cancer_type in used_for] or active
    return max(fitting, key=lambda d: (d.onset or date.min, d.ref))


def _stage_and_spread(
    record: PatientRecord,
    cancer: Diagnosis,
    day: date,
    answers: dict[str, Answer],
    evidence: dict[str, tuple[str, ...]],
) -> date | None:
    """Sets ``stage`` and ``metastatic``; returns the date metastasis was first documented."""
    stages = sorted((s for s in record.stages if s.on <= day), key=lambda s: (s.on, s.ref))
    secondaries = [
        d
        for d in record.diagnoses
        if d.cancer_role is CancerRole.SECONDARY
        and (d.onset is None or d.onset <= day)
        and d.active_during(day, day)
    ]
    latest = stages[-1] if stages else None
    if latest is not None:
        major = _major(latest.stage)
        if major is not None:
            answers["stage"] = major
            evidence["stage"] = (latest.ref,)
    elif (named := _STAGE_IN_NAME.search(cancer.display or "")) is not None:
        answers["stage"] = _ARABIC.get(named.group(1), named.group(1).upper())
        evidence["stage"] = (cancer.ref,)
    spread_dates = [s.on for s in stages if s.metastatic] + [
        d.onset for d in secondaries if d.onset is not None
    ]
    spread_refs = [s.ref for s in stages if s.metastatic] + [d.ref for d in secondaries]
    if answers.get("stage") == "IV" and (latest is None or latest.metastatic):
        spread_refs.append(evidence["stage"][0])
        if latest is None and cancer.onset is not None:
            spread_dates.append(cancer.onset)
    if spread_refs:
        answers["metastatic"] = "yes"
        evidence["metastatic"] = tuple(dict.fromkeys(spread_refs))
        return min(spread_dates, default=None)
    if answers.get("stage") in ("0", "I", "II", "III"):
        answers["metastatic"] = "no"
        evidence["metastatic"] = evidence["stage"]
    return None


def _major(stage: str) -> str | None:
    match = _MAJOR_STAGE.match(stage.strip().upper().removeprefix("STAGE").strip())
    if match is None:
        return None
    found = match.group(1)
    return _ARABIC.get(found, found)


def _resource(resources: PatientResources, ref: str) -> dict[str, object] | None:
    kind, _, rid = ref.partition("/")
    return next((r for r in resources.of_type(kind) if r.get("id") == rid), None)
