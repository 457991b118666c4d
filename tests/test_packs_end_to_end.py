"""Every built-in pack end to end (value-and-models §15; issue 15 "Done when"): one small
practice on a real FHIR R4 server (sekmet-fhir) — one patient per pack — through the timeline,
the CDS Hooks services, the month-end capture, the review app and the reports.

The practice (FHIR JSON built below). Every patient has colon cancer (ICD-10-CM C18.0) and an
oncology EpisodeOfCare; oxaliplatin (RxNorm 32592) is matched to no catalog regimen (scored
conservatively: a warning, no effect on the episode packs). ``[models]``: Medicare
(Organization/cms) is OCM 2016-07-01 … 2022-06-30 and EOM from 2023-07-01, fee-for-service
("none") between and before; Organization/primary is CPC+; Organization/acme is not mapped
(CPOC, the default). Everything is evaluated as of 2025-12-31.

- ``ocm1`` (Medicare since 2015): oxaliplatin given 2019-03-14 and 2019-04-11, ordered (not
  given) for 2019-10-01. OCM episode 1: trigger 2019-03-14, months start on the 14th
  (03-14 … 08-14), ends 2019-09-13; six MEOS G9678 $160.00 final (ocm.toml) = $960.00. The
  04-11 dose is inside it. Episode 2: the order's 2019-10-01 (after 09-13), provisional,
  months 10-01 … 2020-03-01: six G9678 $160.00 provisional = $960.00.
- ``eom1`` (Medicare since 2015, Medicaid — SOPT 2 — since 2025-01-01: dual-eligible):
  oxaliplatin given 2025-03-03 and 2025-03-17, ordered for 2025-12-01. EOM episode 1: months
  03-03 … 08-03, ends 2025-09-02; M0010 $110.00 (2025 on) + $30.00 dual add-on = $140.00,
  six final = $840.00. Episode 2: trigger 2025-12-01 (provisional); only month 1
  (12-01 … 12-31) starts by the as-of date: one M0010 $140.00 provisional.
- ``cpc1`` (Organization/primary since 2018 → CPC+): attributed to PC1, Track 1, tier 2 (the
  payer's), 2019-01-01 … 2019-12-31: twelve CMF months CPCP-T1-2 $8.00 final = $96.00.
- ``cpoc1`` (Organization/acme since 2020, not mapped → CPOC): oxaliplatin 2025-03-03: the
  Treatment Month 2025-03-03 … 04-02, xx201 (level 1, Table score 2) $250.00 in the
  illustrative example payer file, final; the months after it are Active Monitoring without a
  visit (not billable) but the month holding the as-of date (12-03 … 2026-01-02, xx301), which
  is provisional at $20.00.
- ``ffs1`` (Medicare since 2015): oxaliplatin 2022-09-06 and 2022-09-20, between OCM and EOM:
  the "none" pack, no lines.

``ocm1`` is also attributed to a CPC+ practice (PC2, Track 2, tier 3 = $19.00) for April and
May 2019 while OCM bills it: the coordination report's overlap months.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from cds_support import clock_at, full_prefetch, hook_body, medication_order
from flask import Flask
from sekmet_server import SekmetServer, running_sekmet
from test_review_pages import app, render  # noqa: F401 (the templates' app fixture)

from cds_hooks.app import create_app
from cds_hooks.cards import KIND_EXTENSION
from cds_hooks.embedded_fhir import load_resources
from cds_hooks.review.pages import QueueFilters, patient_page, work_queue
from cds_hooks.settings import CdsSettings
from cpoc_fhir.cli import main
from cpoc_fhir.config import Config, load_config, load_payer
from cpoc_fhir.fhir.client import FhirClient
from cpoc_fhir.fhir.write import PublishSettings
from cpoc_fhir.knowledge.loader import load_knowledge
from cpoc_fhir.packs.cpcplus.pack import DATA_FILE as CPCPLUS_DATA
from cpoc_fhir.service import Evaluator

Resource = dict[str, Any]
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
SOPT = "urn:oid:2.16.840.1.113883.3.221.5"
HCPCS = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
PRACTICE_CS = "http://example.org/fhir/CodeSystem/cpoc"
AS_OF = "2025-12-31"
PATIENTS = ("ocm1", "eom1", "cpc1", "cpoc1", "ffs1")
SETTINGS = """
[models]
data_files = { cpcplus = "cpcplus.toml" }

