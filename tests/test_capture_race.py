"""Two `cpoc capture` runs of one month with SEPARATE ledgers, at once, against one sekmet:
exactly one live ChargeItem per line, whatever the server's If-None-Exist does.

Before the fix exactly-once rested on sekmet's conditional create being atomic, which it is
not across processes: the two runs created some lines (…new-patient) twice. Now a create is
``PUT ChargeItem/<id from the identifier>`` (sekmet's CapabilityStatement says updateCreate),
atomic by id; without updateCreate the sweep after the writes retires the extras.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from capture_support import (
    capture_command,
    config_for,
    identifier,
    items_of,
    live_by_line,
    load_practice,
)
from sekmet_server import SekmetServer, running_sekmet

from cpoc_fhir.capture.ids import charge_item_id
from cpoc_fhir.capture.plan import Action, Plan, Step
from cpoc_fhir.capture.server import ServerStore
from cpoc_fhir.fhir.client import FhirClient
from cpoc_fhir.fhir.write import charge_item_changed

PATIENTS = 12


@pytest.fixture(scope="module")
def fhir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SekmetServer]:
    directory = tmp_path_factory.mktemp("sekmet-race")
    with running_sekmet(directory / "server") as server:
        load_practice(server.base_url, directory / "practice", PATIENTS)
        yield server


def race(fhir: SekmetServer, tmp_path: Path, system: str, runs: int = 2) -> list[str]:
    config = config_for(tmp_path, system)
    commands = [
        capture_command(fhir.base_url, tmp_path / f"ledger-{n}.sqlite", config) for n in range(runs)
    ]
    processes = [
        subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for c in commands
    ]
    outputs = [p.communicate(timeout=180)[0] for p in processes]
    assert [p.returncode for p in processes] == [0] * runs, outputs
    return outputs


@pytest.mark.parametrize("attempt", range(2))
def test_two_runs_with_separate_ledgers_make_one_live_item_per_line(
    fhir: SekmetServer, tmp_path: Path, attempt: int
) -> None:
    system = f"http://example.org/fhir/sid/race-{attempt}"
    outputs = race(fhir, tmp_path, system, runs=3)
    live = live_by_line(fhir.base_url, system)
    assert live, outputs  # the month has lines to bill
    assert any(ident.endswith(".new-patient") for ident in live)
    doubled = {ident: [i["id"] for i in items] for ident, items in live.items() if len(items) > 1}
    assert doubled == {}, outputs
    # Written by update-as-create: the ids are the deterministic ones, no retired extras.
    assert all(items[0]["id"].startswith("cpoc-") for items in live.values())


def test_an_item_from_an_earlier_version_is_updated_in_place_never_duplicated(
    fhir: SekmetServer, tmp_path: Path
) -> None:
    """Items created before deterministic ids (server-assigned ids, conditional create) are
    found by identifier: the run updates or keeps them, and creates no second item."""
    system = "http://example.org/fhir/sid/legacy"
    race(fhir, tmp_path, system, runs=1)
    created = items_of(fhir.base_url, system)
    # Re-home every item under a server-assigned id, as an earlier version's POST made it.
    for item in created:
        legacy = {k: v for k, v in item.items() if k not in ("id", "meta")}
        legacy["status"] = "planned"  # so the run has something to finalise in place
        requests.delete(f"{fhir.base_url}/ChargeItem/{item['id']}", timeout=30).raise_for_status()
        requests.post(f"{fhir.base_url}/ChargeItem", json=legacy, timeout=30).raise_for_status()
    before = {identifier(i, system): i["id"] for i in items_of(fhir.base_url, system)}
    assert not any(v.startswith("cpoc-") for v in before.values())

    (tmp_path / "again").mkdir()
    race(fhir, tmp_path / "again", system, runs=1)
    live = live_by_line(fhir.base_url, system)
    assert {ident: [i["id"] for i in items] for ident, items in live.items()} == {
        ident: [item_id] for ident, item_id in before.items()
    }


def racing_creates(
    base: str, system: str, update_create: bool, threads: int = 6, lines: int = 5
) -> list[list[str]]:
    """``threads`` stores apply one plan (``lines`` creates) at the same instant, each with its
    own client: what two runs with separate ledgers do, without the start-up jitter."""
    idents = [f"race-p.treatment-month.2025-03-{n + 1:02d}" for n in range(lines)]
    steps = [
        Step(
            Action.CREATE,
            ident,
            {
                "resourceType": "ChargeItem",
                "identifier": [{"system": system, "value": ident}],
                "status": "planned",
                "code": {"text": "CPOC"},
                "subject": {"reference": "Patient/race-p"},
            },
            new_id=charge_item_id(system, ident),
        )
        for ident in idents
    ]
    barrier = threading.Barrier(threads)

    def one(_n: int) -> list[str]:
        with FhirClient(base) as client:
            store = ServerStore(client, system, charge_item_changed, update_create)
            barrier.wait()
            return [o.outcome for o in store.apply("race-p", Plan(list(steps)))]

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(threads)))


@pytest.mark.parametrize("update_create", [True, False], ids=["put-by-id", "conditional+sweep"])
def test_racing_writers_leave_one_live_item_per_line(
    fhir: SekmetServer, update_create: bool
) -> None:
    """sekmet's batch If-None-Exist is not atomic: six racing conditional creates of five
    lines made three of them twice (seen with the earlier writes). PUT by id is atomic; the
    conditional path's sweep retires the extras."""
    system = f"http://example.org/fhir/sid/threads-{update_create}"
    outcomes = racing_creates(fhir.base_url, system, update_create)
    live = live_by_line(fhir.base_url, system)
    assert sorted(live) == [f"race-p.treatment-month.2025-03-{n:02d}" for n in range(1, 6)]
    assert {ident: len(items) for ident, items in live.items() if len(items) > 1} == {}, outcomes
    assert "failed" not in {o for run in outcomes for o in run} or not update_create


def test_a_skipped_month_end_is_caught_up_on_the_server(fhir: SekmetServer, tmp_path: Path) -> None:
    """January ran, February's run never happened: March's run bills February's lines too —
    the same lines as three monthly runs, each once."""

    def month_run(system: str, ledger: str, month: str, as_of: str) -> str:
        command = capture_command(
            fhir.base_url,
            tmp_path / ledger,
            config_for(tmp_path, system),
            "--as-of",
            as_of,
            month=month,
        )
        done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    monthly = "http://example.org/fhir/sid/monthly"
    for month, as_of in (("2025-01", "2025-01-31"), ("2025-02", "2025-02-28")):
        month_run(monthly, "monthly.sqlite", month, as_of)
    month_run(monthly, "monthly.sqlite", "2025-03", "2025-03-31")
    skipped = "http://example.org/fhir/sid/skipped"
    month_run(skipped, "skipped.sqlite", "2025-01", "2025-01-31")
    out = month_run(skipped, "skipped.sqlite", "2025-03", "2025-03-31")
    assert "CPOC capture 2025-02 … 2025-03 as of 2025-03-31" in out
    assert "catching up from 2025-02: the last completed run was 2025-01" in out
    expected = live_by_line(fhir.base_url, monthly)
    got = live_by_line(fhir.base_url, skipped)
    assert any(".2025-02-" in ident for ident in expected)  # February has lines to bill
    assert sorted(got) == sorted(expected)
    assert all(len(items) == 1 for items in got.values())
