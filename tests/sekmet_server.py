"""A real FHIR R4 server for integration tests: sekmet-fhir run as a subprocess on 127.0.0.1.

Import the fixture where needed (``from sekmet_server import sekmet_server``) or start
one with other settings with ``running_sekmet(directory, settings)``. Tests skip, naming the
reason, when the ``sekmet`` executable (package sekmet-fhir) is missing. The server itself is
the product's embedded one (``cds_hooks.embedded_fhir``, also used by ``cpoc demo``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from cds_hooks import embedded_fhir
from cds_hooks.embedded_fhir import SekmetServer, free_port, sekmet_executable

__all__ = ["SekmetServer", "free_port", "running_sekmet", "sekmet_executable", "sekmet_server"]


@contextmanager
def running_sekmet(
    directory: Path, settings: dict[str, Any] | None = None
) -> Iterator[SekmetServer]:
    """Start sekmet with `settings` (over the test defaults) in `directory`; stop it after."""
    if sekmet_executable() is None:
        pytest.skip("sekmet-fhir is not installed (the `sekmet` executable is missing)")
    with embedded_fhir.running_sekmet(directory, settings) as server:
        yield server


@pytest.fixture(scope="session")
def sekmet_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SekmetServer]:
    """One open (no auth) sekmet for the whole test session."""
    with running_sekmet(tmp_path_factory.mktemp("sekmet")) as server:
        yield server
