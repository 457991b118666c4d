"""Bulk Data ``$export`` as a source (issue 16 item 2; FHIR Bulk Data Access IG 2.0).

A scripted werkzeug server (tests/bulk_fake.py) checks the protocol's edges: the kick-off's
headers and parameters, 429 and Retry-After (seconds and HTTP date) while polling, an error
manifest, a 5xx during a download, a token only where the manifest asks for it, the DELETE on
timeout and Ctrl-C, and the fallback to paged searches. The local mirror's incremental merge
is checked against a model with hypothesis. sekmet-fhir (a real server with $export) checks
the whole path: the exported practice's timeline equals the paged searches' one, line for line,
an incremental month-end equals a fresh full export, and ``capture --bulk`` writes the same
ChargeItems as the paged capture.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from bulk_fake import FakeBulk, cut, fhir, ndjson, outcome, running_fake
from hypothesis import given, settings
from hypothesis import strategies as st

from cpoc_fhir.fhir.auth import BearerToken
from cpoc_fhir.fhir.bulk.export import (
    BulkExporter,
    BulkExportError,
    BulkExportTimeout,
    ExportRequest,
    declares_export,
    parse_manifest,
)
from cpoc_fhir.fhir.bulk.mirror import Mirror
from cpoc_fhir.fhir.bulk.options import records_folder
from cpoc_fhir.fhir.bulk.source import BulkSettings, bulk_records, export_types
from cpoc_fhir.fhir.client import FhirClient
from cpoc_fhir.fhir.record_queries import RECORD_QUERIES

Resource = dict[str, Any]
PATIENT = {"resourceType": "Patient", "id": "p1"}
EPISODE = {
    "resourceType": "EpisodeOfCare",
    "id": "e1",
    "status": "active",
    "patient": {"reference": "Patient/p1"},
}
CONDITION = {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"}}
# 2025-10-01T00:00:00Z as a POSIX time: the fixed "now" of the HTTP-date Retry-After.
NOW = datetime(2025, 10, 1, tzinfo=UTC).timestamp()


@pytest.fixture
def fake() -> Iterator[FakeBulk]:
    with running_fake() as server:
        yield server


def exporter(
    fake: FakeBulk, sleeps: list[float], token: str | None = None, **kw: Any
) -> BulkExporter:
    client = FhirClient(
        fake.base,
        auth=BearerToken(token) if token else None,
        sleep=sleeps.append,
        clock=lambda: NOW,
        jitter=lambda: 1.0,
        max_retries=kw.pop("max_retries", 4),
    )
    return BulkExporter(client.transport, sleep=sleeps.append, wall_clock=lambda: NOW, **kw)


# --- the protocol ---------------------------------------------------------------------------


def test_kick_off_polls_with_retry_after_and_downloads(fake: FakeBulk, tmp_path: Path) -> None:
    fake.status = [
        fhir(429, outcome("error", "slow down"), **{"Retry-After": "2"}),
        # an HTTP date 5 s after NOW: waited as 5 s
        (
            202,
            {
                "X-Progress": "50%",
                "Retry-After": format_datetime(datetime.fromtimestamp(NOW + 5, UTC), usegmt=True),
            },
            b"",
        ),
        fake.manifest({"p.ndjson": "Patient", "c.ndjson": "Condition"}),
    ]
    fake.files = {"p.ndjson": [ndjson([PATIENT])], "c.ndjson": [ndjson([CONDITION])]}
    sleeps: list[float] = []
    told: list[str] = []
    manifest, paths = exporter(fake, sleeps, notice=told.append).export(
        ExportRequest(None, export_types()), tmp_path
    )
    # The 429 is the transport's retry after Retry-After: 2; the 202 asks for 5 s more.
    assert sleeps == [2.0, 5.0]
    assert told == ["bulk export in progress: 50%"]
    [kick] = fake.requests("GET", "/fhir/Patient/$export")
    assert kick.headers["Prefer"] == "respond-async"
    assert kick.headers["Accept"] == "application/fhir+json"
    assert kick.query["_type"] == ",".join(export_types())
    assert kick.query["_outputFormat"] == "application/fhir+ndjson"
    assert "_since" not in kick.query
    assert [p.name for p in paths] == ["Patient.0001.ndjson", "Condition.0002.ndjson"]
    assert json.loads(paths[1].read_text()) == CONDITION
    assert manifest.transaction_time == "2025-10-01T00:00:00Z"
    assert len(fake.requests("DELETE", "/status/")) == 1  # done: the server may drop the files


def test_export_types_are_the_record_searches_types() -> None:
    searched = {q.resource_type for q in RECORD_QUERIES}
    assert set(export_types()) == searched | {"Patient", "Medication"}
    assert len(export_types()) == len(set(export_types()))


def test_group_kick_off_sends_since(fake: FakeBulk, tmp_path: Path) -> None:
    fake.status = [fake.manifest({})]
    exporter(fake, []).export(ExportRequest("g1", ["Patient"], "2025-09-01T00:00:00Z"), tmp_path)
    [kick] = fake.requests("GET", "/fhir/Group/g1/$export")
    assert (kick.query["_since"], kick.query["_type"]) == ("2025-09-01T00:00:00Z", "Patient")


def test_an_error_manifest_fails_and_warnings_are_told(fake: FakeBulk, tmp_path: Path) -> None:
    errors = [{"type": "OperationOutcome", "url": fake.file_url("err.ndjson")}]
    fake.status = [fake.manifest({"p.ndjson": "Patient"}, error=errors)]
    fake.files = {
        "p.ndjson": [ndjson([PATIENT])],
        "err.ndjson": [
            ndjson(
                [
                    outcome("warning", "skipped a Basic"),
                    outcome("error", "Observation/o9 could not be exported"),
                ]
            )
        ],
    }
    told: list[str] = []
    with pytest.raises(BulkExportError) as failed:
        exporter(fake, [], notice=told.append).export(ExportRequest(None, ["Patient"]), tmp_path)
    assert failed.value.step == "error file"
    assert "Observation/o9 could not be exported" in str(failed.value)
    assert told == ["bulk export: skipped a Basic"]


def test_a_5xx_during_download_is_retried(fake: FakeBulk, tmp_path: Path) -> None:
    fake.status = [fake.manifest({"p.ndjson": "Patient"})]
    fake.files = {"p.ndjson": [fhir(503, outcome("error", "busy")), ndjson([PATIENT])]}
    sleeps: list[float] = []
    _manifest, [path] = exporter(fake, sleeps).export(ExportRequest(None, ["Patient"]), tmp_path)
    assert json.loads(path.read_text()) == PATIENT
    assert sleeps == [0.5]  # the transport's first backoff (0.5 s × 2^0, jitter 1.0)
    assert len(fake.requests("GET", "/files/p.ndjson")) == 2


def test_a_download_cut_off_is_fetched_again(fake: FakeBulk, tmp_path: Path) -> None:
    fake.status = [fake.manifest({"p.ndjson": "Patient"})]
    fake.files = {"p.ndjson": [cut(ndjson([PATIENT, PATIENT])), ndjson([PATIENT])]}
    _manifest, [path] = exporter(fake, []).export(ExportRequest(None, ["Patient"]), tmp_path)
    assert [json.loads(x) for x in path.read_text().splitlines()] == [PATIENT]
    assert len(fake.requests("GET", "/files/p.ndjson")) == 2
    fake.files = {"p.ndjson": [cut(ndjson([PATIENT, PATIENT]))]}  # every time
    with pytest.raises(BulkExportError, match="Patient file cut off"):
        exporter(fake, []).export(ExportRequest(None, ["Patient"]), tmp_path / "again")
    assert len(fake.requests("GET", "/files/p.ndjson")) == 2 + 3  # DOWNLOAD_ATTEMPTS
    assert list((tmp_path / "again").iterdir()) == []


def test_a_download_that_keeps_failing_names_the_step_and_cancels(
    fake: FakeBulk, tmp_path: Path
) -> None:
    fake.status = [fake.manifest({"o.ndjson": "Observation"})]
    fake.files = {"o.ndjson": [fhir(500, outcome("error", "disk on fire"))]}
    with pytest.raises(BulkExportError) as failed:
        exporter(fake, [], max_retries=1).export(ExportRequest(None, ["Observation"]), tmp_path)
    assert failed.value.step == "download"
    assert "disk on fire" in str(failed.value) and "Observation" in str(failed.value)
    assert len(fake.requests("DELETE", "/status/")) == 1
    assert list(tmp_path.iterdir()) == []  # no half file left


def test_status_failure_and_kick_off_refusal_are_errors(fake: FakeBulk, tmp_path: Path) -> None:
    fake.status = [fhir(500, outcome("fatal", "export job crashed"))]
    with pytest.raises(BulkExportError) as failed:
        exporter(fake, [], max_retries=0).export(ExportRequest(None, ["Patient"]), tmp_path)
    assert failed.value.step == "status" and "export job crashed" in str(failed.value)
    fake.kickoff = [fhir(400, outcome("error", "_type Foo is not supported"))]
    with pytest.raises(BulkExportError) as refused:
        exporter(fake, []).kick_off(ExportRequest(None, ["Foo"]))
    assert refused.value.step == "kick-off" and "_type Foo" in str(refused.value)
    assert type(refused.value) is BulkExportError  # not "no $export": no fallback


def test_timeout_cancels_with_delete(fake: FakeBulk, tmp_path: Path) -> None:
    fake.status = [(202, {"Retry-After": "10"}, b"")]
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    client = FhirClient(fake.base)
    slow = BulkExporter(client.transport, timeout=25, sleep=sleep, clock=lambda: now[0])
    with pytest.raises(BulkExportTimeout):
        slow.export(ExportRequest(None, ["Patient"]), tmp_path)
    # polls at 0, 10 and 20 s; at 20 s only 5 s are left for a 10 s wait: cancelled
    assert now[0] == 20.0
    assert len(fake.requests("GET", "/status/")) == 3
    assert len(fake.requests("DELETE", "/status/")) == 1


def test_ctrl_c_cancels_with_delete(fake: FakeBulk, tmp_path: Path) -> None:
    fake.status = [(202, {"Retry-After": "1"}, b"")]

    def interrupted(_seconds: float) -> None:
        raise KeyboardInterrupt

    client = FhirClient(fake.base)
    with pytest.raises(KeyboardInterrupt):
        BulkExporter(client.transport, sleep=interrupted).export(
            ExportRequest(None, ["Patient"]), tmp_path
        )
    assert len(fake.requests("DELETE", "/status/")) == 1


def test_token_only_where_the_manifest_asks(fake: FakeBulk, tmp_path: Path) -> None:
    fake.files = {"p.ndjson": [ndjson([PATIENT])]}
    for required, expected in ((True, "Bearer t0k"), (False, None)):
        fake.status = [fake.manifest({"p.ndjson": "Patient"}, token=required)]
        exporter(fake, [], token="t0k").export(ExportRequest(None, ["Patient"]), tmp_path)
        download = fake.requests("GET", "/files/")[-1]
        assert download.headers.get("Authorization") == expected
        assert fake.requests("GET", "/fhir/Patient/$export")[-1].headers["Authorization"] == (
            "Bearer t0k"
        )


def test_no_token_to_another_host(fake: FakeBulk, tmp_path: Path) -> None:
    elsewhere = fake.file_url("p.ndjson").replace("127.0.0.1", "localhost")
    body = {
        "transactionTime": "t",
        "requiresAccessToken": True,
        "output": [{"type": "Patient", "url": elsewhere}],
    }
    fake.status = [(200, {}, json.dumps(body).encode())]
    with pytest.raises(BulkExportError, match="another host"):
        exporter(fake, [], token="t0k").export(ExportRequest(None, ["Patient"]), tmp_path)
    assert fake.requests("GET", "/files/") == []


def test_manifest_is_checked() -> None:
    with pytest.raises(BulkExportError, match="transactionTime"):
        parse_manifest({"requiresAccessToken": True, "output": []})
    with pytest.raises(BulkExportError, match="requiresAccessToken"):
        parse_manifest({"transactionTime": "t", "output": []})
    with pytest.raises(BulkExportError, match="no url"):
        parse_manifest({"transactionTime": "t", "requiresAccessToken": False, "output": [{}]})


def test_declares_export() -> None:
    assert declares_export({"rest": [{"resource": [{"operation": [{"name": "export"}]}]}]})
    assert declares_export({"rest": [{"operation": [{"name": "$export"}]}]})
    assert declares_export({"rest": [{"operation": [{"name": "everything"}]}]}) is False
    assert declares_export({"rest": [{"resource": [{"type": "Patient"}]}]}) is None


# --- the fallback and the source ------------------------------------------------------------


def test_no_export_falls_back_to_paged_searches(fake: FakeBulk, tmp_path: Path) -> None:
    fake.capabilities = {"resourceType": "CapabilityStatement", "rest": [{"mode": "server"}]}
    fake.kickoff = [fhir(404, outcome("error", "Unknown operation $export"))]
    fake.resources = [PATIENT, EPISODE, CONDITION]
    told: list[str] = []
    with FhirClient(fake.base) as client:
        result = bulk_records(client, BulkSettings(), tmp_path, told.append)
    assert result.mode == "paged searches"
    assert told == [
        "the FHIR server has no $export (404: Unknown operation $export): using paged searches"
    ]
    lines = {p.name: p.read_text().splitlines() for p in result.folder.glob("*.ndjson")}
    assert {k: [json.loads(x) for x in v] for k, v in lines.items()} == {
        "Patient.ndjson": [PATIENT],
        "EpisodeOfCare.ndjson": [EPISODE],
        "Condition.ndjson": [CONDITION],
    }


def test_capabilities_without_export_skip_the_kick_off(fake: FakeBulk, tmp_path: Path) -> None:
    fake.capabilities = {
        "resourceType": "CapabilityStatement",
        "rest": [{"resource": [{"type": "Patient", "operation": [{"name": "everything"}]}]}],
    }
    fake.resources = [PATIENT, EPISODE]
    told: list[str] = []
    with FhirClient(fake.base) as client:
        result = bulk_records(client, BulkSettings(), tmp_path, told.append)
    assert result.mode == "paged searches"
    assert "lists no $export" in told[0]
    assert fake.requests("GET", "/fhir/Patient/$export") == []


def test_referenced_medications_are_read_after_the_export(fake: FakeBulk, tmp_path: Path) -> None:
    request = {
        "resourceType": "MedicationRequest",
        "id": "mr1",
        "subject": {"reference": "Patient/p1"},
        "medicationReference": {"reference": "Medication/m1"},
    }
    medication = {"resourceType": "Medication", "id": "m1"}
    fake.status = [fake.manifest({"p.ndjson": "Patient", "mr.ndjson": "MedicationRequest"})]
    fake.files = {"p.ndjson": [ndjson([PATIENT])], "mr.ndjson": [ndjson([request])]}
    fake.resources = [medication]
    with FhirClient(fake.base) as client:
        result = bulk_records(client, BulkSettings(), tmp_path, lambda _t: None)
    assert result.mode == "full export"
    assert json.loads((result.folder / "Medication.ndjson").read_text()) == medication
    # (the other /fhir/Medication… searches are the omitted-type probes: _count=1)
    [search] = [s for s in fake.requests("GET", "/fhir/Medication") if "_id" in s.query]
    assert search.query["_id"] == "m1"


def test_incremental_export_unless_the_group_gained_members(fake: FakeBulk, tmp_path: Path) -> None:
    """Second run: ``_since`` = the first manifest's transactionTime; a third run, after the
    Group gained a member, exports in full (no ``_since``)."""
    group = {
        "resourceType": "Group",
        "id": "g1",
        "member": [{"entity": {"reference": "Patient/p1"}}],
    }
    fake.resources = [group]
    fake.status = [fake.manifest({"p.ndjson": "Patient"})]
    fake.files = {"p.ndjson": [ndjson([PATIENT])]}
    settings = BulkSettings(group="g1", mirror=tmp_path / "mirror")
    told: list[str] = []
    with FhirClient(fake.base) as client:
        modes = [bulk_records(client, settings, tmp_path, told.append).mode]
        modes.append(bulk_records(client, settings, tmp_path, told.append).mode)
        group["member"].append({"entity": {"reference": "Patient/p2"}})
        last = bulk_records(client, settings, tmp_path, told.append)
    assert [*modes, last.mode] == ["full export", "incremental export", "full export"]
    kicks = [k.query.get("_since") for k in fake.requests("GET", "/fhir/Group/g1/$export")]
    assert kicks == [None, "2025-10-01T00:00:00Z", None]
    assert "the Group has new members since the last export: exporting in full" in told
    assert last.members == ["p1", "p2"]


def _subject(rid: str, patient: str, status: str = "on-study") -> Resource:
    return {
        "resourceType": "ResearchSubject",
        "id": rid,
        "status": status,
        "individual": {"reference": f"Patient/{patient}"},
    }


def test_a_type_the_export_left_out_is_filled_by_paged_searches(
    fake: FakeBulk, tmp_path: Path
) -> None:
    """A Group export (member p1) that omits ResearchSubject although the server has some: the
    probe finds it, p1's record search fills it with a warning naming the type, the state
    records it; an incremental run fills it again (no probes), following the server's changes.
    The fake ignores ``individual`` as sekmet does, so p1's search also returns non-member p2's
    subject, which must stay out."""
    group = {
        "resourceType": "Group",
        "id": "g1",
        "member": [{"entity": {"reference": "Patient/p1"}}],
    }
    rs1, rs2, rs3 = _subject("rs1", "p1"), _subject("rs2", "p2"), _subject("rs3", "p1")
    fake.ignored = {"individual"}
    fake.resources = [group, PATIENT, CONDITION, rs1, rs2]
    fake.status = [fake.manifest({"p.ndjson": "Patient", "c.ndjson": "Condition"})]
    fake.files = {"p.ndjson": [ndjson([PATIENT])], "c.ndjson": [ndjson([CONDITION])]}
    settings = BulkSettings(group="g1", mirror=tmp_path / "mirror")
    mirror = Mirror(tmp_path / "mirror")
    warning = (
        "warning: the FHIR server's $export left out ResearchSubject although it has some: "
        "ResearchSubject read by paged searches instead (1 patients)"
    )

    def probes() -> list[str]:
        return [s.path for s in fake.seen if s.query == {"_count": "1"}]

    told: list[str] = []
    with FhirClient(fake.base) as client:
        first = bulk_records(client, settings, tmp_path, told.append)
        assert first.mode == "full export"
        assert told == [warning]  # Encounter etc.: probed, the server has none, no warning
        # Every record type without an exported file was probed once (not Patient, Medication).
        left = [t for t in export_types() if t not in ("Patient", "Condition", "Medication")]
        assert sorted(probes()) == sorted(f"/fhir/{t}" for t in left)
        assert list(mirror.resources("ResearchSubject")) == [rs1]
        # the members' probe (a Group export), then the member's record search
        filling = [
            s.query
            for s in fake.requests("GET", "/fhir/ResearchSubject")
            if "individual" in s.query
        ]
        assert filling == [
            {"individual": "Patient/p1", "_count": "1"},
            {"individual": "Patient/p1", "_count": "200"},
        ]
        assert json.loads((tmp_path / "mirror" / "state.json").read_text())["filled"] == [
            "ResearchSubject"
        ]
        # The month goes on: rs1 is deleted on the server, rs3 added.
        fake.resources = [group, PATIENT, CONDITION, rs2, rs3]
        told.clear()
        second = bulk_records(client, settings, tmp_path, told.append)
        assert second.mode == "incremental export"
        assert told == [warning]
        assert len(probes()) == len(left)  # no new probes: the state named the type
        assert list(mirror.resources("ResearchSubject")) == [rs3]
        # A state from before types were filled (no "filled") is probed again.
        state = json.loads((tmp_path / "mirror" / "state.json").read_text())
        assert state["filled"] == ["ResearchSubject"]
        (tmp_path / "mirror" / "state.json").write_text(
            json.dumps({k: v for k, v in state.items() if k != "filled"})
        )
        third = bulk_records(client, settings, tmp_path, told.append)
    assert third.mode == "incremental export"
    # ResearchSubject has a file now, so only the other left-out types are probed again.
    assert len(probes()) == 2 * len(left) - 1
    assert json.loads((tmp_path / "mirror" / "state.json").read_text())["filled"] == []


def test_a_group_export_fills_only_what_its_members_have(fake: FakeBulk, tmp_path: Path) -> None:
    """51 members: a non-member's QuestionnaireResponse makes the server-wide probe positive,
    but no member has one, so it is not filled (no warning, no per-member searches); member
    m50's ResearchSubject is found by the second batch of the members' probe (50 ids, then 1,
    joined by commas) and filled."""
    ids = [f"m{n}" for n in range(51)]
    members = [{"entity": {"reference": f"Patient/{i}"}} for i in ids]
    patients = [{"resourceType": "Patient", "id": i} for i in ids]
    answer = {"resourceType": "QuestionnaireResponse", "id": "q1"}
    answer["subject"] = {"reference": "Patient/outsider"}
    fake.resources = [{"resourceType": "Group", "id": "g1", "member": members}]
    fake.resources += [answer, _subject("rs50", "m50")]
    fake.status = [fake.manifest({"p.ndjson": "Patient"})]
    fake.files = {"p.ndjson": [ndjson(patients)]}
    told: list[str] = []
    with FhirClient(fake.base) as client:
        result = bulk_records(client, BulkSettings(group="g1"), tmp_path, told.append)
    assert told == [
        "warning: the FHIR server's $export left out ResearchSubject although it has some: "
        "ResearchSubject read by paged searches instead (51 patients)"
    ]
    assert [r["id"] for r in Mirror(tmp_path).resources("ResearchSubject")] == ["rs50"]
    assert not (result.folder / "QuestionnaireResponse.ndjson").exists()
    asked = [s.query for s in fake.requests("GET", "/fhir/QuestionnaireResponse")]
    # the server-wide probe, then the members' probe in two batches: no per-member search
    assert [q.get("patient", "").count(",") + 1 if "patient" in q else 0 for q in asked] == [
        0,
        50,
        1,
    ]
    probes = [s.query for s in fake.requests("GET", "/fhir/ResearchSubject")]
    assert [q.get("_count") for q in probes[:3]] == ["1", "1", "1"]
    assert probes[2]["individual"] == "Patient/m50"
    assert len(probes) == 3 + 51  # then each member's record search


def test_an_empty_export_is_a_folder_without_patients(fake: FakeBulk, tmp_path: Path) -> None:
    from cpoc_fhir.fhir.read import open_source

    fake.status = [fake.manifest({})]
    with FhirClient(fake.base) as client:
        result = bulk_records(client, BulkSettings(), tmp_path, lambda _t: None)
    assert list(open_source(result.folder).patients()) == []


def test_ctrl_c_in_the_cli_path_is_a_one_line_error(fake: FakeBulk, monkeypatch: Any) -> None:
    def interrupted(*_a: Any, **_k: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr("cpoc_fhir.fhir.bulk.options.bulk_records", interrupted)
    args = argparse.Namespace(group=None, bulk_dir=None, bulk_timeout=5.0, bulk_full=False)
    with (
        FhirClient(fake.base) as client,
        pytest.raises(BulkExportError, match="cancelled"),
        records_folder(client, args),
    ):
        pass


# --- the mirror -----------------------------------------------------------------------------


def _write(path: Path, resources: list[Resource]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in resources))
    return path


def test_merge_upserts_and_deletes(tmp_path: Path) -> None:
    mirror = Mirror(tmp_path / "m")
    (tmp_path / "d").mkdir()
    obs = [{"resourceType": "Observation", "id": str(i), "v": i} for i in range(3)]
    mirror.replace([_write(tmp_path / "d" / "Observation.0001.ndjson", obs)])
    deleted = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"request": {"method": "DELETE", "url": "Observation/0"}}],
    }
    changed = mirror.merge(
        [
            _write(tmp_path / "d" / "Observation.0002.ndjson", [{**obs[1], "v": 10}]),
            _write(tmp_path / "d" / "deleted.0001.ndjson.deleted", [deleted]),
        ]
    )
    # Observation/1 replaced, Observation/0 deleted, Observation/2 kept as it was.
    assert changed == 2
    assert sorted((r["id"], r["v"]) for r in mirror.resources("Observation")) == [
        ("1", 10),
        ("2", 2),
    ]


@settings(max_examples=40, deadline=None)
@given(
    first=st.dictionaries(st.sampled_from("abcdef"), st.integers(0, 9)),
    changes=st.dictionaries(st.sampled_from("abcdefgh"), st.integers(0, 9)),
    deletes=st.sets(st.sampled_from("abcdefgh")),
)
def test_merged_mirror_equals_the_full_snapshot(
    tmp_path_factory: pytest.TempPathFactory,
    first: dict[str, int],
    changes: dict[str, int],
    deletes: set[str],
) -> None:
    """Invariant: full export, then an incremental one (changed resources and deletions),
    leaves the mirror holding exactly the server's current state."""
    root = tmp_path_factory.mktemp("mirror")
    mirror = Mirror(root / "m")
    condition = "Condition"

    def res(rid: str, v: int) -> Resource:
        return {"resourceType": condition, "id": rid, "v": v}

    mirror.replace([_write(root / "Condition.1.ndjson", [res(k, v) for k, v in first.items()])])
    deletes -= set(changes)
    bundle = {
        "entry": [
            {"request": {"method": "DELETE", "url": f"{condition}/{k}"}} for k in sorted(deletes)
        ]
    }
    mirror.merge(
        [
            _write(root / "Condition.2.ndjson", [res(k, v) for k, v in changes.items()]),
            _write(root / "deleted.1.ndjson.deleted", [{"resourceType": "Bundle", **bundle}]),
        ]
    )
    expected = {k: v for k, v in {**first, **changes}.items() if k not in deletes}
    assert {r["id"]: r["v"] for r in mirror.resources(condition)} == expected


