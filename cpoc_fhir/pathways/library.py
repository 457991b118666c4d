"""Loading pathways: the shipped PlanDefinitions, and a practice's own files.

The product reads pathways as FHIR PlanDefinitions (a collection Bundle in
``knowledge/data/pathways/published``).
Those are generated from the readable authoring files beside them by ``cpoc pathways
publish``; a test keeps the two from drifting. A practice adds or replaces pathways with a
folder of its own files, either form: ``*.toml`` (authoring) or ``*.json`` (a PlanDefinition
or a Bundle of them). A practice pathway with a shipped pathway's id replaces it; new ones are
tried before the shipped ones (the practice's choice of pathway comes first, IV-A.1).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from cpoc_fhir.errors import KnowledgeError
from cpoc_fhir.knowledge.regimens import RegimenCatalog
from cpoc_fhir.pathways.model import Pathway, PathwayLibrary, check_regimens
from cpoc_fhir.pathways.plandefinition import (
    from_plan_definition,
    pathways_from_authoring,
    plan_definitions_in,
    to_plan_definition,
)

_DATA = ("cpoc_fhir.knowledge", "data/pathways")


def shipped_dir() -> Path:
    return Path(str(resources.files(_DATA[0]) / _DATA[1]))


def authored_pathways(folder: Path | None = None) -> list[Pathway]:
    """The pathways of the authoring files (``*.toml``) in ``folder`` (default: shipped)."""
    folder = folder or shipped_dir()
    found: list[Pathway] = []
    for path in sorted(folder.glob("*.toml")):
        found.extend(pathways_from_authoring(_toml(path), path.name))
    return found


PUBLISHED = "Bundle-cpoc-pathways.json"


def publish(pathways: Iterable[Pathway], catalog: RegimenCatalog) -> dict[str, Any]:
    """The collection Bundle of PlanDefinitions ``cpoc pathways publish`` writes (in the order
    the pathways are tried)."""
    plans = [to_plan_definition(p, catalog) for p in pathways]
    return {
        "resourceType": "Bundle",
        "id": "cpoc-pathways",
        "type": "collection",
        "entry": [{"fullUrl": plan["url"], "resource": plan} for plan in plans],
    }


def load_pathways(
    catalog: RegimenCatalog, practice_dir: Path | None = None, replace: bool = False
) -> PathwayLibrary:
    shipped = [] if replace else list(_shipped(catalog.version))
    own = _practice(practice_dir) if practice_dir is not None else []
    if replace and not own:
        raise KnowledgeError(
            f"{practice_dir}: pathways replace the shipped ones, but the folder has none"
        )
    own_ids = {p.id for p in own}
    by_id = {p.id: p for p in own}
    merged = [by_id.get(p.id, p) for p in shipped]
    added = [p for p in own if p.id not in {s.id for s in shipped}]
    pathways = added + merged
    if len(own_ids) != len(own):
        raise KnowledgeError(f"{practice_dir}: two pathways have the same id")
    check_regimens(pathways, catalog.regimens)
    return PathwayLibrary(tuple(pathways))


@cache
def _shipped(_catalog_version: str) -> tuple[Pathway, ...]:
    path = shipped_dir() / "published" / PUBLISHED
    return tuple(
        from_plan_definition(plan, "shipped")
        for plan in plan_definitions_in(_json(path), PUBLISHED)
    )


def _practice(folder: Path) -> list[Pathway]:
    if not folder.is_dir():
        raise KnowledgeError(f"{folder}: pathway folder not found")
    found: list[Pathway] = []
    for path in sorted(folder.iterdir()):
        if path.suffix == ".toml":
            found.extend(pathways_from_authoring(_toml(path), str(path)))
        elif path.suffix == ".json":
            for plan in plan_definitions_in(_json(path), str(path)):
                found.append(from_plan_definition(plan, str(path)))
    return found


def _toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise KnowledgeError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise KnowledgeError(f"{path}: not valid TOML: {exc}") from None


def _json(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise KnowledgeError(f"{path}: cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise KnowledgeError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise KnowledgeError(f"{path}: not a FHIR resource")
    return document
