"""The import graph of ``landmark_fusion`` and ``trainer`` stays acyclic and one-way.

Every module is parsed with :mod:`ast` (nothing is imported): each ``import`` and ``from … import``
statement becomes an edge to the project module it names, relative imports resolved. An import is
of one of three kinds: ``module`` (in a module's body or a class body: it runs when the module is
loaded), ``type`` (under ``if TYPE_CHECKING:``: for annotations only) or ``function`` (inside a
function or method). ``from package import name`` is an edge to ``package.name`` where that is a
module, else to the package. Importing ``a.b.c`` also runs the packages ``a`` and ``a.b``; those
implicit edges are not counted (a package's ``__init__`` that re-exports its modules would
otherwise form a "cycle" with each of them).

Checks: no cycle among the imports that run when modules load; no cycle counting every import
either (an import deferred into a function or behind ``TYPE_CHECKING`` hides a cycle from the
interpreter, not from the design), except the known cycles of :data:`KNOWN_CYCLE_EDGES`;
``landmark_fusion`` never imports ``trainer``, nor names one of its modules in a string (a module
path for ``importlib`` or ``python -m``); the build's engines never import the work they run.
"""
from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("landmark_fusion", "trainer")

#: Deferred imports (``function`` or ``type``) that close a cycle today, each ``(importer,
#: imported)``. They are tolerated, not wanted: the list only shrinks, and an entry whose cycle is
#: gone makes :func:`test_known_cycles_are_still_cycles` fail until it is removed.
KNOWN_CYCLE_EDGES: frozenset[tuple[str, str]] = frozenset({
    # roots.Root holds a split declaration (splits.SplitSpec), and splits resolves a declaration
    # against the database of a Root, which it names in annotations only (TYPE_CHECKING).
    ("landmark_fusion.splits", "landmark_fusion.roots"),
})
#: A string that names a trainer module: ``trainer`` alone, or a dotted path that starts with it.
TRAINER_MODULE = re.compile(r"^\s*trainer\s*$|(?<![\w.])trainer(?:\.[A-Za-z_]\w*)+")
#: Kinds of import (see the module docstring).
MODULE, TYPE, FUNCTION = "module", "type", "function"


@dataclass(frozen=True)
class Edge:
    """One import statement from ``importer`` to the project module ``imported``."""

    importer: str
    imported: str
    line: int
    kind: str  # MODULE, TYPE or FUNCTION


def module_name(path: Path) -> str:
    """``landmark_fusion/build/__init__.py`` → ``landmark_fusion.build``."""
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    """Every module of the checked packages, by dotted name."""
    return {module_name(path): path for package in PACKAGES
            for path in sorted((REPO / package).rglob("*.py"))}


def _target(name: str, modules: dict[str, Path]) -> str | None:
    """The project module that importing ``name`` loads last (None outside the project)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def _base(module: str, path: Path, level: int) -> str:
    """The package a relative import of ``level`` dots in ``module`` starts from."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for _ in range(level - 1):
        package = package.rpartition(".")[0]
    return package


def _type_checking(node: ast.AST) -> bool:
    """Whether ``node`` is ``if TYPE_CHECKING:`` (or ``if typing.TYPE_CHECKING:``)."""
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _statements(tree: ast.AST):
    """``(import statement, kind)`` for every import in ``tree``."""
    stack: list[tuple[ast.AST, str]] = [(tree, MODULE)]
    while stack:
        node, kind = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, kind
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            kind = FUNCTION
        elif kind == MODULE and _type_checking(node):
            stack.extend((child, TYPE) for child in node.body)
            stack.extend((child, kind) for child in node.orelse)  # this branch runs
            continue
        stack.extend((child, kind) for child in ast.iter_child_nodes(node))


def import_edges(modules: dict[str, Path] | None = None) -> list[Edge]:
    """Every import of one project module by another, module- and function-level."""
    modules = project_modules() if modules is None else modules
    edges: list[Edge] = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node, kind in _statements(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                source = node.module or ""
                if node.level:
                    base = _base(module, path, node.level)
                    source = f"{base}.{source}" if source else base
                # ``from package import module`` loads the module; ``from module import name``
                # the module itself
                names = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules
                         else source for alias in node.names]
            for name in dict.fromkeys(names):
                target = _target(name, modules)
                if target is not None and target != module:
                    edges.append(Edge(module, target, node.lineno, kind))
    return list(dict.fromkeys(edges))


def code_strings(tree: ast.AST) -> list[ast.Constant]:
    """The string constants of ``tree`` that the code uses: every one but the docstrings (those
    document, they run nothing)."""
    docstrings = {id(body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and (body := node.body) and isinstance(body[0], ast.Expr)
                  and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)}
    return [node for node in ast.walk(tree) if isinstance(node, ast.Constant)
            and isinstance(node.value, str) and id(node) not in docstrings]