[models.payers]
"Organization/primary" = "cpcplus"
"Organization/cms" = [
  { model = "ocm", from = 2016-07-01, to = 2022-06-30 },
  { model = "eom", from = 2023-07-01 },
]
"""
ATTRIBUTION = (
    "patient,practice_id,practice_name,track,from,to,tier\n"
    "Patient/cpc1,PC1,Main St Primary Care,1,2019-01-01,2019-12-31,2\n"
    "Patient/ocm1,PC2,Elm St Family Medicine,2,2019-04-01,2019-05-31,3\n"
)
# The capture's months (--since … --month), each run as of 2025-12-31.
CAPTURES = (("2019-01", "2019-12"), ("2022-09", "2022-09"), ("2025-03", "2025-12"))
CAPTURED_MONTHS = (
    {f"2019-{m:02d}" for m in range(1, 13)} | {"2022-09"} | {f"2025-{m:02d}" for m in range(3, 13)}
)
ITEM_STATUS = {"final": "billable", "provisional": "planned", "not-billable": "not-billable"}


# --- the practice ---------------------------------------------------------------------------


def _patient(pid: str, onset: str, given: tuple[str, ...], ordered: str | None) -> list[Resource]:
    subject = {"reference": f"Patient/{pid}"}
    out: list[Resource] = [
        {"resourceType": "Patient", "id": pid, "birthDate": "1950-05-05", "gender": "female",
         "name": [{"family": pid.upper(), "given": ["Test"]}]},
        {"resourceType": "Condition", "id": f"{pid}-crc", "subject": subject,
         "clinicalStatus": {"coding": [{
             "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
             "code": "active"}]},
         "code": {"coding": [{"system": ICD10, "code": "C18.0"}]}, "onsetDateTime": onset},
        {"resourceType": "EpisodeOfCare", "id": f"{pid}-onc", "status": "active",
         "patient": subject, "period": {"start": onset}},
    ]  # fmt: skip
    for index, day in enumerate(given):
        out.append(
            {"resourceType": "MedicationAdministration", "id": f"{pid}-ox{index}",
             "status": "completed", "subject": subject, "effectiveDateTime": day,
             "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "32592"}]}}
        )  # fmt: skip
    if ordered is not None:
        order = medication_order(f"{pid}-order", pid, "32592", "oxaliplatin", ordered)
        authored = date.fromordinal(date.fromisoformat(ordered).toordinal() - 6).isoformat()
        out.append({**order, "status": "active", "authoredOn": authored})
    return out


def _coverage(pid: str, cid: str, payer: str, sopt: str, start: str) -> Resource:
    return {
        "resourceType": "Coverage",
        "id": cid,
        "status": "active",
        "type": {"coding": [{"system": SOPT, "code": sopt}]},
        "beneficiary": {"reference": f"Patient/{pid}"},
        "payor": [{"reference": payer}],
        "order": 2 if sopt == "2" else 1,
        "period": {"start": start},
    }


def practice() -> list[Resource]:
    organizations = [
        {"resourceType": "Organization", "id": oid, "name": name}
        for oid, name in (
            ("cms", "Medicare"), ("state", "State Medicaid"), ("primary", "Primary payer"),
            ("acme", "Acme Health"),
        )
    ]  # fmt: skip
    return [
        *organizations,
        *_patient("ocm1", "2019-01-10", ("2019-03-14", "2019-04-11"), "2019-10-01"),
        _coverage("ocm1", "ocm1-mc", "Organization/cms", "1", "2015-01-01"),
        *_patient("eom1", "2025-01-10", ("2025-03-03", "2025-03-17"), "2025-12-01"),
        _coverage("eom1", "eom1-mc", "Organization/cms", "1", "2015-01-01"),
        _coverage("eom1", "eom1-md", "Organization/state", "2", "2025-01-01"),
        *_patient("cpc1", "2019-01-10", (), None),
        _coverage("cpc1", "cpc1-cov", "Organization/primary", "5", "2018-01-01"),
        *_patient("cpoc1", "2025-01-10", ("2025-03-03",), None),
        _coverage("cpoc1", "cpoc1-cov", "Organization/acme", "5", "2020-01-01"),
        *_patient("ffs1", "2022-08-01", ("2022-09-06", "2022-09-20"), None),
        _coverage("ffs1", "ffs1-mc", "Organization/cms", "1", "2015-01-01"),
    ]


@dataclasses.dataclass(frozen=True)
class Files:
    folder: Path
    bundle: Path
    config: Path
    attribution: Path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    folder = tmp_path_factory.mktemp("practice")
    bundle = folder / "practice.json"
    entries = [{"resource": r} for r in practice()]
    bundle.write_text(json.dumps({"resourceType": "Bundle", "type": "collection",
                                  "entry": entries}), encoding="utf-8")  # fmt: skip
    attribution = folder / "attribution.csv"
    attribution.write_text(ATTRIBUTION, encoding="utf-8")
    # The practice's CPC+ data file names its attribution file (relative to the data file).
    data = CPCPLUS_DATA.read_text(encoding="utf-8").replace(
        '# attribution = "cpcplus-attribution.csv"', 'attribution = "attribution.csv"'
    )
    assert 'attribution = "attribution.csv"' in data
    (folder / "cpcplus.toml").write_text(data, encoding="utf-8")
    config = folder / "cpoc.toml"
    config.write_text(SETTINGS, encoding="utf-8")
    return Files(folder, bundle, config, attribution)


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CPOC_CPCPLUS_ATTRIBUTION", raising=False)
    monkeypatch.delenv("CPOC_FHIR_TOKEN", raising=False)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SekmetServer]:
    with running_sekmet(tmp_path_factory.mktemp("sekmet-e2e")) as running:
        load_resources(running.base_url, practice())
        yield running


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> Any:
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


@pytest.fixture(scope="module")
def timeline(files: Files) -> dict[str, list[dict[str, Any]]]:
    """patient id → its lines in ``cpoc timeline --format json``."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["timeline", str(files.bundle), "--config", str(files.config),
                     "--as-of", AS_OF, "--format", "json"])  # fmt: skip
    assert code == 0
    result = json.loads(out.getvalue())
    return {p["patient"].split("/")[1]: p["lines"] for p in result["patients"]}


