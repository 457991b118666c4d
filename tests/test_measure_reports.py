"""MeasureReports from the value report JSON (value-and-models §12.2 submission): summary and
individual reports, files, and the submission to a real FHIR server (sekmet-fhir)."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.measurereport import MeasureReport
from hypothesis import given
from hypothesis import strategies as st
from sekmet_server import SekmetServer, running_sekmet, sekmet_server

from cpoc_fhir.errors import InputError
from cpoc_fhir.fhir.auth import SmartBackendServices
from cpoc_fhir.fhir.client import FhirAuthError, FhirClient
from cpoc_fhir.fhir.keys import generate_private_key_pem, public_jwks
from cpoc_fhir.fhir.write import PublishSettings
from cpoc_fhir.value.measure_reports import (
    measure_reports,
    submit_measure_reports,
    write_measure_reports,
)

__all__ = ["sekmet_server"]


def population(cases: list[str], evidence: list[str]) -> dict[str, list[str]]:
    return {"cases": cases, "evidence": evidence}


# A value report in the shape of common.md §4, written by hand. Q4: 12 patients died under
# the practice's care, 2 had chemotherapy in their last 14 days (rate 2/12 = 0.1667); two of
# them are listed per patient. Q2: 20 visits, 1 excluded, 15 scored (15/19 = 0.7895).
REPORT: dict[str, Any] = {
    "year": 2025,
    "participationYear": 3,
    "asOf": "2025-12-31",
    "practice": {"location": "Location/practice-1"},
    "benchmarks": None,
    "phases": {"pathways": 1, "quality": 2, "er": 1},
    "measures": [
        {
            "id": "Q4",
            "title": "Chemotherapy in the last 14 days of life",
            "source": "NQF 0210",
            "improvement": "decrease",
            "unit": "patients",
            "initialPopulation": 12,
            "denominator": 12,
            "exclusions": 0,
            "numerator": 2,
            "rate": 0.1667,
            "inComposite": True,
            "benchmark": None,
            "z": None,
            "patients": {
                "p1": {
                    "initial-population": population(["Patient/p1"], ["Condition/c1"]),
                    "denominator": population(["Patient/p1"], ["Patient/p1"]),
                    "numerator": population(["Patient/p1"], ["MedicationAdministration/m9"]),
                },
                "p2": {
                    "initial-population": population(["Patient/p2"], ["Condition/c2"]),
                    "denominator": population(["Patient/p2"], ["Patient/p2"]),
                },
            },
        },
        {
            "id": "Q2",
            "title": "Pain intensity quantified",
            "source": "NQF 0384",
            "improvement": "increase",
            "unit": "visits",
            "initialPopulation": 20,
            "denominator": 20,
            "exclusions": 1,
            "numerator": 15,
            "rate": 0.7895,
            "inComposite": True,
            "benchmark": None,
            "z": None,
            "patients": {
                "p1": {
                    "initial-population": population(
                        ["Encounter/v1", "Encounter/v2"], ["Encounter/v1", "Encounter/v2"]
                    ),
                    "denominator": population(["Encounter/v1", "Encounter/v2"], []),
                    "numerator": population(
                        ["Encounter/v1"],
                        [
                            "Observation/pain1",
                            "Observation?subject=Patient/p1&code=http://loinc.org|72514-3",
                        ],
                    ),
                }
            },
        },
    ],
    "quality": {"composite": None, "submitting": True},
    "er": {
        "visits": 3,
        "weightedVisits": "2.5",
        "patientMonths": 40,
        "observedRate": "6.2500",
        "expectedRate": "5.0000",
        "riskAdjustedRate": "7.5000",
        "quarters": [
            {
                "quarter": "2025-Q1",
                "visits": 1,
                "weightedVisits": "1.0",
                "patientMonths": 10,
                "observedRate": "10.0000",
                "expectedRate": None,
                "riskAdjustedRate": None,
            }
        ],
        "distance": {"known": 3, "unknown": 1},
        "patients": {
            "p1": {"visits": ["Encounter/er1", "Encounter/er2"], "patientMonths": 12},
        },
    },
    "pathways": {
        "rate": "0.8125",
        "decisions": 16,
        "onPathway": 13,
        "excludedTrial": 1,
        "byCancer": [
            {
                "cancer": "lung",
                "rate": "0.8",
                "decisions": 10,
                "deviations": 2,
                "withReason": 2,
                "uses": True,
                "rating": None,
            },
            {
                # 1 on pathway, 3 deviations of which 1 for a clinical trial (left out of
                # decisions): 1 + 3 − 1 = 3 decisions, rate 1/3.
                "cancer": "breast",
                "rate": "0.3333",
                "decisions": 3,
                "deviations": 3,
                "withReason": 3,
                "uses": True,
                "rating": None,
            },
        ],
        "rating": None,
    },
    "ratings": None,
    "adjustment": None,
    "warnings": [],
}


def counts(group: dict[str, Any]) -> dict[str, int]:
    return {p["code"]["coding"][0]["code"]: p["count"] for p in group["population"]}


def measure_of(report: dict[str, Any]) -> str:
    return report["measure"].split("|")[0].rsplit("/", 1)[1]


def summaries(reports: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {measure_of(r): r for r in reports if r["type"] == "summary"}


def test_one_summary_per_measure_with_counts_and_score() -> None:
    reports = measure_reports(REPORT)
    found = summaries(reports)
    assert sorted(found) == ["cpoc-er", "cpoc-pathways", "cpoc-q2", "cpoc-q4"]
    q4 = found["cpoc-q4"]
    MeasureReport.model_validate(q4)
    assert q4["status"] == "complete"
    assert q4["period"] == {"start": "2025-01-01", "end": "2025-12-31"}
    assert q4["measure"] == "http://example.org/fhir/Measure/cpoc-q4|" + PublishSettings().version
    assert q4["reporter"] == {"reference": "Location/practice-1"}
    assert q4["improvementNotation"]["coding"][0]["code"] == "decrease"
    assert counts(q4["group"][0]) == {
        "initial-population": 12,
        "denominator": 12,
        "denominator-exclusion": 0,
        "numerator": 2,
    }
    assert q4["group"][0]["measureScore"]["value"] == Decimal("0.1667")  # 2 / 12
    q2 = found["cpoc-q2"]["group"][0]
    assert q2["measureScore"]["value"] == Decimal("0.7895")  # 15 / (20 − 1)
    assert "evaluatedResource" not in found["cpoc-q4"] and "subject" not in found["cpoc-q4"]


def test_er_summary_observed_and_risk_adjusted_by_quarter() -> None:
    er = summaries(measure_reports(REPORT))["cpoc-er"]
    observed, adjusted = er["group"]
    assert observed["code"]["text"] == "observed" and adjusted["code"]["text"] == "risk-adjusted"
    assert counts(observed) == {"initial-population": 40, "denominator": 40, "numerator": 3}
    assert observed["measureScore"]["value"] == Decimal("6.2500")
    assert adjusted["measureScore"]["value"] == Decimal("7.5000")
    weighted = observed["population"][2]["extension"][0]
    assert weighted["url"].endswith("/StructureDefinition/weighted-count")
    assert weighted["valueDecimal"] == Decimal("2.5")
    assert adjusted["extension"][0]["valueQuantity"]["value"] == Decimal("5.0000")
    q1 = observed["stratifier"][0]["stratum"][0]
    assert q1["value"]["text"] == "2025-Q1" and counts(q1)["numerator"] == 1
    assert q1["measureScore"]["value"] == Decimal("10.0000")
    # Without benchmarks the quarter's risk-adjusted rate is null: no score, counts still there.
    q1_adjusted = adjusted["stratifier"][0]["stratum"][0]
    assert "measureScore" not in q1_adjusted and counts(q1_adjusted)["denominator"] == 10


def test_pathway_summary_adds_the_trial_exclusion_back_to_the_denominator() -> None:
    pathways = summaries(measure_reports(REPORT))["cpoc-pathways"]["group"][0]
    # 16 decisions after 1 clinical-trial deviation left: 17 − 1 = 16, 13 on pathway.
    assert counts(pathways) == {
        "initial-population": 17,
        "denominator": 17,
        "denominator-exclusion": 1,
        "numerator": 13,
    }
    assert pathways["measureScore"]["value"] == Decimal("0.8125")
    lung = pathways["stratifier"][0]["stratum"][0]
    assert lung["value"]["text"] == "lung"
    assert counts(lung)["numerator"] == 8 and lung["measureScore"]["value"] == Decimal("0.8000")
    breast = pathways["stratifier"][0]["stratum"][1]
    assert counts(breast) == {"initial-population": 3, "denominator": 3, "numerator": 1}
    assert breast["measureScore"]["value"] == Decimal("0.3333")


def test_individual_reports_per_patient_with_evaluated_resources() -> None:
    reports = measure_reports(REPORT, individual=True)
    individual = [r for r in reports if r["type"] == "individual"]
    # p1: Q4, Q2 and ER; p2: Q4. No pathway reports per patient (no per-patient figures).
    assert sorted((r["subject"]["reference"], measure_of(r)) for r in individual) == [
        ("Patient/p1", "cpoc-er"),
        ("Patient/p1", "cpoc-q2"),
        ("Patient/p1", "cpoc-q4"),
        ("Patient/p2", "cpoc-q4"),
    ]
    by_key = {(r["subject"]["reference"], measure_of(r)): r for r in individual}
    q2 = by_key[("Patient/p1", "cpoc-q2")]
    MeasureReport.model_validate(q2)
    assert counts(q2["group"][0]) == {
        "initial-population": 2,
        "denominator": 2,
        "denominator-exclusion": 0,
        "numerator": 1,
    }
    # The search that found nothing is no resource: left out of evaluatedResource.
    assert [e["reference"] for e in q2["evaluatedResource"]] == [
        "Encounter/v1",
        "Encounter/v2",
        "Observation/pain1",
    ]
    p2 = by_key[("Patient/p2", "cpoc-q4")]
    assert counts(p2["group"][0])["numerator"] == 0
    er = by_key[("Patient/p1", "cpoc-er")]
    assert counts(er["group"][0]) == {"initial-population": 12, "denominator": 12, "numerator": 2}
    assert [e["reference"] for e in er["evaluatedResource"]] == ["Encounter/er1", "Encounter/er2"]
    assert len({r["id"] for r in reports}) == len(reports)


def test_without_er_and_pathways_only_the_quality_reports() -> None:
    report = {**REPORT, "er": None, "pathways": None}
    assert sorted(summaries(measure_reports(report))) == ["cpoc-q2", "cpoc-q4"]


def test_reporter_is_the_practice_organization_when_set() -> None:
    settings = PublishSettings(performing_organization="Organization/our-practice")
    report = measure_reports(REPORT, settings=settings)[0]
    assert report["reporter"] == {"reference": "Organization/our-practice"}


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda r: r.update(year="2025"), "year"),
        (lambda r: r["measures"][1].update(numerator="many"), "measures[1].numerator"),
        (lambda r: r["measures"][0].update(id="Q9"), "measures[0].id"),
        (lambda r: r["measures"][0].update(numerator=13), "measures[0]"),
        (lambda r: r["er"].update(patientMonths=-1), "er.patientMonths"),
        (lambda r: r["er"]["quarters"][0].update(quarter=None), "er.quarters[0].quarter"),
        (lambda r: r["pathways"]["byCancer"][0].update(rate="1.5"), "pathways.byCancer[0]"),
        (lambda r: r.update(practice={"location": "x y"}), "practice.location"),
    ],
)
def test_bad_input_names_the_field(change: Any, where: str) -> None:
    report = copy.deepcopy(REPORT)
    change(report)
    with pytest.raises(InputError) as caught:
        measure_reports(report, individual=True)
    assert str(caught.value).startswith(f"value report: {where}: ")


def test_write_measure_reports_files(tmp_path: Path) -> None:
    paths = write_measure_reports(REPORT, tmp_path / "mr", individual=True)
    assert len(paths) == 8  # 4 summaries + 4 individual
    for path in paths:
        data = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
        MeasureReport.model_validate(data)
        assert path.name == f"MeasureReport-{data['id']}.json"
    before = {p: p.read_bytes() for p in paths}
    write_measure_reports(REPORT, tmp_path / "mr", individual=True)
    assert {p: p.read_bytes() for p in paths} == before


@given(
    st.integers(0, 500).flatmap(
        lambda d: st.tuples(
            st.just(d),
            st.integers(0, d).flatmap(lambda e: st.tuples(st.just(e), st.integers(0, d - e))),
        )
    )
)
def test_summary_counts_and_score_follow_the_input(figures: tuple[int, tuple[int, int]]) -> None:
    denominator, (exclusions, numerator) = figures
    entry = {
        "id": "Q1",
        "initialPopulation": denominator,
        "denominator": denominator,
        "exclusions": exclusions,
        "numerator": numerator,
    }
    report = measure_reports({"year": 2025, "measures": [entry]})[0]
    group = report["group"][0]
    assert counts(group) == {
        "initial-population": denominator,
        "denominator": denominator,
        "denominator-exclusion": exclusions,
        "numerator": numerator,
    }
    eligible = denominator - exclusions
    if eligible == 0:
        assert "measureScore" not in group
    else:
        score = group["measureScore"]["value"]
        assert abs(score - Decimal(numerator) / Decimal(eligible)) <= Decimal("0.00005")


def test_submit_to_a_fhir_server_and_read_back(sekmet_server: SekmetServer) -> None:
    base = sekmet_server.base_url
    with FhirClient(base) as client:
        sent = submit_measure_reports(REPORT, base, client, individual=True)
        assert len(sent) == 8 and all(s.status in (200, 201) for s in sent)
        expected = {r["id"]: r for r in measure_reports(REPORT, individual=True)}
        for submitted in sent:
            stored = client.read("MeasureReport", submitted.id)
            want = expected[submitted.id]
            assert stored["type"] == want["type"] and stored["measure"] == want["measure"]
            for got, exp in zip(stored["group"], want["group"], strict=True):
                assert counts(got) == counts(exp)
                if "measureScore" in exp:
                    assert (
                        Decimal(str(got["measureScore"]["value"])) == exp["measureScore"]["value"]
                    )
        # A resubmission (corrected figures) replaces the same reports: no second copy.
        corrected = copy.deepcopy(REPORT)
        corrected["measures"][0]["numerator"] = 3
        again = submit_measure_reports(corrected, base, client)
        q4 = next(s for s in again if s.id == sent[0].id)
        stored = client.read("MeasureReport", q4.id)
        assert counts(stored["group"][0])["numerator"] == 3
        assert stored["meta"]["versionId"] == "2"
        identifier = stored["identifier"][0]["value"]
        assert identifier == "practice-1.Q4.2025"


def test_submit_with_smart_backend_services(tmp_path: Path) -> None:
    # A registry that needs SMART Backend Services (as capture uses): the client the caller
    # builds with its key is the one that submits.
    key = generate_private_key_pem("ES384")
    client_id, scope = "cpoc-registry", "system/MeasureReport.cruds"
    registered = [
        {"client_id": client_id, "jwks": public_jwks(key, "k1", "ES384"), "scopes": scope}
    ]
    settings = {"server_auth": {"types": ["smart"], "smart_clients": registered}}
    with running_sekmet(tmp_path, settings) as server:
        base = server.base_url
        with pytest.raises(FhirAuthError):
            submit_measure_reports(REPORT, base)  # no credential: 401, nothing written
        auth = SmartBackendServices(base, client_id, key, "k1", "ES384", scope=scope)
        with FhirClient(base, auth=auth) as client:
            # sekmet checks a transaction Bundle against every type ("*"): with MeasureReport
            # scopes only, one PUT per report.
            with pytest.raises(FhirAuthError):
                submit_measure_reports(REPORT, base, client)
            sent = submit_measure_reports(REPORT, base, client, transaction=False)
            assert len(sent) == 4 and all(s.status == 201 for s in sent)
            stored = client.read("MeasureReport", sent[0].id)
            assert counts(stored["group"][0])["numerator"] == 2
            again = submit_measure_reports(REPORT, base, client, individual=True, transaction=False)
            assert len(again) == 8
            assert [s.status for s in again[:4]] == [200] * 4  # replaced, not added
