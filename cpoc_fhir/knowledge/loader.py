"""Loads the knowledge data files shipped in ``cpoc_fhir/knowledge/data`` (TOML)."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from cpoc_fhir.errors import KnowledgeError
from cpoc_fhir.knowledge import Knowledge
from cpoc_fhir.knowledge.charlson import CharlsonMap
from cpoc_fhir.knowledge.conditions import ConditionKnowledge
from cpoc_fhir.knowledge.regimens import RegimenCatalog


def read_data_file(name: str) -> dict[str, Any]:
    """Parse one shipped TOML file; floats become Decimal so no figure is rounded."""
    path = resources.files("cpoc_fhir.knowledge") / "data" / name
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise KnowledgeError(f"knowledge file {name}: {exc}") from exc


def read_regimen_catalog_data() -> dict[str, Any]:
    """The shipped regimen catalog: ``regimens/catalog.toml`` and the files it lists, merged.

    Drugs and regimens are concatenated in the manifest's order (regimen order breaks matching
    ties); the manifest's version and date are the catalog's.
    """
    manifest = read_data_file("regimens/catalog.toml")
    files = manifest.get("files")
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise KnowledgeError("knowledge file regimens/catalog.toml: 'files' must list file names")
    merged: dict[str, Any] = {"version": manifest.get("version", ""), "date": manifest.get("date")}
    merged["drugs"], merged["regimens"] = [], []
    for name in files:
        part = read_data_file(f"regimens/{name}")
        unknown = sorted(set(part) - {"drugs", "regimens"})
        if unknown:
            raise KnowledgeError(f"knowledge file regimens/{name}: unknown table(s) {unknown}")
        for key in ("drugs", "regimens"):
            entries = part.get(key, [])
            if not isinstance(entries, list):
                raise KnowledgeError(f"knowledge file regimens/{name}: '{key}' must be a list")
            merged[key].extend(entries)
    return merged


@cache
def load_knowledge() -> Knowledge:
    """The shipped knowledge, parsed once per process."""
    return Knowledge(
        regimens=RegimenCatalog.from_data(read_regimen_catalog_data()),
        charlson=CharlsonMap.from_data(read_data_file("charlson.toml")),
        conditions=ConditionKnowledge.from_data(read_data_file("conditions.toml")),
    )
