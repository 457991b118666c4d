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
import itertools
import json
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from cds_support import clock_at, full_prefetch, hook_body, medication_order
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from sekmet_server import SekmetServer, running_sekmet
from test_review_pages import app, render  # noqa: F401 (the templates' app fixture)

from cds_hooks.app import create_app
from cds_hooks.cards import KIND_EXTENSION
from cds_hooks.embedded_fhir import load_resources
from cds_hooks.review.pages import QueueFilters, patient_page, work_queue
from cds_hooks.settings import CdsSettings
from cpoc_fhir.cli import main
from cpoc_fhir.config import Config, load_config, load_payer
from cpoc_fhir.engine.coverage import by_rank, primary_coverage
from cpoc_fhir.engine.facts import CoverageFact, PatientRecord
from cpoc_fhir.fhir.client import FhirClient
from cpoc_fhir.knowledge.loader import load_knowledge
from cpoc_fhir.packs.cpcplus.pack import DATA_FILE as CPCPLUS_DATA
from cpoc_fhir.packs.selection import model_on, model_spans
from cpoc_fhir.packs.settings import ModelSettings
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


# --- 2. CDS Hooks ---------------------------------------------------------------------------


def _config(files: Files) -> Config:
    return dataclasses.replace(load_config(files.config, environ={}), payer_file=None)


def _known_by(pid: str, day: str) -> list[Resource]:
    """``pid``'s resources as the EHR knows them at the end of ``day`` (its prefetch): nothing
    dated later, no medication resource of ``day`` or later (the order is the draft)."""
    limit = date.fromisoformat(day)
    out = []
    for resource in practice():
        kind = resource["resourceType"]
        owner = resource.get("subject") or resource.get("patient") or resource.get("beneficiary")
        if (owner or {}).get("reference", f"Patient/{resource['id']}") != f"Patient/{pid}":
            continue
        text = resource.get("effectiveDateTime") or resource.get("authoredOn")
        text = text or resource.get("onsetDateTime")
        when = date.fromisoformat(text[:10]) if text else None
        if kind in ("MedicationAdministration", "MedicationRequest") and when and when >= limit:
            continue
        if kind == "Organization" or (when is not None and when > limit):
            continue
        out.append(resource)
    return out


