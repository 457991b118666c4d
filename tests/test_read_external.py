"""The public FHIR R4 data in ../shared/data/external, read with the shipped knowledge.

Every file set is read without an exception (also with full R4 validation), and the facts
that can be checked by hand from the files are what the reader yields.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from cpoc_fhir.engine.facts import (
    CancerRole,
    DiseaseState,
    EpisodeKind,
    ExposureKind,
    PatientRecord,
    Route,
    StopReason,
)
from cpoc_fhir.fhir.read import PatientResources, ReaderSettings, open_source, read_record
from cpoc_fhir.knowledge import Knowledge

# ../shared/data/external beside the repository; CPOC_EXTERNAL_DATA points elsewhere (a
# checkout that does not sit beside shared/).
EXTERNAL = Path(
    os.environ.get("CPOC_EXTERNAL_DATA")
    or Path(__file__).parents[1].parent / "shared" / "data" / "external"
)
pytestmark = pytest.mark.skipif(not EXTERNAL.is_dir(), reason="no ../shared/data/external")

SOURCES = [
    "mcode_stu4_examples",
    "mcode_extraction_fixtures",
    "synthea_bulk_10pt_subset",
    "synthea_r4_transaction",  # a folder of transaction Bundles
    "clinosim_us_generated",  # a folder of NDJSON files, one patient each
    *(
        f"synthea_r4_transaction/{p.name}"
        for p in sorted(EXTERNAL.glob("synthea_r4_transaction/*"))
    ),
    *(f"clinosim_us_generated/{p.name}" for p in sorted(EXTERNAL.glob("clinosim_us_generated/*"))),
]
PATIENTS = {"mcode_stu4_examples": 7, "synthea_r4_transaction": 4, "clinosim_us_generated": 3}
SUMIKO = "Patient/129c6ac7-8d06-89de-ad63-0204a93e76c3"


def records(name: str, knowledge: Knowledge) -> dict[str, PatientRecord]:
    return {
        p.patient_ref: read_record(p, knowledge) for p in open_source(EXTERNAL / name).patients()
    }


def drugs(record: PatientRecord) -> Counter[tuple[str, ExposureKind]]:
    return Counter((e.drug, e.kind) for e in record.exposures)


@pytest.mark.parametrize("name", SOURCES)
def test_every_file_set_reads_without_exceptions(name: str, knowledge: Knowledge) -> None:
    source = open_source(EXTERNAL / name)
    patients = list(source.patients())
    assert len(patients) == PATIENTS.get(name, 1)
    for patient in patients:
        for settings in (ReaderSettings(), ReaderSettings(validate=True)):
            record = read_record(patient, knowledge, settings)
            assert record.patient_ref == patient.patient_ref
            assert all(":" in w for w in record.warnings)


def test_mcode_examples(knowledge: Knowledge) -> None:
    found = records("mcode_stu4_examples", knowledge)
    assert len(found) == 7
    jenny = found["Patient/cancer-patient-jenny-m"]
    (ecog,) = jenny.performance
    assert (ecog.ecog, ecog.on) == (0, date(2018, 4, 12))
    assert [(s.state, s.on) for s in jenny.disease_status] == [
        (DiseaseState.IMPROVED, date(2018, 11, 1))
    ]
    assert {(s.stage, s.metastatic) for s in jenny.stages} == {("IIB", False)}
    assert drugs(jenny) == {
        ("cyclophosphamide", ExposureKind.ADMINISTERED): 1,
        ("doxorubicin", ExposureKind.ADMINISTERED): 1,
        ("paclitaxel", ExposureKind.ADMINISTERED): 1,
        ("cyclophosphamide", ExposureKind.PLANNED): 1,  # orders no administration refers to
        ("paclitaxel", ExposureKind.PLANNED): 1,
        ("anastrozole", ExposureKind.SUPPLY): 1,
    }
    # The Bundle repeats the single-resource files (narrative aside): no duplicate facts.
    assert len(jenny.diagnoses) == 4
    john = found["Patient/cancer-patient-john-anyperson"]
    assert {(p.scale, p.ecog, p.raw) for p in john.performance} == {
        ("ecog", 0, None),
        ("karnofsky", 0, 90),
    }
    roles = {d.ref: d.cancer_role for d in john.diagnoses}
    assert roles["Condition/secondary-cancer-condition-brain-mets"] is CancerRole.SECONDARY
    assert [(s.ref, s.on, s.reason) for s in john.order_stops] == [
        (
            "MedicationRequest/cancer-related-medication-request-cisplatin-stopped",
            date(2019, 5, 15),
            StopReason.TOXICITY,  # 407563006 "Treatment not tolerated"
        )
    ]
    brian = found["Patient/cancer-patient-brian-l"]
    assert {e.drug for e in brian.exposures} == {
        "cyclophosphamide", "idarubicin", "prednisone", "vincristine"
    }  # fmt: skip
    assert [s.state for s in brian.disease_status] == [DiseaseState.IMPROVED]


def test_mcode_extraction_fixtures(knowledge: Knowledge) -> None:
    source = open_source(EXTERNAL / "mcode_extraction_fixtures")
    (patient,) = source.patients()
    assert patient.patient_ref == "Patient/mrn-1"  # urn:uuid:mrn-1, typed Patient
    # The fixtures hold no Patient resource: nothing of theirs bills (cpoc-rules §11). Its 8
    # resources: 5 Observations (status, 4 staging), ResearchSubject, Encounter, and the
    # MedicationAdministration.
    unbilled = read_record(patient, knowledge)
    assert unbilled == PatientRecord(
        "Patient/mrn-1",
        warnings=(
            "Patient/mrn-1: no Patient resource in the input; its 8 resource(s) bill nothing",
        ),
    )
    # With the Patient the facts are read as they stand in the files.
    patient.resources.append({"resourceType": "Patient", "id": "mrn-1"})
    record = read_record(patient, knowledge)
    assert [s.state for s in record.disease_status] == [DiseaseState.NED]  # USCRS-352236
    assert [(s.stage, s.metastatic) for s in record.stages] == [("3C", False)]
    assert [(v.face_to_face, v.oncology) for v in record.visits] == [(False, False)]  # arrived
    assert record.trials == ()
    # Its only ResearchSubject has the placeholder status "example-enrollment-status".
    assert [w.split(": ", 1)[1] for w in record.warnings] == [
        "status is not a ResearchSubject status; not used"
    ]
    # DSTU2-style Conditions with no patient reference cannot be attributed.
    assert len(source.warnings) == 2


def test_synthea_bulk_patient(knowledge: Knowledge) -> None:
    source = open_source(EXTERNAL / "synthea_bulk_10pt_subset")
    (patient,) = source.patients()
    record = read_record(patient, knowledge)
    assert record.patient_ref == SUMIKO
    assert record.death == date(1989, 5, 9)
    # Product codes 1736854 / 583214, orders without administrations: planned infusions.
    assert drugs(record) == {
        ("cisplatin", ExposureKind.PLANNED): 221,
        ("paclitaxel", ExposureKind.PLANNED): 221,
    }
    assert {e.route for e in record.exposures} == {Route.PARENTERAL}
    assert min(e.start for e in record.exposures) == date(1984, 11, 1)
    assert sorted(
        d.cancer_type or "" for d in record.diagnoses if d.cancer_role.value != "none"
    ) == [
        "breast",
        "lung",
        "lung",
    ]
    assert len(record.visits) == 90
    assert [e.kind for e in record.episodes] == [EpisodeKind.HOSPICE]
    assert record.warnings == () and source.warnings == []


def test_synthea_transaction_bundles(knowledge: Knowledge) -> None:
    expected = {
        "Austin_Franecki": (date(1989, 7, 25), {"cisplatin": 48, "paclitaxel": 48}),
        "Sherman_McGlynn": (
            date(2012, 7, 31),
            {"cisplatin": 45, "etoposide": 45, "docetaxel": 1, "leuprolide": 1},
        ),
        "Gabriela_Streich": (date(2018, 1, 18), {"oxaliplatin": 1, "leucovorin": 1}),
        "Andy_Schaden": (None, {"docetaxel": 1, "leuprolide": 1}),
    }
    for path in sorted(EXTERNAL.glob("synthea_r4_transaction/*.json")):
        (record,) = records(f"synthea_r4_transaction/{path.name}", knowledge).values()
        death, counts = next(v for k, v in expected.items() if path.name.startswith(k))
        assert record.death == death
        assert Counter(e.drug for e in record.exposures) == counts
        assert record.warnings == ()


def test_clinosim_folfox_administrations(knowledge: Knowledge) -> None:
    (record,) = records(
        "clinosim_us_generated/clinosim_us_seed42_folfox_esophagus.ndjson", knowledge
    ).values()
    assert drugs(record) == {
        ("oxaliplatin", ExposureKind.ADMINISTERED): 12,
        ("leucovorin", ExposureKind.ADMINISTERED): 12,
        ("fluorouracil", ExposureKind.ADMINISTERED): 12,
    }  # every order has its administration; aspirin and atorvastatin are not cancer care
    first = [e for e in record.exposures if e.start == date(2024, 1, 7)]
    assert {e.drug for e in first} == {"oxaliplatin", "leucovorin", "fluorouracil"}
    assert all(e.order_ref and e.order_ref.startswith("MedicationRequest/") for e in first)
    (cancer,) = (d for d in record.diagnoses if d.cancer_role is CancerRole.PRIMARY)
    assert cancer.icd10 == ("C159",)
    assert record.warnings == ()


def test_clinosim_alendronate_is_not_cyclophosphamide(knowledge: Knowledge) -> None:
    (record,) = records(
        "clinosim_us_generated/clinosim_us_seed42_carbopem_lung.ndjson", knowledge
    ).values()
    assert "cyclophosphamide" not in {e.drug for e in record.exposures}
    assert drugs(record) == {  # text-only "Carboplatin" / "Pemetrexed" resolve by name
        ("carboplatin", ExposureKind.ADMINISTERED): 4,
        ("pemetrexed", ExposureKind.ADMINISTERED): 4,
    }
    alendronate = [w for w in record.warnings if "Alendronate" in w]
    assert len(alendronate) == 4 == len(record.warnings)
    assert all(w.startswith("MedicationRequest/rxopd-") and "3002" in w for w in alendronate)


def test_clinosim_trastuzumab_and_text_only_tamoxifen(knowledge: Knowledge) -> None:
    (record,) = records(
        "clinosim_us_generated/clinosim_us_seed42_trastuzumab_breast.ndjson", knowledge
    ).values()
    assert drugs(record) == {
        ("trastuzumab", ExposureKind.ADMINISTERED): 17,
        ("tamoxifen", ExposureKind.SUPPLY): 4,
    }
    assert {e.route for e in record.exposures if e.drug == "tamoxifen"} == {Route.ORAL}


def test_heavy_record_reads_well_under_50_ms(knowledge: Knowledge) -> None:
    (patient,) = open_source(EXTERNAL / "synthea_bulk_10pt_subset").patients()
    assert isinstance(patient, PatientResources)
    read_record(patient, knowledge)  # warm the knowledge's memos
    timings = []
    for _ in range(5):  # CPU time: the reader's own cost, not the machine's other load
        started = time.process_time()
        read_record(patient, knowledge)
        timings.append(time.process_time() - started)
    assert min(timings) < 0.050, f"{min(timings) * 1000:.1f} ms"
