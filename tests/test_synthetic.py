"""The synthetic practice: deterministic by seed, valid FHIR R4, and its truth agrees with the
files it wrote (every count a cross test derives from ``truth`` is what the files hold)."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cpoc_fhir.fhir.read import open_source
from cpoc_fhir.packs.cpoc.ffs import REPLACED_CODES
from cpoc_fhir.synthetic import PracticeTruth, generate_practice
from cpoc_fhir.synthetic import codes as c
from cpoc_fhir.synthetic.claims import fee_schedule
from cpoc_fhir.synthetic.emergency import near_treatment

PATIENTS = 120
Resource = dict[str, Any]


@pytest.fixture(scope="module")
def practice(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PracticeTruth]:
    out = tmp_path_factory.mktemp("practice")
    return out, generate_practice(out, PATIENTS, seed=7, year=2025)


def _read(folder: Path) -> dict[str, list[Resource]]:
    out: dict[str, list[Resource]] = {}
    for path in sorted(folder.glob("*.ndjson")):
        with path.open(encoding="utf-8") as handle:
            out[path.stem] = [json.loads(line) for line in handle]
    return out


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.glob("*.ndjson")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _by_id(files: dict[str, list[Resource]]) -> dict[str, Resource]:
    return {f"{r['resourceType']}/{r['id']}": r for rs in files.values() for r in rs}


def _patient_of(resource: Resource) -> str | None:
    for key in ("subject", "patient", "beneficiary"):
        ref = resource.get(key, {}).get("reference", "")
        if ref.startswith("Patient/"):
            return ref.removeprefix("Patient/")
    return resource["id"] if resource["resourceType"] == "Patient" else None


def test_same_seed_same_files_other_seed_other_files(tmp_path: Path) -> None:
    a = generate_practice(tmp_path / "a", 30, seed=11)
    b = generate_practice(tmp_path / "b", 30, seed=11)
    other = generate_practice(tmp_path / "c", 30, seed=12)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert a == b
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")
    assert other.patients != a.patients


def test_without_claims_no_explanation_of_benefit(tmp_path: Path) -> None:
    truth = generate_practice(tmp_path, 10, claims=False)
    assert not (tmp_path / "ExplanationOfBenefit.ndjson").exists()
    assert all(p.claims == [] for p in truth.patients.values())
    # the clinical content does not depend on the claims: same choices with and without
    with_claims = generate_practice(tmp_path / "claims", 10)
    for pid, patient in truth.patients.items():
        assert patient.er_visits == with_claims.patients[pid].er_visits
        assert patient.visits == with_claims.patients[pid].visits


def test_reads_with_open_source_one_group_per_patient(practice: tuple[Path, PracticeTruth]) -> None:
    folder, truth = practice
    source = open_source(folder)
    groups = list(source.patients())
    assert len(groups) == PATIENTS == len(truth.patients)
    assert source.warnings == []
    assert f"Location/{truth.location_id}" in source.shared
    location = source.shared[f"Location/{truth.location_id}"]
    assert location["position"] == {"longitude": truth.longitude, "latitude": truth.latitude}


def test_every_resource_validates_with_r4b(practice: tuple[Path, PracticeTruth]) -> None:
    """All of them: 120 patients with claims are about 5 800 resources."""
    folder, truth = practice
    checked = 0
    for rs in _read(folder).values():
        for r in rs:
            get_fhir_model_class(r["resourceType"]).model_validate(r)
            checked += 1
    assert checked == truth.resources > 5000


def test_visits_and_their_observations_match_truth(practice: tuple[Path, PracticeTruth]) -> None:
    folder, truth = practice
    files = _read(folder)
    resources = _by_id(files)
    obs: dict[tuple[str, str], list[date]] = defaultdict(list)
    for o in files["Observation"]:
        code = o["code"]["coding"][0]["code"]
        obs[(_patient_of(o) or "", code)].append(date.fromisoformat(o["effectiveDateTime"][:10]))
    amb = defaultdict(list)
    for e in files["Encounter"]:
        if e["class"]["code"] == "AMB":
            amb[_patient_of(e)].append(e["id"])
    for pid, p in truth.patients.items():
        assert sorted(v.encounter_id for v in p.visits) == sorted(amb[pid])
        for v in p.visits:
            e = resources[f"Encounter/{v.encounter_id}"]
            assert e["period"]["start"][:10] == v.day.isoformat()
            assert e["type"][0]["coding"][0]["code"] == v.em_code
        assert sorted(v.day for v in p.visits if v.pain_scored) == sorted(obs[(pid, c.PAIN)])
        assert sorted(p.ecog_days) == sorted(obs[(pid, c.ECOG)])
        assert sorted(p.phq_days) == sorted(obs[(pid, c.PHQ2)] + obs[(pid, c.PHQ9)])
        assert obs[(pid, c.STAGE_GROUP)] == ([p.stage_day] if p.stage_day else [])
        if not p.solid:
            assert p.stage_day is None


def test_treatment_death_and_hospice_match_truth(practice: tuple[Path, PracticeTruth]) -> None:
    folder, truth = practice
    files = _read(folder)
    given = defaultdict(set)
    for ma in files["MedicationAdministration"]:
        given[_patient_of(ma)].add(date.fromisoformat(ma["effectiveDateTime"][:10]))
    died = {r["id"]: r.get("deceasedDateTime") for r in files["Patient"]}
    hospice: dict[str, list[date]] = defaultdict(list)
    for r in files["EpisodeOfCare"] + files["Encounter"]:
        if c.HOSPICE_CARE in json.dumps(r.get("type")) or c.HOSPICE_ADMISSION in json.dumps(
            r.get("type")
        ):
            start = r["period"]["start"][:10]
            hospice[_patient_of(r) or ""].append(date.fromisoformat(start))
    for pid, p in truth.patients.items():
        assert sorted(given[pid]) == p.infusion_days
        if p.infusion_days:
            assert p.treatment_days == p.infusion_days
        assert p.first_treatment == (min(p.treatment_days) if p.treatment_days else None)
        assert p.line_starts == [p.first_treatment]
        assert p.hormonal_only == (p.regimen == ("tamoxifen",))
        assert died[pid] == (p.death.isoformat() if p.death else None)
        assert set(hospice[pid]) == ({p.hospice_start} if p.hospice_start else set())
        if p.death is not None:
            assert p.death.year == truth.year
            assert all(d < p.death for d in p.treatment_days)
            assert all(v.day < p.death for v in p.visits)
            assert all(v.day < p.death for v in p.er_visits)
        if p.hospice_start is not None:
            assert p.death is not None and 0 <= (p.death - p.hospice_start).days <= 10


def test_practice_has_each_end_of_life_case(practice: tuple[Path, PracticeTruth]) -> None:
    """The cases Q4/Q5 separate all occur for seed 7 (so cross tests exercise them)."""
    _, truth = practice
    dead = [p for p in truth.patients.values() if p.death]

    def chemo_last_14(p: Any) -> bool:
        return any(0 < (p.death - d).days <= 14 for d in p.treatment_days)

    assert any(chemo_last_14(p) and not p.hormonal_only for p in dead)
    assert any(chemo_last_14(p) and p.hormonal_only for p in dead)  # tamoxifen: not Q4's
    assert any(not chemo_last_14(p) for p in dead)
    assert any(p.hospice_start and (p.death - p.hospice_start).days >= 3 for p in dead)
    assert any(p.hospice_start and (p.death - p.hospice_start).days < 3 for p in dead)
    assert any(p.hospice_start is None for p in dead)
    assert any(not p.solid for p in truth.patients.values())
    assert any(p.distance_km is None for p in truth.patients.values())


def test_emergency_visits_match_truth(practice: tuple[Path, PracticeTruth]) -> None:
    folder, truth = practice
    resources = _by_id(_read(folder))
    emer = {
        r["id"]
        for r in resources.values()
        if r["resourceType"] == "Encounter" and r["class"]["code"] == "EMER"
    }
    listed = {v.encounter_id for p in truth.patients.values() for v in p.er_visits}
    assert emer == listed
    seen = set()
    for p in truth.patients.values():
        for v in p.er_visits:
            e = resources[f"Encounter/{v.encounter_id}"]
            assert e["period"]["start"][:10] == v.day.isoformat()
            if v.via == "reasonCode":
                concept = e["reasonCode"][0]
            else:
                condition = resources[e["diagnosis"][0]["condition"]["reference"]]
                assert condition["encounter"]["reference"] == f"Encounter/{v.encounter_id}"
                concept = condition["code"]
            coding = concept["coding"][0]
            assert (coding["system"], coding["code"]) == (v.system, v.code)
            if v.op35_category is None:
                assert (v.system, v.code, coding["display"]) in c.NON_OP35
            else:
                icd, sct, _ = c.OP35[v.op35_category]
                assert v.code == (icd if v.system == c.ICD else sct)
            assert v.near_treatment == near_treatment(v.day, p.treatment_days)
            seen.add((v.op35_category is not None, v.near_treatment, v.system))
    # OP-35 (ICD and SNOMED) and non-OP-35, near and far all occur
    assert {(True, True, c.ICD), (True, False, c.ICD), (True, True, c.SCT)} <= seen
    assert any(not op35 for op35, _, _ in seen)


def test_distance_is_the_great_circle_to_the_practice(practice: tuple[Path, PracticeTruth]) -> None:
    """Hand check: 1° of latitude on the 6371 km sphere is 6371 × π / 180 = 111.19 km."""
    from cpoc_fhir.synthetic.patients import great_circle_km

    assert great_circle_km((41.0, -87.0), (42.0, -87.0)) == pytest.approx(111.19, abs=0.01)
    folder, truth = practice
    for r in _read(folder)["Patient"]:
        p = truth.patients[r["id"]]
        ext = r["address"][0].get("extension")
        if p.distance_km is None:
            assert ext is None
            continue
        point = {e["url"]: e["valueDecimal"] for e in ext[0]["extension"]}
        assert ext[0]["url"] == c.GEOLOCATION
        km = great_circle_km(
            (truth.latitude, truth.longitude), (point["latitude"], point["longitude"])
        )
        assert km == pytest.approx(p.distance_km)


def test_claims_match_truth_and_the_fee_schedule(practice: tuple[Path, PracticeTruth]) -> None:
    folder, truth = practice
    fees = fee_schedule()
    eobs = {r["id"]: r for r in _read(folder)["ExplanationOfBenefit"]}
    lines = [line for p in truth.patients.values() for line in p.claims]
    assert {line.eob_id for line in lines} == set(eobs)
    by_eob = defaultdict(list)
    for line in lines:
        by_eob[line.eob_id].append(line)
        assert line.paid == (fees[line.code].amount * line.units).quantize(Decimal("0.01"))
        assert line.kind == (
            "replaced"
            if line.code in REPLACED_CODES
            else "drug"
            if line.code[0] == "J"
            else "other"
        )
    for eob_id, eob in eobs.items():
        assert eob["type"]["coding"][0]["code"] == "professional"
        assert eob["meta"]["profile"][0].endswith(
            "C4BB-ExplanationOfBenefit-Professional-NonClinician"
        )
        items = eob["item"]
        assert len(items) == len(by_eob[eob_id])
        for item, line in zip(items, by_eob[eob_id], strict=True):
            coding = item["productOrService"]["coding"][0]
            assert (coding["system"], coding["code"]) == (line.system, line.code)
            assert item["servicedDate"] == line.day.isoformat()
            assert item["quantity"]["value"] == line.units
            (benefit,) = item["adjudication"]
            assert benefit["category"]["coding"][0]["code"] == "benefit"
            assert Decimal(str(benefit["amount"]["value"])) == line.paid
        total = sum((line.paid for line in by_eob[eob_id]), Decimal(0))
        assert Decimal(str(eob["total"][0]["amount"]["value"])) == total
        assert Decimal(str(eob["payment"]["amount"]["value"])) == total
    # each visit bills one E&M; new-patient codes only at the first visit
    for p in truth.patients.values():
        em = [line for line in p.claims if line.code.startswith("992")]
        assert [line.day for line in em] == [v.day for v in p.visits]
        assert [line.code in c.EM_NEW for line in em] == [n == 0 for n in range(len(em))]
        infusion = {line.day for line in p.claims if line.code in ("96413", "96409")}
        assert infusion == set(p.infusion_days)


def test_one_hand_derived_patient(practice: tuple[Path, PracticeTruth]) -> None:
    """bench-000003 (seed 7): docetaxel every 21 days from 2025-04-09, 7 cycles (months = 7:
    7 × 30 // 21 = 10 cycles planned; the drawn months give 7 here). Each infusion day bills
    96413 (docetaxel 1 h: no 96415), J9171 × 143 units at 0.70 = 100.10, 36415 + 85025 + 80053,
    and 96372 on some days."""
    _, truth = practice
    p = truth.patients["bench-000003"]
    assert p.regimen == ("docetaxel",)
    assert p.infusion_days[0] == date(2025, 4, 9)
    assert all(
        b - a == timedelta(days=21)
        for a, b in zip(p.infusion_days, p.infusion_days[1:], strict=False)
    )
    drug = [line for line in p.claims if line.code == "J9171"]
    assert len(drug) == len(p.infusion_days)
    assert {(line.units, line.paid) for line in drug} == {(143, Decimal("100.10"))}
    assert not any(line.code == "96415" for line in p.claims)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 10_000))
def test_invariants_for_any_seed(tmp_path: Path, seed: int) -> None:
    truth = generate_practice(tmp_path / str(seed), 15, seed=seed)
    for p in truth.patients.values():
        days = p.treatment_days
        assert days == sorted(days)
        for v in p.er_visits:
            assert v.near_treatment == near_treatment(v.day, days)
        if p.death:
            assert all(d < p.death for d in days)
        if p.stage_day is not None:
            assert p.solid
        assert all(line.paid >= 0 for line in p.claims)


def test_the_reader_sees_what_the_truth_says(practice: tuple[Path, PracticeTruth]) -> None:
    """The engine's facts (fhir.read → PatientRecord) agree with the generator's choices: the
    death, the oncology visits, the ECOG and stage dates, the hospice starts, the drug days;
    ER and hospice encounters are not oncology visits; no warnings."""
    from cpoc_fhir.engine.facts import DrugRole, EpisodeKind
    from cpoc_fhir.fhir.read.record import read_record
    from cpoc_fhir.knowledge.loader import load_knowledge

    folder, truth = practice
    knowledge = load_knowledge()
    for resources in open_source(folder).patients():
        record = read_record(resources, knowledge)
        p = truth.patients[record.patient_ref.removeprefix("Patient/")]
        assert record.warnings == ()
        assert record.death == p.death
        oncology = [v for v in record.visits if v.oncology and v.face_to_face]
        assert [v.on for v in oncology] == [v.day for v in p.visits]
        er = {f"Encounter/{v.encounter_id}" for v in p.er_visits}
        assert all(not v.face_to_face for v in record.visits if v.ref in er)
        assert [s.on for s in record.performance] == p.ecog_days
        assert [s.on for s in record.stages] == ([p.stage_day] if p.stage_day else [])
        assert all(not s.metastatic for s in record.stages)
        hospice = {e.start for e in record.episodes if e.kind is EpisodeKind.HOSPICE}
        assert hospice == ({p.hospice_start} if p.hospice_start else set())
        days = set()
        for exposure in record.exposures:
            if exposure.role is DrugRole.ANTICANCER:
                span = (exposure.end - exposure.start).days + 1
                days |= {exposure.start + timedelta(days=k) for k in range(span)}
        # oral supply the reader reads from the order's refills, and keeps past a death
        assert set(p.treatment_days) <= days
        if not p.death:
            assert days == set(p.treatment_days)


def test_fee_schedule_file_has_the_shared_format() -> None:
    """common.md §6: header with id, name, source, date, illustrative, currency; each code a
    system and a decimal-string amount; drugs a unit; every code the generator bills present."""
    import tomllib

    from cpoc_fhir.synthetic.claims import FEE_SCHEDULE

    data = tomllib.loads(FEE_SCHEDULE.read_text(encoding="utf-8"))
    header = data["fee_schedule"]
    assert header["illustrative"] is True and header["currency"] == "USD"
    assert {"id", "name", "source", "date"} <= set(header)
    billed = {
        *c.EM_NEW,
        *c.EM_ESTABLISHED,
        c.VENIPUNCTURE,
        *c.LABS,
        c.IMAGING,
        c.CHEMO_FIRST_HOUR,
        c.CHEMO_ADDITIONAL_HOUR,
        c.CHEMO_SEQUENTIAL,
        c.CHEMO_PUSH,
        c.CHEMO_PUSH_ADDITIONAL,
        c.HYDRATION_FIRST_HOUR,
        c.HYDRATION_ADDITIONAL_HOUR,
        c.INJECTION,
        *(jcode for jcode, _, _, _ in c.DRUG_BILLING.values()),
    }
    assert billed <= set(data["codes"])
    for code, entry in data["codes"].items():
        assert isinstance(entry["amount"], str) and Decimal(entry["amount"]) > 0
        assert entry["system"] == (c.HCPCS if code[0] == "J" else c.CPT)
        assert ("unit" in entry) == (code[0] == "J")


@settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(year=st.integers(2023, 2027))
def test_deaths_and_emergency_visits_stay_in_the_year_asked(tmp_path: Path, year: int) -> None:
    truth = generate_practice(tmp_path / str(year), 40, seed=3, year=year, claims=False)
    assert truth.year == year
    for p in truth.patients.values():
        assert p.death is None or p.death.year == year
        assert all(v.day <= date(year, 12, 31) for v in p.er_visits)
        assert all(d >= date(year - 1, 1, 1) for d in p.treatment_days)


def test_codes_fall_in_the_shipped_value_sets() -> None:
    """The generator's classification agrees with the measures' value sets: each OP-35 pick
    (ICD-10-CM and SNOMED CT) is in its own category's set and in no other, the fractures in
    none; hospice, pain and PHQ codes in theirs; the liquid tumour is the haematologic one."""
    from cpoc_fhir.value.valuesets import value_set

    categories = sorted(c.OP35)
    for category, (icd, sct, _) in c.OP35.items():
        for system, code in ((c.ICD, icd), (c.SCT, sct)):
            hits = [
                k
                for k in categories
                if value_set(f"op35-{k}").matches([{"system": system, "code": code}])
            ]
            assert hits == [category], (system, code)
    for system, code, _ in c.NON_OP35:
        coding = [{"system": system, "code": code}]
        assert not any(value_set(f"op35-{k}").matches(coding) for k in categories)
    for code in (c.HOSPICE_CARE, c.HOSPICE_ADMISSION):
        assert value_set("hospice-care").matches([{"system": c.SCT, "code": code}])
    assert value_set("pain-score").matches([{"system": c.LOINC, "code": c.PAIN}])
    for code in (c.PHQ2, c.PHQ9):
        assert value_set("depression-screening").matches([{"system": c.LOINC, "code": code}])
    liquid = value_set("haematologic-malignancy")
    for icd, _, _, _ in c.REGIMENS:
        assert liquid.matches([{"system": c.ICD, "code": icd}]) == icd.startswith(c.LIQUID_PREFIXES)
