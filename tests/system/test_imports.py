"""The house's rules on imports, read from the source: no import circle anywhere; the
product (``core``) never reaches into the window, the test support, the tests or the
benchmarks, the window never into test code, and the tests and benchmarks not into each
other. Every import counts, also one inside a function (a lazy import is still a
dependency); only ``if TYPE_CHECKING:`` blocks are left out, since they never run."""

from __future__ import annotations

import ast
from pathlib import Path

from testkit.paths import ROOT

PACKAGES = ("core", "desktop_app", "testkit", "tests", "benchmarks")
#: what each package may not import: the product none of the rest, and the tests and the
#: benchmarks not each other (what both need is in testkit)
FORBIDDEN = {
    "core": ("desktop_app", "testkit", "tests", "benchmarks"),
    "desktop_app": ("testkit", "tests", "benchmarks"),
    "testkit": ("tests", "benchmarks"),
    "tests": ("benchmarks",),
    "benchmarks": ("tests",),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            found[_module_name(path)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[tuple[ast.stmt, str, list[str]]]:
    """(statement, module, imported names) for each import that can run."""
    found: list[tuple[ast.stmt, str, list[str]]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    found.append((child, alias.name, []))
            elif isinstance(child, ast.ImportFrom):
                found.append((child, child.module or "", [a.name for a in child.names]))
            visit(child)

    visit(tree)
    return found


def _resolve(importer: str, node: ast.stmt, module: str, is_package: bool) -> str:
    if isinstance(node, ast.ImportFrom) and node.level:
        base = importer.split(".")
        if not is_package:
            base = base[:-1]
        base = base[: len(base) - (node.level - 1)]
        return ".".join([*base, module] if module else base)
    return module


def graph() -> dict[str, set[str]]:
    """Edges between the checkout's own modules: ``a -> b`` when ``a`` imports ``b``
    (``from pkg import sub`` counts as importing the submodule ``pkg.sub``)."""
    known = modules()
    edges: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node, module, names in _imports(tree):
            target = _resolve(name, node, module, path.name == "__init__.py")
            for imported in names or [None]:
                sub = f"{target}.{imported}" if imported else None
                if sub in known:
                    edges[name].add(sub)
                elif target in known:
                    edges[name].add(target)
                else:  # an outside module, or ``import a.b.c`` of our own
                    top = next(
                        (m for m in _parents(target) if m in known),
                        None,
                    )
                    if top is not None:
                        edges[name].add(top)
    return edges


def _parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:n]) for n in range(len(parts), 0, -1)]


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module, or a module importing
    itself (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges[node]:
                    found.append(sorted(component))
    return found


def test_no_import_circle_anywhere():
    found = cycles(graph())
    assert not found, "import circles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_no_package_imports_what_it_must_not():
    broken = [
        f"{name} imports {target}"
        for name, targets in graph().items()
        for target in sorted(targets)
        for package, banned in FORBIDDEN.items()
        if (name == package or name.startswith(package + "."))
        and target.split(".")[0] in banned
    ]
    assert not broken, "\n".join(broken)


def test_the_checks_see_a_circle_and_a_forbidden_import():
    """The two checks above would fail on a circle or a forbidden import (not vacuous)."""
    edges = graph()
    assert "core.engine" in edges and "core.config" in edges["core.engine"]
    edges["core.config"] = {*edges["core.config"], "core.engine"}
    assert ["core.config", "core.engine"] in [
        [m for m in c if m in ("core.config", "core.engine")] for c in cycles(edges)
    ]
    tree = ast.parse("def f():\n    from testkit.tiny_model import build\n")
    assert [m for _, m, _ in _imports(tree)] == ["testkit.tiny_model"]
    tree = ast.parse("if TYPE_CHECKING:\n    from desktop_app.app import main\n")
    assert _imports(tree) == []
