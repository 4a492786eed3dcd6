"""The shape of the code: imports form a tree, designer/ goes through the engine's door, modules stay small.

The graph is read from the source with `ast`: every import, at module level and inside functions (a
function-level import is still a dependency, only a later one), except those under `if TYPE_CHECKING:`,
which exist for annotations and are never run.
"""

import ast
from pathlib import Path

import pytest

from tests.live import ROOT

PACKAGES = ("engine", "designer")
MAX_LINES = 600
KNOWN_TOO_LONG: set[str] = set()  # none: keep it that way


def _modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST):
    """Every Import/ImportFrom node of the tree that runs, i.e. not under `if TYPE_CHECKING:`."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from (imported for child in node.orelse for imported in _imports_of(child))
            continue
        yield from _imports_of(node)


def _imports_of(node: ast.AST):
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    else:
        yield from _imports(node)


def _graph(modules: dict[str, Path]) -> dict[str, dict[str, list[str]]]:
    """{module: {imported module: [names imported from it]}} within engine/ and designer/. `from pkg import
    sub` is an import of the submodule `pkg.sub`; `from pkg import name` one of the package itself."""
    graph = {}
    for name, path in modules.items():
        edges: dict[str, list[str]] = {}
        for node in _imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in modules:
                        edges.setdefault(alias.name, [])
                continue
            if node.level or node.module is None:  # relative imports: none in this project
                continue
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                if submodule in modules:
                    edges.setdefault(submodule, [])
                elif node.module in modules and node.module != name:
                    edges.setdefault(node.module, []).append(alias.name)
        graph[name] = edges
    return graph


def _cycles(graph: dict[str, dict]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each one a circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph[module]:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1 or module in graph[module]:
                found.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    return found


@pytest.fixture(scope="module")
def modules():
    return _modules()


@pytest.fixture(scope="module")
def graph(modules):
    return _graph(modules)


def test_the_graph_sees_imports_inside_functions_and_skips_type_checking_ones():
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from engine import a\n"
                     "def f():\n    from engine import b\n")
    assert [node.names[0].name for node in _imports(tree) if node.module == "engine"] == ["b"]
    assert _cycles({"x": {"y": []}, "y": {"x": []}, "z": {"x": []}}) == [["x", "y"]]


def test_engine_and_designer_import_one_another_in_no_circle(graph):
    assert _cycles(graph) == []


def test_designer_uses_only_what_the_engine_exports(modules, graph):
    tree = ast.parse(modules["engine"].read_text())
    exported = next(ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
                    and any(getattr(target, "id", None) == "__all__" for target in node.targets))
    wrong = []
    for name, edges in graph.items():
        if not name.startswith("designer"):
            continue
        for imported, names in edges.items():
            # `from engine import jsontext` is an edge to the submodule; allowed when the door exports it.
            if imported.startswith("engine.") and imported.removeprefix("engine.") not in exported:
                wrong.append(f"{name} imports {imported}")
            wrong += [f"{name} imports engine.{item}" for item in names
                      if imported == "engine" and item not in exported]
    assert wrong == []


def test_no_module_is_longer_than_600_lines(modules):
    lengths = {name: len(path.read_text().splitlines()) for name, path in modules.items()}
    too_long = {name: lines for name, lines in lengths.items()
                if lines > MAX_LINES and name not in KNOWN_TOO_LONG}
    assert too_long == {}
