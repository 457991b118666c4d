"""An embedded FHIR R4 server (sekmet-fhir, SQLite) on 127.0.0.1, for the demo and the tests.

``running_sekmet(directory)`` starts ``sekmet serve`` as a subprocess on a free port with its
data in ``directory`` and stops it on exit; ``load_resources`` PUTs resources so they keep
their ids.
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

import requests

from cpoc_fhir.errors import CpocError

STARTUP_SECONDS = 30.0
_BATCH = 200


class EmbeddedServerError(CpocError):
    """sekmet is not installed, or did not start."""


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
    """Start sekmet with ``settings`` (over the defaults) in ``directory``; stop it after."""
    executable = sekmet_executable()
    if executable is None:
        raise EmbeddedServerError(
            "sekmet-fhir is not installed (pip install 'cpoc-fhir[demo]'; scripts/setup does)"
        )
    # Absolute: sekmet runs in the directory and must find its settings (else it would start
    # on its defaults, bound to every interface).
    directory = directory.resolve()
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
            raise EmbeddedServerError(f"sekmet exited with {process.returncode}:\n{tail}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise EmbeddedServerError(f"sekmet did not answer {url} within {STARTUP_SECONDS:.0f} s")


def load_resources(base: str, resources: list[dict[str, Any]]) -> None:
    """PUT every resource (a batch per 200) so the server keeps their ids."""
    for i in range(0, len(resources), _BATCH):
        entries = [
            {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
            for r in resources[i : i + _BATCH]
        ]
        bundle = {"resourceType": "Bundle", "type": "batch", "entry": entries}
        answer = requests.post(
            base, json=bundle, timeout=60, headers={"Content-Type": "application/fhir+json"}
        )
        answer.raise_for_status()
        failed = [
            e["response"]["status"]
            for e in answer.json()["entry"]
            if not e["response"]["status"].startswith(("200", "201"))
        ]
        if failed:
            raise EmbeddedServerError(f"{len(failed)} resource(s) refused, e.g. {failed[0]}")
