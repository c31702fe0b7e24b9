"""The import graph runs one way: command line -> gin registration -> library (docs/DESIGN.md).

Read from the source with `ast`, counting imports inside functions too (a lazy import is still
a dependency), over `flan_jax/` and `tasks/` (installed as `flan_jax_tasks`).
"""
import ast
import pathlib

import pytest

from flan_jax import cli

REPO = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = {"flan_jax": REPO / "flan_jax", "flan_jax_tasks": REPO / "tasks"}
GIN_REGISTRATION = {"flan_jax.gin_configurables", "flan_jax_tasks.gin_configurables"}
# The command line: the console script, t5x's flags and every command module it dispatches to.
COMMAND_LINE = {"flan_jax.cli", "flan_jax.gin_flags", "flan_jax.console", "flan_jax.train.__main__"} | {
    module for module, _, _ in cli.COMMANDS.values()
}


def module_files() -> dict[str, pathlib.Path]:
    out = {}
    for package, root in PACKAGES.items():
        for path in root.rglob("*.py"):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([package, *parts])] = path
    return out


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports (anywhere in the file)."""
    files = module_files()
    graph = {}
    for module, path in files.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(module, node, path.name == "__init__.py")
                names = [base] + [f"{base}.{alias.name}" for alias in node.names]
            for name in names:
                # `import a.b.c` depends on a.b.c; `from a.b import c` on a.b (and a.b.c if a module).
                while name and name not in files:
                    name = name.rpartition(".")[0]
                if name and name != module:
                    targets.add(name)
        graph[module] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def test_the_graph_sees_lazy_imports(graph):
    # cli imports its commands only inside a function (importlib), so check a plain lazy one:
    # the package's own modules import each other at top level and inside functions alike.
    assert "flan_jax.train.steps" in graph["flan_jax.train.trainer"]
    assert COMMAND_LINE <= set(graph), sorted(COMMAND_LINE - set(graph))


def test_no_import_cycles(graph):
    assert cycles(graph) == []


def test_cycle_finder_finds_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_library_never_imports_the_command_line_or_gin_registration(graph):
    upper = COMMAND_LINE | GIN_REGISTRATION
    wrong = {m: sorted(t & upper) for m, t in graph.items() if m not in upper and t & upper}
    assert wrong == {}


def test_gin_registration_never_imports_the_command_line(graph):
    wrong = {m: sorted(graph[m] & COMMAND_LINE) for m in GIN_REGISTRATION if m in graph and graph[m] & COMMAND_LINE}
    assert wrong == {}


def test_only_gin_registration_and_the_command_line_import_gin():
    users = []
    for module, path in module_files().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            if any(n == "gin" or n.startswith("gin.") for n in names):
                users.append(module)
                break
    assert sorted(set(users) - GIN_REGISTRATION - COMMAND_LINE) == []
