"""The reports' progress bar over a FHIR server (issue 17 item 6): ``report value`` and
``report cpc-coordination --fhir-base`` read through the capture run's reader under the same bar
as the other reports (``fhir.read.counted``). A server's patient count is unknown, so the bar
counts with a rate and no total; on a pipe, or with ``--no-progress``, stderr stays empty, and
stdout is the same bytes either way."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from sekmet_server import SekmetServer, running_sekmet
from test_cpc_coordination import _attribution, _practice, _settings
from test_value_report import COMPONENTS

from cds_hooks.embedded_fhir import load_resources
from cpoc_fhir.cli import build_parser, main
from cpoc_fhir.reports import value_cli


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(scope="module")
def practice(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SekmetServer, Path]]:
    """test_cpc_coordination's practice (p1 and p2 with an oncology EpisodeOfCare: the server
    path reads the patients that have one) and a practice Location, on one sekmet."""
    tmp = tmp_path_factory.mktemp("progress")
    bundle = json.loads(_practice(tmp).read_text(encoding="utf-8"))
    resources = [entry["resource"] for entry in bundle["entry"]]
    for pid, start in (("p1", "2019-01-10"), ("p2", "2025-01-10")):
        resources.append(
            {"resourceType": "EpisodeOfCare", "id": f"{pid}-onc", "status": "active",
             "patient": {"reference": f"Patient/{pid}"}, "period": {"start": start}}
        )  # fmt: skip
    resources.append({"resourceType": "Location", "id": "practice", "name": "Practice"})
    with running_sekmet(tmp / "sekmet") as server:
        load_resources(server.base_url, resources)
        yield server, tmp


def _captured(
    run: Callable[[list[str]], int], argv: list[str], err: io.StringIO, mp: pytest.MonkeyPatch
) -> str:
    out = io.StringIO()
    mp.setattr(sys, "stdout", out)
    mp.setattr(sys, "stderr", err)
    assert run(argv) == 0, err.getvalue()
    return out.getvalue()


def _value(tmp: Path) -> Callable[[list[str]], int]:
    store = f"sqlite:///{tmp}/s.sqlite"

    def run(argv: list[str]) -> int:
        args = build_parser().parse_args(["report", "value", "--store", store, *argv])
        return value_cli.run(args, UTC, COMPONENTS)

    return run


@pytest.mark.parametrize("report", ["value", "cpc-coordination"])
def test_server_reports_draw_the_bar_on_a_terminal_only(
    report: str, practice: tuple[SekmetServer, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, tmp = practice
    monkeypatch.delenv("CPOC_FHIR_TOKEN", raising=False)
    run: Callable[[list[str]], int]
    if report == "value":
        run, argv = _value(tmp), ["--year", "2025", "--format", "json"]
    else:
        run = main
        argv = ["report", "cpc-coordination", "--attribution", str(_attribution(tmp))]
        argv += ["--as-of", "2025-12-31", "--config", str(_settings(tmp)), "--format", "json"]
    argv += ["--fhir-base", server.base_url]
    tty = _Tty()
    on_tty = _captured(run, argv, tty, monkeypatch)
    # tqdm's first draw with no total: "0patient [00:00, ?patient/s]" (a count, no "0/N").
    assert "0patient [" in tty.getvalue() and "0/" not in tty.getvalue()
    pipe = io.StringIO()
    on_pipe = _captured(run, argv, pipe, monkeypatch)
    assert pipe.getvalue() == ""
    quiet = _Tty()
    on_quiet = _captured(run, [*argv, "--no-progress"], quiet, monkeypatch)
    assert quiet.getvalue() == ""
    assert on_tty.encode() == on_pipe.encode() == on_quiet.encode()
    # The server's two patients with an episode were read (not an empty report).
    result: dict[str, Any] = json.loads(on_tty)
    if report == "value":
        assert result["measures"][0]["denominator"] >= 1
    else:
        assert result["months"]
