"""Suite (c): capture runs through a fault-injecting proxy to sekmet — connections dropped,
answers hanging past the client's timeout, 503s, 429s with Retry-After, writes applied with
their answer lost — killed at random with SIGKILL and resumed: 0 duplicates and 0 losses
against a clean run, with the same content. CI size here (20 runs); the long version is
``scripts/fault_capture.py --runs 100``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from capture_support import load_practice
from fault_proxy import KINDS, FaultRates, fault_proxy
from fault_suite import run_suite
from sekmet_server import SekmetServer, running_sekmet

RUNS = 20
PATIENTS = 3


@pytest.fixture(scope="module")
def fhir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SekmetServer]:
    directory = tmp_path_factory.mktemp("sekmet-faults")
    with running_sekmet(directory / "server") as server:
        load_practice(server.base_url, directory / "practice", PATIENTS)
        yield server


def test_faulted_killed_and_resumed_runs_bill_exactly_what_a_clean_run_bills(
    fhir: SekmetServer, tmp_path: Path
) -> None:
    # Writes are few (a batch and a sweep per patient): faulted often, so every kind occurs.
    rates = FaultRates(read=0.03, write=0.5, hang_s=1.5)
    figures = run_suite(
        fhir.base_url, fhir.root_url, tmp_path, RUNS, seed=20, kill_chance=0.3, rates=rates
    )
    print(figures.text())  # shown with -s / on failure
    assert figures.runs == RUNS and figures.lines > 0
    assert figures.unfinished == []
    assert (figures.duplicates, figures.losses, figures.differing) == (0, 0, 0)
    # The suite did test something: every kind of fault happened, and runs were killed.
    assert set(figures.faults) == set(KINDS), figures.faults
    assert figures.kills > 0


def test_the_proxy_injects_what_it_says(fhir: SekmetServer) -> None:
    """A lost write is applied on the server though the client saw no answer."""
    rates = FaultRates(read=0.0, write=1.0, hang_s=0.2)
    with fault_proxy(fhir.root_url, rates, seed=4) as proxy:
        url = f"{proxy.root_url}/fhir/Basic/proxy-check"
        outcomes = []
        for n in range(12):
            body = {"resourceType": "Basic", "id": "proxy-check", "code": {"text": str(n)}}
            try:
                outcomes.append(requests.put(url, json=body, timeout=0.5).status_code)
            except requests.RequestException as exc:
                outcomes.append(type(exc).__name__)
        assert sum(proxy.faults.values()) == 12
        proxy.enabled = False
        forwarded = requests.get(f"{proxy.root_url}/fhir/metadata", timeout=5)
        assert forwarded.status_code == 200
    assert 503 in outcomes and 429 in outcomes
    stored = requests.get(f"{fhir.base_url}/Basic/proxy-check", timeout=5)
    # Only "lost" forwards a write: the stored version count is the number of lost writes.
    if proxy.faults["lost"]:
        assert int(stored.json()["meta"]["versionId"]) == proxy.faults["lost"]
