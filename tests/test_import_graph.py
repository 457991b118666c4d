"""The import graph of ``cpoc_fhir`` and ``cds_hooks``, read with ast (nothing is imported).

Every import counts: at module level, inside a function and under ``TYPE_CHECKING``, because
each is a dependency and one inside a function that closes a circle only hides it.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The command line starts the CDS Hooks service (`cpoc serve`, `cpoc demo`).
MAY_IMPORT_CDS_HOOKS = {"cpoc_fhir.cli"}


def _modules() -> dict[str, tuple[Path, bool]]:
    found = {}
    for package in ("cpoc_fhir", "cds_hooks"):
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str) -> dict[str, int]:
    path, is_package = MODULES[module]
    out: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module if is_package else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{node.module}" if node.module else anchor
            names = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names
            ]
        for name in names:
            target = _resolve(name)
            if target and target != module:
                out.setdefault(target, node.lineno)
    return out


GRAPH = {module: _imports(module) for module in MODULES}


def _cycle() -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in GRAPH[node]:
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for module in sorted(GRAPH):
        if module not in state and (found := visit(module)):
            return found
    return None


def _edges(source: str, target: str) -> list[str]:
    return [
        f"{a} (line {line}) imports {b}"
        for a, targets in sorted(GRAPH.items())
        if a == source or a.startswith(source + ".")
        for b, line in targets.items()
        if b == target or b.startswith(target + ".")
    ]


def test_the_graph_sees_the_tree() -> None:
    assert "cpoc_fhir.engine.facts" in GRAPH["cpoc_fhir.packs.base"]


def test_no_import_circles() -> None:
    cycle = _cycle()
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_the_engine_imports_no_pack() -> None:
    assert _edges("cpoc_fhir.engine", "cpoc_fhir.packs") == []


def test_no_pack_imports_another() -> None:
    wrong = [
        f"{a} (line {line}) imports {b}"
        for a, targets in sorted(GRAPH.items())
        for b, line in targets.items()
        if a.count(".") >= 3
        and b.count(".") >= 3
        and a.startswith("cpoc_fhir.packs.")
        and b.startswith("cpoc_fhir.packs.")
        and a.split(".")[2] != b.split(".")[2]
    ]
    assert wrong == []


def test_only_the_command_line_imports_cds_hooks() -> None:
    wrong = [
        e for e in _edges("cpoc_fhir", "cds_hooks") if e.split(" ")[0] not in MAY_IMPORT_CDS_HOOKS
    ]
    assert wrong == []


def _reachable(source: str) -> dict[str, list[str]]:
    """Every module ``source``'s modules import, directly or not: target → one import chain."""
    chains: dict[str, list[str]] = {}
    todo = [(m, [m]) for m in GRAPH if m == source or m.startswith(source + ".")]
    while todo:
        module, chain = todo.pop()
        for target in GRAPH[module]:
            if target not in chains:
                chains[target] = [*chain, target]
                todo.append((target, chains[target]))
    return chains


def test_knowledge_imports_neither_the_engine_nor_a_pack() -> None:
    # Issue 15 item 9: the shared enums are in cpoc_fhir.vocabulary (engine.facts re-exports
    # them), the catalog's Table 3 and oral patterns in knowledge/regimen_points.py.
    assert _edges("cpoc_fhir.knowledge", "cpoc_fhir.engine") == []
    assert _edges("cpoc_fhir.knowledge", "cpoc_fhir.packs") == []
    chains = _reachable("cpoc_fhir.knowledge")
    wrong = [
        " -> ".join(chain)
        for target, chain in sorted(chains.items())
        if target.startswith(("cpoc_fhir.engine", "cpoc_fhir.packs"))
    ]
    assert wrong == []


def test_the_vocabulary_imports_nothing_of_the_product() -> None:
    assert [t for t in GRAPH["cpoc_fhir.vocabulary"] if t.startswith("cpoc_fhir")] == []
