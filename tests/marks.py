"""Which tests must carry a mark, read from the test files' syntax trees (tests/test_markers.py runs it).

A test that starts a subprocess (`subprocess.run` and the like, `os.system`) must be marked `slow`: `make
test-fast` (`-m "not slow"`) leaves it out. A test that trains a model in-process (a Lightning trainer's
`.fit`, the train entry point `htr_lit.train.train`, `train_tiny_checkpoint`) must be marked `train` (seconds:
kept in test-fast) or `slow`. A test does what its own body does, what the module's functions and fixtures it
calls or asks for do, and what the helpers it imports from other test modules do. A mark counts on the test
function (decorator) or on the module (`pytestmark`). The session fixture `tiny_checkpoint` of conftest.py
trains each variant once a session and is shared: asking for it is not training.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

SUBPROCESS = "subprocess"
TRAIN = "train"
NEEDS = {SUBPROCESS: {"slow"}, TRAIN: {"slow", "train"}}  # what each kind of work asks for: any one of these marks
PROCESS_CALLS = {("subprocess", n) for n in ("run", "Popen", "call", "check_call", "check_output", "getoutput")} | {
    ("os", "system"), ("os", "popen")}
DOES = {SUBPROCESS: "starts a subprocess", TRAIN: "trains a model"}
SHARED = {"tiny_checkpoint"}  # session fixtures trained once and shared (not counted as a test's training)


@dataclass
class Module:
    """One test file: its functions (name -> node), which of them are fixtures, its module-level marks and the
    names it imports from other test modules (local name -> (module, name))."""

    path: Path
    functions: dict[str, ast.FunctionDef] = field(default_factory=dict)
    fixtures: set[str] = field(default_factory=set)
    marks: set[str] = field(default_factory=set)
    imports: dict[str, tuple[str, str]] = field(default_factory=dict)
    train_names: set[str] = field(default_factory=set)  # local names bound to htr_lit.train's train


def _mark_names(node: ast.expr) -> set[str]:
    """`pytest.mark.slow`, `pytest.mark.slow(...)` or a list/tuple of them -> {"slow"}."""
    if isinstance(node, (ast.List, ast.Tuple)):
        return set().union(*(_mark_names(e) for e in node.elts)) if node.elts else set()
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) and node.value.attr == "mark":
        return {node.attr}
    return set()


def _is_fixture(fn: ast.FunctionDef) -> bool:
    for dec in fn.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        if (isinstance(target, ast.Attribute) and target.attr == "fixture") or (
                isinstance(target, ast.Name) and target.id == "fixture"):
            return True
    return False


def read_module(path: Path) -> Module:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    mod = Module(path)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            mod.functions[node.name] = node
            if _is_fixture(node):
                mod.fixtures.add(node.name)
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark"
                                                  for t in node.targets):
            mod.marks |= _mark_names(node.value)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                local = alias.asname or alias.name
                if node.module == "htr_lit.train" and alias.name == "train":
                    mod.train_names.add(local)
                elif node.module.startswith("tests."):
                    mod.imports[local] = (node.module.split(".", 1)[1], alias.name)
    return mod


def _is_trainer(node: ast.expr) -> bool:
    """`trainer`, `self.trainer`, `L.Trainer(...)`, `trainer(2)`: a Lightning trainer (not an LM's `.fit`)."""
    if isinstance(node, ast.Call):
        node = node.func
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
    return "trainer" in name.lower()


def _starts_a_process(call: ast.Call) -> bool:
    """`subprocess.run/Popen/call/check_*(...)`, `os.system/popen(...)`; not `git` reading the repository (a
    `git ls-files` takes milliseconds), not a `subprocess.CompletedProcess` made by a fake."""
    func = call.func
    if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
        return False
    if (func.value.id, func.attr) not in PROCESS_CALLS:
        return False
    command = call.args[0] if call.args else None
    first = command.elts[0] if isinstance(command, (ast.List, ast.Tuple)) and command.elts else None
    return not (isinstance(first, ast.Constant) and first.value == "git")


def own_work(fn: ast.FunctionDef, mod: Module) -> set[str]:
    """The kinds of work a function's own body does (not counting what the functions it calls do)."""
    work = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Call) and _starts_a_process(node):
            work.add(SUBPROCESS)
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr == "fit" and _is_trainer(func.value):
                work.add(TRAIN)
            if isinstance(func, ast.Name) and func.id == "train_tiny_checkpoint":
                work.add(TRAIN)
        if isinstance(node, ast.Name) and node.id in mod.train_names:  # called, or handed on: run_task(train, cfg)
            work.add(TRAIN)
    return work


def _called_names(fn: ast.FunctionDef) -> set[str]:
    names = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)}
    return names | {a.arg for a in fn.args.args + fn.args.kwonlyargs}  # fixture requests are parameters


class Checker:
    """The work each function of the test modules does, through the calls, fixtures and imports it uses."""

    def __init__(self, modules: dict[str, Module]) -> None:
        self.modules = modules  # "test_e2e" -> Module; "conftest" holds the shared fixtures
        self._cache: dict[tuple[str, str], set[str]] = {}

    def work(self, module: str, name: str, seen: frozenset = frozenset()) -> set[str]:
        key = (module, name)
        if key in self._cache:
            return self._cache[key]
        if key in seen or module not in self.modules:
            return set()
        mod = self.modules[module]
        if name not in mod.functions:
            if name in mod.imports:
                return self.work(*mod.imports[name], seen | {key})
            conftest = self.modules.get("conftest")
            if conftest and name in conftest.fixtures and module != "conftest":
                return self.work("conftest", name, seen | {key})
            return set()
        if module == "conftest" and name in SHARED:
            return set()
        fn = mod.functions[name]
        work = own_work(fn, mod)
        for used in _called_names(fn) - {name}:
            if used in mod.functions or used in mod.imports or (
                    "conftest" in self.modules and used in self.modules["conftest"].fixtures):
                work |= self.work(module, used, seen | {key})
        self._cache[key] = work
        return work

    def problems(self) -> list[str]:
        """'path::test: does <work>, needs one of <marks>' for every test function missing its mark."""
        found = []
        for module, mod in sorted(self.modules.items()):
            for name, fn in mod.functions.items():
                if not name.startswith("test_") or name in mod.fixtures:
                    continue
                marks = mod.marks.union(*(_mark_names(d) for d in fn.decorator_list))
                for kind in sorted(self.work(module, name)):
                    if not marks & NEEDS[kind]:
                        need = " or ".join(sorted(NEEDS[kind]))
                        found.append(f"{mod.path.name}::{name}: {DOES[kind]}, needs @pytest.mark.{need}")
        return found


def check(folder: Path) -> list[str]:
    """The problems of every test module (and conftest.py) in `folder`."""
    modules = {p.stem: read_module(p) for p in sorted(folder.glob("*.py")) if p.name != "__init__.py"}
    return Checker(modules).problems()
