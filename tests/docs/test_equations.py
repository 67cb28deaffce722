"""docs/equations.md cannot go stale: its code links and test names must be right.

Each code reference is written `` `Name` [path:line](../path#Lline) ``: the
line must be where ``Name`` (a function, a class, ``Class.method`` or a
module-level constant) is defined in ``path``. Each test reference is
`` [`test_name`](../tests/...py) ``: that file must define the test. And the
page must list every equation of the seed (1-1 to 1-32) and every code figure
(1-2 to 1-12, 2-2 to 2-17). After code moved, ``python tests/docs/refresh_equations.py``
rewrites the line numbers.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers.source import definition_line

ROOT = Path(__file__).parents[2]
PAGE = ROOT / "docs" / "equations.md"
CODE = re.compile(r"`(?P<name>[\w.]+)` \[(?P<path>[\w/]+\.py):(?P<line>\d+)\]"
                  r"\(\.\./(?P<link>[\w/]+\.py)#L(?P<link_line>\d+)\)")
TEST = re.compile(r"\[`(?P<name>test_\w+)`\]\(\.\./(?P<path>tests/[\w/]+\.py)\)")


def rows() -> list[str]:
    return [line for line in PAGE.read_text().splitlines() if line.startswith("| ")]


def code_references() -> list[re.Match[str]]:
    return [m for line in rows() for m in CODE.finditer(line)]


def named_tests() -> list[re.Match[str]]:
    return [m for line in rows() for m in TEST.finditer(line)]


@pytest.mark.parametrize("ref", code_references(), ids=lambda m: f"{m['path']}:{m['name']}")
def test_each_code_link_points_at_the_definition_it_names(ref: re.Match[str]) -> None:
    assert (ref["link"], ref["link_line"]) == (ref["path"], ref["line"]), ref.group(0)
    found = definition_line(ROOT / ref["path"], ref["name"])
    assert found is not None, f"{ref['path']} defines no {ref['name']}"
    assert found == int(ref["line"]), (
        f"{ref['name']} is defined at {ref['path']}:{found}, the page says {ref['line']}")


@pytest.mark.parametrize("ref", named_tests(), ids=lambda m: f"{m['path']}::{m['name']}")
def test_each_test_named_exists(ref: re.Match[str]) -> None:
    assert definition_line(ROOT / ref["path"], ref["name"]) is not None, (
        f"{ref['path']} has no {ref['name']}")


def labels(kind: str, first: int, last: int, part: int) -> list[str]:
    return [f"{kind} {part}-{n}" for n in range(first, last + 1)]


def covered() -> set[str]:
    """Every "eq. 1-8"/"fig. 2-7" the first column names, ranges ("eqs. 1-8 to 1-10") expanded."""
    found = set()
    for line in rows():
        seed = line.split("|")[1]
        for kind, part, first, last in re.findall(
                r"(eqs?|figs?)\. (\d)-(\d+)(?:(?: to |, )\d-(\d+))?", seed):
            kind = "eq." if kind.startswith("eq") else "fig."
            found |= set(labels(kind, int(first), int(last or first), int(part)))
    return found


def test_every_equation_and_code_figure_of_the_seed_is_on_the_page() -> None:
    wanted = (labels("eq.", 1, 32, 1) + labels("fig.", 2, 12, 1) + labels("fig.", 2, 17, 2))
    missing = [label for label in wanted if label not in covered()]
    assert missing == []


def test_every_row_names_code_and_a_test() -> None:
    for line in rows()[2:]:
        if set(line) <= {"|", "-", " "} or line.startswith("| seed "):
            continue
        assert CODE.search(line), line
        assert TEST.search(line), line
