"""Helpers for the read-adapter tests: a small fake Knowledge and fixture loading.

The reader's tests use this fake so that they test the reader, not the catalog's contents;
tests/test_read_external.py reads the public data with the shipped knowledge.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cpoc_fhir.engine.facts import CancerRole, DrugRole, PatientRecord, Route
from cpoc_fhir.fhir.read import PatientResources, ReaderSettings, open_source, read_record
from cpoc_fhir.knowledge import Knowledge
from cpoc_fhir.knowledge.conditions import ConditionClass
from cpoc_fhir.knowledge.regimens import Drug, DrugResolution

DATA = Path(__file__).parent / "data" / "read"

DRUGS = {
    "paclitaxel": Drug("paclitaxel", "paclitaxel", "56946", DrugRole.ANTICANCER, ("taxane",),
                       Route.PARENTERAL, 2),
    "capecitabine": Drug("capecitabine", "capecitabine", "194000", DrugRole.ANTICANCER,
                         ("fluoropyrimidine",), Route.ORAL),
    "ondansetron": Drug("ondansetron", "ondansetron", "26225", DrugRole.SUPPORTIVE,
                        ("antiemetic",), Route.PARENTERAL, 2),
    "cyclophosphamide": Drug("cyclophosphamide", "cyclophosphamide", "3002",
                             DrugRole.ANTICANCER, ("alkylating",), Route.PARENTERAL, 2),
}  # fmt: skip


class FakeCatalog:
    """Resolves RxNorm ingredient codes and drug names; 3002 + "Alendronate" conflicts."""

    def resolve(
        self, codings: Sequence[tuple[str | None, ...]], text: str | None
    ) -> DrugResolution:
        wording = " ".join([text or ""] + [c[2] or "" for c in codings]).lower()
        for _, code, _ in codings:
            for drug in DRUGS.values():
                if code == drug.rxcui:
                    if "alendronate" in wording:
                        return DrugResolution(
                            None, "", f"RxNorm {code} is {drug.name}; not counted"
                        )
                    return DrugResolution(drug, "rxnorm-ingredient")
        for drug in DRUGS.values():
            if drug.name in wording:
                return DrugResolution(drug, "name")
        return DrugResolution(None)


class FakeConditions:
    """ICD-10 C77-C79 secondary, other C codes primary; two SNOMED cancers; T45.1X5 toxicity."""

    def classify(
        self, icd10: Sequence[str], snomed: Sequence[str], text: str = ""
    ) -> ConditionClass:
        toxicity = any(code.startswith("T451X5") for code in icd10)
        if any(code[:3] in ("C77", "C78", "C79") for code in icd10):
            return ConditionClass(CancerRole.SECONDARY, toxicity=toxicity)
        if any(code.startswith("C") for code in icd10):
            return ConditionClass(CancerRole.PRIMARY, "colorectal", toxicity=toxicity)
        if set(snomed) & {"254637007", "363346000"}:
            return ConditionClass(CancerRole.PRIMARY, "lung")
        return ConditionClass(toxicity=toxicity)


FAKE_KNOWLEDGE: Any = Knowledge(
    regimens=FakeCatalog(),  # type: ignore[arg-type]
    charlson=None,  # type: ignore[arg-type]
    conditions=FakeConditions(),  # type: ignore[arg-type]
)


def load_patient(name: str, patient: str | None = None) -> PatientResources:
    """The one (or the named) patient of a fixture file in tests/data/read."""
    groups = {p.patient_ref: p for p in open_source(DATA / name).patients()}
    return groups[patient] if patient else next(iter(groups.values()))


def read_fixture(
    name: str, settings: ReaderSettings | None = None, include_drafts: bool = False
) -> PatientRecord:
    """The PatientRecord of a fixture file's single patient, read with the fake knowledge."""
    return read_record(
        load_patient(name), FAKE_KNOWLEDGE, settings or ReaderSettings(), include_drafts
    )


def by_ref(facts: Sequence[Any]) -> dict[str, list[Any]]:
    """Facts grouped by the "Type/id" they rest on."""
    out: dict[str, list[Any]] = {}
    for fact in facts:
        out.setdefault(fact.ref, []).append(fact)
    return out


def warnings_about(record: PatientRecord, ref: str) -> list[str]:
    return [w for w in record.warnings if w.startswith(ref + ":")]
