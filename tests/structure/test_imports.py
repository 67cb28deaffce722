"""Dependencies point one way: ``zeronet`` <- ``reference`` <- ``zeronet_study``.

``zeronet`` needs NumPy, and safetensors for its checkpoint files.

Read from the source (every import statement, at any depth), not from a run:
the library imports nothing of the layers above it, no module takes part in
an import circle, and an import inside a function says, in a comment, why it
is deferred (a heavy optional dependency, such as torch or matplotlib).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PACKAGES = ("zeronet", "reference", "zeronet_study")
#: What each package may import beyond the standard library and itself.
ALLOWED = {
    "zeronet": {"numpy", "safetensors"},  # safetensors writes checkpoints (zeronet.checkpoint)
    "reference": {"numpy", "torch", "zeronet"},
    "zeronet_study": {"numpy", "torch", "matplotlib", "jinja2", "threadpoolctl", "tqdm",
                      "zeronet", "reference"},
}
#: What a package may import only inside a function: optional, used when installed.
OPTIONAL = {"zeronet": {"tqdm"}}  # a download's progress bar (zeronet/data/progress.py)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES
            for p in sorted((ROOT / package).rglob("*.py"))}


def imports(path: Path) -> list[tuple[str, ast.stmt, bool]]:
    """(imported module, statement, inside a function) for every import of ``path``."""
    tree = ast.parse(path.read_text())
    inner = {id(node) for function in ast.walk(tree)
             if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
             for node in ast.walk(function) if node is not function}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node, id(node) in inner) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, node, id(node) in inner))
            # `from package import module`: the module is imported too
            found += [(f"{node.module}.{alias.name}", node, id(node) in inner)
                      for alias in node.names]
    return found


MODULES = modules()


@pytest.mark.parametrize("name", sorted(MODULES))
def test_each_package_imports_only_what_its_layer_allows(name: str) -> None:
    package = name.split(".")[0]
    for imported, node, deferred in imports(MODULES[name]):
        top = imported.split(".")[0]
        if top == package or top in sys.stdlib_module_names or top == "__future__":
            continue
        if deferred and top in OPTIONAL.get(package, ()):
            continue
        assert top in ALLOWED[package], (
            f"{MODULES[name].relative_to(ROOT)}:{node.lineno} imports {imported}: "
            f"{package} may import only {sorted(ALLOWED[package])} and the standard library")


def project_edges() -> dict[str, set[str]]:
    """module -> the project modules it imports (module level and in functions)."""
    return {name: {imported for imported, _, _ in imports(path)
                   if imported in MODULES and imported != name}
            for name, path in MODULES.items()}


def test_no_import_circles() -> None:
    edges = project_edges()
    # a package's __init__ importing its own submodules is how it exports them, not a circle
    for name in edges:
        edges[name] = {m for m in edges[name] if not m.startswith(name + ".")}
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            raise AssertionError("import circle: " + " -> ".join([*path[path.index(name):], name]))
        if name in done:
            return
        for target in sorted(edges[name]):
            visit(target, [*path, name])
        done.add(name)

    for name in sorted(edges):
        visit(name, [])


@pytest.mark.parametrize("package", ["zeronet", "zeronet_study"])
def test_an_import_inside_a_function_says_why_it_is_deferred(package: str) -> None:
    for name, path in MODULES.items():
        if name.split(".")[0] != package:
            continue
        lines = path.read_text().splitlines()
        for _, node, inside in imports(path):
            if inside:
                assert "#" in lines[node.lineno - 1], (
                    f"{path.relative_to(ROOT)}:{node.lineno}: an import inside a function "
                    f"without a comment saying why it is not at the top")


def test_the_library_defers_no_import_but_its_optional_ones() -> None:
    deferred = [f"{MODULES[n].relative_to(ROOT)}:{node.lineno}" for n in MODULES
                if n.split(".")[0] == "zeronet" for imported, node, inside in imports(MODULES[n])
                if inside and imported.split(".")[0] not in OPTIONAL["zeronet"]]
    assert deferred == []
