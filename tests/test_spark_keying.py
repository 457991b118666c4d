"""The Spark engine's pure parts, without Spark: keying lines by patient, the Parquet rows, the
per-partition evaluation and capture store, compared with the local engine."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from spark_support import (
    external_data,
    external_export,
    pipeline_groups,
    timelines_by_patient,
)

from cpoc_fhir.capture.catchup import window
from cpoc_fhir.capture.offline import OfflineStore
from cpoc_fhir.capture.run import CaptureMonth, CaptureRun, CaptureSummary
from cpoc_fhir.config import load_config
from cpoc_fhir.errors import InputError
from cpoc_fhir.fhir.read import open_source
from cpoc_fhir.fhir.write import to_json
from cpoc_fhir.knowledge import Knowledge
from cpoc_fhir.packs.cpoc.payer import PayerSchedule
from cpoc_fhir.service import Evaluator
from cpoc_fhir.spark import partition, schema
from cpoc_fhir.spark.keying import ALIAS, PATIENT, SHARED, WARNING, first_by_order, key_line
from cpoc_fhir.spark.session import local_path, parse_conf, session_conf, to_uri
from cpoc_fhir.synthetic import generate_practice

AS_OF = date(2026, 6, 30)
ENTERED = datetime(2025, 10, 1, 8, 0, tzinfo=UTC)


def kinds(text: str) -> list[tuple[str, str]]:
    return [(kind, key) for kind, key, _, _ in key_line(3, "X.ndjson", 120, text)]


def canonical(text: str) -> str:
    return json.dumps(json.loads(text), sort_keys=True)


def line(resource: dict[str, Any]) -> str:
    return json.dumps(resource, separators=(",", ":"))


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ({"resourceType": "Patient", "id": "p1"}, "Patient/p1"),
        ({"resourceType": "Condition", "id": "c", "subject": {"reference": "Patient/p1"}},
         "Patient/p1"),
        ({"resourceType": "AllergyIntolerance", "id": "a", "patient": {"reference": "Patient/p2"}},
         "Patient/p2"),
        ({"resourceType": "ResearchSubject", "id": "r",
          "individual": {"reference": "http://ehr/fhir/Patient/p3/_history/2"}}, "Patient/p3"),
        ({"resourceType": "Coverage", "id": "v", "beneficiary": {"reference": "Patient/p4"}},
         "Patient/p4"),
    ],
)  # fmt: skip
def test_a_resource_is_keyed_by_its_patient_compartment(
    resource: dict[str, Any], expected: str
) -> None:
    # Bulk Data patient compartment: subject / patient / individual / beneficiary, Patient.id;
    # an absolute reference with _history reduces to "Patient/x" as the local reader does.
    records = key_line(3, "X.ndjson", 120, line(resource))
    assert records == [(PATIENT, expected, (3, 120, 0), line(resource))]


def test_shared_resources_and_warnings() -> None:
    assert kinds(line({"resourceType": "Medication", "id": "m"})) == [(SHARED, "Medication/m")]
    assert kinds(line({"resourceType": "Organization", "id": "o"})) == [(SHARED, "Organization/o")]
    # a subject that is a Group: belongs to a patient that cannot be resolved → skipped
    group = {"resourceType": "Observation", "id": "g", "subject": {"reference": "Group/1"}}
    (record,) = key_line(0, "Observation.ndjson", 7, line(group))
    assert record[0] == WARNING
    assert record[3] == (
        "Observation.ndjson@7: Observation/g names no patient that can be resolved; skipped"
    )
    wrong = {"resourceType": "Observation", "id": "w", "subject": "Patient/1"}
    assert key_line(0, "O.ndjson", 0, line(wrong))[0][3].endswith(
        "subject is not a FHIR Reference; left out"
    )
    (bad,) = key_line(0, "O.ndjson", 9, '{"resourceType": ')
    assert bad[0] == WARNING and bad[3].startswith("O.ndjson@9: not JSON (")
    assert "Patient" not in bad[3]  # the message names no patient data
    assert key_line(0, "O.ndjson", 0, "[1, 2]")[0][3] == (
        "O.ndjson@0: not a FHIR resource; line skipped"
    )
    assert key_line(0, "O.ndjson", 0, "   ") == []
    # a shared resource without id gets a name from its position, with a warning
    unnamed = key_line(2, "M.ndjson", 40, line({"resourceType": "Medication"}))
    assert [(k, key) for k, key, _, _ in unnamed] == [
        (WARNING, ""),
        (SHARED, "Medication/no-id-2-40-0"),
    ]


def test_a_bundle_line_is_opened_with_its_urn_aliases() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": "urn:uuid:aaa", "resource": {"resourceType": "Patient", "id": "pa"}},
            {
                "fullUrl": "urn:uuid:bbb",
                "resource": {
                    "resourceType": "Condition",
                    "id": "cb",
                    "subject": {"reference": "urn:uuid:aaa"},
                },
            },
            {"fullUrl": "urn:uuid:ccc", "resource": {"resourceType": "Medication", "id": "mc"}},
        ],
    }
    records = key_line(1, "B.ndjson", 0, line(bundle))
    got = [(kind, key, order) for kind, key, order, _ in records]
    # aliases first (sorted by fullUrl), then the entries in order, numbered from 1
    assert got == [
        (ALIAS, "urn:uuid:aaa", (1, 0, 0)),
        (ALIAS, "urn:uuid:bbb", (1, 0, 0)),
        (ALIAS, "urn:uuid:ccc", (1, 0, 0)),
        (PATIENT, "Patient/pa", (1, 0, 1)),
        (PATIENT, "Patient/pa", (1, 0, 2)),  # the urn:uuid subject resolved via the alias
        (SHARED, "Medication/mc", (1, 0, 3)),
    ]
    assert records[0][3] == "Patient/pa"


@given(
    pid=st.from_regex(r"[A-Za-z0-9\-.]{1,64}", fullmatch=True),
    kind=st.sampled_from(["Condition", "Encounter", "MedicationRequest", "Procedure"]),
    offset=st.integers(0, 2**40),
)
def test_any_fhir_id_is_keyed_to_its_patient(pid: str, kind: str, offset: int) -> None:
    resource = {"resourceType": kind, "id": "x", "subject": {"reference": f"Patient/{pid}"}}
    ((k, key, order, text),) = key_line(5, "f.ndjson", offset, line(resource))
    assert (k, key, order) == (PATIENT, f"Patient/{pid}", (5, offset, 0))
    assert json.loads(text) == resource


def test_the_first_copy_of_a_shared_resource_wins() -> None:
    early, late = ((0, 10, 0), "a"), ((1, 0, 0), "b")
    assert first_by_order(early, late) == early
    assert first_by_order(late, early) == early


def test_line_rows_follow_the_documented_schema() -> None:
    timeline = {
        "patient": "Patient/p",
        "asOf": "2026-06-30",
        "lines": [
            {"code": "xx100", "component": "new-patient", "level": None, "month": None,
             "start": "2025-03-10", "end": "2025-03-10", "status": "final", "amount": "1000.00",
             "explanation": ["why"], "evidence": ["Encounter/e"], "warnings": []},
            {"code": "EOM-MEOS", "component": "meos", "level": 2, "month": 1,
             "start": "2025-04-01", "end": "2025-04-30", "status": "provisional",
             "amount": "70.00", "explanation": [], "evidence": [], "warnings": ["w"],
             "score": {"total": 4}, "model": "eom", "episode": 1},
        ],
        "warnings": ["record warning"],
    }  # fmt: skip
    rows = schema.line_rows(timeline)
    assert [dict(zip(schema.LINE_COLUMNS, r, strict=True))["model"] for r in rows] == [
        "cpoc",
        "eom",
    ]
    second = dict(zip(schema.LINE_COLUMNS, rows[1], strict=True))
    assert second["episode"] == 1 and second["score_total"] == 4 and second["line"] == 1
    assert second["start"] == date(2025, 4, 1) and second["amount"] == "70.00"
    assert json.loads(second["line_json"]) == timeline["lines"][1]
    text = json.dumps(timeline)
    assert schema.patient_row(timeline, text) == (
        "Patient/p", date(2026, 6, 30), 2, None, ["record warning"], text,
    )  # fmt: skip


def test_a_patients_resources_are_put_back_in_read_order() -> None:
    cond = {"resourceType": "Condition", "id": "c", "subject": {"reference": "Patient/p"}}
    changed = {**cond, "note": [{"text": "x"}]}
    items = [
        (partition.OWN, (1, 0, 0), json.dumps(changed)),  # read second (file 1)
        (partition.EXISTING, (9, 0, 0), '{"resourceType": "ChargeItem", "x": 1.10}'),
        (partition.OWN, (0, 50, 0), json.dumps(cond)),  # read first (file 0)
    ]
    resources, existing = partition.patient_resources("Patient/p", items, {}, {})
    assert resources.resources == [cond]  # the first copy kept, as dedupe does locally
    assert resources.warnings == [
        "Condition/c: appears more than once with different content; the first is used"
    ]
    assert existing == [{"resourceType": "ChargeItem", "x": Decimal("1.10")}]


def test_session_settings() -> None:
    assert parse_conf(["spark.executor.memory=4g", "a.b= x=y"]) == {
        "spark.executor.memory": "4g",
        "a.b": " x=y",
    }
    with pytest.raises(InputError, match="KEY=VALUE"):
        parse_conf(["novalue"])
    local = session_conf("local[2]", {"spark.ui.showConsoleProgress": "true"})
    assert local["spark.ui.showConsoleProgress"] == "true"  # the user's setting wins
    assert str(Path(__file__).resolve().parents[1]) in local["spark.executorEnv.PYTHONPATH"]
    assert "spark.executorEnv.PYTHONPATH" not in session_conf("yarn", {})
    assert to_uri(Path("s3a://bucket/export")) == "s3a://bucket/export"  # Path's "s3a:/…"
    assert to_uri("abfss://c@a.dfs.core.windows.net/x") == "abfss://c@a.dfs.core.windows.net/x"
    assert to_uri("/data/export") == "file:///data/export"
    assert local_path("file:///data/x") == Path("/data/x")
    assert local_path("gs://b/x") is None


@pytest.fixture(scope="module")
def evaluator(knowledge: Knowledge, payer: PayerSchedule) -> Evaluator:
    config = load_config(None, environ={})
    return Evaluator(knowledge, config.rules, payer, models=config.models)


@pytest.fixture(scope="module")
def practice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("practice") / "export"
    generate_practice(folder, 40, claims=False)
    return folder


def local_timelines(evaluator: Evaluator, folder: Path) -> dict[str, str]:
    return {
        t.patient_ref: json.dumps(t.as_json())
        for t in evaluator.timelines(open_source(folder), AS_OF)
    }


def test_the_pipeline_in_python_equals_the_local_engine(
    evaluator: Evaluator, practice: Path
) -> None:
    groups, shared, aliases, warnings = pipeline_groups(practice)
    spark_like = timelines_by_patient(
        list(partition.evaluate_groups(evaluator, groups, AS_OF, shared, aliases))
    )
    local = local_timelines(evaluator, practice)
    assert len(local) == 40 and warnings == []
    assert spark_like == local


def test_the_pipeline_in_python_on_the_external_data(evaluator: Evaluator, tmp_path: Path) -> None:
    folder = external_export(external_data(), tmp_path / "external")
    groups, shared, aliases, _ = pipeline_groups(folder)
    assert aliases  # the Synthea Bundles' urn:uuid fullUrls
    spark_like = timelines_by_patient(
        list(partition.evaluate_groups(evaluator, groups, AS_OF, shared, aliases))
    )
    local = local_timelines(evaluator, folder)
    assert len(local) == 8  # 1 Synthea bulk + 3 clinosim + 4 Synthea Bundles
    assert spark_like == local


def test_capture_per_partition_equals_offline_capture(
    evaluator: Evaluator, practice: Path, tmp_path: Path
) -> None:
    config = load_config(None, environ={})
    month = CaptureMonth.parse("2025-09")
    months = window(month, None, None)
    system = config.publish.practice_identifier_system
    store = OfflineStore(open_source(practice), tmp_path / "offline", system, ENTERED)
    CaptureRun(evaluator, config.publish, store, month, month.last, ENTERED).run(
        store.patient_ids()
    )
    offline = sorted(canonical(to_json(i)) for i in store.items.values())
    assert offline  # the month bills lines

    job = partition.CaptureJob(b"", config.publish, months, month.last, ENTERED)
    groups, shared, aliases, _ = pipeline_groups(practice)
    out = list(partition.capture_groups(evaluator, groups, job, shared, aliases))
    items = sorted(canonical(t) for k, t in out if k == "item")
    assert items == offline
    (summary,) = [s for k, s in out if k == "summary"]
    assert summary.patients == 40 and summary.writes["created"] == len(offline)

    # a second run planned against the first one's items changes nothing
    again_groups = [
        (key, [*group, *[(partition.EXISTING, (99, n, 0), t) for n, t in enumerate(
            t for k, t in out if k == "item" and json.loads(t)["subject"]["reference"] == key
        )]])
        for key, group in groups
    ]  # fmt: skip
    again = list(partition.capture_groups(evaluator, again_groups, job, shared, aliases))
    assert sorted(canonical(t) for k, t in again if k == "item") == offline
    (second,) = [s for k, s in again if k == "summary"]
    assert second.writes == {"unchanged": len(offline)}


def test_summaries_merge() -> None:
    a, b = CaptureSummary("2025-09"), CaptureSummary("2025-09")
    a.patients, b.patients = 2, 3
    a.lines_by_code["xx301"] = 1
    b.lines_by_code["xx301"] = 2
    a.amount_by_code["xx301"] = Decimal("20.00")
    b.amount_by_code["xx301"] = Decimal("40.00")
    b.errors.append("Patient/x: failed")
    total = partition.merge(partition.merge(CaptureSummary("2025-09"), a), b)
    assert total.patients == 5 and total.lines_by_code["xx301"] == 3
    assert total.amount_by_code == {"xx301": Decimal("60.00")} and total.errors == [
        "Patient/x: failed"
    ]


def test_cli_refuses_spark_options_out_of_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cpoc_fhir.cli import main

    store = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    assert main(["timeline", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err  # --out also takes the csv/xlsx export's file
    assert "--out: is for --engine spark (Parquet) or --format csv|xlsx (a file)" in err
    capture = ["capture", "--month", "2025-09", "--store", store, "--no-progress"]
    code = main([*capture, "--fhir-base", "http://ehr.example/fhir", "--engine", "spark"])
    assert code == 2
    # a server capture on Spark needs the export to evaluate: --bulk or the user's NDJSON
    assert "--engine spark --fhir-base: give --bulk or --ndjson EXPORT (one)" in (
        capsys.readouterr().err
    )
    code = main([*capture, "--ndjson", str(tmp_path), "--out", str(tmp_path / "o"),
                 "--existing", str(tmp_path)])  # fmt: skip
    assert code == 2
    assert "--existing: is for --engine spark" in capsys.readouterr().err
    code = main(["timeline", str(tmp_path), "--engine", "spark", "--spark-conf", "novalue",
                 "--out", str(tmp_path / "o")])  # fmt: skip
    assert code == 2
    assert "--spark-conf: expected KEY=VALUE, not 'novalue'" in capsys.readouterr().err
