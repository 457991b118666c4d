"""``cpoc report model-episodes`` (value-and-models §15.1, §15.2): an episode model's
episodes per patient from FHIR R4 records, in a folder or on a FHIR server. Goldens derived by
hand in each test's comment (months cut as cpoc-rules §2)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from ocm_fhir import (
    OXALIPLATIN,
    TAMOXIFEN,
    Resource,
    administration,
    coverage,
    dispense,
    episode_of_care,
    patient,
    write_bundle,
)

from cpoc_fhir.cli import main

AS_OF = "2019-12-15"
FIELDS = ("patient", "episode", "start", "end", "trigger", "cancer_type", "months_billed")
FIELDS += ("meos_total", "note")
SETTINGS = '[models]\ndefault = "ocm"\npayers = { "Organization/acme" = "cpoc" }\n'


def _practice() -> list[Resource]:
    # p1 colon, oxaliplatin 2019-01-31: episode 01-31 .. 07-30 (S_7 07-31), 6 months, $960.
    # p2 breast, tamoxifen dispensed 2019-03-01 for 200 days (to 2019-09-16): episode 1
    #    03-01 .. 08-31 (6 months, $960); the supply continues on 09-01, so episode 2 starts
    #    09-01 (ends 2020-02-29); by 12-15 its months 09-01, 10-01, 11-01, 12-01 have begun:
    #    4 months, $640, in progress.
    # p3 colon, oxaliplatin 2019-03-04, died 2019-05-20: months 03-04, 04-04, 05-04 (death in
    #    month 3), $480, cut short.
    # p5 colon, oxaliplatin 2019-03-04; Medicare (default → ocm) to 2019-06-30, acme (→ cpoc)
    #    from 07-01: the episode's months 03-04, 04-04, 05-04, 06-04 are OCM's ($640), the
    #    months of 07-04 and 08-04 fall under acme.
    return [
        *patient("p1", "C18.0", "2018-12-01"),
        administration("p1", "p1-ox", OXALIPLATIN, "2019-01-31"),
        *patient("p2", "C50.911", "2019-02-01"),
        dispense("p2", "p2-tam", TAMOXIFEN, "2019-03-01", 200),
        *patient("p3", "C18.0", "2019-01-15", deceased="2019-05-20"),
        administration("p3", "p3-ox", OXALIPLATIN, "2019-03-04"),
        *patient("p5", "C18.0", "2019-01-15"),
        administration("p5", "p5-ox", OXALIPLATIN, "2019-03-04"),
        coverage("p5", "p5-mc", "Organization/cms", "2016-01-01", "2019-06-30"),
        coverage("p5", "p5-acme", "Organization/acme", "2019-07-01", None),
    ]


def _run(tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str, fmt: str = "json") -> Any:
    settings = tmp_path / "cpoc.toml"
    settings.write_text(SETTINGS, encoding="utf-8")
    bundle = write_bundle(tmp_path / "practice.json", _practice())
    args = ["report", "model-episodes", str(bundle), "--as-of", AS_OF, "--format", fmt]
    code = main([*args, "--config", str(settings), *extra])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out) if fmt == "json" else out


@pytest.fixture(autouse=True)
def _no_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CPOC_CONFIG", raising=False)


def test_the_ocm_episode_table_per_patient(tmp_path: Path, capsys) -> None:
    result = _run(tmp_path, capsys, "--model", "ocm")
    rows = [tuple(r[k] for k in FIELDS) for r in result["episodes"]]
    assert rows == [
        (
            "Patient/p1",
            1,
            "2019-01-31",
            "2019-07-30",
            "MedicationAdministration/p1-ox",
            "colorectal",
            6,
            "960.00",
            "",
        ),
        (
            "Patient/p2",
            1,
            "2019-03-01",
            "2019-08-31",
            "MedicationDispense/p2-tam",
            "breast",
            6,
            "960.00",
            "",
        ),
        (
            "Patient/p2",
            2,
            "2019-09-01",
            "2020-02-29",
            "MedicationDispense/p2-tam",
            "breast",
            4,
            "640.00",
            "in progress: 4 of 6 months begun by 2019-12-15",
        ),
        (
            "Patient/p3",
            1,
            "2019-03-04",
            "2019-09-03",
            "MedicationAdministration/p3-ox",
            "colorectal",
            3,
            "480.00",
            "cut short: death on 2019-05-20",
        ),
        (
            "Patient/p5",
            1,
            "2019-03-04",
            "2019-09-03",
            "MedicationAdministration/p5-ox",
            "colorectal",
            4,
            "640.00",
            "2 months under another model (payer)",
        ),
    ]
    # 6 + 6 + 4 + 3 + 4 = 23 months × $160 = $3680.
    assert result["totals"] == {
        "patients": 4,
        "episodes": 5,
        "months_billed": 23,
        "meos_total": "3680.00",
    }
    assert result["model"] == "ocm" and result["as_of"] == AS_OF
    assert {tuple(r["meos_codes"]) for r in result["episodes"]} == {("G9678",)}


def test_all_patients_bills_the_switched_patient_under_ocm_throughout(tmp_path, capsys) -> None:
    # --all-patients ignores p5's acme Coverage: its episode bills all six months (03-04 ..
    # 08-04, all begun by 12-15): 23 - 4 + 6 = 25 months, $4000.
    result = _run(tmp_path, capsys, "--model", "ocm", "--all-patients")
    p5 = next(r for r in result["episodes"] if r["patient"] == "Patient/p5")
    assert (p5["months_billed"], p5["meos_total"], p5["note"]) == (6, "960.00", "")
    assert result["totals"]["meos_total"] == "4000.00"


def test_the_eom_report_has_no_episode_for_hormonal_only_breast(tmp_path, capsys) -> None:
    # EOM (§15.2) from 2023 on: p2 on tamoxifen only for breast cancer starts no EOM
    # episode. Only p2 in a bundle dated 2025 (2025-03-01, 200 days) under --all-patients.
    settings = tmp_path / "cpoc.toml"
    settings.write_text("", encoding="utf-8")
    resources = [
        *patient("p2", "C50.911", "2025-02-01"),
        dispense("p2", "p2-tam", TAMOXIFEN, "2025-03-01", 200),
        *patient("p4", "C18.0", "2025-01-10"),
        administration("p4", "p4-ox", OXALIPLATIN, "2025-03-03"),
    ]
    bundle = write_bundle(tmp_path / "eom.json", resources)
    args = ["report", "model-episodes", str(bundle), "--model", "eom", "--all-patients"]
    assert main([*args, "--as-of", "2025-12-31", "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    # p4: oxaliplatin 2025-03-03 → EOM episode 03-03 .. 09-02, six months × $110 = $660.
    assert [(r["patient"], r["months_billed"], r["meos_total"]) for r in result["episodes"]] == [
        ("Patient/p4", 6, "660.00")
    ]
    assert {tuple(r["meos_codes"]) for r in result["episodes"]} == {("M0010",)}


def test_csv_and_table(tmp_path: Path, capsys) -> None:
    text = _run(tmp_path, capsys, "--model", "ocm", fmt="csv")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(FIELDS)  # the columns, written out by hand at the top
    assert rows[4][0] == "Patient/p3" and rows[4][-1] == "cut short: death on 2019-05-20"
    assert len(rows) == 6  # the header and five episodes
    table = _run(tmp_path, capsys, "--model", "ocm", fmt="table")
    assert table.startswith("OCM episodes as of 2019-12-15\n")
    assert "patients 4, episodes 5, months billed 23, MEOS total 3680.00" in table
    # issue 17 item 6: 80 columns, each episode's trigger and note under its figures; --wide
    # a line an episode (some 120 columns), the same words
    assert max(len(line) for line in table.splitlines()) <= 80
    wide = _run(tmp_path, capsys, "--model", "ocm", "--wide", fmt="table")
    assert max(len(line) for line in wide.splitlines()) > 80
    assert sorted(wide.split()) == sorted([*table.replace(";", "").split(), "trigger", "note"])
    (p3,) = [line for line in wide.splitlines() if line.startswith("Patient/p3 ")]
    assert p3.endswith("cut short: death on 2019-05-20")  # the note on the episode's line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "cpoc"], "not an episode model"),
        (["--model", "ocmx"], "not a known pack"),
    ],
)
def test_bad_model_is_an_input_error(tmp_path, capsys, args: list[str], message: str) -> None:
    bundle = write_bundle(tmp_path / "practice.json", _practice())
    assert main(["report", "model-episodes", str(bundle), *args]) == 2
    assert message in capsys.readouterr().err


def test_records_from_neither_or_both_sources_are_refused(tmp_path, capsys) -> None:
    assert main(["report", "model-episodes", "--model", "ocm"]) == 2
    assert "give the records as INPUT or --fhir-base" in capsys.readouterr().err
    both = [str(tmp_path), "--fhir-base", "http://127.0.0.1:9/fhir", "--model", "ocm"]
    assert main(["report", "model-episodes", *both]) == 2
    assert "give the records as INPUT or --fhir-base" in capsys.readouterr().err
    assert main(["report", "model-episodes", str(tmp_path), "--group", "g", "--model", "ocm"]) == 2
    assert "--group: reads a Group on a FHIR server" in capsys.readouterr().err


def test_from_a_fhir_server(tmp_path: Path, capsys, monkeypatch) -> None:
    # p1 (as in the folder test) on a FHIR R4 server, found by its oncology EpisodeOfCare:
    # one OCM episode 2019-01-31 .. 2019-07-30, six months, $960.
    from sekmet_server import running_sekmet

    from cds_hooks.embedded_fhir import load_resources

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CPOC_FHIR_TOKEN", raising=False)
    resources = [
        *patient("p1", "C18.0", "2018-12-01"),
        episode_of_care("p1", "2019-01-10"),
        administration("p1", "p1-ox", OXALIPLATIN, "2019-01-31"),
    ]
    with running_sekmet(tmp_path / "sekmet") as server:
        load_resources(server.base_url, resources)
        args = ["report", "model-episodes", "--fhir-base", server.base_url, "--model", "ocm"]
        code = main([*args, "--all-patients", "--as-of", AS_OF, "--format", "json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    result = json.loads(out.out)
    assert [
        (r["patient"], r["start"], r["end"], r["months_billed"], r["meos_total"])
        for r in result["episodes"]
    ] == [("Patient/p1", "2019-01-31", "2019-07-30", 6, "960.00")]


def test_a_practices_own_episode_pack_is_reported_too(tmp_path: Path, capsys) -> None:
    # The test pack (tests/episode_test_pack) named in [models] packs: $100 a month, no cancer
    # or window rule. p1's oxaliplatin 2019-01-31: 6 months, $600; its table says "EPI".
    settings = tmp_path / "cpoc.toml"
    settings.write_text('[models]\npacks = { episodic = "episode_test_pack.pack" }\n')
    resources = [
        *patient("p1", "C18.0", "2018-12-01"),
        administration("p1", "p1-ox", OXALIPLATIN, "2019-01-31"),
    ]
    bundle = write_bundle(tmp_path / "one.json", resources)
    args = ["report", "model-episodes", str(bundle), "--model", "episodic", "--all-patients"]
    assert main([*args, "--as-of", AS_OF, "--config", str(settings)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("EPI episodes as of 2019-12-15\n")
    assert "patients 1, episodes 1, months billed 6, MEOS total 600.00" in out
