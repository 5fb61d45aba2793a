"""seqkit's modules form layers, and an import only goes down.

The layers are the diagram at the top of ``docs/design.md`` (its first ``text`` block), read here: a line of
``·``-separated names is one layer, top first; text after two spaces is a description; lines of arrows are
skipped. The first layer is ``seqkit``, the facade (``seqkit/__init__.py``); every other name is a
top-level module or package of ``seqkit/`` (``__main__`` included).

Every ``import`` in ``seqkit/**/*.py`` counts, wherever it is: at the top, inside a function, under
``TYPE_CHECKING`` or ``try``, and ``importlib.import_module("seqkit....")`` with a literal name. An import of
``a.b.c`` also runs the ``__init__`` of ``a.b``, so it depends on that package too, unless the importer is
inside it (a package is always initialised before its submodules). ``from a.b import name`` depends on the
submodule ``a.b.name`` when there is one, else on ``a.b`` itself, even from inside ``a.b``.

The tests fail on: a module missing from the diagram (or a name there that is no module), an import of a
layer above (``file:line, from-layer -> to-layer``), any import of the facade from inside the package, and
any import cycle between modules (even within one layer or one package), naming its modules and edges.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "seqkit"
DESIGN = ROOT / "docs" / "design.md"
FACADE = "seqkit"
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclasses.dataclass(frozen=True)
class Import:
    importer: str  # dotted module name
    target: str
    path: Path
    line: int
    explicit: bool  # named by the statement (not a package whose __init__ runs on the way)

    def where(self) -> str:
        try:
            return f"{self.path.relative_to(ROOT)}:{self.line}"
        except ValueError:
            return f"{self.path}:{self.line}"


def read_layers(text: str) -> list[list[str]]:
    """The layers, top first, from the first ```text block of ``text``."""
    match = re.search(r"^```text\n(.*?)^```$", text, re.S | re.M)
    if match is None:
        raise AssertionError("docs/design.md has no ```text block with the layer diagram")
    layers = []
    for raw in match.group(1).splitlines():
        line = raw.strip()
        if not line or not re.search(r"[A-Za-z_]", line):  # blank, or arrows only
            continue
        names = [name.strip() for name in re.split(r" {2,}", line, maxsplit=1)[0].split("·")]
        bad = [name for name in names if not NAME.fullmatch(name)]
        if bad:
            raise AssertionError(f"docs/design.md, layer diagram: {bad} in {raw!r} is not a module name")
        layers.append(names)
    return layers


