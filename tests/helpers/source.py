"""Where a name is defined in a Python file, read from its source (for docs/equations.md)."""

from __future__ import annotations

import ast
from pathlib import Path


def definition_line(path: Path, name: str) -> int | None:
    """The line where ``name`` (``f``, ``C``, ``C.m`` or a constant) is defined, or None."""
    scope: list[ast.stmt] = ast.parse(path.read_text()).body
    line = None
    for part in name.split("."):
        for node in scope:
            names = ([node.name] if isinstance(node, ast.FunctionDef | ast.ClassDef)
                     else [t.id for t in getattr(node, "targets", [getattr(node, "target", None)])
                           if isinstance(t, ast.Name)])
            if part in names:
                line, scope = node.lineno, getattr(node, "body", [])
                break
        else:
            return None
    return line