def trainer_module_strings(path: Path) -> list[str]:
    """``FILE:LINE: 'string'`` for each string of the code in ``path`` that names a trainer module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}:{node.lineno}: {node.value!r}"
            for node in code_strings(tree) if TRAINER_MODULE.search(node.value)]


def find_cycle(edges: list[Edge]) -> list[Edge] | None:
    """One cycle of the graph as its edges in order (None when the graph has none)."""
    graph: dict[str, list[Edge]] = {}
    for edge in edges:
        graph.setdefault(edge.importer, []).append(edge)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[Edge] = []

    def visit(module: str) -> list[Edge] | None:
        state[module] = 1
        for edge in sorted(graph.get(module, ()), key=lambda e: (e.imported, e.line)):
            if state.get(edge.imported) == 1:
                start = next((i for i, e in enumerate(path) if e.importer == edge.imported),
                             len(path))
                return path[start:] + [edge]
            if edge.imported not in state:
                path.append(edge)
                found = visit(edge.imported)
                if found is not None:
                    return found
                path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            found = visit(module)
            if found is not None:
                return found
    return None


def reachable(start: str, edges: list[Edge]) -> set[str]:
    """Every module that importing ``start`` can lead to."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.importer, set()).add(edge.imported)
    seen: set[str] = set()
    todo = [start]
    while todo:
        for module in graph.get(todo.pop(), ()):
            if module not in seen:
                seen.add(module)
                todo.append(module)
    return seen


def describe(cycle: list[Edge]) -> str:
    """``a (a.py:3) -> b (b.py:10) -> a``: the cycle with the line of each import."""
    text = cycle[0].importer
    for edge in cycle:
        where = {MODULE: "", TYPE: " for type checking", FUNCTION: " in a function"}[edge.kind]
        text += f" --[line {edge.line}{where}]--> {edge.imported}"
    return text


@pytest.fixture(scope="module")
def edges() -> list[Edge]:
    return import_edges()


def test_the_parser_resolves_imports_and_tells_their_kinds_apart(tmp_path: Path) -> None:
    """A check of the checker on a small package of its own."""
    sources = {
        "pkg/__init__.py": "from .a import thing\n",
        "pkg/a.py": textwrap.dedent("""
            from typing import TYPE_CHECKING
            import os
            from . import b
            if TYPE_CHECKING:
                from .sub import c
            else:
                from .sub.c import name
            class Thing:
                import pkg.sub
            def work():
                from .sub import c
        """),
        "pkg/b.py": "",
        "pkg/sub/__init__.py": "from .. import a\n",
        "pkg/sub/c.py": "from ..b import value\nimport pkg.sub.missing\n",
    }
    modules = {}
    for relative, text in sources.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        name = relative.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        modules[name] = path
    found = {(e.importer, e.imported, e.kind) for e in import_edges(modules)}
    assert found == {
        ("pkg", "pkg.a", MODULE),
        ("pkg.a", "pkg.b", MODULE),
        ("pkg.a", "pkg.sub.c", TYPE),
        ("pkg.a", "pkg.sub.c", MODULE),       # the ``else:`` of TYPE_CHECKING runs
        ("pkg.a", "pkg.sub", MODULE),         # a class body runs when the module loads
        ("pkg.a", "pkg.sub.c", FUNCTION),
        ("pkg.sub", "pkg.a", MODULE),
        ("pkg.sub.c", "pkg.b", MODULE),
        ("pkg.sub.c", "pkg.sub", MODULE),     # a module that does not exist: its package
    }


def test_both_packages_are_parsed(edges: list[Edge]) -> None:
    pairs = {(e.importer, e.imported, e.kind) for e in edges}
    assert ("landmark_fusion.commands", "landmark_fusion.commands.build", MODULE) in pairs
    assert ("landmark_fusion.build.run", "landmark_fusion.build.work", MODULE) in pairs
    assert any(importer.startswith("trainer.") and imported.startswith("landmark_fusion")
               for importer, imported, _ in pairs)


def test_find_cycle_reports_the_path() -> None:
    """The cycle finder itself: a three-module loop is found and named in order."""
    loop = [Edge("a", "b", 1, MODULE), Edge("b", "c", 2, TYPE), Edge("c", "a", 3, FUNCTION),
            Edge("c", "d", 4, MODULE)]
    cycle = find_cycle(loop)
    assert cycle is not None and [e.importer for e in cycle] == ["a", "b", "c"]
    assert describe(cycle) == ("a --[line 1]--> b --[line 2 for type checking]--> c "
                               "--[line 3 in a function]--> a")
    assert find_cycle(loop[:2] + loop[3:]) is None


