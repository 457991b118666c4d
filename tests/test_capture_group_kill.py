"""A parallel capture killed inside a group (``--workers 8``): the server has applied writes
the ledger has not recorded (docs/exactly-once.md, "Group commit of the run ledger"). The run
started again resumes and bills each line exactly once, and writes nothing already written."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from capture_support import (
    PROGRAM,
    capture_command,
    config_for,
    duplicates_and_losses,
    live_by_line,
    load_practice,
    reference_of,
    run_capture,
)
from fault_proxy import FaultRates, fault_proxy
from sekmet_server import SekmetServer, running_sekmet

PATIENTS = 10


@pytest.fixture(scope="module")
def fhir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SekmetServer]:
    directory = tmp_path_factory.mktemp("sekmet-group-kill")
    with running_sekmet(directory / "server") as server:
        load_practice(server.base_url, directory / "practice", PATIENTS)
        yield server


def _writes(output: str) -> dict[str, int]:
    """The summary's ``ChargeItems`` line: outcome → count."""
    line = re.search(r"^  ChargeItems +(.*)$", output, re.M)
    assert line, output
    pairs = (part.rsplit(" ", 1) for part in line.group(1).split(", "))
    return {name: int(n) for name, n in pairs}


@pytest.mark.parametrize(
    ("workers", "killed_at"),
    [
        # groups of 8 and 2: the first group's Bundle applied, never answered; nothing of the
        # run recorded; the second group not written.
        (8, 1),
        # groups of 4, 4 and 2: the first group written and answered, its patients waiting for
        # the ledger's group commit (every 200 patients or ~1 s: perhaps recorded, perhaps
        # not); the second group's Bundle applied, never answered; the third not written.
        (4, 2),
    ],
)
def test_a_run_killed_inside_a_group_resumes_and_bills_each_line_once(
    fhir: SekmetServer, tmp_path: Path, workers: int, killed_at: int
) -> None:
    clean = "http://example.org/fhir/sid/group-kill-clean"
    done = run_capture(
        [
            *PROGRAM,
            *capture_command(
                fhir.base_url,
                tmp_path / "clean.sqlite",
                config_for(tmp_path, clean),
                "--as-of",
                "2025-03-31",
            )[1:],
        ]
    )
    assert done.returncode == 0, done.stdout + done.stderr
    reference = reference_of(fhir.base_url, clean)
    system = f"http://example.org/fhir/sid/group-kill-{workers}"
    with fault_proxy(fhir.root_url, FaultRates(read=0, write=0)) as proxy:
        proxied = f"{proxy.root_url}{fhir.base_url[len(fhir.root_url) :]}"
        command = [
            *PROGRAM,
            *capture_command(
                proxied,
                tmp_path / f"ledger-{workers}.sqlite",
                config_for(tmp_path, system),
                "--as-of",
                "2025-03-31",
                "--workers",
                str(workers),
            )[1:],
        ]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        bundles = 0

        def kill_at_bundle(method: str, path: str) -> bool:
            # The server has applied the group's Bundle: the run dies before its answer.
            nonlocal bundles
            if method == "POST" and path.rstrip("/") == urlsplit(fhir.base_url).path:
                bundles += 1
                if bundles == killed_at:
                    os.kill(process.pid, signal.SIGKILL)
                    return True
            return False

        proxy.after_forward = kill_at_bundle
        process.communicate(timeout=120)
        assert process.returncode == -signal.SIGKILL, "the run was not killed inside a group"
        proxy.after_forward = None
        written = live_by_line(fhir.base_url, system)
        assert 0 < len(written) < len(reference)  # killed part-way: some lines, not all
        again = run_capture(command)
    assert again.returncode == 0, again.stdout + again.stderr
    # Each line once, as the clean run billed it; the lines written before the kill were
    # left as they were (version 1: not written again), and the resumed run created exactly
    # the lines that were missing.
    assert duplicates_and_losses(fhir.base_url, system, reference) == (0, 0, 0)
    after = live_by_line(fhir.base_url, system)
    assert all(after[line][0]["meta"]["versionId"] == "1" for line in written)
    assert all(len(items) == 1 and items[0]["meta"]["versionId"] == "1" for items in after.values())
    assert _writes(again.stdout).get("created") == len(reference) - len(written)