def _hook(
    files: Files,
    tmp_path: Path,
    hook: str,
    pid: str,
    day: str,
    order_day: str | None,
    fhir_server: str | None = None,
) -> dict[str, Any]:
    """The hook's answer; the record from the prefetch (``_known_by``), or fetched from
    ``fhir_server`` when given."""
    service = create_app(
        {
            "CDS_SETTINGS": CdsSettings(
                auth_enabled=False, store_url=f"sqlite:///{tmp_path / 'cds.sqlite'}"
            ),
            "CLOCK": clock_at(day),
            "TESTING": True,
            "CPOC_CONFIG": _config(files),
        }
    )
    drafts = []
    if order_day is not None:
        drafts = [medication_order(f"{pid}-new", pid, "32592", "oxaliplatin", order_day)]
    if fhir_server is None:
        body = hook_body(hook, pid, drafts, full_prefetch(_known_by(pid, day), pid))
    else:
        body = hook_body(hook, pid, drafts, fhirServer=fhir_server)
    response = service.test_client().post(f"/cds-services/cpoc-{hook}", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    answer: dict[str, Any] = response.get_json()
    return answer


def _kinds(answer: dict[str, Any]) -> list[str]:
    return [card["extension"][KIND_EXTENSION] for card in answer["cards"]]


def test_order_sign_for_the_eom_patient_starts_episode_2_and_proposes_its_meos(
    files: Files, tmp_path: Path
) -> None:
    # Signed 2025-11-10 for 2025-11-12: after episode 1 (ended 2025-09-02) the order starts
    # episode 2, 2025-11-12 … 2026-05-11 (S_7 = 2026-05-12); month 1 (11-12 … 12-11) is
    # $110.00 + $30.00 (the Medicaid Coverage is in force on 11-12) = $140.00.
    answer = _hook(files, tmp_path, "order-sign", "eom1", "2025-11-10", "2025-11-12")
    assert _kinds(answer) == ["episode-start"]
    card = answer["cards"][0]
    assert card["summary"] == (
        "This order starts EOM episode 2 (2025-11-12 to 2026-05-11): MEOS M0010 $140.00 in month 1"
    )
    assert "**EOM episode 2, month 1: MEOS M0010 $140.00, dual-eligible**" in card["detail"]
    (action,) = answer["systemActions"]
    item = action["resource"]
    assert item["status"] == "planned"
    assert item["code"]["coding"][0] | {"display": ""} == {
        "system": HCPCS, "code": "M0010", "display": ""
    }  # fmt: skip
    assert item["occurrencePeriod"] == {"start": "2025-11-12", "end": "2025-12-11"}
    assert Decimal(str(item["priceOverride"]["value"])) == Decimal("140.00")


def test_the_eom_hook_reads_the_record_from_the_fhir_server(
    files: Files, tmp_path: Path, server: SekmetServer
) -> None:
    # No prefetch: the service fetches eom1 from sekmet, which also holds the order for
    # 2025-12-01 (episode 2 without the draft). The draft for 2025-11-12 starts episode 2
    # earlier, 2025-11-12 … 2026-05-11: the same card as from the prefetch.
    answer = _hook(
        files, tmp_path, "order-sign", "eom1", "2025-11-10", "2025-11-12", server.base_url
    )
    assert [c["summary"] for c in answer["cards"]] == [
        "This order starts EOM episode 2 (2025-11-12 to 2026-05-11): MEOS M0010 $140.00 in month 1"
    ]
    (action,) = answer["systemActions"]
    assert action["resource"]["occurrencePeriod"]["start"] == "2025-11-12"


def test_an_order_for_the_ocm_patient_in_2019_shows_its_episode_month(
    files: Files, tmp_path: Path
) -> None:
    # The clock says 2019-05-01 (the app's CLOCK): an order for 2019-05-09 falls in OCM
    # episode 1's month 2 (2019-04-14 … 05-13), which the 03-14 administration already bills.
    answer = _hook(files, tmp_path, "order-select", "ocm1", "2019-05-01", "2019-05-09")
    assert _kinds(answer) == ["pack-line"]
    assert answer["cards"][0]["summary"] == (
        "OCM episode 1, month 2: MEOS G9678 $160.00; unchanged by this order"
    )
    # 2019-09-20, after episode 1 (ended 09-13): the order for 10-01 starts episode 2.
    answer = _hook(files, tmp_path, "order-select", "ocm1", "2019-09-20", "2019-10-01")
    assert answer["cards"][0]["summary"] == (
        "This order starts OCM episode 2 (2019-10-01 to 2020-03-31): MEOS G9678 $160.00 in month 1"
    )


def test_the_cpcplus_patient_gets_its_month_on_patient_view_and_no_card_on_an_order(
    files: Files, tmp_path: Path
) -> None:
    # The CMF follows the attribution file, not orders: an order card would say "unchanged by
    # this order" on every order and signing would propose the month's fee as the order's.
    # So: no card and no proposal on order-select/-sign; patient-view shows the month
    # (2019-03: Track 1 tier 2 → CPCP-T1-2 $8.00).
    for hook in ("order-select", "order-sign"):
        answer = _hook(files, tmp_path, hook, "cpc1", "2019-03-01", "2019-03-05")
        assert answer["cards"] == [] and "systemActions" not in answer, hook
    answer = _hook(files, tmp_path, "patient-view", "cpc1", "2019-03-01", None)
    assert [c["summary"] for c in answer["cards"]] == [
        "CPC+ care management fee 2019-03: CPCP-T1-2 $8.00 (final)"
    ]


def test_no_card_for_the_fee_for_service_patient(files: Files, tmp_path: Path) -> None:
    # 2022-09 is between OCM and EOM: the "none" pack bills nothing, so nothing to say.
    answer = _hook(files, tmp_path, "order-sign", "ffs1", "2022-09-01", "2022-09-06")
    assert answer["cards"] == [] and "systemActions" not in answer
    assert _hook(files, tmp_path, "patient-view", "ffs1", "2022-09-10", None)["cards"] == []


# --- 3. capture -----------------------------------------------------------------------------


def _capture(files: Files, server: SekmetServer, since: str, month: str) -> int:
    return main(
        [
            "--config", str(files.config), "capture", "--fhir-base", server.base_url,
            "--store", f"sqlite:///{files.folder / 'ledger.sqlite'}", "--no-progress",
            "--conflicts", str(files.folder / "conflicts.csv"),
            "--since", since, "--month", month, "--as-of", AS_OF,
        ]
    )  # fmt: skip


def _items(server: SekmetServer) -> list[Resource]:
    bundle = requests.get(f"{server.base_url}/ChargeItem", params={"_count": 500}, timeout=60)
    bundle.raise_for_status()
    return [e["resource"] for e in bundle.json().get("entry") or []]


@pytest.fixture(scope="module")
def captured(files: Files, server: SekmetServer) -> list[Resource]:
    """The practice's months captured once (CAPTURES), as of 2025-12-31; the items written."""
    for since, month in CAPTURES:
        assert _capture(files, server, since, month) == 0
    return _items(server)


def test_the_capture_writes_one_item_per_line_with_the_packs_coding(
    captured: list[Resource], timeline: dict[str, list[dict[str, Any]]]
) -> None:
    by_patient: dict[str, list[Resource]] = {}
    for item in captured:
        by_patient.setdefault(item["subject"]["reference"].split("/")[1], []).append(item)
    # The none patient gets nothing; every other patient's lines of the captured months are
    # its items, one each: code, amount and status (final → billable, provisional → planned).
    assert "ffs1" not in by_patient
    for pid in ("ocm1", "eom1", "cpc1", "cpoc1"):
        expected = Counter(
            (x["code"], Decimal(x["amount"]), ITEM_STATUS[x["status"]])
            for x in timeline[pid]
            if x["start"][:7] in CAPTURED_MONTHS
        )
        got = Counter(
            (i["code"]["coding"][0]["code"], Decimal(str(i["priceOverride"]["value"])), i["status"])
            for i in by_patient[pid]
        )
        assert got == expected, pid
    # OCM episode 2's 2020 months are outside the captured months: 6 + 3 OCM items.
    assert len(by_patient["ocm1"]) == 9
    systems = {
        pid: {c["system"] for i in items for c in i["code"]["coding"][:1]}
        for pid, items in by_patient.items()
    }
    assert systems == {
        "ocm1": {HCPCS}, "eom1": {HCPCS}, "cpc1": {PRACTICE_CS}, "cpoc1": {PRACTICE_CS}
    }  # fmt: skip
    ocm = next(i for i in by_patient["ocm1"] if i["occurrencePeriod"]["start"] == "2019-03-14")
    assert ocm["identifier"][0]["value"] == "ocm1.meos.2019-03-14"
    assert ocm["occurrencePeriod"] == {"start": "2019-03-14", "end": "2019-04-13"}


def test_a_second_capture_writes_nothing(
    files: Files, server: SekmetServer, captured: list[Resource]
) -> None:
    for since, month in CAPTURES:
        assert _capture(files, server, since, month) == 0
    again = _items(server)
    assert sorted((i["id"], i["meta"]["versionId"]) for i in again) == sorted(
        (i["id"], i["meta"]["versionId"]) for i in captured
    )


# --- 4. review app --------------------------------------------------------------------------


def test_the_queue_lists_each_packs_planned_items_by_short_name(
    app: Flask,  # noqa: F811
    files: Files,
    server: SekmetServer,
    captured: list[Resource],
) -> None:
    # The queue holds planned items (provisional lines): OCM episode 2's captured months
    # 2019-10-01, 11-01, 12-01; EOM episode 2's 2025-12-01; CPOC's 2025-12-03 monitoring
    # month. CPC+ lines are always final (billable): never queued; "none" wrote nothing.
    config = _config(files)
    with FhirClient(server.base_url) as client:
        everything = work_queue(client, config.publish, QueueFilters(), True, config.models)
        ocm = work_queue(
            client,
            config.publish,
            QueueFilters.from_args({"model": "ocm"}, config.models),
            True,
            config.models,
        )
    assert everything.counts["model"] == {"cpoc": 1, "eom": 1, "ocm": 3}
    assert sorted(set(everything.packs.values())) == ["CPOC", "EOM", "OCM"]
    assert [(i.patient_ref, i.code, i.start) for i in ocm.items] == [
        ("Patient/ocm1", "G9678", date(2019, m, 1)) for m in (10, 11, 12)
    ]
    html = render(app, "queue.html", page=ocm)
    assert html.count('<td class="model" data-label="Model">OCM</td>') == 3
    assert '<td class="model" data-label="Model">EOM</td>' not in html
    assert '<option value="ocm" selected>OCM (3)</option>' in html


def test_the_patient_page_shows_the_spans_and_the_episode_labels(
    app: Flask,  # noqa: F811
    files: Files,
    server: SekmetServer,
    captured: list[Resource],
) -> None:
    config = _config(files)
    evaluator = Evaluator(load_knowledge(), config.rules, load_payer(None), models=config.models)
    with FhirClient(server.base_url) as client:
        page = patient_page(
            client, evaluator, config.publish, "ocm1", date(2025, 12, 31), can_write=True
        )
    # Medicare since 2015: "none" before OCM (2016-07-01) and between OCM and EOM.
    assert [(s.model, s.start, s.end) for s in page.models] == [
        ("cpoc", None, date(2014, 12, 31)),
        ("none", date(2015, 1, 1), date(2016, 6, 30)),
        ("ocm", date(2016, 7, 1), date(2022, 6, 30)),
        ("none", date(2022, 7, 1), date(2023, 6, 30)),
        ("eom", date(2023, 7, 1), None),
    ]
    lines = [row.line for month in page.months for row in month.rows if row.line is not None]
    labels = [page.pack_label(line) for line in lines]
    # One month view per episode month, in date order (month 1 of episode 2 is its own).
    expected = [f"OCM episode {e}, month {k}" for e in (1, 2) for k in range(1, 7)]
    assert labels == expected
    assert [m.label for m in page.months] == expected
    assert [row.line.start for row in page.months[6].rows if row.line] == [date(2019, 10, 1)]
    html = render(app, "patient.html", page=page)
    assert "OCM: 2016-07-01 – 2022-06-30 (" in html and "Coverage/ocm1-mc" in html
    assert "OCM episode 2, month 1</span>" in html


# --- 5. reports on the server ---------------------------------------------------------------


def _report(capsys: pytest.CaptureFixture[str], files: Files, server: SekmetServer, *args: str):
    return _json(
        capsys,
        ["report", *args, "--fhir-base", server.base_url, "--config", str(files.config),
         "--as-of", AS_OF, "--format", "json"],
    )  # fmt: skip


def _episodes_of(lines: list[dict[str, Any]]) -> list[tuple[int, int, str]]:
    """(episode, months, total) from the timeline's lines."""
    out: dict[int, list[Decimal]] = {}
    for line in lines:
        out.setdefault(line["episode"], []).append(Decimal(line["amount"]))
    return [(e, len(a), str(sum(a))) for e, a in sorted(out.items())]


@pytest.mark.parametrize("model", ["ocm", "eom"])
def test_model_episodes_on_the_server_agree_with_the_timeline(
    capsys: pytest.CaptureFixture[str],
    files: Files,
    server: SekmetServer,
    timeline: dict[str, list[dict[str, Any]]],
    model: str,
) -> None:
    result = _report(capsys, files, server, "model-episodes", "--model", model)
    rows = [(e["episode"], e["months_billed"], e["meos_total"]) for e in result["episodes"]]
    assert {e["patient"] for e in result["episodes"]} == {f"Patient/{model}1"}
    assert rows == _episodes_of(timeline[f"{model}1"])
    # By hand: OCM 6 × 160 + 6 × 160; EOM 6 × 140 + 1 × 140.
    expected = {
        "ocm": [(1, 6, "960.00"), (2, 6, "960.00")],
        "eom": [(1, 6, "840.00"), (2, 1, "140.00")],
    }
    assert rows == expected[model]
    assert [e["provisional"] for e in result["episodes"]] == [False, True]


def test_eom_services_on_the_server(
    capsys: pytest.CaptureFixture[str], files: Files, server: SekmetServer
) -> None:
    # Both EOM episodes (2025-03-03 … 09-02 and the order's 2025-12-01 …) lack both services:
    # the practice has no HRSN screening and no QuestionnaireResponse.
    result = _report(capsys, files, server, "eom-services")
    assert [(e["patient"], e["episode"], e["start"], e["missing"]) for e in result["episodes"]] == [
        ("Patient/eom1", 1, "2025-03-03", ["hrsn_screening", "epro"]),
        ("Patient/eom1", 2, "2025-12-01", ["hrsn_screening", "epro"]),
    ]
    assert result["totals"]["lacking"] == 2


def test_cpc_coordination_on_the_server(
    capsys: pytest.CaptureFixture[str],
    files: Files,
    server: SekmetServer,
    timeline: dict[str, list[dict[str, Any]]],
) -> None:
    # ocm1 attributed to PC2 (Track 2, tier 3: $19.00) in April and May 2019 while OCM bills
    # it. April (1-30) shares 13 days (1-13) with MEOS month 03-14 … 04-13 and 17 (14-30) with
    # 04-14 … 05-13; May shares 13 days with 04-14 … 05-13 and 18 (14-31) with 05-14 … 06-13.
    # CMF 2 × 19 = 38.00; oncology lines counted once: 3 × 160 = 480.00. cpc1 is billed under
    # CPC+ itself (no oncology pack): not listed.
    result = _report(
        capsys, files, server, "cpc-coordination", "--attribution", str(files.attribution)
    )
    months = [
        (m["month"], m["cmf_code"], m["cmf_amount"],
         [(o["code"], o["start"], o["overlap_days"]) for o in m["oncology"]])
        for m in result["months"]
    ]  # fmt: skip
    assert months == [
        ("2019-04", "CPCP-T2-3", "19.00",
         [("G9678", "2019-03-14", 13), ("G9678", "2019-04-14", 17)]),
        ("2019-05", "CPCP-T2-3", "19.00",
         [("G9678", "2019-04-14", 13), ("G9678", "2019-05-14", 18)]),
    ]  # fmt: skip
    assert result["totals"]["cmf_amount"] == "38.00"
    assert result["totals"]["oncology_amount"] == "480.00"
    starts = {x["start"]: x["amount"] for x in timeline["ocm1"]}
    assert all(starts[o["start"]] == o["amount"] for m in result["months"] for o in m["oncology"])


def test_pbp_on_the_server_with_the_example_payer_file(
    capsys: pytest.CaptureFixture[str], files: Files, server: SekmetServer
) -> None:
    # 2019H1: OCM episode 1 (starts 2019-03-14) counts; episode 2 starts in 2019H2. The example
    # file (illustrative): benchmark = default baseline 25000.00 × trend 1.03 = 25750.00;
    # target = × (1 − 0.04) = 24720.00; no claims: actual 0.00, savings 24720.00; quality mean
    # (0.80+0.70+0.60+0.90+0.75+0.65)/6 = 0.7333 → multiplier 0.75: 18540.00, capped by the
    # stop-gain 0.20 × 25750.00 = 5150.00.
    args = ("pbp", "--model", "ocm", "--period", "2019H1")
    result = _report(capsys, files, server, *args)
    assert [(e["patient"], e["episode"], e["start"], e["end"]) for e in result["episodes"]] == [
        ("Patient/ocm1", 1, "2019-03-14", "2019-09-13")
    ]
    settlement = result["settlement"]
    assert (settlement["benchmark"], settlement["target"], settlement["pbp"]) == (
        "25750.00", "24720.00", "5150.00"
    )  # fmt: skip
    assert result["payerFile"]["illustrative"] is True


# --- the timeline's wording -----------------------------------------------------------------


def test_adjacent_spans_of_one_pack_read_as_one(
    files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    # cpoc1: no Coverage before 2020-01-01, then Acme (not mapped): CPOC on both sides, for
    # two reasons: one span, its reasons joined with their days.
    args = ["timeline", str(files.bundle), "--config", str(files.config), "--as-of", AS_OF,
            "--patient", "cpoc1"]  # fmt: skip
    result = _json(capsys, [*args, "--format", "json"])
    (span,) = result["patients"][0]["models"]
    assert (span["model"], span["start"], span["end"]) == ("cpoc", None, None)
    assert span["reason"] == (
        "default (no Coverage in force) to 2019-12-31; "
        "default (Coverage/cpoc1-cov: payer Organization/acme not mapped) from 2020-01-01"
    )
    assert main([*args, "--wide"]) == 0  # one line per span (the default wraps at 80 columns)
    table = capsys.readouterr().out
    assert f"  models: cpoc throughout ({span['reason']})\n" in table


def test_the_none_pack_says_fee_for_service(
    files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["timeline", str(files.bundle), "--config", str(files.config), "--as-of", AS_OF,
            "--patient", "ffs1", "--model", "none"]  # fmt: skip
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "  no payment model (fee-for-service)\n" in table and "(no lines)" not in table
    # Not every span "none" (ffs1 by its Coverage: OCM and EOM days too): no lines, as before.
    assert main(args[:-2]) == 0
    assert "  (no lines)\n" in capsys.readouterr().out


# --- the span merge, as an invariant (packs/selection.py) -----------------------------------

_PAYERS = ("Organization/a", "Organization/b", "Organization/c", "Organization/dated")
_MERGE_SETTINGS = ModelSettings(
    payers={
        "Organization/a": "eom",
        "Organization/b": "eom",
        "Organization/dated": [
            {"model": "ocm", "from": "2016-07-01", "to": "2022-06-30"},
            {"model": "eom", "from": "2023-07-01"},
        ],
    }
)  # Organization/c is not mapped: CPOC, as days without a Coverage


@st.composite
def _coverages(draw: st.DrawFn) -> tuple[CoverageFact, ...]:
    out = []
    for index in range(draw(st.integers(0, 4))):
        start = date(2015, 1, 1) + timedelta(days=draw(st.integers(0, 4000)))
        length = draw(st.one_of(st.none(), st.integers(0, 2000)))
        end = None if length is None else start + timedelta(days=length)
        payer = draw(st.sampled_from(_PAYERS))
        out.append(CoverageFact(f"Coverage/c{index}", payer, start, end, order=index))
    return tuple(out)


@settings(max_examples=200, deadline=None)
@given(coverages=_coverages(), probe=st.integers(0, 6000))
def test_merged_spans_alternate_packs_and_keep_each_days_pack(
    coverages: tuple[CoverageFact, ...], probe: int
) -> None:
    record = PatientRecord("Patient/p", coverages=coverages)
    spans = model_spans(record, _MERGE_SETTINGS)
    # Contiguous, open at both ends, and no two neighbours of one pack.
    assert spans[0].start is None and spans[-1].end is None
    for before, after in itertools.pairwise(spans):
        assert before.end is not None and after.start == before.end + timedelta(days=1)
        assert before.model != after.model
    # Each day's pack is its primary Coverage's, as selected without merging.
    day = date(2014, 1, 1) + timedelta(days=probe)
    primary = primary_coverage(by_rank(coverages), day, ranked=True)
    expected = "cpoc"
    if primary is not None:
        entry = _MERGE_SETTINGS.payers.get(primary.payer)
        if isinstance(entry, str):
            expected = entry
        elif entry is not None:
            expected = next((p.model for p in entry if p.holds(day)), "none")
    assert model_on(spans, day) == expected
