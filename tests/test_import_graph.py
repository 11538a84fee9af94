"""The project's modules import each other without circles and respect the layering.

Every ``import`` and ``from ... import`` statement of every module is read with `ast`,
wherever it stands: at the top, inside a function or class body, under ``try`` and under
``if TYPE_CHECKING:``. Type-only imports count like the others: Python tolerates a circle
through them, but such a circle still ties two modules together, and the layering rules
below say what each package may depend on at all.

Edges are resolved to modules: ``from pkg import name`` is an edge to the submodule
``pkg.name`` when ``pkg/name.py`` (or ``pkg/name/``) exists, and to ``pkg`` (its
``__init__``) otherwise. ``import a.b.c`` is an edge to ``a.b.c``. Importing a submodule
also runs its packages' ``__init__`` files, but those edges are not counted: a submodule of
``pkg`` that ``pkg/__init__.py`` re-exports would otherwise always close a circle.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES: tuple[str, ...] = (
    "models", "nas_env", "agents", "analyze", "config", "runfolder", "benchmarks",
)  # fmt: skip
SCRIPTS: tuple[str, ...] = ("train_rl", "tune_rl")
PROJECT: frozenset[str] = frozenset(PACKAGES + SCRIPTS)

# Package or script -> top-level project names it must never import (ARCHITECTURE.md's
# table). `benchmarks` may import anything, and nothing may import it.
_ABOVE_NAS_ENV = {"agents", "analyze", "train_rl", "tune_rl", "benchmarks"}
FORBIDDEN: dict[str, frozenset[str]] = {
    "models": frozenset({"nas_env", "config", *_ABOVE_NAS_ENV}),
    "config": frozenset({"models", "nas_env", *_ABOVE_NAS_ENV}),
    "nas_env": frozenset({"stable_baselines3", "sb3_contrib", *_ABOVE_NAS_ENV}),
    "agents": frozenset({"analyze", "train_rl", "tune_rl", "benchmarks"}),
    "analyze": frozenset({"models", "nas_env", "agents", "train_rl", "tune_rl", "benchmarks"}),
    "runfolder": frozenset({"models", "nas_env", "config", *_ABOVE_NAS_ENV}),
    "train_rl": frozenset({"tune_rl", "benchmarks"}),
    "tune_rl": frozenset({"analyze", "benchmarks"}),
}


@dataclass(frozen=True)
class Import:
    """One import statement's target, resolved to a module name."""

    source: str
    target: str
    line: int


def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the project."""
    files: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            files[".".join(parts)] = path
    for script in SCRIPTS:
        files[script] = ROOT / f"{script}.py"
    return files


@cache
def _files() -> dict[str, Path]:
    return module_files()


def _is_package(module: str) -> bool:
    return _files()[module].name == "__init__.py"


def _resolve_base(module: str, node: ast.ImportFrom) -> str:
    """The absolute module a ``from X import ...`` statement names as ``X``."""
    if node.level == 0:
        return node.module or ""
    parts = module.split(".")
    package = parts if _is_package(module) else parts[:-1]
    anchor = package[: len(package) - (node.level - 1)]
    return ".".join(anchor + ([node.module] if node.module else []))


def imports_of(module: str) -> Iterator[Import]:
    """Every import in ``module``, resolved to module names (third-party ones included)."""
    tree = ast.parse(_files()[module].read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_base(module, node)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                target = candidate if candidate in _files() else base
                yield Import(module, target, node.lineno)


def project_graph() -> dict[str, dict[str, int]]:
    """Module -> {imported project module: line of the first such import}."""
    graph: dict[str, dict[str, int]] = {}
    for module in _files():
        edges: dict[str, int] = {}
        for item in imports_of(module):
            if item.target.split(".")[0] in PROJECT and item.target != module:
                edges.setdefault(item.target, item.line)
        graph[module] = edges
    return graph


def find_cycle(graph: dict[str, dict[str, int]]) -> list[str] | None:
    """One import circle as ``[a, b, ..., a]``, or None when the graph has none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def _describe(cycle: list[str], graph: dict[str, dict[str, int]]) -> str:
    steps = [
        f"{a} ({_files()[a].relative_to(ROOT)}:{graph[a][b]}) -> {b}"
        for a, b in itertools.pairwise(cycle)
    ]
    return "import circle:\n  " + "\n  ".join(steps)


def test_every_import_target_resolves() -> None:
    graph = project_graph()
    unknown = sorted(
        f"{source} -> {target}"
        for source, edges in graph.items()
        for target in edges
        if target not in graph
    )
    assert not unknown, f"imports of project modules that do not exist: {unknown}"


def test_no_module_imports_in_a_circle() -> None:
    graph = project_graph()
    cycle = find_cycle(graph)
    assert cycle is None, _describe(cycle, graph)


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layering(package: str) -> None:
    bad = sorted(
        f"{item.source} ({_files()[item.source].relative_to(ROOT)}:{item.line}) -> {item.target}"
        for module in _files()
        if module.split(".")[0] == package
        for item in imports_of(module)
        if item.target.split(".")[0] in FORBIDDEN[package]
    )
    assert not bad, f"{package} must not import {sorted(FORBIDDEN[package])}: {bad}"


def test_find_cycle_reports_the_circle() -> None:
    graph = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": 1}, "b": {}}) is None
