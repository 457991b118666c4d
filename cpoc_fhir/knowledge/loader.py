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


@cache
def load_knowledge() -> Knowledge:
    """The shipped knowledge, parsed once per process."""
    return Knowledge(
        regimens=RegimenCatalog.from_data(read_data_file("regimens.toml")),
        charlson=CharlsonMap.from_data(read_data_file("charlson.toml")),
        conditions=ConditionKnowledge.from_data(read_data_file("conditions.toml")),
    )
