"""Every data file the code reads ships in the wheel: `[tool.setuptools.package-data]` covers
each non-Python file under the packages (a pack's data file missing from an installed build
would make the pack fail at import, far from its cause)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP_SUFFIXES = {".py", ".pyc", ".typed"}


def _globs() -> dict[str, list[str]]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return data["tool"]["setuptools"]["package-data"]


def _shipped(globs: dict[str, list[str]]) -> set[Path]:
    """The files the globs select, each from its package's folder (as setuptools reads them)."""
    found: set[Path] = set()
    for package, patterns in globs.items():
        folder = ROOT.joinpath(*package.split("."))
        for pattern in patterns:
            found.update(p for p in folder.glob(pattern) if p.is_file())
    return found


def test_every_data_file_is_package_data() -> None:
    shipped = _shipped(_globs())
    missing = []
    for top in ("cpoc_fhir", "cds_hooks"):
        for path in (ROOT / top).rglob("*"):
            if not path.is_file() or path.suffix in SKIP_SUFFIXES or "__pycache__" in path.parts:
                continue
            if path not in shipped:
                missing.append(str(path.relative_to(ROOT)))
    assert missing == [], f"not in [tool.setuptools.package-data]: {missing}"
