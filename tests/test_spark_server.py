"""``cpoc capture --engine spark --fhir-base``: each partition runs the exactly-once server writer.

Against sekmet-fhir (a real server on 127.0.0.1) loaded with a small generated practice, on
Spark ``local[2,3]`` (2 threads, a task may fail 3 times: Spark retries it). The reference is
the local ``cpoc capture --fhir-base`` on the same server under another practice identifier
system (each system is its own set of ChargeItems, compared by content without server fields).
One SparkSession for the module; skipped without pyspark/java (failed under CI).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from capture_support import MONTH, config_for, items_of, live_by_line, load_practice, reference_of
from test_spark_engine import _missing

from cpoc_fhir.cli import main
from cpoc_fhir.store import open_ledger

pytestmark = pytest.mark.filterwarnings(
    "ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning"
)
MASTER = "local[2,3]"
PATIENTS = 6


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    import os

    missing = _missing()
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the Spark tests: {missing}")
        pytest.skip(missing)
    from cpoc_fhir.spark.session import spark_session

    conf = {"spark.default.parallelism": "2", "spark.driver.memory": "1g"}
    session = spark_session(MASTER, conf)
    yield session
    session.stop()


@pytest.fixture(scope="module")
def practice(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    from sekmet_server import running_sekmet

    root = tmp_path_factory.mktemp("spark-server")
    with running_sekmet(root / "sekmet") as server:
        load_practice(server.base_url, root / "export", PATIENTS)
        yield server.base_url, root / "export"


def cpoc(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def capture(base: str, tmp: Path, system: str, ledger: Path, *extra: str) -> tuple[int, str, str]:
    return cpoc(
        "--config", str(config_for(tmp, system)), "capture", "--fhir-base", base,
        "--month", MONTH, "--store", f"sqlite:///{ledger}", "--no-progress",
        "--conflicts", str(tmp / "conflicts.csv"), *extra,
    )  # fmt: skip


def spark_args(export: Path) -> list[str]:
    return ["--engine", "spark", "--master", MASTER, "--ndjson", str(export)]


def test_spark_capture_writes_what_the_local_capture_writes_and_runs_once(
    spark: Any, practice: tuple[str, Path], tmp_path: Path
) -> None:
    base, export = practice
    local_system = "http://example.org/fhir/sid/cpoc-local"
    code, _out, err = capture(base, tmp_path, local_system, tmp_path / "local.sqlite")
    assert code == 0, err
    reference = reference_of(base, local_system)
    assert len(reference) > 3  # a practice with items to compare

    system = "http://example.org/fhir/sid/cpoc-spark"
    ledger = tmp_path / "spark.sqlite"
    code, out, err = capture(base, tmp_path, system, ledger, *spark_args(export))
    assert code == 0, err
    assert "Spark local[2,3]" in out
    assert reference_of(base, system) == reference  # same lines, same content
    with open_ledger(f"sqlite:///{ledger}") as book:
        [run] = book.runs()
        assert run.scope == f"{base}|{MONTH}" and run.status == "finished"
        assert run.settings["engine"] == "spark"
        writes = book.writes(run.id)
        created = [w.record.identifier for w in writes if w.record.outcome == "created"]
        assert sorted(created) == sorted(reference)
        assert len(book.patients(run.id)) > 0

    # the second run (now from the server's $export) writes nothing
    code, out, err = capture(
        base, tmp_path, system, ledger, "--engine", "spark", "--master", MASTER, "--bulk"
    )
    assert code == 0, err
    with open_ledger(f"sqlite:///{ledger}") as book:
        second = book.runs()[0]
        outcomes = {w.record.outcome for w in book.writes(second.id)}
    assert outcomes == {"unchanged"}
    assert all(i["meta"]["versionId"] == "1" for i in items_of(base, system))


def test_a_resumed_run_skips_the_patients_done(
    spark: Any, practice: tuple[str, Path], tmp_path: Path
) -> None:
    from cpoc_fhir.store.run import PatientOutcome

    base, export = practice
    system = "http://example.org/fhir/sid/cpoc-resumed"
    ledger = tmp_path / "resumed.sqlite"
    import json

    episodes = [json.loads(x) for x in (export / "EpisodeOfCare.ndjson").read_text().splitlines()]
    patients = sorted({e["patient"]["reference"] for e in episodes})
    done = patients[0]
    with open_ledger(f"sqlite:///{ledger}") as book:  # an earlier run, killed after one patient
        handle = book.start_run("capture", f"{base}|{MONTH}", MONTH, {})
        handle.record_patients([PatientOutcome(done, "done")])
        handle.finish(status="interrupted")
    code, _out, err = capture(base, tmp_path, system, ledger, *spark_args(export))
    assert code == 0, err
    with open_ledger(f"sqlite:///{ledger}") as book:
        run = book.runs()[0]
        assert run.resumed_from is not None
        billed = {p.patient_ref for p in book.patients(run.id)}
    assert billed == set(patients) - {done}
    # the skipped patient was not written: none of its items exist under this system
    assert all(i["subject"]["reference"] != done for i in items_of(base, system))


def fail_first_attempt(marker: str) -> Any:
    """A fault for partition 0's first attempt, after its writes (the executor raises)."""

    def fault() -> None:
        from pyspark import TaskContext

        context = TaskContext.get()
        if context is not None and context.partitionId() == 0 and context.attemptNumber() == 0:
            Path(marker).write_text("failed once\n")
            raise RuntimeError("first attempt fails after its writes (test)")

    return fault