def find_modules(package: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every ``*.py`` under ``package`` (a package is its ``__init__``)."""
    modules = {}
    for path in sorted(package.rglob("*.py")):
        parts = [package.name, *path.relative_to(package).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _known(name: str, modules: dict[str, Path]) -> str:
    """``name`` or its longest prefix that is a module (an import of a missing module is not this test's)."""
    while name not in modules and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def find_imports(name: str, path: Path, modules: dict[str, Path]) -> Iterator[Import]:
    """Every dependency of module ``name`` on another module of the package."""
    top = next(iter(modules)).split(".")[0]
    is_package = path.name == "__init__.py"
    own = set(_ancestors(name)) | {name}

    def targets(node: ast.AST) -> Iterator[tuple[str, bool]]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, True
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = name.split(".") if is_package else name.split(".")[:-1]
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in modules:
                    yield sub, True
                    yield base, False  # its __init__ runs first
                else:
                    yield base, True
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.args[0].value, True

    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    seen = set()
    for node in ast.walk(tree):
        for target, explicit in targets(node):
            if target != top and not target.startswith(top + "."):
                continue
            target = _known(target, modules)
            found = [(target, explicit)] + [(a, False) for a in _ancestors(target)]
            for module, is_explicit in found:
                if module == name or (not is_explicit and module in own):
                    continue
                key = (module, node.lineno, is_explicit)
                if key not in seen:
                    seen.add(key)
                    yield Import(name, module, path, node.lineno, is_explicit)


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[0] if len(parts) == 1 else parts[1]


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the components of more than one module, or of one that imports itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph.get(node, ()):
                    found.append(sorted(component))
    return found


def check(package: Path, layers: list[list[str]]) -> list[str]:
    """Every violation in ``package`` against ``layers``, one line each (empty: none)."""
    modules = find_modules(package)
    top = package.name
    problems = []
    rank: dict[str, int] = {}
    for i, layer in enumerate(layers):
        for module in layer:
            if module in rank:
                problems.append(f"layer diagram: {module!r} appears twice")
            rank[module] = i
    if layers and layers[0] != [top]:
        problems.append(f"layer diagram: the top layer must be the facade {top!r} alone, got {layers[0]}")
    present = {layer_of(m) for m in modules}
    for module in sorted(present - set(rank)):
        problems.append(f"{top}/{module}: not in the layer diagram (docs/design.md); place it in a layer")
    for module in sorted(set(rank) - present):
        problems.append(f"layer diagram: {module!r} is no module of {top}/")

    imports = [imp for name, path in modules.items() for imp in find_imports(name, path, modules)]
    for imp in imports:
        if imp.importer == top:
            continue
        if imp.target == top:
            problems.append(f"{imp.where()}: {imp.importer} imports the facade {top!r}; import the module itself")
            continue
        src, dst = layer_of(imp.importer), layer_of(imp.target)
        if src in rank and dst in rank and rank[dst] < rank[src]:
            problems.append(f"{imp.where()}: {imp.importer} imports {imp.target}: upward, {src} -> {dst}")

    graph: dict[str, set[str]] = {name: set() for name in modules}
    for imp in imports:
        graph[imp.importer].add(imp.target)
    for component in strongly_connected(graph):
        members = set(component)
        inside = [imp for imp in imports if imp.importer in members and imp.target in members]
        edges = sorted({f"{imp.importer} -> {imp.target} ({imp.where()})" for imp in inside})
        problems.append(
            f"import cycle of {len(component)} modules: {', '.join(component)}\n    " + "\n    ".join(edges)
        )
    return problems


# ---- the package ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def layers() -> list[list[str]]:
    return read_layers(DESIGN.read_text(encoding="utf-8"))


def test_seqkit_imports_only_downward_and_without_cycles(layers):
    problems = check(PACKAGE, layers)
    assert not problems, f"{len(problems)} layering problem(s):\n" + "\n".join(problems)


# ---- the analyser itself --------------------------------------------------------------------------------------


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path / "pkg"


def test_the_analyser_finds_cycles_through_functions_type_checking_and_package_inits(tmp_path):
    package = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "def f():\n    from pkg.b import g\n",
            "b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.a\n",
            "p/__init__.py": "from pkg.p.m import x\n",
            "p/m.py": "def f():\n    from pkg.p import q\n",
            "p/q.py": "from pkg.p import marker\n",  # a name of the package's __init__
            "c.py": "from pkg.p.q import y\n",  # depends on pkg.p (its __init__) too
            "leaf.py": "",
        },
    )
    problems = check(package, [["pkg"], ["a", "b", "c", "p", "leaf"]])
    cycles = [p.splitlines()[0] for p in problems if p.startswith("import cycle")]
    assert cycles == ["import cycle of 2 modules: pkg.a, pkg.b", "import cycle of 3 modules: pkg.p, pkg.p.m, pkg.p.q"]
    assert not [p for p in problems if not p.startswith("import cycle")]
    modules = find_modules(package)
    assert {i.target for i in find_imports("pkg.c", modules["pkg.c"], modules)} == {"pkg.p", "pkg.p.q"}


def test_the_analyser_names_upward_imports_the_facade_and_unplaced_modules(tmp_path):
    package = _tree(
        tmp_path,
        {
            "__init__.py": "from pkg import low\n",
            "high.py": "",
            "low.py": "import importlib\n\ndef f():\n    importlib.import_module('pkg.high')\n",
            "sub/__init__.py": "",
            "sub/x.py": "from .. import low\nfrom pkg import __version__\n",
            "stray.py": "",
        },
    )
    problems = check(package, [["pkg"], ["high"], ["low", "sub"], ["gone"]])
    text = "\n".join(problems)
    assert "pkg/low.py:4: pkg.low imports pkg.high: upward, low -> high" in text
    assert "pkg/sub/x.py:2: pkg.sub.x imports the facade 'pkg'" in text
    assert "pkg/stray: not in the layer diagram" in text
    assert "layer diagram: 'gone' is no module of pkg/" in text
    assert len(problems) == 4, text


def test_the_diagram_reads_as_layers():
    text = "x\n```text\nseqkit            the facade\n   │\ncli · docgen      verbs\n  ↓\nerrors\n```\n"
    assert read_layers(text) == [["seqkit"], ["cli", "docgen"], ["errors"]]
