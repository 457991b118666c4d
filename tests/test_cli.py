"""The ``cpoc`` command line: output shapes others rely on, errors, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cpoc_fhir.cli import main
from cpoc_fhir.engine.lines import is_resource_reference

LINE_KEYS = {
    "code",
    "component",
    "level",
    "start",
    "end",
    "status",
    "amount",
    "explanation",
    "evidence",
}
SCORE_KEYS = {
    "comorbidity",
    "performance",
    "toxicity",
    "administration",
    "total",
    "regimen",
    "treatmentDays",
}


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_timeline_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "timeline", "--as-of", "2026-03-03", "--format", "json")
    assert code == 0
    data = json.loads(out)
    patients = {p["patient"]: p for p in data["patients"]}
    assert set(patients) == {
        "Patient/appendix-a-folfox",
        "Patient/appendix-b-nsclc",
        "Patient/oral-capecitabine-trial",
        "Patient/declined-treatment",
    }
    for patient in data["patients"]:
        assert isinstance(patient["warnings"], list)
        for line in patient["lines"]:
            assert set(line) >= LINE_KEYS
            assert line["status"] in {"final", "provisional", "not-billable"}
            assert line["component"] in {
                "new-patient",
                "treatment-month",
                "active-monitoring",
                "transition",
                "clinical-trial",
            }
            assert line["amount"].count(".") == 1 and len(line["amount"].split(".")[1]) == 2
            if line["component"] == "treatment-month":
                assert set(line["score"]) == SCORE_KEYS
            if line["component"] == "new-patient":
                assert line["start"] == line["end"] and line["level"] is None


def test_timeline_table_for_one_patient(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        capsys, "timeline", "--patient", "appendix-b-nsclc", "--as-of", "2025-12-15", "--explain"
    )
    assert code == 0
    assert "Patient/appendix-b-nsclc" in out and "appendix-a-folfox" not in out
    assert "xx203" in out and "Table 3" in out and "evidence:" in out
    assert "illustrative only" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["timeline", "no/such/file.json"], "no/such/file.json"),
        (["timeline", "--payer", "no-such-payer.toml"], "no-such-payer.toml"),
    ],
)
def test_missing_inputs_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = run_cli(capsys, *args)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and message in err


def test_not_json_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bundle.json"
    bad.write_text("{not json", encoding="utf-8")
    code, _, err = run_cli(capsys, "timeline", str(bad))
    assert code == 2 and "bundle.json" in err


def test_bad_payer_file_names_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    payer = tmp_path / "payer.toml"
    payer.write_text('[payer]\nid = "x"\nname = "X"\nnew_patient_amount = "-1"\n')
    code, _, err = run_cli(capsys, "timeline", "--payer", str(payer))
    assert code == 2 and "new_patient_amount" in err and "payer.toml" in err


def test_payer_file_changes_amounts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    payer = tmp_path / "payer.json"
    payer.write_text(
        json.dumps({"payer": {"id": "p", "name": "P", "new_patient_amount": "2000", "gpci": "1.1"}})
    )
    code, out, _ = run_cli(
        capsys,
        "timeline",
        "--patient",
        "appendix-a-folfox",
        "--as-of",
        "2025-06-01",
        "--payer",
        str(payer),
        "--format",
        "json",
    )
    assert code == 0
    lines = json.loads(out)["patients"][0]["lines"]
    assert lines[0]["code"] == "xx100" and lines[0]["amount"] == "2200.00"
    assert lines[1]["code"] == "xx204" and lines[1]["amount"] == "1760.00"  # 2000 × 80 % × 1.1


def test_invalid_resource_in_a_folder_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "broken.json").write_text("[1, 2", encoding="utf-8")
    (tmp_path / "patient.json").write_text(json.dumps({"resourceType": "Patient", "id": "p1"}))
    code, out, _ = run_cli(capsys, "timeline", str(tmp_path), "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert [p["patient"] for p in data["patients"]] == ["Patient/p1"]
    assert any("broken.json" in w for w in data["warnings"])


def test_regimens_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "regimens", "--format", "json")
    assert code == 0
    regimens = json.loads(out)["regimens"]
    assert len(regimens) >= 30
    folfox = next(r for r in regimens if r["id"] == "folfox")
    assert set(folfox) >= {
        "id",
        "name",
        "ingredients",
        "classes",
        "toxicity",
        "administration",
        "sources",
    }
    assert set(folfox["ingredients"]) >= {"32592", "6313", "4492"}
    assert set(folfox["toxicity"]) == {"hospitalization", "qol", "death", "points"}
    assert set(folfox["administration"]) == {"category", "oral", "stemCellTransplant"}
    assert folfox["sources"]


def test_regimens_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "regimens")
    assert code == 0 and "folfox" in out and "R-CHOP" in out


def test_console_script_runs(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "cpoc"
    result = subprocess.run(
        [str(script), "timeline", "--as-of", "2025-12-31"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Patient/appendix-a-folfox" in result.stdout


@pytest.mark.parametrize(
    "folder",
    [
        "mcode_stu4_examples",
        "synthea_bulk_10pt_subset",
        "clinosim_us_generated",
        "mcode_extraction_fixtures",
        "synthea_r4_transaction",
    ],
)
def test_every_external_data_set_is_processed(
    folder: str, external: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(
        capsys, "timeline", str(external / folder), "--as-of", "2026-11-23", "--format", "json"
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["patients"]
    for patient in data["patients"]:
        for line in patient["lines"]:
            # Evidence is a resource ("Type/id") or, for what was looked for and not found
            # (cpoc-rules §11), the FHIR search of this patient that found nothing.
            assert line["evidence"], line
            for ref in line["evidence"]:
                assert is_resource_reference(ref) or ref.startswith(
                    f"Observation?subject={patient['patient']}&code="
                ), ref
