"""The package's shape: no import cycle between its top-level parts, a small top level, small files."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "htr_lit"
MAX_LINES = 400
# Entry points and core at the top; everything else lives in a sub-package.
TOP_LEVEL = {"__init__", "charset", "checkpoint", "config", "errors", "eval", "export", "inspect", "metrics",
             "overrides", "predict", "train"}


def import_graph() -> dict[str, set[str]]:
    """Top-level part (module or sub-package) -> the other parts it imports, at any depth."""
    graph: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        part = path.relative_to(PACKAGE).with_suffix("").parts[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else (
                [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            for name in names:
                bits = name.split(".")
                if bits[0] == "htr_lit" and len(bits) > 1 and bits[1] != part:
                    graph[part].add(bits[1])
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path, node, nxt]
            if nxt not in state and (found := visit(nxt, [*path, node])):
                return found
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node, [])):
            return found
    return None


def test_no_import_cycle_between_the_parts_of_the_package() -> None:
    graph = import_graph()
    assert "models" in graph["checkpoint"] or "models" in graph["train"]  # the graph is really read
    assert find_cycle(graph) is None, find_cycle(graph)
    assert "checkpoint" not in graph["models"] and "models" not in graph["data"]


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}}) is None


def test_top_level_holds_entry_points_and_core_only() -> None:
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    assert modules == TOP_LEVEL


def test_no_module_is_over_the_size_limit() -> None:
    sizes = {str(p.relative_to(PACKAGE)): len(p.read_text(encoding="utf-8").splitlines())
             for p in PACKAGE.rglob("*.py")}
    assert not {k: v for k, v in sizes.items() if v > MAX_LINES}
