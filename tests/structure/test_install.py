"""The package as installed: its distribution name, and ``import zeronet`` from any folder.

Run in subprocesses without PYTHONPATH, so that what is imported is what the
interpreter has installed (editable in a developer's virtual environment, a
wheel under tox), not this checkout by way of the test run's sys.path.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import zeronet as zn
from zeronet import cli

ROOT = Path(__file__).parents[2]
IMPORT = "import zeronet; print(zeronet.__file__); print(zeronet.nn.Linear.__name__)"


def installed_python(code: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, *code], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=120)


@pytest.mark.parametrize("code", [["-c", IMPORT], ["-m", "zeronet", "--version"]],
                         ids=["import", "python -m zeronet"])
def test_zeronet_imports_from_the_folder_above_a_clone_named_zeronet(
        tmp_path: Path, code: list[str]) -> None:
    """There ``./zeronet`` is a folder without ``__init__.py``; Python must not take it for the
    package (a namespace package: "module 'zeronet' has no attribute 'nn'")."""
    clone = tmp_path / "zeronet"
    (clone / "docs").mkdir(parents=True)
    (clone / "README.md").write_text("# zeronet\n")
    done = installed_python(code, cwd=tmp_path)
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert not done.stdout.startswith(str(clone) + os.sep), done.stdout
    if code[0] == "-c":
        assert done.stdout.splitlines()[1] == "Linear"


def test_the_distribution_name_is_not_the_unrelated_zeronet() -> None:
    """``zeronet`` on the public package index is another project: the distribution is named
    otherwise, and no message tells anyone to install ``zeronet[...]``."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == cli.DISTRIBUTION != "zeronet"
    for extra, requirements in project["optional-dependencies"].items():
        for requirement in requirements:
            assert not requirement.startswith("zeronet["), (extra, requirement)
    sources = [p for package in ("zeronet", "reference", "zeronet_study")
               for p in (ROOT / package).rglob("*.py")]
    for path in [*sources, ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        assert "install 'zeronet[" not in path.read_text(), path
        assert "install zeronet" not in path.read_text(), path
    assert zn.__version__ == cli.version().split()[1]
