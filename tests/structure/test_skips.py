"""A test is skipped for one reason only, worded once: the MNIST files are not there.

Every skip goes through ``helpers/mnist.py`` (read from the source), and a
run without ``$ZERONET_DATA_DIR`` lists that one reason for the MNIST tests of
each folder (a pytest run in a subprocess).
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

from helpers.mnist import DATA_DIR_ENV, SKIP_REASON

TESTS = Path(__file__).parents[1]
SKIPS = {"skip", "skipif", "importorskip", "xfail"}


def skip_calls(path: Path) -> list[int]:
    """Lines of ``path`` that call or apply pytest's skip, skipif, importorskip or xfail."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr in SKIPS:
            found.append(node.lineno)
    return found


def test_every_skip_goes_through_the_mnist_helper() -> None:
    offenders = {str(path.relative_to(TESTS)): lines for path in sorted(TESTS.rglob("*.py"))
                 if path != TESTS / "helpers" / "mnist.py" and (lines := skip_calls(path))}
    assert offenders == {}, "skip only with helpers.mnist.mnist_dir() (one reason, one wording)"


def test_without_the_mnist_files_every_mnist_test_gives_the_one_reason() -> None:
    selected = ["tests/data/test_mnist.py", "tests/parity/test_parity_model.py::test_mnist_adam",
                "tests/errata/test_seed_errata.py::test_mnist_train_set_has_60000_images_not_6000",
                "tests/cli/test_cli.py::test_train_on_mnist"]
    env = {k: v for k, v in os.environ.items() if k != DATA_DIR_ENV}
    done = subprocess.run([sys.executable, "-m", "pytest", "-v", "-rs", "-p", "no:cacheprovider",
                           *selected], capture_output=True, text=True, env=env,
                          cwd=TESTS.parent, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:]
    reasons = re.findall(r"^SKIPPED \[\d+\] \S+: (.*)$", done.stdout, re.MULTILINE)
    assert set(reasons) == {SKIP_REASON}
    tests = re.findall(r"^tests/(\w+)/\S+ SKIPPED", done.stdout, re.MULTILINE)
    assert set(tests) == {"data", "parity", "errata", "cli"}
    assert len(tests) >= 14
