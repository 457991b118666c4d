"""``cpoc report cpc-coordination`` (value-and-models §15.3; proposal II-G): oncology patients
attributed to a CPC+ practice and the months both pay care management. FHIR JSON built here;
goldens derived by hand in each test's comment."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from ocm_fhir import colon_patient, coverage, write_bundle

from cpoc_fhir.cli import main
from cpoc_fhir.packs.cpcplus.pack import DATA_FILE

MBI = "http://hl7.org/fhir/sid/us-mbi"
HEADER = "patient,practice_id,practice_name,track,from,to,tier\n"


@pytest.fixture(autouse=True)
def _no_env_attribution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CPOC_CPCPLUS_ATTRIBUTION", raising=False)


def _patient(pid: str, cancer: str | None, oxaliplatin: str | None, **extra: Any) -> list[Any]:
    return colon_patient(pid, cancer, oxaliplatin, birth_date=None, **extra)


def _coverage(pid: str, payer: str, start: str) -> dict[str, Any]:
    return coverage(pid, f"{pid}-cov", payer, start, None, order=None)


def _practice(tmp_path: Path) -> Path:
    """p1: colon cancer 2019-01-10, oxaliplatin 2019-03-14, no Coverage → CPOC; MBI on its
    Patient. p2: colon cancer 2025-01-10, oxaliplatin 2025-03-03, Medicare (Organization/cms
    → eom in the settings) → EOM. p3: no cancer (billed under no oncology pack). p4: CPOC
    patient like p1 but attributed to no CPC+ practice."""
    resources = (
        _patient("p1", "2019-01-10", "2019-03-14", identifier=[{"system": MBI, "value": "1A"}])
        + _patient("p2", "2025-01-10", "2025-03-03")
        + [_coverage("p2", "Organization/cms", "2025-01-01")]
        + _patient("p3", None, None)
        + _patient("p4", "2019-01-10", "2019-03-14")
    )
    return write_bundle(tmp_path / "bundle.json", resources)


def _settings(tmp_path: Path) -> Path:
    # CPC+ itself ended in 2021-12 (Round 1) / 2022-12 (Round 2) and EOM began 2023-07: to
    # show an EOM overlap the practice's data file extends the model dates to 2025-12-31 (as
    # for a successor primary-care programme priced like CPC+).
    data = DATA_FILE.read_text(encoding="utf-8").replace(
        "model_end = 2021-12-31", "model_end = 2025-12-31"
    )
    (tmp_path / "cpcplus-data.toml").write_text(data, encoding="utf-8")
    settings = tmp_path / "cpoc.toml"
    settings.write_text(
        "[models]\n"
        'payers = { "Organization/cms" = "eom" }\n'
        'data_files = { "cpcplus" = "cpcplus-data.toml" }\n',
        encoding="utf-8",
    )
    return settings


def _attribution(tmp_path: Path) -> Path:
    path = tmp_path / "attribution.csv"
    path.write_text(
        HEADER
        + f"{MBI}|1A,PC1,Main St Primary Care,1,2019-01-01,2019-04-30,\n"
        + "Patient/p2,PC2,Elm St Family Medicine,2,2025-04-01,2025-05-31,3\n"
        + "Patient/p3,PC1,Main St Primary Care,1,2019-01-01,2019-12-31,\n",
        encoding="utf-8",
    )
    return path


def _run(tmp_path: Path, capsys: pytest.CaptureFixture[str], *options: str) -> tuple[int, str]:
    settings = _settings(tmp_path)
    code = main(
        [
            "report",
            "cpc-coordination",
            str(_practice(tmp_path)),
            "--attribution",
            str(_attribution(tmp_path)),
            "--as-of",
            "2025-12-31",
            "--config",
            str(settings),
            *options,
        ]
    )
    return code, capsys.readouterr().out


def test_overlap_months_of_a_cpoc_and_an_eom_patient(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # p1 (CPOC, matched by its MBI): attributed Jan-Apr 2019, Track 1, no payer tier → the
    # Charlson proxy: Jan 1 the cancer (onset 01-10) is not yet active, index 0 → tier 1 $6;
    # Feb-Apr colon cancer (malignancy 2) → index 2 → tier 2 $8. CPOC Treatment Month 1 is
    # 2019-03-14..04-13 (xx201, $250.00 in the illustrative payer file); the months after
    # are Active Monitoring, not billable (no visit) → overlap in March (18 days: 14-31) and
    # April (13 days: 1-13), CMF 2 × $8.00.
    # p2 (EOM): episode 2025-03-03..09-02, MEOS months 03-03..04-02, 04-03..05-02,
    # 05-03..06-02, … at $110.00 (2025). Attributed Apr-May 2025, Track 2 tier 3 (payer's)
    # → CMF $19.00 each. April shares days with MEOS months 1 (2 days) and 2 (28 days), May
    # with 2 (2 days) and 3 (29 days).
    # Totals: 4 overlap months, CMF 8 + 8 + 19 + 19 = 54.00; oncology lines counted once:
    # 250 + 3 × 110 = 580.00. p3 (no cancer) and p4 (not attributed) are not listed.
    code, out = _run(tmp_path, capsys, "--format", "json")
    assert code == 0
    result = json.loads(out)
    assert [p["patient"] for p in result["patients"]] == ["Patient/p1", "Patient/p2"]
    p1, p2 = result["patients"]
    assert (p1["models"], p1["cmf_months"], p1["overlap_months"]) == (["cpoc"], 4, 2)
    assert (p2["models"], p2["cmf_months"], p2["overlap_months"]) == (["eom"], 2, 2)
    assert p2["practices"] == ["Elm St Family Medicine (PC2)"]
    months = [
        (
            m["patient"],
            m["month"],
            m["cmf_code"],
            m["cmf_amount"],
            [(o["code"], o["start"], o["amount"], o["overlap_days"]) for o in m["oncology"]],
        )
        for m in result["months"]
    ]
    assert months == [
        ("Patient/p1", "2019-03", "CPCP-T1-2", "8.00", [("xx201", "2019-03-14", "250.00", 18)]),
        ("Patient/p1", "2019-04", "CPCP-T1-2", "8.00", [("xx201", "2019-03-14", "250.00", 13)]),
        (
            "Patient/p2",
            "2025-04",
            "CPCP-T2-3",
            "19.00",
            [("M0010", "2025-03-03", "110.00", 2), ("M0010", "2025-04-03", "110.00", 28)],
        ),
        (
            "Patient/p2",
            "2025-05",
            "CPCP-T2-3",
            "19.00",
            [("M0010", "2025-04-03", "110.00", 2), ("M0010", "2025-05-03", "110.00", 29)],
        ),
    ]
    assert result["totals"] == {
        "patients": 2,
        "patients_with_overlap": 2,
        "overlap_months": 4,
        "cmf_amount": "54.00",
        "oncology_lines": 4,
        "oncology_amount": "580.00",
    }


def test_the_window_and_the_csv_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # --from 2019-04-01 --to 2019-12-31: p1's CMF months Apr 2019 only (Jan-Mar before the
    # window); p2's 2025 months after it → p2 not listed. One CSV row: April × xx201.
    code, out = _run(
        tmp_path, capsys, "--from", "2019-04-01", "--to", "2019-12-31", "--format", "csv"
    )
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0][:3] == ["patient", "month", "practice_id"]
    assert rows[1:] == [
        [
            "Patient/p1",
            "2019-04",
            "PC1",
            "Main St Primary Care",
            "1",
            "2",
            "CPCP-T1-2",
            "8.00",
            "cpoc",
            "xx201",
            "2019-03-14",
            "2019-04-13",
            "250.00",
            "13",
        ]
    ]


def test_the_table_says_who_and_totals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(tmp_path, capsys)
    assert code == 0
    words = " ".join(out.split())  # the table's prose is wrapped at 80 columns
    assert "II-G" in out
    assert "Patient/p1: cpoc; CPC+ Main St Primary Care (PC1); 4 CMF month(s), 2 with" in words
    assert "overlap months 4: CMF 54.00, oncology 580.00 (4 line(s))" in words
    assert "Patient/p3" not in out and "Patient/p4" not in out
    # issue 17 item 6: 80 columns, each oncology line under its CMF month; --wide a line each
    assert max(len(line) for line in out.splitlines()) <= 80
    code, wide = _run(tmp_path, capsys, "--wide")
    assert code == 0 and max(len(line) for line in wide.splitlines()) > 80
    (row,) = [x for x in wide.splitlines() if x.startswith("Patient/p1 ") and "2019-03 " in x]
    assert row.split() == ["Patient/p1", "2019-03", "CPCP-T1-2", "8.00", "cpoc", "xx201",
                           "2019-03-14…2019-04-13", "250.00"]  # fmt: skip
    at = out.splitlines().index(next(x for x in out.splitlines() if x.startswith("Patient/p1 ")
                                     and "2019-03 " in x))  # fmt: skip
    assert out.splitlines()[at + 1].split() == ["cpoc", "xx201", "2019-03-14…2019-04-13", "250.00"]


def test_a_bad_attribution_file_exits_naming_file_and_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "Patient/p1,PC1,Main St,1,2019-01-01,2019-02-30,\n", encoding="utf-8")
    code = main(
        ["report", "cpc-coordination", str(_practice(tmp_path)), "--attribution", str(bad),
         "--config", str(_settings(tmp_path))]
    )  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert f"{bad} row 2: to is not a date (YYYY-MM-DD)" in err
    assert "Traceback" not in err


def test_input_or_fhir_base_is_required(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["report", "cpc-coordination", "--attribution", str(_attribution(tmp_path)),
         "--config", str(_settings(tmp_path))]
    )  # fmt: skip
    assert code == 2
    assert "give an INPUT or --fhir-base URL" in capsys.readouterr().err


def test_a_fhir_server_gives_the_report_of_the_same_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The practice's resources (plus an oncology EpisodeOfCare for p1 and p2: the server path
    # reads the patients with one) read from files and from a sekmet-fhir server give the
    # same report.
    from sekmet_server import running_sekmet

    from cds_hooks.embedded_fhir import load_resources

    monkeypatch.delenv("CPOC_FHIR_TOKEN", raising=False)
    bundle = json.loads(_practice(tmp_path).read_text(encoding="utf-8"))
    resources = [entry["resource"] for entry in bundle["entry"]]
    for pid, start in (("p1", "2019-01-10"), ("p2", "2025-01-10")):
        resources.append(
            {
                "resourceType": "EpisodeOfCare",
                "id": f"{pid}-onc",
                "status": "active",
                "patient": {"reference": f"Patient/{pid}"},
                "period": {"start": start},
            }
        )
    files = tmp_path / "with-episodes.json"
    files.write_text(
        json.dumps(
            {"resourceType": "Bundle", "type": "collection",
             "entry": [{"resource": r} for r in resources]}
        ),
        encoding="utf-8",
    )  # fmt: skip
    common = ["--attribution", str(_attribution(tmp_path)), "--as-of", "2025-12-31",
              "--config", str(_settings(tmp_path)), "--format", "json"]  # fmt: skip
    assert main(["report", "cpc-coordination", str(files), *common]) == 0
    from_files = json.loads(capsys.readouterr().out)
    with running_sekmet(tmp_path / "sekmet") as server:
        load_resources(server.base_url, resources)
        code = main(["report", "cpc-coordination", "--fhir-base", server.base_url, *common])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    from_server = json.loads(captured.out)
    assert from_files["months"] and from_server["months"] == from_files["months"]
    assert from_server["totals"] == from_files["totals"]