def test_state_only_for_the_same_server_group_and_types(tmp_path: Path) -> None:
    from cpoc_fhir.fhir.bulk.mirror import MirrorState

    mirror = Mirror(tmp_path)
    mirror.data.mkdir()
    mirror.save(MirrorState("http://a/fhir", "g", ["Patient", "Condition"], "2025-10-01T00:00Z"))
    assert mirror.since("http://a/fhir", "g", ["Condition", "Patient"]) is not None
    assert mirror.since("http://b/fhir", "g", ["Condition", "Patient"]) is None
    assert mirror.since("http://a/fhir", None, ["Condition", "Patient"]) is None
    assert mirror.since("http://a/fhir", "g", ["Condition"]) is None


# --- against sekmet-fhir: the whole path ------------------------------------------------------

# sekmet's $export builds a patient's compartment from its search index, which has no
# ResearchSubject parameters, so it exports no ResearchSubject (a real server's Patient
# compartment holds them, by ResearchSubject.individual): the export fills them by paged
# searches (fhir/bulk/fill.py), which is what makes the trial patient's lines match.
GROUP = {
    "resourceType": "Group",
    "id": "g1",
    "type": "person",
    "actual": True,
    "member": [
        {"entity": {"reference": "Patient/appendix-a-folfox"}},
        {"entity": {"reference": "Patient/oral-capecitabine-trial"}},
    ],
}
AS_OF = "2025-10-01"


