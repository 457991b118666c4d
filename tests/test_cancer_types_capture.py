"""Option 1 (value-and-models §14.3) in the offline month-end capture: patients of a cancer type
the payer does not bill under CPOC get no ChargeItems, are counted apart in the run report, and
their FFS charges are no conflicts."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from cpoc_fhir.cli import bundled_examples, main

# An established-patient visit (CPT 99214, one of the codes CPOC replaces) for the Appendix A
# patient (colon cancer) on 2025-09-10, inside her CPOC month starting 2025-09-03.
FFS_VISIT = {
    "resourceType": "ChargeItem",
    "id": "ffs-visit-1",
    "identifier": [{"system": "http://ehr.example.org/charges", "value": "v-1"}],
    "status": "billable",
    "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "99214"}]},
    "subject": {"reference": "Patient/appendix-a-folfox"},
    "occurrenceDateTime": "2025-09-10",
}


def export(folder: Path) -> Path:
    """The bundled examples and the FFS visit as a Bulk FHIR export."""
    by_type: dict[str, list[str]] = defaultdict(list)
    for path in sorted(bundled_examples().glob("*.json")):
        for entry in json.loads(path.read_text(encoding="utf-8"))["entry"]:
            by_type[entry["resource"]["resourceType"]].append(json.dumps(entry["resource"]))
    by_type["ChargeItem"].append(json.dumps(FFS_VISIT))
    folder.mkdir(parents=True)
    for kind, lines in by_type.items():
        (folder / f"{kind}.000.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def capture(tmp_path: Path, name: str, rules: str, out_name: str = "") -> tuple[int, Path]:
    config = tmp_path / f"{name}.toml"
    config.write_text(rules, encoding="utf-8")
    out = tmp_path / (out_name or name)
    code = main(
        [
            "--config",
            str(config),
            "capture",
            "--store",
            f"sqlite:///{tmp_path / f'{name}.sqlite'}",
            "--no-progress",
            "--ndjson",
            str(tmp_path / "in"),
            "--out",
            str(out),
            "--month",
            "2025-09",
            "--as-of",
            "2025-10-05",
        ]
    )
    return code, out


def identifiers(out: Path) -> set[str]:
    path = out / "ChargeItem.ndjson"
    if not path.exists():
        return set()
    return {json.loads(x)["identifier"][0]["value"] for x in path.read_text().splitlines() if x}


def conflicts(out: Path) -> list[dict[str, Any]]:
    with (out / "ffs-conflicts-2025-09.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_only_lung_patients_are_captured(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export(tmp_path / "in")
    # Control, every type under CPOC: the 99214 visit conflicts with her monitoring month.
    code, everything = capture(tmp_path, "all", "")
    assert code == 0
    assert [c["charge"] for c in conflicts(everything)] == ["ChargeItem/ffs-visit-1"]
    assert any(i.startswith("appendix-a-folfox.") for i in identifiers(everything))
    capsys.readouterr()

    code, lung = capture(tmp_path, "lung", '[rules]\ncpoc_cancer_types = ["lung"]\n')
    assert code == 0
    # September's lines of the one lung patient (hand-derived in test_capture_offline.py);
    # colon (2), pancreas (1) patients: billed fee-for-service, no ChargeItems.
    assert identifiers(lung) == {
        "appendix-b-nsclc.treatment-month.2025-09-01",
        "appendix-b-nsclc.transition.2025-09-01",
    }
    assert conflicts(lung) == []
    report = capsys.readouterr().out
    assert (
        "fee-for-service     3 patient(s): not a CPOC cancer type for this payer "
        "(no ChargeItems)" in report
    )
    assert "FFS conflicts       0" in report
    # The notice is the patient's whole timeline, not a warning.
    assert "not a CPOC cancer type" not in report.split("fee-for-service", 1)[1].split("\n", 1)[1]


def test_items_written_before_the_setting_are_left_for_billing_staff(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export(tmp_path / "in")
    assert capture(tmp_path, "all", "")[0] == 0
    before = {
        i: x["status"]
        for x in map(json.loads, (tmp_path / "all" / "ChargeItem.ndjson").read_text().splitlines())
        for i in [x["identifier"][0]["value"]]
    }
    capsys.readouterr()
    # The payer now bills lung cancer only; the same export and ChargeItem file.
    code, out = capture(tmp_path, "lung", '[rules]\ncpoc_cancer_types = ["lung"]\n', "all")
    assert code == 0
    after = {
        i: x["status"]
        for x in map(json.loads, (out / "ChargeItem.ndjson").read_text().splitlines())
        for i in [x["identifier"][0]["value"]]
    }
    assert after == before  # nothing retired by a settings change
    report = capsys.readouterr().out
    kept = [x for x in report.splitlines() if "billed fee-for-service (not a CPOC" in x]
    colon = [i for i in before if i.startswith("appendix-a-folfox.")]
    assert colon and all(any(f"({i})" in x for x in kept) for i in colon)
