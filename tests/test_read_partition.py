"""fhir/read/partition.py: Bulk NDJSON partitioned by patient on disk, one partition held.

The export is built here: one file per resource type, as Bulk writes it, 12 patients with a
Condition, two Observations and a MedicationRequest each (referring to a shared Medication),
plus a transaction Bundle line, a line that is not JSON and an empty line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpoc_fhir.errors import InputError
from cpoc_fhir.fhir.read import NdjsonSource, RecordSource, open_source
from cpoc_fhir.fhir.read.partition import PartitionedNdjsonSource

PATIENTS = 12


def _write(path: Path, resources: list[Any], extra: bytes = b"") -> None:
    with path.open("wb") as out:
        for resource in resources:
            out.write(json.dumps(resource, separators=(",", ":")).encode() + b"\n")
        out.write(extra)


def _export(folder: Path, patients: int = PATIENTS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    ids = [f"p{n}" for n in range(patients)]
    _write(folder / "Patient.ndjson", [{"resourceType": "Patient", "id": i} for i in ids])
    conditions = [
        {"resourceType": "Condition", "id": f"{i}-c", "subject": {"reference": f"Patient/{i}"}}
        for i in ids
    ]
    # line 13: not JSON; line 14 empty; the warning must name Condition.ndjson:13
    _write(folder / "Condition.ndjson", conditions, b'{"resourceType": "Condition", "id"\n\n')
    observations = [
        {
            "resourceType": "Observation",
            "id": f"{i}-o{k}",
            "subject": {"reference": f"Patient/{i}"},
            "valueQuantity": {"value": 0.10},
        }
        for k in range(2)
        for i in ids
    ]
    _write(folder / "Observation.ndjson", observations)
    orders = [
        {
            "resourceType": "MedicationRequest",
            "id": f"{i}-mr",
            "subject": {"reference": f"Patient/{i}"},
            "medicationReference": {"reference": "Medication/m1"},
        }
        for i in ids
    ]
    _write(folder / "MedicationRequest.ndjson", orders)
    _write(folder / "Medication.ndjson", [{"resourceType": "Medication", "id": "m1"}])
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": "urn:uuid:bp", "resource": {"resourceType": "Patient", "id": "b1"}},
            {
                "fullUrl": "urn:uuid:bc",
                "resource": {
                    "resourceType": "Condition",
                    "id": "b1-c",
                    "subject": {"reference": "urn:uuid:bp"},
                },
            },
        ],
    }
    _write(folder / "Bundle.ndjson", [bundle])
    return folder


def _records(source: RecordSource, wanted: set[str] | None = None) -> dict[str, list[Any]]:
    """patient → their resources (as parsed, in the source's order)."""
    return {p.patient_ref: p.resources for p in source.patients(wanted)}


def test_same_records_and_warnings_as_the_index(tmp_path: Path) -> None:
    folder = _export(tmp_path / "bulk")
    plain = NdjsonSource(folder)
    # partitions of ~200 bytes: the ~4 KB export makes many partitions (at most 256)
    split = PartitionedNdjsonSource(folder, partition_bytes=200)
    expected, got = _records(plain), _records(split)
    assert len(split.partition_paths) > 4
    assert split.most_held == 1 and split.held == 0  # one partition in memory at a time
    assert got == expected  # every patient, every resource, each in file order
    assert len(got) == PATIENTS + 1  # the Bundle's patient too
    assert got["Patient/p3"][3]["valueQuantity"]["value"] == 0.10
    assert [r["id"] for r in got["Patient/b1"]] == ["b1", "b1-c"]  # entry order
    assert split.shared.keys() == plain.shared.keys() == {"Medication/m1"}
    assert split.warnings == plain.warnings
    assert split.warnings == [
        "Condition.ndjson:13: not JSON (Expecting ':' delimiter at column 35); line skipped"
    ]


def test_patient_ids_limit_the_output(tmp_path: Path) -> None:
    split = PartitionedNdjsonSource(_export(tmp_path / "bulk"), partition_bytes=500)
    assert sorted(_records(split, {"p1", "Patient/p7"})) == ["Patient/p1", "Patient/p7"]
    assert _records(split, {"nobody"}) == {}


def test_a_line_about_another_patient_is_left_out_with_a_warning(tmp_path: Path) -> None:
    folder = _export(tmp_path / "bulk", patients=2)
    # two "subject" keys: the byte search files the line under the first (p1); parsed, the
    # last one wins (p0), so the line is not about p1
    odd = b'{"resourceType":"Observation","id":"x","subject":{"reference":"Patient/p0"}}\n'
    (folder / "Observation.ndjson").write_bytes(
        odd.replace(b'"id"', b'"subject":{"reference":"Patient/p1"},"id"', 1)
    )
    split = PartitionedNdjsonSource(folder, partition_bytes=100)
    plain = NdjsonSource(folder)
    assert _records(split) == _records(plain)
    assert "Observation.ndjson:1: Observation/x is not about Patient/p1; skipped" in " ".join(
        split.warnings
    )
    assert split.warnings == plain.warnings


def test_open_source_partitions_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _export(tmp_path / "bulk")
    assert type(open_source(folder)) is not PartitionedNdjsonSource
    assert type(open_source(folder, partition_bytes=1 << 20)) is PartitionedNdjsonSource
    assert type(open_source(folder / "Observation.ndjson", 1 << 20)) is PartitionedNdjsonSource
    monkeypatch.setenv("CPOC_NDJSON_PARTITION_MB", "0.001")
    source = open_source(folder)
    # 0.001 MB = 1 048 bytes a partition: K = the export's size / 1 048, rounded up
    size = sum(p.stat().st_size for p in folder.iterdir())
    assert 5_000 < size < 7_000  # so K is 5 to 7
    assert isinstance(source, PartitionedNdjsonSource)
    assert len(source.partition_paths) == -(-size // 1048)
    (folder / "extra.json").write_text('{"resourceType": "Patient", "id": "j"}')
    assert type(open_source(folder)) is not PartitionedNdjsonSource  # .json files: the index
    monkeypatch.setenv("CPOC_NDJSON_PARTITION_MB", "lots")
    with pytest.raises(InputError, match="positive number of megabytes"):
        open_source(folder)


def test_partition_files_are_removed_on_close(tmp_path: Path) -> None:
    split = PartitionedNdjsonSource(_export(tmp_path / "bulk"), partition_bytes=1000)
    split.scan()
    assert all(p.exists() for p in split.partition_paths)
    split.close()
    assert not any(p.exists() for p in split.partition_paths)


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=1, max_value=6000))
def test_any_partition_size_gives_the_same_records(tmp_path_factory: Any, size: int) -> None:
    folder = _export(tmp_path_factory.mktemp("bulk"), patients=5)
    split = PartitionedNdjsonSource(folder, partition_bytes=size)
    assert _records(split) == _records(NdjsonSource(folder))
    assert split.most_held == 1