def test_no_cycle_among_module_level_imports(edges: list[Edge]) -> None:
    cycle = find_cycle([e for e in edges if e.kind == MODULE])
    assert cycle is None, f"import cycle at module level: {describe(cycle)}"


def test_no_cycle_counting_deferred_imports(edges: list[Edge]) -> None:
    """An import inside a function hides a cycle from the interpreter, not from the design."""
    cycle = find_cycle([e for e in edges if (e.importer, e.imported) not in KNOWN_CYCLE_EDGES])
    assert cycle is None, (f"import cycle: {describe(cycle)} (break it; tolerating it in "
                           "KNOWN_CYCLE_EDGES is for cycles that are already being removed)")


def test_known_cycles_are_still_cycles(edges: list[Edge]) -> None:
    """Each tolerated edge is a function-level import that still closes a cycle."""
    for importer, imported in sorted(KNOWN_CYCLE_EDGES):
        found = [e for e in edges if (e.importer, e.imported) == (importer, imported)]
        assert found, (f"{importer} no longer imports {imported}: remove the entry from "
                       "KNOWN_CYCLE_EDGES")
        assert not any(e.kind == MODULE for e in found), \
            f"{importer} imports {imported} at module level: that cycle cannot be tolerated"
        assert importer in reachable(imported, edges), \
            f"{importer} -> {imported} closes no cycle any more: remove it from KNOWN_CYCLE_EDGES"


def test_landmark_fusion_never_imports_trainer(edges: list[Edge]) -> None:
    wrong = [e for e in edges if e.importer.partition(".")[0] == "landmark_fusion"
             and e.imported.partition(".")[0] == "trainer"]
    assert not wrong, "landmark_fusion imports trainer: " + ", ".join(
        f"{e.importer} line {e.line} -> {e.imported}" for e in wrong)


def test_trainer_module_strings_are_found(tmp_path: Path) -> None:
    """The string check itself: module paths are found, prose and docstrings are not."""
    path = tmp_path / "sample.py"
    path.write_text(textwrap.dedent('''
        """Docstring naming trainer.demo, which documents only."""
        import importlib
        ENTRY = "trainer.demo"
        def start():
            """Starts ``python -m trainer.demo``."""
            importlib.util.find_spec("trainer")
            return [f"-m trainer.loop {ENTRY}", "the trainer's demo preset", "retrainer.x", "trainer"]
    '''))
    found = sorted(line.split(":")[1:] for line in trainer_module_strings(path))
    assert found == [["4", " 'trainer.demo'"], ["7", " 'trainer'"], ["8", " '-m trainer.loop '"], ["8", " 'trainer'"]]


def test_landmark_fusion_names_no_trainer_module_in_a_string() -> None:
    """The fusion stage does not reach the trainer by name either (``importlib``, ``python -m``):
    what uses both packages is composed at the top of the project (cli.py)."""
    found = [hit for path in sorted((REPO / "landmark_fusion").rglob("*.py"))
             for hit in trainer_module_strings(path)]
    assert not found, "landmark_fusion names a trainer module: " + "; ".join(found)


def test_the_build_engines_never_import_the_work(edges: list[Edge]) -> None:
    """An engine is handed the per-item work as callables (so another engine can plug in)."""
    engines = ("landmark_fusion.build.engine", "landmark_fusion.build.pool")
    for engine in engines:
        assert "landmark_fusion.build.work" not in reachable(engine, edges), \
            f"{engine} imports landmark_fusion.build.work (directly or through another module)"


#: Libraries the command line's start-up must not load: each costs tens to hundreds of milliseconds
#: before ``--help`` answers (torch about 1 s), and pydantic with the scheme checks and the database
#: registry are loaded on first use, so that a broken declaration is reported as one message. NumPy
#: neither: ``fuse build`` starts its workers' server before it loads NumPy (build/forkserver.py).
NOT_AT_START = ("torch", "numpy", "cv2", "h5py", "pyarrow", "scipy", "matplotlib", "pandas", "onnx",
                "onnxruntime", "ray", "pydantic", "yaml", "landmark_fusion.sources.registry",
                "landmark_fusion.correspondence.scheme_checks", "landmark_fusion.build")


@pytest.mark.parametrize("module", ["cli", "trainer.cli", "landmark_fusion.commands"])
def test_the_command_line_starts_without_heavy_libraries(module: str) -> None:
    code = (f"import sys, {module}; print(' '.join(m for m in {NOT_AT_START!r} "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [], f"importing {module} loads {done.stdout.strip()}"