def test_a_retried_task_writes_once(
    spark: Any, practice: tuple[str, Path], tmp_path: Path, capsys: Any
) -> None:
    from pyspark import cloudpickle

    from cpoc_fhir.cli import build_parser
    from cpoc_fhir.spark.server_cli import run_server_capture

    base, export = practice
    local_system = "http://example.org/fhir/sid/cpoc-local-retry"
    code, _out, err = capture(base, tmp_path, local_system, tmp_path / "local.sqlite")
    assert code == 0, err
    reference = reference_of(base, local_system)

    system = "http://example.org/fhir/sid/cpoc-retry"
    ledger = tmp_path / "retry.sqlite"
    argv = [
        "--config", str(config_for(tmp_path, system)), "capture", "--fhir-base", base,
        "--month", MONTH, "--store", f"sqlite:///{ledger}", "--no-progress",
        "--conflicts", str(tmp_path / "c.csv"), *spark_args(export),
    ]  # fmt: skip
    args = build_parser().parse_args(argv)
    marker = tmp_path / "attempt-0-failed"
    import sys

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # executors lack tests/
    try:
        code = run_server_capture(args, fault=fail_first_attempt(str(marker)))
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert code == 0, capsys.readouterr().err
    assert marker.exists()  # the first attempt did fail, after writing
    live = live_by_line(base, system)
    assert all(len(items) == 1 for items in live.values())  # no duplicate
    assert reference_of(base, system) == reference
    assert all(i["meta"]["versionId"] == "1" for i in items_of(base, system))  # written once
    with open_ledger(f"sqlite:///{ledger}") as book:
        run = book.runs()[0]
        outcomes = [w.record.outcome for w in book.writes(run.id)]
    # partition 0's retry found its items: unchanged; the rest created once
    assert outcomes.count("created") + outcomes.count("unchanged") == len(reference)
    assert "unchanged" in outcomes


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_waves_draw_a_bar_on_a_terminal_and_a_line_each_on_a_pipe(
    spark: Any, practice: tuple[str, Path], tmp_path: Path
) -> None:
    # Issue 17 item 6: the driver's loop over the waves is the progress bar (partitions done
    # of all, the patients billed) on a terminal; a pipe, or --no-progress, gets
    # spark.server's line a wave and no bar. A dry run: nothing is written.
    import re

    base, export = practice
    system = "http://example.org/fhir/sid/cpoc-bar"

    def run(err: io.StringIO, name: str, *extra: str) -> str:
        argv = [
            "--config", str(config_for(tmp_path, system)), "capture", "--fhir-base", base,
            "--month", MONTH, "--store", f"sqlite:///{tmp_path / name}", "--dry-run",
            "--conflicts", str(tmp_path / f"{name}.csv"), *spark_args(export), *extra,
        ]  # fmt: skip
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            assert main(argv) == 0, err.getvalue()
        return err.getvalue()

    on_pipe = run(io.StringIO(), "pipe.sqlite")
    lines = re.findall(r"^cpoc: partitions (\d+)/(\d+): (\d+) patients$", on_pipe, re.M)
    assert lines, on_pipe
    count = int(lines[-1][1])
    assert int(lines[-1][0]) == count and int(lines[-1][2]) == PATIENTS  # every patient billed
    on_tty = run(_Tty(), "tty.sqlite")
    assert "cpoc: partitions" not in on_tty
    # tqdm's first draw "0/<partitions>", then each wave's redraw with the patients so far
    assert f"0/{count} [" in on_tty and f"{count}/{count} [" in on_tty
    assert f"partition/s, {PATIENTS} patients]" in on_tty
    # --no-progress: no bar, the lines as on a pipe (what every run printed before the bar)
    assert run(_Tty(), "quiet.sqlite", "--no-progress") == on_pipe
