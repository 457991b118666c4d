"""Hypothesis strategies for the engine's property tests: generated patient records.

A record is a cancer diagnosis, one to three treatment phases (a catalog regimen given in
cycles, maintenance subsets included, or an oral supply), visits, performance statuses, a
disease status, and optionally death, hospice or a transfer of care. ``to_resources`` writes a
record as FHIR R4 JSON (for the reader-level property). Dates keep their day of month in
1..28 so that a shift by whole months is defined for every date (cpoc-rules §2's anchor).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from cpoc_fhir.engine.facts import (
    CancerRole,
    CareEpisode,
    Diagnosis,
    DiseaseState,
    DiseaseStatus,
    DrugRole,
    EpisodeKind,
    ExposureKind,
    MedicationExposure,
    PatientRecord,
    PerformanceStatus,
    Route,
    Visit,
)
from cpoc_fhir.packs.cpoc.payer import PayerSchedule

# Regimens given by infusion/injection (catalog drug ids), with their maintenance subsets.
PARENTERAL = (
    ("carboplatin", "pemetrexed", "pembrolizumab"),
    ("pemetrexed", "pembrolizumab"),
    ("oxaliplatin", "leucovorin", "fluorouracil"),
    ("leucovorin", "fluorouracil"),
    ("cisplatin", "gemcitabine"),
    ("gemcitabine",),
    ("docetaxel",),
    ("doxorubicin", "cyclophosphamide"),
    ("paclitaxel",),
    ("trastuzumab", "pertuzumab"),
    ("trastuzumab",),
    ("rituximab", "cyclophosphamide", "doxorubicin", "vincristine"),
    ("pembrolizumab",),
)
ORAL = (("tamoxifen",), ("capecitabine",), ("letrozole", "palbociclib"), ("anastrozole",))
SUPPORTIVE = ("ondansetron", "dexamethasone")
COMORBIDITIES = ("I50.9", "E11.22", "J44.9", "N18.3", "K72.10", "I25.2")
CANCERS = (("C34.11", "lung"), ("C18.7", "colorectal"), ("C50.911", "breast"))


@dataclass(frozen=True)
class Generated:
    """A record with what produced it (for shrinking output) and the day to evaluate it on."""

    record: PatientRecord
    as_of: date
    parenteral_only: bool  # every exposure is a single-day administration


def add_months(day: date, months: int) -> date:
    """The same day of month ``months`` later (every generated day is in 1..28)."""
    total = day.month - 1 + months
    year, month = day.year + total // 12, total % 12 + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


def _clamp(day: date) -> date:
    """Move a day on the 29th-31st back to the 28th (so month shifts are defined)."""
    return day if day.day <= 28 else day.replace(day=28)


@st.composite
def records(
    draw: st.DrawFn, patient: str = "Patient/p", parenteral_only: bool = False
) -> Generated:
    ids = iter(range(1, 10_000))

    def ref(kind: str) -> str:
        return f"{kind}/{patient.split('/')[-1]}-{next(ids)}"

    start = date(2024, draw(st.integers(1, 12)), draw(st.integers(1, 28)))
    icd, cancer_type = draw(st.sampled_from(CANCERS))
    onset = _clamp(start - timedelta(days=20))
    diagnoses = [
        Diagnosis(ref("Condition"), icd10=(icd.replace(".", ""),), onset=onset,
                  cancer_role=CancerRole.PRIMARY, cancer_type=cancer_type, display=icd)
    ]  # fmt: skip
    for code in draw(st.lists(st.sampled_from(COMORBIDITIES), max_size=3, unique=True)):
        diagnoses.append(
            Diagnosis(ref("Condition"), icd10=(code.replace(".", ""),), onset=date(2020, 1, 1))
        )
    if draw(st.booleans()):
        diagnoses.append(
            Diagnosis(ref("Condition"), icd10=("C787",), onset=_clamp(start - timedelta(days=10)),
                      cancer_role=CancerRole.SECONDARY)
        )  # fmt: skip
    exposures: list[MedicationExposure] = []
    day = start
    cycle_days: list[date] = []
    previous: tuple[str, ...] = ()
    for _ in range(draw(st.integers(1, 3))):
        oral = not parenteral_only and draw(st.integers(0, 3)) == 0
        if oral:
            drugs = draw(st.sampled_from(ORAL))
            for _ in range(draw(st.integers(1, 3))):
                supply = draw(st.sampled_from((14, 21, 28, 30)))
                for drug in drugs:
                    exposures.append(
                        MedicationExposure(ref("MedicationRequest"), drug, drug,
                                           DrugRole.ANTICANCER, Route.ORAL, ExposureKind.SUPPLY,
                                           day, day + timedelta(days=supply - 1), ordered_on=day)
                    )  # fmt: skip
                cycle_days.append(day)
                day = _clamp(day + timedelta(days=supply))
        else:
            drugs = draw(st.sampled_from(PARENTERAL))
            if previous and draw(st.booleans()):  # maintenance: some of the drugs continue
                kept = draw(st.sets(st.sampled_from(previous), min_size=1, max_size=len(previous)))
                drugs = tuple(d for d in previous if d in kept)
            previous = drugs
            every = draw(st.sampled_from((7, 14, 21, 28)))
            for _ in range(draw(st.integers(1, 6))):
                for drug in drugs:
                    exposures.append(_given(ref("MedicationAdministration"), drug, day))
                if draw(st.booleans()):
                    exposures.append(
                        _given(ref("MedicationAdministration"), draw(st.sampled_from(SUPPORTIVE)),
                               day, DrugRole.SUPPORTIVE)
                    )  # fmt: skip
                cycle_days.append(day)
                day = _clamp(day + timedelta(days=every))
        day = _clamp(day + timedelta(days=draw(st.sampled_from((0, 14, 40, 120)))))
    last = day
    first_visit = _clamp(start - timedelta(days=7))
    visits = [Visit(ref("Encounter"), first_visit, True, True)]
    for on in draw(st.lists(st.sampled_from(cycle_days), max_size=4, unique=True)):
        visits.append(Visit(ref("Encounter"), on, True, True))
    if draw(st.booleans()):
        visits.append(Visit(ref("Encounter"), _clamp(last + timedelta(days=60)), True, True))
    performance = [
        PerformanceStatus(ref("Observation"), on, draw(st.integers(0, 4)))
        for on in draw(st.lists(st.sampled_from(cycle_days), max_size=3, unique=True))
    ]
    disease_status = []
    state = draw(st.sampled_from([None, DiseaseState.NED, DiseaseState.WORSENED]))
    if state is not None:
        disease_status.append(
            DiseaseStatus(ref("Observation"), draw(st.sampled_from(cycle_days)), state)
        )
    as_of = _clamp(last + timedelta(days=draw(st.sampled_from((10, 90, 400)))))
    episodes = [CareEpisode(ref("EpisodeOfCare"), EpisodeKind.ONCOLOGY, first_visit)]
    death = None
    stop = draw(st.sampled_from(["none", "death", "hospice", "transfer"]))
    stop_day = _clamp(start + timedelta(days=draw(st.integers(20, 500))))
    if stop == "death":
        death = stop_day
    elif stop == "hospice":
        episodes.append(CareEpisode(ref("EpisodeOfCare"), EpisodeKind.HOSPICE, stop_day))
    elif stop == "transfer":
        episodes[0] = replace(episodes[0], end=stop_day)
    record = PatientRecord(
        patient, death=death, diagnoses=tuple(diagnoses), exposures=tuple(exposures),
        performance=tuple(performance), disease_status=tuple(disease_status),
        visits=tuple(visits), episodes=tuple(episodes),
    )  # fmt: skip
    return Generated(record, as_of, parenteral_only)


def _given(
    ref: str, drug: str, day: date, role: DrugRole = DrugRole.ANTICANCER
) -> MedicationExposure:
    return MedicationExposure(
        ref, drug, drug, role, Route.PARENTERAL, ExposureKind.ADMINISTERED, day, day
    )


@st.composite
def payers(draw: st.DrawFn) -> PayerSchedule:
    """A payer with a New Patient amount in cents, a GPCI and a value-based adjustment."""
    cents = draw(st.integers(10_000, 500_000))
    gpci = Decimal(draw(st.integers(800, 1300))) / 1000
    vba = Decimal(draw(st.integers(-99, 99))) / 1000
    return PayerSchedule("test", "Test payer", Decimal(cents) / 100, gpci=gpci, vba=vba)


def shift_record(record: PatientRecord, months: int) -> PatientRecord:
    """Every date of the record ``months`` later."""

    def s(day: date | None) -> date | None:
        return None if day is None else add_months(day, months)

    return replace(
        record,
        death=s(record.death),
        diagnoses=tuple(
            replace(d, onset=s(d.onset), abatement=s(d.abatement)) for d in record.diagnoses
        ),
        exposures=tuple(
            replace(e, start=s(e.start), end=s(e.end), ordered_on=s(e.ordered_on))
            for e in record.exposures
        ),
        performance=tuple(replace(p, on=s(p.on)) for p in record.performance),
        disease_status=tuple(replace(x, on=s(x.on)) for x in record.disease_status),
        visits=tuple(replace(v, on=s(v.on)) for v in record.visits),
        episodes=tuple(replace(e, start=s(e.start), end=s(e.end)) for e in record.episodes),
    )  # type: ignore[arg-type]


RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def to_resources(record: PatientRecord, rxcui: dict[str, str]) -> list[dict[str, Any]]:
    """The record as FHIR R4 resources (administrations, conditions, visits, ECOG)."""
    subject = {"reference": record.patient_ref}
    out: list[dict[str, Any]] = [
        {"resourceType": "Patient", "id": record.patient_ref.split("/")[1], "gender": "unknown"}
    ]
    for d in record.diagnoses:
        out.append({
            "resourceType": "Condition", "id": d.ref.split("/")[1], "subject": subject,
            "clinicalStatus": {"coding": [{"code": "active"}]},
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm",
                                 "code": d.icd10[0][:3] + "." + d.icd10[0][3:]}]},
            "onsetDateTime": d.onset.isoformat() if d.onset else None,
        })  # fmt: skip
    for e in record.exposures:
        if e.route is not Route.PARENTERAL:
            continue
        out.append({
            "resourceType": "MedicationAdministration", "id": e.ref.split("/")[1],
            "status": "completed", "subject": subject,
            "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": rxcui[e.drug],
                                                      "display": e.drug}]},
            "effectiveDateTime": e.start.isoformat(),
        })  # fmt: skip
    for v in record.visits:
        out.append({
            "resourceType": "Encounter", "id": v.ref.split("/")[1], "status": "finished",
            "class": {"code": "AMB"}, "subject": subject,
            "period": {"start": v.on.isoformat()},
            "reasonReference": [{"reference": record.diagnoses[0].ref}],
        })  # fmt: skip
    for p in record.performance:
        out.append({
            "resourceType": "Observation", "id": p.ref.split("/")[1], "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "89247-1"}]},
            "subject": subject, "effectiveDateTime": p.on.isoformat(), "valueInteger": p.ecog,
        })  # fmt: skip
    return out
