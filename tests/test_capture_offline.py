"""Offline capture (Bulk NDJSON in, ChargeItem NDJSON out), FFS conflicts, exit codes."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cpoc_fhir.capture.offline import JOURNAL, OfflineStore
from cpoc_fhir.capture.plan import Action, Plan, Step
from cpoc_fhir.cli import bundled_examples, main
from cpoc_fhir.fhir.read import open_source
from cpoc_fhir.store import open_ledger

SYSTEM = "http://example.org/fhir/sid/cpoc-charge"
SEPTEMBER = {  # hand-derived, as in test_capture_integration.py
    "appendix-a-folfox.active-monitoring.2025-09-03",
    "appendix-a-folfox.transition.2025-09-03",
    "appendix-b-nsclc.treatment-month.2025-09-01",
    "appendix-b-nsclc.transition.2025-09-01",
    "oral-capecitabine-trial.active-monitoring.2025-09-21",
    "oral-capecitabine-trial.transition.2025-09-21",
    "oral-capecitabine-trial.clinical-trial.2025-09-21",
    "declined-treatment.active-monitoring.2025-09-12",
}


def export(folder: Path, extra: list[dict[str, Any]] = ()) -> Path:  # type: ignore[assignment]
    """The bundled examples as a Bulk FHIR export (one NDJSON file per type)."""
    by_type: dict[str, list[str]] = defaultdict(list)
    for path in sorted(bundled_examples().glob("*.json")):
        for entry in json.loads(path.read_text())["entry"]:
            by_type[entry["resource"]["resourceType"]].append(json.dumps(entry["resource"]))
    for resource in extra:
        by_type[resource["resourceType"]].append(json.dumps(resource))
    folder.mkdir(parents=True)
    for kind, lines in by_type.items():
        (folder / f"{kind}.000.ndjson").write_text("\n".join(lines) + "\n")
    return folder


def run(tmp_path: Path, *args: str) -> int:
    return main(
        ["capture", "--store", f"sqlite:///{tmp_path / 'ledger.sqlite'}", "--no-progress", *args]
    )


def offline(tmp_path: Path, source: Path, out: Path, month: str, as_of: str) -> int:
    return run(
        tmp_path, "--ndjson", str(source), "--out", str(out), "--month", month, "--as-of", as_of
    )


def items(out: Path) -> dict[str, dict[str, Any]]:
    found = {}
    for line in (out / "ChargeItem.ndjson").read_text().splitlines():
        item = json.loads(line)
        found[item["identifier"][0]["value"]] = item
    return found


def test_offline_run_writes_the_months_chargeitems_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, out = export(tmp_path / "in"), tmp_path / "out"
    args = (
        "--ndjson",
        str(source),
        "--out",
        str(out),
        "--month",
        "2025-09",
        "--as-of",
        "2025-10-05",
    )
    assert run(tmp_path, *args) == 0
    assert "created 8" in capsys.readouterr().out
    first = (out / "ChargeItem.ndjson").read_bytes()
    assert set(items(out)) == SEPTEMBER
    assert not (out / JOURNAL).exists()
    assert run(tmp_path, *args) == 0
    assert "unchanged 8" in capsys.readouterr().out
    assert (out / "ChargeItem.ndjson").read_bytes() == first  # nothing changed at all


def test_offline_next_month_finalises_and_adds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, out = export(tmp_path / "in"), tmp_path / "out"
    assert offline(tmp_path, source, out, "2025-09", "2025-10-05") == 0
    assert offline(tmp_path, source, out, "2025-10", "2025-11-25") == 0
    capsys.readouterr()
    found = items(out)
    september = found["oral-capecitabine-trial.active-monitoring.2025-09-21"]
    assert (september["status"], september["meta"]["versionId"]) == ("billable", "2")
    assert "appendix-a-folfox.active-monitoring.2025-10-03" in found


def test_ffs_conflicts_are_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ffs = {
        "resourceType": "ChargeItem",
        "id": "ffs-1",
        "status": "billable",
        "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "96413"}]},
        "subject": {"reference": "Patient/appendix-b-nsclc"},
        "occurrenceDateTime": "2025-09-08",
    }
    source, out = export(tmp_path / "in", [ffs]), tmp_path / "out"
    assert offline(tmp_path, source, out, "2025-09", "2025-10-05") == 0
    assert "FFS conflicts       1" in capsys.readouterr().out
    with (out / "ffs-conflicts-2025-09.csv").open() as handle:
        [row] = list(csv.DictReader(handle))
    assert (row["patient"], row["cpoc_code"], row["charge"], row["cpt_code"]) == (
        "Patient/appendix-b-nsclc",
        "xx203",
        "ChargeItem/ffs-1",
        "96413",
    )
    assert "ffs-1" not in json.dumps(items(out))  # the practice's FFS charge is left alone


def test_journal_survives_a_kill(tmp_path: Path) -> None:
    out = tmp_path / "out"
    entered = datetime(2025, 10, 5, 8, tzinfo=UTC)
    store = OfflineStore(open_source(export(tmp_path / "in")), out, SYSTEM, entered)
    item = {
        "resourceType": "ChargeItem",
        "status": "planned",
        "identifier": [{"system": SYSTEM, "value": "p.treatment-month.2025-09-01"}],
        "subject": {"reference": "Patient/p"},
        "occurrencePeriod": {"start": "2025-09-01"},
    }
    store.apply("p", Plan([Step(Action.CREATE, "p.treatment-month.2025-09-01", item)]))
    with (out / JOURNAL).open("a") as journal:
        journal.write('{"resourceType": "ChargeItem", "identif')  # cut short by the kill
    # a new run after the kill: the journal's item is known, the torn line ignored
    again = OfflineStore(open_source(tmp_path / "in"), out, SYSTEM, entered)
    assert set(again.items) == {"p.treatment-month.2025-09-01"}
    again.finish()
    assert not (out / JOURNAL).exists()
    assert len((out / "ChargeItem.ndjson").read_text().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ndjson", "x", "--month", "2025-09"], "--out"),
        (["--ndjson", "x", "--out", "y", "--month", "2025-13"], "--month"),
    ],
)
def test_bad_arguments_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert run(tmp_path, *args) == 2
    assert message in capsys.readouterr().err


def test_a_second_run_on_the_same_scope_exits_4(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, out = export(tmp_path / "in"), tmp_path / "out"
    with open_ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}") as ledger:
        ledger.start_run("capture", f"ndjson:{source.resolve()}|2025-09", "2025-09", {})
        assert run(tmp_path, "--ndjson", str(source), "--out", str(out), "--month", "2025-09") == 4
    assert "in progress" in capsys.readouterr().err.lower()


def test_fhir_resources_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fhir-resources", "--out", str(tmp_path)]) == 0
    written = sorted(p.name for p in tmp_path.glob("*.json"))
    # The CodeSystem, 11 ChargeItemDefinitions, the value measures' 8 Measures and a ValueSet
    # per other built-in pack with codes (EOM's at least).
    from cpoc_fhir.fhir.write.pack_resources import published_packs

    packs = len(published_packs())
    assert packs >= 1 and "ValueSet-pack-eom.json" in written
    assert len(written) == 20 + packs and "CodeSystem-cpoc.json" in written
    assert "Measure-cpoc-q1.json" in written and "Measure-cpoc-er.json" in written
    code_system = json.loads((tmp_path / "CodeSystem-cpoc.json").read_text())
    # the 11 CPOC codes, the two risk-corridor settlement codes (value-and-models §14.4) and
    # CPC+'s 9 practice codes (Track 1 tiers 1-4, Track 2 tiers 1-5)
    assert len(code_system["concept"]) == 22
    assert len(capsys.readouterr().out.splitlines()) == 20 + packs
