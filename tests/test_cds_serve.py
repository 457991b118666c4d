"""`cpoc serve` runs the service on 127.0.0.1 from the environment's settings."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from cds_hooks.embedded_fhir import free_port


def test_cpoc_serve_answers_discovery_on_localhost(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "CPOC_CDS_AUTH": "off",
        "CPOC_STORE_URL": f"sqlite:///{tmp_path}/store.sqlite",
    }
    cpoc = Path(sys.executable).with_name("cpoc")
    process = subprocess.Popen(
        [str(cpoc), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}/cds-services"
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = requests.get(url, timeout=1)
                break
            except requests.ConnectionError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "cpoc serve did not start"
                time.sleep(0.1)
        assert answer.status_code == 200
        assert len(answer.json()["services"]) == 3
    finally:
        process.terminate()
        process.communicate(timeout=10)  # also closes the pipe


def test_cpoc_serve_refuses_to_start_without_trusted_issuers(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPOC_CDS_")}
    env["CPOC_STORE_URL"] = f"sqlite:///{tmp_path}/store.sqlite"
    cpoc = Path(sys.executable).with_name("cpoc")
    done = subprocess.run(
        [str(cpoc), "serve", "--port", "0"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "CPOC_CDS_TRUSTED_ISSUERS" in done.stderr
