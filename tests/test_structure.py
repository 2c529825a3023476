"""The package's shape: no import cycle between its top-level parts nor between the modules of a room (lazy
imports inside functions count), no room importing an entry point, a small top level, small files."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "htr_lit"
MAX_LINES = 400
# Entry points and core at the top; everything else lives in a sub-package (a room).
TOP_LEVEL = {"__init__", "adapt", "charset", "checkpoint", "config", "data_cli", "errors", "eval", "export", "inspect",
             "metrics", "overrides", "predict", "train"}
ROOMS = {"adaptation", "analysis", "assets", "cv", "data", "decoding", "inference", "measuring", "models", "results",
         "runs"}
# What a user runs; the rooms below them never import one (what they share moves down into a room).
ENTRY_POINTS = {"adapt", "cv", "data_cli", "eval", "export", "inspect", "predict", "train"}


def module_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """Module (dotted, below htr_lit: `inference.backend`; a package is its `__init__`) -> the modules of the
    package it imports anywhere in its file, lazy imports inside functions included. `from htr_lit.data import
    ink` names the module `data.ink`; `from htr_lit.data.ink import x` names it too."""
    files = {".".join(p.relative_to(root).with_suffix("").parts).removesuffix(".__init__"): p
             for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in files.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imports = [(node.module, [a.name for a in node.names])]
            elif isinstance(node, ast.Import):
                imports = [(a.name, []) for a in node.names]
            else:
                continue
            for name, names in imports:
                bits = name.split(".")
                if bits[0] != root.name or len(bits) < 2:
                    continue
                base = ".".join(bits[1:])
                subs = {f"{base}.{n}" for n in names if f"{base}.{n}" in files}
                targets = subs | ({base} if len(subs) < len(names) or not names else set())
                graph[module] |= targets - {module}
    return graph


def import_graph(graph: dict[str, set[str]] | None = None) -> dict[str, set[str]]:
    """Top-level part (module or sub-package) -> the other parts it imports, at any depth."""
    parts: dict[str, set[str]] = defaultdict(set)
    for module, targets in (module_graph() if graph is None else graph).items():
        part = module.split(".")[0]
        parts[part] |= {t.split(".")[0] for t in targets} - {part}
    return parts


def room_graphs(graph: dict[str, set[str]]) -> dict[str, dict[str, set[str]]]:
    """Room -> the import graph between the modules inside it."""
    rooms: dict[str, dict[str, set[str]]] = defaultdict(dict)
    for module, targets in graph.items():
        room = module.split(".")[0]
        if "." in module:
            rooms[room][module] = {t for t in targets if t.split(".")[0] == room and "." in t}
    return rooms


def entry_point_imports(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(module, entry point module) for every module inside a room that imports an entry point of another room
    or of the top level (the cv room's own modules import each other freely)."""
    return sorted((module, t) for module, targets in graph.items() if "." in module for t in targets
                  if t.split(".")[0] in ENTRY_POINTS and t.split(".")[0] != module.split(".")[0])


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


def test_no_import_cycle_between_the_modules_of_a_room() -> None:
    graph = module_graph()
    assert "data.collate" in graph["inference.batching"]  # module-level `from htr_lit.data.collate import ...`
    assert "data.synth.dataset" in graph["data.sources"]  # a lazy import inside a function counts too
    cycles = {room: find_cycle(g) for room, g in room_graphs(graph).items()}
    assert not {room: c for room, c in cycles.items() if c}


def test_the_module_graph_sees_a_cycle_closed_by_a_lazy_import(tmp_path: Path) -> None:
    room = tmp_path / "htr_lit" / "room"
    room.mkdir(parents=True)
    (tmp_path / "htr_lit" / "__init__.py").write_text("")
    (room / "__init__.py").write_text("")
    (room / "a.py").write_text("from htr_lit.room.b import B\n")
    (room / "b.py").write_text("def load():\n    from htr_lit.room import a  # lazy, to dodge the cycle\n")
    (room / "c.py").write_text("import htr_lit.room.a\nfrom htr_lit.room import VALUE\n")
    graph = module_graph(tmp_path / "htr_lit")
    assert graph["room.a"] == {"room.b"} and graph["room.b"] == {"room.a"}
    assert graph["room.c"] == {"room.a", "room"}  # a name of the package itself is its __init__
    assert find_cycle(room_graphs(graph)["room"]) == ["room.a", "room.b", "room.a"]


def test_no_room_imports_an_entry_point() -> None:
    graph = module_graph()
    assert "analysis.inspect_page" in graph["inspect"] and "inference.onnx_export" in graph["export"]
    assert entry_point_imports(graph) == []


def test_the_entry_point_rule_catches_a_room_that_imports_one() -> None:
    planted = {"inference.onnx_backend": {"export", "models.module"}, "measuring.bench_predict": {"predict"},
               "results.pareto": {"cv.compare"}, "cv.pareto": {"cv.compare", "results.doc_block"},
               "inspect": {"eval"}}
    assert entry_point_imports(planted) == [("inference.onnx_backend", "export"),
                                            ("measuring.bench_predict", "predict"), ("results.pareto", "cv.compare")]


def test_top_level_holds_entry_points_and_core_only() -> None:
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    assert modules == TOP_LEVEL
    assert {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()} == ROOMS


def test_no_module_is_over_the_size_limit() -> None:
    sizes = {str(p.relative_to(PACKAGE)): len(p.read_text(encoding="utf-8").splitlines())
             for p in PACKAGE.rglob("*.py")}
    assert not {k: v for k, v in sizes.items() if v > MAX_LINES}
