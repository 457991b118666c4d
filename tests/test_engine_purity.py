"""The engine does no I/O and reads no clock (engineering.md: "a pure core").

Walks every module the engine and the payment-model packs' rules import from this project,
transitively, and checks that none imports an I/O, network, web, database or environment
module, or calls a clock or open(). In a pack's folder only ``pack.py`` (its PACK, which
binds the pack and loads its data file) may do I/O; every other module is rules.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN_MODULES = {
    "os",
    "io",
    "pathlib",
    "socket",
    "subprocess",
    "shutil",
    "tempfile",
    "time",
    "sys",
    "requests",
    "urllib",
    "http",
    "flask",
    "sqlalchemy",
    "logging",
    "tomllib",
    "json",
    "importlib",
    "random",
    "threading",
    "asyncio",
    "sqlite3",
}
FORBIDDEN_CALLS = {"today", "now", "utcnow", "open", "getenv", "time", "perf_counter", "input"}


def _module_file(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None or not spec.origin.startswith(str(ROOT)):
        return None
    return Path(spec.origin)


def _project_imports(tree: ast.AST, module: str) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.rsplit(".", node.level)[0]
                names.append(f"{base}.{node.module}" if node.module else base)
            elif node.module:
                names.append(node.module)
    return names


def _engine_closure() -> dict[str, ast.AST]:
    engine_dir = ROOT / "cpoc_fhir" / "engine"
    todo = [f"cpoc_fhir.engine.{p.stem}" for p in engine_dir.glob("*.py")]
    todo += [
        f"cpoc_fhir.packs.{p.parent.name}.{p.stem}"
        for p in (ROOT / "cpoc_fhir" / "packs").glob("*/*.py")
        if p.stem not in ("pack", "__init__")
    ]
    seen: dict[str, ast.AST] = {}
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _module_file(name)
        if path is None:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        seen[name] = tree
        for imported in _project_imports(tree, name):
            if imported.startswith("cpoc_fhir"):
                todo.append(imported)
                todo.append(imported.rsplit(".", 1)[0])
    return seen


CLOSURE = _engine_closure()


def test_the_closure_covers_the_engine_and_knowledge_models() -> None:
    assert "cpoc_fhir.packs.cpoc.timeline" in CLOSURE
    assert "cpoc_fhir.knowledge.regimens" in CLOSURE
    assert "cpoc_fhir.packs.cpoc.payer" in CLOSURE
    assert "cpoc_fhir.knowledge.loader" not in CLOSURE  # loading is I/O, outside the engine


@pytest.mark.parametrize("module", sorted(CLOSURE))
def test_module_is_pure(module: str) -> None:
    tree = CLOSURE[module]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN_MODULES, f"{module} imports {name}"
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            assert called not in FORBIDDEN_CALLS, f"{module} calls {called}() (line {node.lineno})"
