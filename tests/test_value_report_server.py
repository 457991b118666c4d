"""``cpoc report value --fhir-base``: the patients read from a real FHIR server (sekmet) through
the capture run's reader give the same report as the same resources read from files."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from sekmet_server import running_sekmet
from test_value_report import COMPONENTS, EXAMPLE_PATIENTS

from cds_hooks.embedded_fhir import load_resources
from cpoc_fhir.cli import build_parser, bundled_examples
from cpoc_fhir.errors import InputError
from cpoc_fhir.reports import value_cli

LOCATION = {
    "resourceType": "Location",
    "id": "practice",
    "name": "Example oncology practice",
    "position": {"latitude": 40.7128, "longitude": -74.006},
}


def examples() -> list[dict[str, Any]]:
    out = []
    for path in sorted(bundled_examples().glob("*.json")):
        out += [e["resource"] for e in json.loads(path.read_text())["entry"]]
    return out


def report(argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Any:
    store = f"sqlite:///{tmp_path}/s.sqlite"
    args = build_parser().parse_args(["report", "value", "--store", store, *argv])
    assert value_cli.run(args, UTC, COMPONENTS) == 0
    return json.loads(capsys.readouterr().out)


def test_a_fhir_server_gives_the_report_of_the_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CPOC_FHIR_TOKEN", raising=False)
    with running_sekmet(tmp_path / "sekmet") as server:
        load_resources(server.base_url, [*examples(), LOCATION])
        common = ["--year", "2025", "--format", "json"]
        served = report(["--fhir-base", server.base_url, *common], tmp_path, capsys)
        named = report(
            ["--fhir-base", server.base_url, "--location", "practice", *common], tmp_path, capsys
        )
        store = f"sqlite:///{tmp_path}/s.sqlite"
        args = build_parser().parse_args(
            ["report", "value", "--store", store, "--fhir-base", server.base_url,
             "--location", "elsewhere", *common]
        )  # fmt: skip
        with pytest.raises(InputError, match="--location: no Location/elsewhere on the FHIR"):
            value_cli.run(args, UTC, COMPONENTS)
    files = report([str(bundled_examples()), *common], tmp_path, capsys)
    # the only Location on the server is the practice's; no warning about it
    assert served["practice"] == {"location": "Location/practice"} == named["practice"]
    assert not any("Location" in w for w in served["warnings"])
    (m_served,), (m_files,) = served["measures"], files["measures"]
    assert m_served["denominator"] == EXAMPLE_PATIENTS == m_files["denominator"]
    assert m_served["patients"] == m_files["patients"]
    assert served["er"] == files["er"]
