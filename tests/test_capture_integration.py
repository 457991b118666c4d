"""Charge capture against a real FHIR R4 server (sekmet-fhir on 127.0.0.1): exact ChargeItems,
no duplicates, idempotent reruns, finalisation, corrections, and a killed run resumed."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sekmet_server import SekmetServer, running_sekmet

from cds_hooks.embedded_fhir import load_resources as load
from cpoc_fhir.cli import bundled_examples, main

SYSTEM = "http://example.org/fhir/sid/cpoc-charge"


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SekmetServer]:
    monkeypatch.chdir(tmp_path)  # the FFS conflicts CSV is written to the working directory
    with running_sekmet(tmp_path / "sekmet") as running:
        yield running


def examples() -> list[dict[str, Any]]:
    out = []
    for path in sorted(bundled_examples().glob("*.json")):
        out += [e["resource"] for e in json.loads(path.read_text())["entry"]]
    return out


def charge_items(base: str) -> list[dict[str, Any]]:
    items, url = [], f"{base}/ChargeItem?_count=200"
    while url:
        page = requests.get(url, timeout=30).json()
        items += [e["resource"] for e in page.get("entry", [])]
        url = next(
            (link["url"] for link in page.get("link", []) if link["relation"] == "next"), None
        )
    return items


def identifiers(items: list[dict[str, Any]], live_only: bool = True) -> Counter[str]:
    return Counter(
        i["value"]
        for item in items
        if not live_only or item["status"] != "entered-in-error"
        for i in item.get("identifier", [])
        if i["system"] == SYSTEM
    )


def capture(base: str, store: Path, *extra: str) -> int:
    return main(
        ["capture", "--fhir-base", base, "--store", f"sqlite:///{store}", "--no-progress", *extra]
    )


def test_month_end_run_writes_exact_chargeitems_once(
    server: SekmetServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    load(server.base_url, examples())
    store = tmp_path / "ledger.sqlite"
    assert capture(server.base_url, store, "--month", "2025-09", "--as-of", "2025-10-05") == 0
    out = capsys.readouterr().out
    items = charge_items(server.base_url)
    # Hand-derived from tests/data/golden/README.md and the example generator: billing months
    # starting in September 2025 and their lines.
    assert identifiers(items) == Counter(
        {
            "appendix-a-folfox.active-monitoring.2025-09-03": 1,  # M7 xx303
            "appendix-a-folfox.transition.2025-09-03": 1,  # M7 xx401 (completed with NED)
            "appendix-b-nsclc.treatment-month.2025-09-01": 1,  # M6 xx203
            "appendix-b-nsclc.transition.2025-09-01": 1,  # M6 xx401 (progression)
            "oral-capecitabine-trial.active-monitoring.2025-09-21": 1,  # M6 xx303
            "oral-capecitabine-trial.transition.2025-09-21": 1,  # M6 xx401
            "oral-capecitabine-trial.clinical-trial.2025-09-21": 1,  # M6 xx500
            "declined-treatment.active-monitoring.2025-09-12": 1,  # M4 xx303
        }
    )
    by_id = {i["identifier"][0]["value"]: i for i in items}
    tm = by_id["appendix-b-nsclc.treatment-month.2025-09-01"]
    assert tm["code"]["coding"][0]["code"] == "xx203"
    assert tm["priceOverride"] == {"value": 610.0, "currency": "USD"}
    assert tm["status"] == "billable"
    assert tm["subject"] == {"reference": "Patient/appendix-b-nsclc"}
    assert tm["occurrencePeriod"] == {"start": "2025-09-01", "end": "2025-09-30"}
    trial = by_id["oral-capecitabine-trial.active-monitoring.2025-09-21"]
    assert trial["status"] == "planned"  # month 6 (09-21..10-20) is still open on 10-05
    assert "created 8" in out and "patients            4" in out

    # the second run changes nothing
    assert capture(server.base_url, store, "--month", "2025-09", "--as-of", "2025-10-05") == 0
    assert "unchanged 8" in capsys.readouterr().out
    again = charge_items(server.base_url)
    assert sorted((i["id"], i["meta"]["versionId"]) for i in again) == sorted(
        (i["id"], i["meta"]["versionId"]) for i in items
    )


def test_provisional_lines_are_finalised_and_vanished_lines_retired(
    server: SekmetServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    load(server.base_url, examples())
    store = tmp_path / "ledger.sqlite"
    assert (
        capture(
            server.base_url,
            store,
            "--month",
            "2025-09",
            "--as-of",
            "2025-10-05",
            "--patient",
            "oral-capecitabine-trial",
        )
        == 0
    )
    # a data correction: the patient was never on the study
    subject = next(r for r in examples() if r["resourceType"] == "ResearchSubject")
    requests.delete(f"{server.base_url}/ResearchSubject/{subject['id']}", timeout=10)
    assert (
        capture(
            server.base_url,
            store,
            "--month",
            "2025-10",
            "--as-of",
            "2025-11-25",
            "--patient",
            "oral-capecitabine-trial",
        )
        == 0
    )
    capsys.readouterr()
    by_id = {i["identifier"][0]["value"]: i for i in charge_items(server.base_url)}
    september = by_id["oral-capecitabine-trial.active-monitoring.2025-09-21"]
    assert september["status"] == "billable"  # finalised by the October run
    assert september["meta"]["versionId"] == "2"
    trial = by_id["oral-capecitabine-trial.clinical-trial.2025-09-21"]
    assert trial["status"] == "entered-in-error"
    assert by_id["oral-capecitabine-trial.active-monitoring.2025-10-21"]["status"] == "billable"
    assert identifiers(charge_items(server.base_url)).most_common(1)[0][1] == 1


def test_dry_run_writes_nothing(
    server: SekmetServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    load(server.base_url, examples())
    assert capture(server.base_url, tmp_path / "l.sqlite", "--month", "2025-09", "--dry-run") == 0
    assert "dry run" in capsys.readouterr().out
    assert charge_items(server.base_url) == []


def _generated_patients(count: int) -> list[dict[str, Any]]:
    """Copies of the Appendix B patient under new ids (a practice of `count` patients)."""
    bundle = json.loads((bundled_examples() / "appendix-b-nsclc.json").read_text())
    text = json.dumps([e["resource"] for e in bundle["entry"]])
    out = []
    for n in range(count):
        out += json.loads(text.replace("appendix-b-nsclc", f"gen-{n:03d}"))
    return out


def test_a_killed_run_resumes_without_duplicates(tmp_path: Path, server: SekmetServer) -> None:
    load(server.base_url, _generated_patients(40))
    ledger = tmp_path / "ledger.sqlite"
    args = [
        str(Path(sys.executable).with_name("cpoc")),
        "capture",
        "--fhir-base",
        server.base_url,
        "--store",
        f"sqlite:///{ledger}",
        "--month",
        "2025-09",
        "--as-of",
        "2025-10-05",
        "--no-progress",
    ]
    process = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path
    )
    deadline = time.monotonic() + 60
    done = 0
    while time.monotonic() < deadline and process.poll() is None:
        if ledger.exists():
            try:
                with sqlite3.connect(ledger) as db:
                    done = db.execute("select count(*) from run_patients").fetchone()[0]
            except sqlite3.Error:
                done = 0
        if done >= 3:
            os.kill(process.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    written = identifiers(charge_items(server.base_url))
    assert 0 < len(written) < 80

    result = subprocess.run(
        args, capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "resumed from run" in result.stdout
    final = identifiers(charge_items(server.base_url))
    assert len(final) == 80  # 40 patients × (treatment month + transition) in September
    assert set(final.values()) == {1}


def test_group_selects_the_patients(
    server: SekmetServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    group = {
        "resourceType": "Group",
        "id": "cpoc-practice",
        "type": "person",
        "actual": True,
        "member": [
            {"entity": {"reference": "Patient/appendix-b-nsclc"}},
            {"entity": {"reference": "Patient/declined-treatment"}},
        ],
    }
    load(server.base_url, [*examples(), group])
    assert (
        capture(
            server.base_url,
            tmp_path / "l.sqlite",
            "--month",
            "2025-09",
            "--as-of",
            "2025-10-05",
            "--group",
            "cpoc-practice",
        )
        == 0
    )
    capsys.readouterr()
    assert set(identifiers(charge_items(server.base_url))) == {
        "appendix-b-nsclc.treatment-month.2025-09-01",
        "appendix-b-nsclc.transition.2025-09-01",
        "declined-treatment.active-monitoring.2025-09-12",
    }


def test_an_unreachable_server_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code = capture(
        "http://127.0.0.1:9/fhir", tmp_path / "l.sqlite", "--month", "2025-09", "--patient", "x"
    )
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "http://127.0.0.1:9/fhir" in err and "does not answer" in err


def test_external_data_captured_twice_without_duplicates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    external = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "external"
    folder = external / "clinosim_us_generated"
    if not folder.is_dir():
        pytest.skip("external FHIR data (../shared/data/external) is not present")
    resources = [
        json.loads(line)
        for path in sorted(folder.glob("*.ndjson"))
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    monkeypatch.chdir(tmp_path)
    # clinosim writes MedicationAdministration.dosage.timing, which R4 does not have: the
    # server stores what it is sent, as EHRs holding such data do (validation "warn").
    lenient = {"validation": {"inbound": "warn"}}
    with running_sekmet(tmp_path / "sekmet", lenient) as server:
        _capture_external(server, tmp_path, resources, capsys)


def _capture_external(
    server: SekmetServer,
    tmp_path: Path,
    resources: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    load(server.base_url, resources)
    patients = sorted(r["id"] for r in resources if r["resourceType"] == "Patient")
    args = ["--month", "2024-03", "--as-of", "2024-04-30"]
    for patient in patients:
        args += ["--patient", patient]
    store = tmp_path / "l.sqlite"
    assert capture(server.base_url, store, *args) == 0
    first = capsys.readouterr().out
    written = identifiers(charge_items(server.base_url))
    # The three clinosim patients are all on treatment in March 2024 (FOLFOX from 2024-01-07,
    # carboplatin + pemetrexed from 2024-01-21, trastuzumab from 2024-01-07): their third
    # billing month starts in March, one Treatment Month each.
    assert written == Counter(
        {
            "pt-262252f430c7.treatment-month.2024-03-07": 1,
            "pt-347ec9ae5459.treatment-month.2024-03-07": 1,
            "pt-4ea1f747f450.treatment-month.2024-03-21": 1,
        }
    )
    assert "created 3" in first
    assert capture(server.base_url, store, *args) == 0
    assert "unchanged 3" in capsys.readouterr().out
    assert identifiers(charge_items(server.base_url)) == written
