"""A real FHIR R4 server for integration tests: sekmet-fhir run as a subprocess on 127.0.0.1.

Import the fixture where needed (``from sekmet_server import sekmet_server``) or start
one with other settings with ``running_sekmet(directory, settings)``. Tests skip, naming the
reason, when the ``sekmet`` executable (package sekmet-fhir, a dev dependency) is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

STARTUP_SECONDS = 20.0


@dataclass(frozen=True)
class SekmetServer:
    """A running sekmet: its FHIR base (…/fhir), its root and its settings file."""

    base_url: str
    root_url: str
    settings_path: Path


def sekmet_executable() -> str | None:
    """The sekmet console script of this virtualenv, else one on PATH."""
    beside = Path(sys.executable).with_name("sekmet")
    return str(beside) if beside.is_file() else shutil.which("sekmet")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_sekmet(
    directory: Path, settings: dict[str, Any] | None = None
) -> Iterator[SekmetServer]:
    """Start sekmet with `settings` (over the test defaults) in `directory` (made if missing);
    stop it after."""
    executable = sekmet_executable()
    if executable is None:
        pytest.skip("sekmet-fhir is not installed (the `sekmet` executable is missing)")
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    root = f"http://127.0.0.1:{port}"
    config = {
        "base_url": f"{root}/fhir",
        "host": "127.0.0.1",
        "port": port,
        "data_dir": str(directory / "data"),
        "own_private_key_path": str(directory / "keys" / "sekmet_private.pem"),
        "simulator": {"enabled": False},
        "log_inbound": False,
        **(settings or {}),
    }
    settings_path = directory / "settings.yaml"
    settings_path.write_text(json.dumps(config, indent=2))  # JSON is YAML
    log_path = directory / "sekmet.log"
    env = {**os.environ, "SEKMET_CONFIG": str(settings_path)}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [executable, "serve"], cwd=directory, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            _wait_until_up(f"{root}/fhir/metadata", process, log_path)
            yield SekmetServer(f"{root}/fhir", root, settings_path)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"sekmet exited with {process.returncode} at startup:\n{tail}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"sekmet did not answer {url} within {STARTUP_SECONDS:.0f} s")


@pytest.fixture(scope="session")
def sekmet_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SekmetServer]:
    """One open (no auth) sekmet for the whole test session."""
    with running_sekmet(tmp_path_factory.mktemp("sekmet")) as server:
        yield server
