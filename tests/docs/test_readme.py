"""Every command of the README runs, so that none can go stale.

Each line of a shell block in README.md is listed in :data:`HOW`, which says
who runs it: this test (in a temporary folder, the slow ones in their quick
form) or ``.ci/run`` (installing, tox: too slow for a unit test, and run there
word for word, or in the quick form given). A README command missing from
:data:`HOW`, or an entry of :data:`HOW` no longer in the README, fails; so
does a CI command that ``.ci/run`` does not contain. Every Python block runs as
a script and must print what it computed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from helpers.mnist import mnist_dir

ROOT = Path(__file__).parents[2]
README = ROOT / "README.md"
CI = ROOT / ".ci" / "run"

#: README command -> (who runs it: "ci" or "here", the form run if not the command itself).
#: "{mnist}" is the folder of the MNIST files (helpers.mnist).
HOW: dict[str, tuple[str, str | None]] = {
    "python3 -m venv .venv": ("ci", None),
    ". .venv/bin/activate": ("ci", None),
    "pip install -e '.[report,tests]'": ("ci", None),
    "zeronet --version": ("here", None),
    "pip install tox": ("ci", None),
    "tox -e report -- --quick": ("ci", None),
    "tox -e report": ("ci", "tox -e report -- --quick"),  # 6 minutes in full
    "tox": ("ci", None),
    "tox -e report -- --quick --no-mnist --threads 2": ("ci", None),
    "tox -e report -- --quick --out /tmp/zeronet-report": ("ci", None),
    "git checkout reports/": ("ci", None),
    "tox -e lint": ("ci", None),
    "tox -e bench": ("ci", "tox -e bench -- -k test_step"),  # the training steps only
    "zeronet bench": ("here", "zeronet bench --quick"),
    "zeronet train --dataset sine --epochs 20 --optimizer adam --checkpoint run.safetensors":
        ("here", None),
    "zeronet train --dataset sine --epochs 40 --optimizer adam --checkpoint run.safetensors"
    " --resume":
        ("here", None),
    "zeronet train --dataset mnist --data-dir ~/mnist --epochs 5 --dtype float32":
        ("here", "zeronet train --dataset mnist --data-dir {mnist} --epochs 1 --dtype float32"),
}


def blocks(text: str) -> list[tuple[str, str]]:
    """(language, code) of every fenced block."""
    return re.findall(r"^```(\w*)\n(.*?)^```$", text, re.MULTILINE | re.DOTALL)


def commands(code: str) -> list[str]:
    """The commands of a shell block: each line without its trailing comment."""
    lines = (re.sub(r"\s+#.*$", "", line).strip() for line in code.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


SHELL = [commands(code) for lang, code in blocks(README.read_text())
         if lang in ("bash", "sh", "console")]
PYTHON = [code for lang, code in blocks(README.read_text()) if lang == "python"]


def test_every_readme_command_says_how_it_is_run() -> None:
    listed = [line for block in SHELL for line in block]
    assert sorted(set(listed)) == sorted(HOW), "update HOW with the README's commands"
    assert all(lang in ("bash", "python", "")
               for lang, _ in blocks(README.read_text())), "a block of an unknown language"


def test_ci_runs_the_readme_commands_it_is_given() -> None:
    ci_lines = {line.strip() for line in CI.read_text().splitlines()}
    for command, (who, form) in HOW.items():
        if who == "ci":
            assert (form or command) in ci_lines, f".ci/run does not run {form or command!r}"


def run(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``command`` in bash in ``cwd``, with this interpreter's scripts (zeronet) on PATH."""
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent),
                                                  os.environ.get("PATH", "")]),
           "MPLBACKEND": "Agg"}
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


RUN_HERE = [block for block in SHELL if any(HOW.get(c, ("?",))[0] == "here" for c in block)]


@pytest.mark.parametrize("block", RUN_HERE, ids=lambda block: block[0])
def test_a_readme_shell_block_runs(block: list[str], tmp_path: Path) -> None:
    """The block's commands, in order, in one folder (a later one may use an earlier's file)."""
    for command in block:
        who, form = HOW[command]
        if who != "here":
            continue
        if "{mnist}" in (form or ""):
            form = form.format(mnist=mnist_dir())
        done = run(form or command, tmp_path)
        assert done.returncode == 0, (command, done.stderr[-3000:])
        assert done.stdout.strip(), (command, "printed nothing")


@pytest.mark.parametrize("code", PYTHON, ids=[f"python-{k}" for k in range(len(PYTHON))])
def test_a_readme_python_block_runs_and_prints_what_it_computed(code: str,
                                                                tmp_path: Path) -> None:
    (tmp_path / "snippet.py").write_text(code)
    done = run(f"{sys.executable} snippet.py", tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip(), "the snippet printed nothing"


def test_the_readme_snippet_prints_the_loss_before_and_after_a_step(tmp_path: Path) -> None:
    (snippet,) = [code for code in PYTHON if "zn.optim.Adam" in code]
    (tmp_path / "snippet.py").write_text(snippet)
    out = run(f"{sys.executable} snippet.py", tmp_path).stdout
    before, after = map(float, re.fullmatch(r"loss (\S+), after one Adam step (\S+)\n",
                                            out).groups())
    assert after < before


def test_the_extras_the_readme_names_exist() -> None:
    """The install table's extras are pyproject.toml's (they cannot drift apart)."""
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
                 ["optional-dependencies"])
    named = {name for group in re.findall(r"pip install -e '\.\[([\w,]+)\]'", README.read_text())
             for name in group.split(",")}
    assert named
    assert named <= extras
