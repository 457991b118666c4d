"""The reports' progress bar (issue 17 item 6, ``fhir.read.counted``): on a terminal, stderr
shows the bar with the source's patient count as its total; on a pipe, or with
``--no-progress``, stderr stays empty; stdout is the same bytes either way."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from cpoc_fhir.bundled import bundled_examples
from cpoc_fhir.cli import main
from cpoc_fhir.economics.server_source import ServerSource
from cpoc_fhir.fhir.read import open_source
from cpoc_fhir.fhir.read.counted import CountedSource


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


EXAMPLES = str(bundled_examples())
# The bundled examples folder holds one patient per file: the bar's total is that count.
PATIENTS = sum(1 for _ in open_source(bundled_examples()).patients())
RUNS = [
    ["model", EXAMPLES, "--from", "2025-01-01", "--to", "2025-12-31"],
    ["report", "episodes", EXAMPLES, "--as-of", "2025-12-31"],
    ["report", "eom-services", EXAMPLES, "--as-of", "2025-12-31"],
]


def _run(argv: list[str], stderr: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> str:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", stderr)
    assert main(argv) == 0
    return out.getvalue()


@pytest.mark.parametrize("argv", RUNS, ids=lambda a: " ".join(a[:2]))
def test_bar_with_total_on_a_terminal_none_on_a_pipe(
    argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert PATIENTS >= 3
    tty = _Tty()
    on_tty = _run(argv, tty, monkeypatch)
    assert f"0/{PATIENTS}" in tty.getvalue() and "patient" in tty.getvalue()
    pipe = io.StringIO()
    on_pipe = _run(argv, pipe, monkeypatch)
    assert pipe.getvalue() == ""
    assert on_tty.encode() == on_pipe.encode() and on_tty
    quiet = _Tty()
    assert _run([*argv, "--no-progress"], quiet, monkeypatch) == on_pipe
    assert quiet.getvalue() == ""


def test_server_source_bar_has_no_total() -> None:
    # A server source finds its patients while reading them: the count is unknown (None), so
    # the bar counts without a total instead of showing a wrong "0/0".
    server = ServerSource.__new__(ServerSource)
    assert ServerSource.patient_count(server) is None
    tty = _Tty()
    counted = CountedSource(open_source(bundled_examples()), stream=tty)
    assert sum(1 for _ in counted.patients()) == PATIENTS
    assert f"0/{PATIENTS}" in tty.getvalue()  # tqdm draws the total first; the rest is timed


def test_revenue_bar_over_its_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `report revenue INPUT` reads the patients of its Bundle under the same bar; the total is
    # the patients its ChargeItems and Coverages name (counted here by reading them).
    from test_revenue_report import _bundle

    bundle = _bundle(tmp_path, coverages=True)
    patients = sum(1 for _ in open_source(bundle).patients())
    argv = ["report", "revenue", str(bundle), "--from", "2025-03", "--to", "2025-04"]
    tty = _Tty()
    on_tty = _run(argv, tty, monkeypatch)
    assert patients >= 2 and f"0/{patients}" in tty.getvalue()
    pipe = io.StringIO()
    assert _run(argv, pipe, monkeypatch).encode() == on_tty.encode() and pipe.getvalue() == ""
    quiet = _Tty()
    assert _run([*argv, "--no-progress"], quiet, monkeypatch) == on_tty
    assert quiet.getvalue() == "" and "2900.00" in on_tty  # March and April's revenue
