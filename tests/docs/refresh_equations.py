"""Rewrite the line numbers of docs/equations.md's code links where the code has moved.

    python tests/docs/refresh_equations.py

Only the numbers change; a name that is no longer defined is reported, not fixed.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))  # run as a script: tests/ holds helpers/

from helpers.source import definition_line

ROOT = Path(__file__).parents[2]
PAGE = ROOT / "docs" / "equations.md"
CODE = re.compile(r"`(?P<name>[\w.]+)` \[(?P<path>[\w/]+\.py):\d+\]\(\.\./(?P=path)#L\d+\)")


def refreshed(match: re.Match[str]) -> str:
    line = definition_line(ROOT / match["path"], match["name"])
    if line is None:
        print(f"{match['path']} no longer defines {match['name']}", file=sys.stderr)
        return match.group(0)
    return f"`{match['name']}` [{match['path']}:{line}](../{match['path']}#L{line})"


if __name__ == "__main__":
    PAGE.write_text(CODE.sub(refreshed, PAGE.read_text()))
