"""``cpoc model --fhir-base`` and ``cpoc report corridors --fhir-base``: the patients, their
ChargeItems, Claims, ExplanationOfBenefits and Coverages read from a real FHIR server
(sekmet-fhir) with the capture run's reader give the figures of the same resources read from
files. A generated practice (20 patients, CARIN BB claims) is loaded into the server."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sekmet_server import running_sekmet

from cds_hooks.embedded_fhir import load_resources
from cpoc_fhir.cli import main
from cpoc_fhir.synthetic import generate_practice

PERIOD = ["--from", "2025-01-01", "--to", "2025-12-31", "--format", "json"]


def ndjson(folder: Path) -> list[dict[str, Any]]:
    out = []
    for path in sorted(folder.glob("*.ndjson")):
        out += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return out


def run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict[str, Any]:
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def test_a_fhir_server_gives_the_figures_of_the_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CPOC_FHIR_TOKEN", raising=False)
    folder = tmp_path / "practice"
    generate_practice(folder, patients=20, seed=3, year=2025, claims=True)
    resources = ndjson(folder)
    assert {"ExplanationOfBenefit", "Coverage", "EpisodeOfCare"} <= {
        r["resourceType"] for r in resources
    }
    files_model = run(capsys, ["model", str(folder), *PERIOD])
    corridor_args = ["--year", "2025", "--baseline-year", "2024", "--format", "json"]
    files_corridors = run(capsys, ["report", "corridors", str(folder), *corridor_args])
    with running_sekmet(tmp_path / "sekmet") as server:
        load_resources(server.base_url, resources)
        served_model = run(capsys, ["model", "--fhir-base", server.base_url, *PERIOD])
        served_corridors = run(
            capsys, ["report", "corridors", "--fhir-base", server.base_url, *corridor_args]
        )
    for key in ("ffsReplacedRevenue", "ffsDrugRevenue", "ffsOtherRevenue", "neutralBase"):
        assert served_model[key] == files_model[key], key
    assert Decimal(files_model["ffsReplacedRevenue"]) > 0
    assert served_model["byComponent"] == files_model["byComponent"]
    assert served_model["patients"] == files_model["patients"]
    assert served_corridors["quarters"] == files_corridors["quarters"]
    assert served_corridors["baseline"] == files_corridors["baseline"]
    assert {q["payer"] for q in served_corridors["quarters"]} == {"Organization/example-payer"}


def test_records_neither_from_a_file_nor_a_server_is_bad_usage(capsys) -> None:
    assert main(["model", *PERIOD]) == 2
    assert "INPUT or --fhir-base" in capsys.readouterr().err
