"""The house rules of ``src/mimo`` (docs/ARCHITECTURE.md): no import cycle, no module over 400 lines.

Both read the source with ``ast`` only, so they need no import of mimo or its heavy dependencies.

Which imports count: every import of a ``mimo`` module, wherever it stands — at module level, inside a
function (the codebase's way of keeping ``mimo --help`` and the CLI's start-up cheap) or under
``if TYPE_CHECKING:``. A lazy import only postpones *when* two modules meet; if ``a`` imports ``b`` at
the top and ``b`` imports ``a`` inside a function, the two still cannot be understood, tested or moved
apart, which is what a cycle costs. So the rule is stricter than Python's own (which tolerates a
cycle through function-level imports) on purpose: a helper both sides need gets a home below both.

How an import maps to an edge (the usual reading, as import-linter's):
- ``import a.b.c`` and ``from a.b.c import x`` are an edge to ``a.b.c``; ``from a.b import c``, where
  ``a.b.c`` is a module, is an edge to ``a.b.c`` (the submodule), otherwise to ``a.b`` (a name that the
  package's ``__init__`` exports: that ``__init__``'s own imports are edges in turn, so re-exports count);
- relative imports are resolved against the importing module's package;
- the parent packages that Python initialises on the way (``a``, ``a.b``) are not edges: every module
  of a package would otherwise be in a cycle with an ``__init__`` that re-exports anything;
- dynamic imports (``importlib.import_module`` of a string) are not seen.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "mimo"
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` file of the package (``__init__`` = the package)."""
    out = {}
    for path in sorted(PKG.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name of ``from <level dots><target> import ...`` written in ``module``."""
    if level == 0:
        return target or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, target] if target else base)


def import_graph() -> dict[str, set[str]]:
    """Module -> the ``mimo`` modules it imports (see the module docstring for what counts)."""
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(mod, is_pkg, node.level, node.module)
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    targets.append(sub if sub in mods else base)
            for t in targets:
                while t and t not in mods:  # ``import mimo.x.y`` of a name inside a module: its module
                    t = t.rpartition(".")[0]
                if t and t != mod and (t == "mimo" or t.startswith("mimo.")):
                    graph[mod].add(t)
    return graph


def components(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan): each is a knot of cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    comps: list[set[str]] = []

    def visit(v: str) -> None:  # recursion depth <= the module count (~100)
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
            comp = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(comp)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(comps, key=min)


def shortest_cycle(graph: dict[str, set[str]], comp: set[str]) -> list[str]:
    """A shortest cycle through the first module of ``comp`` (breadth-first inside the component)."""
    start = min(comp)
    prev: dict[str, str] = {}
    frontier = [start]
    while frontier and start not in prev:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & comp):
                if w not in prev:
                    prev[w] = v
                    nxt.append(w)
        frontier = nxt
    path = [start]
    while (v := prev[path[-1]]) != start:
        path.append(v)
    return [start, *reversed(path[1:]), start]


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One shortest cycle per knot of cycles, sorted."""
    return sorted(shortest_cycle(graph, c) for c in components(graph))


def test_the_graph_reader_sees_every_kind_of_import():
    """The checker itself: a module-level, a function-level, a relative and a re-exported import."""
    g = import_graph()
    assert "mimo.models.loader" in g["mimo.models"]  # the package __init__'s re-export
    assert "mimo.models.e5s1" in g["mimo.models.sources"]  # ``from mimo.models import e5s1``: the submodule
    assert "mimo.data.build" in g["mimo.demo"]  # imported inside a function
    assert "mimo.models" in g["mimo.demo"]  # ``from mimo.models import load_model``: the package
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_inside_mimo():
    g = import_graph()
    knots = components(g)
    assert not knots, "import cycles in mimo (give the shared concept one home below both sides):\n" + "\n".join(
        f"{' -> '.join(shortest_cycle(g, c))}  (modules in this knot: {', '.join(sorted(c))})" for c in knots)


@pytest.mark.parametrize("path", sorted(PKG.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_no_module_over_400_lines(path):
    n = len(path.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(SRC)} has {n} lines (> {MAX_LINES}): split it so each file has one job"
