"""The package's layers, read from its imports like a lint: arrows only point down.

``docs/architecture.md`` draws the same picture; a change to one is a change to both.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "offtake"

#: Top-level packages and modules of ``offtake``, bottom layer first.
LAYERS: list[set[str]] = [
    {"errors", "units", "timeutil", "progress", "report", "settings", "allocation", "scenario", "renewables"},
    {"grid", "persistence"},
    {"identity"},
    {"surplus", "planning", "economics", "risk", "dispatch"},
    {"registry", "ledger", "billing", "vtn", "certificates"},
    {"simulation", "live", "agent"},
    {"api", "cli", "__main__"},
]
TOP = {"api", "cli", "__main__"}
WEB_FRAMEWORKS = {"fastapi", "starlette", "uvicorn"}


def _layer(name: str) -> int:
    for i, members in enumerate(LAYERS):
        if name in members:
            return i
    raise AssertionError(f"offtake.{name} is in no layer: add it to LAYERS and docs/architecture.md")


def _imports(path: Path, root: Path = PACKAGE.parent) -> set[str]:
    """Absolute module names imported anywhere in a file (inside functions too)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    package = parts if path.name == "__init__.py" else parts[:-1]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                found.add(".".join([*base, node.module] if node.module else base))
            else:
                found.add(node.module or "")
    return found


def _top(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("").parts
    return rel[0]


def _modules() -> list[Path]:
    """Every module but the package's own ``__init__`` and the migrations."""
    return sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts and p != PACKAGE / "__init__.py")


def _graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for path in _modules():
        own = _top(path)
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] == "offtake" and len(parts) > 1 and parts[1] != own:
                edges[own].add(parts[1])
    return edges


def test_every_package_has_a_layer() -> None:
    tops = {_top(p) for p in _modules()}
    for name in tops:
        _layer(name)


def test_arrows_only_point_down() -> None:
    upward = [
        f"offtake.{a} (layer {_layer(a)}) imports offtake.{b} (layer {_layer(b)})"
        for a, targets in _graph().items()
        for b in targets
        if _layer(b) > _layer(a)
    ]
    assert upward == []


def test_no_import_circle_between_packages() -> None:
    graph = _graph()
    state: dict[str, int] = {}
    circles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                circles.append([*path[path.index(nxt):], nxt] if nxt in path else [*path, nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert circles == []


@pytest.mark.parametrize("framework", sorted(WEB_FRAMEWORKS))
def test_only_the_api_and_cli_know_the_web_framework(framework: str) -> None:
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in _modules()
        if _top(path) not in TOP
        and any(n.split(".")[0] == framework or n.startswith(("offtake.api", "offtake.cli")) for n in _imports(path))
    ]
    assert offenders == []


def test_the_reader_finds_imports_in_functions_and_relative_ones(tmp_path: Path) -> None:
    module = tmp_path / "offtake" / "ledger" / "x.py"
    module.parent.mkdir(parents=True)
    module.write_text("from .store import a\n\ndef f():\n    from offtake.api import app\n    import fastapi\n")
    assert _imports(module, tmp_path) == {"offtake.ledger.store", "offtake.api", "fastapi"}
