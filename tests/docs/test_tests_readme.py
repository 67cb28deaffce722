"""tests/README.md names every test file and helper, in the folder that holds it."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).parents[1]


def listed() -> set[str]:
    """folder/file for each `file.py` row, under the last **folder/** row above it."""
    found, folder = set(), ""
    for line in (TESTS / "README.md").read_text().splitlines():
        if match := re.match(r"\| \*\*(\w+)/\*\*", line):
            folder = match.group(1)
        elif match := re.match(r"\| `(\w+\.py)` \|", line):
            found.add(f"{folder}/{match.group(1)}")
    return found


def test_every_file_of_tests_is_in_the_readme_under_its_folder() -> None:
    files = {p.relative_to(TESTS).as_posix() for p in TESTS.glob("*/*.py")
             if p.name != "__init__.py"}
    assert files == listed()
