"""The Spark engine on Spark ``local[2]``: the same lines as ``cpoc timeline`` and the same
ChargeItems as offline capture, on a generated practice and on the external data.

Skipped when pyspark or Java is missing, except under CI (CI=true), where that is a failure:
.ci/run installs both (scripts/ci-spark.sh). One SparkSession for the module.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from spark_support import external_data, external_export

from cpoc_fhir.capture.catchup import window
from cpoc_fhir.capture.offline import OfflineStore
from cpoc_fhir.capture.run import CaptureMonth, CaptureRun
from cpoc_fhir.cli import main
from cpoc_fhir.config import load_config
from cpoc_fhir.errors import InputError
from cpoc_fhir.fhir.read import open_source
from cpoc_fhir.fhir.write import to_json
from cpoc_fhir.knowledge import Knowledge
from cpoc_fhir.packs.cpoc.payer import PayerSchedule
from cpoc_fhir.service import Evaluator
from cpoc_fhir.synthetic import generate_practice

# py4j leaves its gateway sockets to the garbage collector: a ResourceWarning, not a fault.
pytestmark = pytest.mark.filterwarnings(
    "ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning"
)
AS_OF = date(2026, 6, 30)
ENTERED = datetime(2025, 10, 1, 8, 0, tzinfo=UTC)


def _missing() -> str | None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (scripts/setup --spark)"
    java_home = os.environ.get("JAVA_HOME")
    if shutil.which("java") is None and not (java_home and Path(java_home, "bin", "java").exists()):
        return "java is not installed (openjdk-17-jre-headless)"
    return None


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    missing = _missing()
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the Spark tests: {missing}")
        pytest.skip(missing)
    from cpoc_fhir.spark.session import spark_session

    session = spark_session(
        "local[2]",
        {
            "spark.default.parallelism": "2",
            "spark.sql.shuffle.partitions": "2",
            "spark.driver.memory": "1g",
        },
    )
    yield session
    session.stop()


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
    source = open_source(folder)
    return {t.patient_ref: json.dumps(t.as_json()) for t in evaluator.timelines(source, AS_OF)}


def parquet_timelines(spark: Any, out: Path) -> dict[str, str]:
    rows = spark.read.parquet(str(out / "patients")).collect()
    return {row.patient: row.timeline_json for row in rows}


def test_cli_timeline_on_spark_equals_the_local_engine(
    spark: Any, evaluator: Evaluator, practice: Path, tmp_path: Path, capsys: Any
) -> None:
    out = tmp_path / "lines"
    code = main(
        ["timeline", str(practice), "--engine", "spark", "--master", "local[2]",
         "--out", str(out), "--as-of", AS_OF.isoformat()]
    )  # fmt: skip
    assert code == 0
    local = local_timelines(evaluator, practice)
    assert len(local) == 40
    assert parquet_timelines(spark, out) == local  # the same JSON per patient
    lines = spark.read.parquet(str(out / "lines"))
    total = sum(len(json.loads(t)["lines"]) for t in local.values())
    assert lines.count() == total > 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"40 patients, {total} lines as of 2026-06-30\n")
    # each row's line_json is the local engine's line at the row's position
    first = lines.orderBy("patient", "line").first()
    assert json.loads(first.line_json) == json.loads(local[first.patient])["lines"][first.line]
    assert first.amount == json.loads(first.line_json)["amount"]  # a decimal string


def test_spark_timeline_on_the_external_data(
    spark: Any, evaluator: Evaluator, tmp_path: Path
) -> None:
    from cpoc_fhir.spark import job
    from cpoc_fhir.spark.partition import EvaluatorSpec

    folder = external_export(external_data(), tmp_path / "external")
    config = load_config(None, environ={})
    spec = EvaluatorSpec(config.rules, evaluator.payer, config.models)
    result = job.run_timelines(spark, folder, tmp_path / "out", spec, AS_OF)
    local = local_timelines(evaluator, folder)
    assert result.patients == len(local) == 8
    assert parquet_timelines(spark, tmp_path / "out") == local


def spark_items(folder: Path) -> list[str]:
    return sorted(
        canonical(line)
        for path in sorted(folder.glob("*.ndjson"))
        for line in path.read_text().splitlines()
        if line
    )


def canonical(text: str) -> str:
    return json.dumps(json.loads(text), sort_keys=True)


def test_spark_capture_equals_offline_capture_and_runs_once(
    spark: Any, evaluator: Evaluator, practice: Path, tmp_path: Path
) -> None:
    from cpoc_fhir.spark import job
    from cpoc_fhir.spark.partition import CaptureJob, EvaluatorSpec

    config = load_config(None, environ={})
    month = CaptureMonth.parse("2025-09")
    system = config.publish.practice_identifier_system
    store = OfflineStore(open_source(practice), tmp_path / "offline", system, ENTERED)
    CaptureRun(evaluator, config.publish, store, month, month.last, ENTERED).run(
        store.patient_ids()
    )
    offline = sorted(canonical(to_json(item)) for item in store.items.values())
    assert offline

    spec = job.pack_spec(EvaluatorSpec(config.rules, evaluator.payer, config.models))
    capture = CaptureJob(spec, config.publish, window(month, None, None), month.last, ENTERED)
    first = job.run_capture(spark, practice, tmp_path / "run1", capture)
    assert first.files and all(f.endswith(".ndjson") for f in first.files)
    assert spark_items(tmp_path / "run1" / "ChargeItem") == offline
    assert first.summary.patients == 40
    assert first.summary.writes == {"created": len(offline)}

    # planned against the first run's output: nothing changes, the same items are written
    second = job.run_capture(
        spark, practice, tmp_path / "run2", capture, existing=tmp_path / "run1" / "ChargeItem"
    )
    assert second.summary.writes == {"unchanged": len(offline)}
    assert spark_items(tmp_path / "run2" / "ChargeItem") == offline


def test_an_unusable_location_is_an_input_error(spark: Any, tmp_path: Path) -> None:
    from cpoc_fhir.spark.session import ndjson_files

    with pytest.raises(InputError, match="no such file or folder"):
        ndjson_files(spark, tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"no \.ndjson files"):
        ndjson_files(spark, tmp_path / "empty")