def _examples() -> list[Resource]:
    from cpoc_fhir.cli import bundled_examples

    out: list[Resource] = []
    for path in sorted(bundled_examples().glob("*.json")):
        out += [e["resource"] for e in json.loads(path.read_text())["entry"]]
    return [*out, GROUP]


@pytest.fixture(scope="module")
def sekmet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from sekmet_server import running_sekmet

    from cds_hooks.embedded_fhir import load_resources

    with running_sekmet(tmp_path_factory.mktemp("sekmet-bulk")) as server:
        load_resources(server.base_url, _examples())
        yield server.base_url


def _cpoc(*argv: str) -> tuple[int, str, str]:
    from cpoc_fhir.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _timeline(base: str, *extra: str) -> tuple[list[Resource], str]:
    code, out, err = _cpoc(
        "timeline", "--fhir-base", base, "--as-of", AS_OF, "--format", "json", *extra
    )
    assert code == 0, err
    return json.loads(out)["patients"], err


def test_sekmet_export_timeline_equals_paged_searches(sekmet: str) -> None:
    exported, told = _timeline(sekmet, "--bulk")
    paged, _ = _timeline(sekmet)
    assert "records from a full export" in told
    assert [p["patient"] for p in exported] == [
        "Patient/appendix-a-folfox",
        "Patient/appendix-b-nsclc",
        "Patient/declined-treatment",
        "Patient/oral-capecitabine-trial",
    ]
    assert sum(len(p["lines"]) for p in exported) > 20  # a practice with lines to compare
    assert "left out ResearchSubject although it has some" in told
    assert _trial_lines(exported) > 0  # from the ResearchSubject the export left out
    assert exported == paged