def test_a_partition_that_cannot_be_written_is_an_input_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from cpoc_fhir.fhir.read import partition

    def full(*_: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(partition.zlib, "crc32", full)  # the first write of a tagged line
    split = PartitionedNdjsonSource(_export(tmp_path / "bulk"), partition_bytes=1000)
    with pytest.raises(InputError) as raised:
        split.scan()
    assert raised.value.problem == "cannot be written (No space left on device)"


def test_a_large_export_is_partitioned_unless_told_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unset, CPOC_NDJSON_PARTITION_MB is "auto": NDJSON above AUTO_PARTITION_ABOVE bytes is
    read in partitions (the whole-export index grows with the export). The threshold is
    lowered here to the export's size less one byte, so the export is just above it."""
    from cpoc_fhir.fhir.read import sources

    folder = _export(tmp_path / "bulk")
    size = sum(p.stat().st_size for p in folder.iterdir())
    monkeypatch.delenv("CPOC_NDJSON_PARTITION_MB", raising=False)
    monkeypatch.setattr(sources, "AUTO_PARTITION_ABOVE", size)  # not above: the index
    assert not isinstance(open_source(folder), PartitionedNdjsonSource)
    monkeypatch.setattr(sources, "AUTO_PARTITION_ABOVE", size - 1)
    auto = open_source(folder)
    assert isinstance(auto, PartitionedNdjsonSource)
    assert auto.partition_bytes == sources.AUTO_PARTITION_BYTES
    assert _records(auto) == _records(NdjsonSource(folder))  # the same records either way
    monkeypatch.setenv("CPOC_NDJSON_PARTITION_MB", "auto")
    assert isinstance(open_source(folder), PartitionedNdjsonSource)
    monkeypatch.setenv("CPOC_NDJSON_PARTITION_MB", "off")
    assert not isinstance(open_source(folder), PartitionedNdjsonSource)
    (folder / "extra.json").write_text('{"resourceType": "Patient", "id": "j"}')
    monkeypatch.delenv("CPOC_NDJSON_PARTITION_MB")
    assert not isinstance(open_source(folder), PartitionedNdjsonSource)  # .json: the index