def _summary(lines: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    return [(x["code"], x["start"], x["status"], x["amount"]) for x in lines]


# --- 1. timeline ----------------------------------------------------------------------------


def test_the_timeline_gives_each_patient_its_packs_lines(
    timeline: dict[str, list[dict[str, Any]]],
) -> None:
    assert set(timeline) == set(PATIENTS)
    ocm = timeline["ocm1"]
    assert {x["model"] for x in ocm} == {"ocm"}
    first = [f"2019-{m:02d}-14" for m in range(3, 9)]
    second = ["2019-10-01", "2019-11-01", "2019-12-01", "2020-01-01", "2020-02-01", "2020-03-01"]
    assert _summary(ocm) == [("G9678", d, "final", "160.00") for d in first] + [
        ("G9678", d, "provisional", "160.00") for d in second
    ]
    assert [(x["episode"], x["month"]) for x in ocm][:2] == [(1, 1), (1, 2)]
    eom = timeline["eom1"]
    assert {x["model"] for x in eom} == {"eom"}
    assert _summary(eom) == [
        ("M0010", f"2025-{m:02d}-03", "final", "140.00") for m in range(3, 9)
    ] + [("M0010", "2025-12-01", "provisional", "140.00")]
    cpc = timeline["cpc1"]
    assert {x["model"] for x in cpc} == {"cpcplus"}
    assert _summary(cpc) == [
        ("CPCP-T1-2", f"2019-{m:02d}-01", "final", "8.00") for m in range(1, 13)
    ]
    cpoc = timeline["cpoc1"]
    assert {x.get("model") for x in cpoc} == {None}  # CPOC lines carry no "model" (default)
    billed = [x for x in _summary(cpoc) if x[2] != "not-billable"]
    assert billed == [
        ("xx201", "2025-03-03", "final", "250.00"),
        ("xx301", "2025-12-03", "provisional", "20.00"),
    ]
    assert all(x["amount"] == "0.00" for x in cpoc if x["status"] == "not-billable")
    assert timeline["ffs1"] == []


def test_the_timeline_names_the_none_packs_span_for_the_fee_for_service_patient(
    files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    result = _json(capsys, ["timeline", str(files.bundle), "--config", str(files.config),
                            "--as-of", AS_OF, "--format", "json", "--patient", "ffs1"])  # fmt: skip
    spans = [(s["model"], s["start"], s["end"]) for s in result["patients"][0]["models"]]
    assert ("none", "2022-07-01", "2023-06-30") in spans
    assert ("ocm", "2016-07-01", "2022-06-30") in spans and ("eom", "2023-07-01", None) in spans