def _trial_lines(patients: list[Resource]) -> int:
    return sum(1 for p in patients for line in p["lines"] if "clinical-trial" in json.dumps(line))


def test_sekmet_group_export(sekmet: str) -> None:
    exported, _ = _timeline(sekmet, "--bulk", "--group", "g1")
    paged, _ = _timeline(sekmet, "--group", "g1")
    assert [p["patient"] for p in exported] == [
        "Patient/appendix-a-folfox",
        "Patient/oral-capecitabine-trial",
    ]
    assert exported == paged


def test_sekmet_incremental_month_end_equals_a_full_export(tmp_path: Path) -> None:
    from sekmet_server import running_sekmet

    from cds_hooks.embedded_fhir import load_resources

    keep = ["--bulk", "--bulk-dir", str(tmp_path / "mirror")]
    with running_sekmet(tmp_path / "sekmet") as server:
        base = server.base_url
        load_resources(base, _examples())
        first, told = _timeline(base, *keep)
        assert "full export" in told
        state = json.loads((tmp_path / "mirror" / "state.json").read_text())
        assert state["filled"] == ["ResearchSubject"]
        # The month goes on: the trial patient's ECOG (0 on 2025-04-10) is corrected to 3.
        [ecog] = [r for r in _examples() if r["id"] == "oral-capecitabine-trial-observation-4"]
        requests.put(
            f"{base}/Observation/{ecog['id']}", json={**ecog, "valueInteger": 3}, timeout=30
        ).raise_for_status()
        second, told = _timeline(base, *keep)
        assert "incremental export since the last one (1 resources changed)" in told
        assert "ResearchSubject read by paged searches instead (4 patients)" in told
        fresh, _ = _timeline(base, "--bulk")
        assert second == fresh
        assert second != first  # the change reached the lines (the test can fail)
        later = json.loads((tmp_path / "mirror" / "state.json").read_text())
        assert later["transaction_time"] > state["transaction_time"]
        # --bulk-full ignores the state: a full export again
        _, told = _timeline(base, *keep, "--bulk-full")
        assert "full export" in told


def test_sekmet_capture_bulk_writes_what_the_paged_capture_writes(
    sekmet: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from capture_support import config_for, reference_of

    monkeypatch.chdir(tmp_path)
    written = {}
    for name, extra in (("bulk", ["--bulk"]), ("paged", [])):
        system = f"http://example.org/fhir/sid/cpoc-{name}"
        code, out, err = _cpoc(
            "--config", str(config_for(tmp_path, system)),
            "capture", "--fhir-base", sekmet, "--month", "2025-09", "--as-of", "2025-10-05",
            "--store", f"sqlite:///{tmp_path / name}.sqlite", "--no-progress", *extra,
        )  # fmt: skip
        assert code == 0, err
        assert "created" in out
        assert ("left out ResearchSubject" in err) == (name == "bulk")
        written[name] = reference_of(sekmet, system)
    assert len(written["bulk"]) > 5
    # The trial patient's September is a clinical-trial line (on study since 2025-04-20, the
    # ResearchSubject the export left out and the fill read).
    assert sum("clinical-trial" in item for item in written["bulk"].values()) == 1
    assert written["bulk"] == written["paged"]


def test_sekmet_capture_bulk_unknown_patient(sekmet: str, tmp_path: Path) -> None:
    code, _out, err = _cpoc(
        "capture", "--fhir-base", sekmet, "--month", "2025-09", "--bulk", "--dry-run",
        "--patient", "nobody", "--store", f"sqlite:///{tmp_path / 'l'}.sqlite", "--no-progress",
        "--conflicts", str(tmp_path / "c.csv"),
    )  # fmt: skip
    assert code == 2
    assert "no Patient/nobody in the export" in err


def test_bulk_options_need_a_server(tmp_path: Path) -> None:
    code, _out, err = _cpoc("timeline", "--bulk")
    assert code == 2 and "need --fhir-base" in err
    code, _out, err = _cpoc(
        "capture", "--ndjson", str(tmp_path), "--out", str(tmp_path), "--month", "2025-09",
        "--bulk",
    )  # fmt: skip
    assert code == 2 and "--bulk: needs --fhir-base URL" in err


def test_sekmet_export_with_the_backend_services_token(tmp_path: Path) -> None:
    """A server that wants SMART Backend Services for every request: the kick-off, the polls
    and the downloads (the manifest says requiresAccessToken) carry the client's token; without
    credentials the kick-off's 401 is one line naming the step."""
    from sekmet_server import running_sekmet

    from cpoc_fhir.fhir.auth import SmartBackendServices
    from cpoc_fhir.fhir.keys import generate_private_key_pem, public_jwks

    key = generate_private_key_pem("RS384")
    (tmp_path / "key.pem").write_bytes(key)
    client_id = "cpoc-bulk"
    registered = [
        {
            "client_id": client_id,
            "jwks": public_jwks(key, "bulk-key", "RS384"),
            "scopes": "system/*.cruds",
        }
    ]
    settings = {"server_auth": {"types": ["smart"], "smart_clients": registered}}
    with running_sekmet(tmp_path / "sekmet", settings) as server:
        auth = SmartBackendServices(
            server.base_url, client_id, key, "bulk-key", scope="system/*.cruds"
        )
        with FhirClient(server.base_url, auth=auth) as loader:
            for resource in _examples():
                loader.update(resource)
        smart = ["--smart-client-id", client_id, "--smart-key", str(tmp_path / "key.pem")]
        exported, told = _timeline(server.base_url, "--bulk", *smart, "--smart-kid", "bulk-key")
        assert "records from a full export" in told
        assert len(exported) == 4 and sum(len(p["lines"]) for p in exported) > 20
        code, _out, err = _cpoc("timeline", "--fhir-base", server.base_url, "--bulk")
        assert code == 2
        assert "bulk export, kick-off" in err and "401" in err


def test_capture_bulk_falls_back_to_paged_searches(
    fake: FakeBulk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``capture --bulk`` on a server without $export: the notice, then the same run from
    paged searches (a dry run: the fake server takes no writes)."""
    monkeypatch.chdir(tmp_path)
    fake.capabilities = {"resourceType": "CapabilityStatement", "rest": [{"mode": "server"}]}
    fake.kickoff = [fhir(501, outcome("error", "not implemented"))]
    fake.resources = [PATIENT, EPISODE, CONDITION]
    code, out, err = _cpoc(
        "capture", "--fhir-base", fake.base, "--month", "2025-09", "--bulk", "--dry-run",
        "--store", f"sqlite:///{tmp_path / 'l'}.sqlite", "--no-progress",
    )  # fmt: skip
    assert code == 0, err
    assert "has no $export (501: not implemented): using paged searches" in err
    assert "records from paged searches" in err
    assert [line.split() for line in out.splitlines() if "patients" in line] == [["patients", "1"]]
    assert len(fake.requests("GET", "/fhir/Patient/$export")) == 1
    assert fake.requests("GET", "/fhir/Condition")[0].query["patient"] == "p1"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_paged_reads_draw_a_bar_over_the_patients_on_a_terminal_only(sekmet: str) -> None:
    # Issue 17 item 6: `cpoc timeline --fhir-base` spends its time in the per-patient
    # searches (fhir/bulk/source._paged), before the timeline's own bar: that read has a bar
    # "reading" whose total is the patients to read (the four bundled examples with an
    # oncology episode); a pipe or --no-progress: stderr empty; stdout the same bytes.
    from cpoc_fhir.cli import main

    argv = ["timeline", "--fhir-base", sekmet, "--as-of", AS_OF, "--format", "json"]

    def run(err: io.StringIO, *extra: str) -> str:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            assert main([*argv, *extra]) == 0, err.getvalue()
        return out.getvalue()

    tty = _Tty()
    on_tty = run(tty)
    assert "reading:   0%" in tty.getvalue() and "0/4 [" in tty.getvalue()
    pipe = io.StringIO()
    assert run(pipe) == on_tty and pipe.getvalue() == ""
    quiet = _Tty()
    assert run(quiet, "--no-progress") == on_tty and quiet.getvalue() == ""
    assert len(json.loads(on_tty)["patients"]) == 4


def test_the_downloads_draw_a_bar_over_the_manifests_files(
    fake: FakeBulk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 17 item 6: once the export is ready, its files are downloaded under a bar
    # "downloading" whose total is the manifest's two files; quiet (--no-progress) or a pipe:
    # nothing on stderr. The files are the same either way.
    def run(stderr: io.StringIO, folder: Path, **kw: Any) -> list[str]:
        fake.status = [fake.manifest({"p.ndjson": "Patient", "c.ndjson": "Condition"})]
        fake.files = {"p.ndjson": [ndjson([PATIENT])], "c.ndjson": [ndjson([CONDITION])]}
        monkeypatch.setattr(sys, "stderr", stderr)
        _manifest, paths = exporter(fake, [], **kw).export(
            ExportRequest(None, export_types()), folder
        )
        return [p.read_text() for p in paths]

    tty = _Tty()
    drawn = run(tty, tmp_path / "tty")
    assert "downloading:   0%" in tty.getvalue() and "0/2 [" in tty.getvalue()
    pipe, quiet = io.StringIO(), _Tty()
    assert run(pipe, tmp_path / "pipe") == drawn and pipe.getvalue() == ""
    assert run(quiet, tmp_path / "quiet", quiet=True) == drawn and quiet.getvalue() == ""
