"""``zeronet check FILE``: the adapter-file contract and its exit statuses (0, 1, 2)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from reference import command

NETWORK = '''
import numpy as np, torch
import reference

torch.manual_seed(0)
NET = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2)).double()
X = np.random.default_rng(0).normal(size=(5, 3))
Y = np.random.default_rng(1).normal(size=(5, 2))

def forward_backward(p, x, y, scale=1.0):
    h = x @ p["0.weight"].T + p["0.bias"]
    out = np.maximum(h, 0) @ p["2.weight"].T + p["2.bias"]
    g = 2 * (out - y) / out.size
    grads = {"2.weight": g.T @ np.maximum(h, 0), "2.bias": g.sum(0)}
    g = (g @ p["2.weight"]) * (h > 0)
    grads |= {"0.weight": scale * g.T @ x, "0.bias": g.sum(0)}
    return out, np.mean((out - y) ** 2), grads, g @ p["0.weight"]
'''


def run(tmp_path, body: str, *, brief: bool = False, capsys=None) -> int:
    path = tmp_path / "adapter.py"
    path.write_text(textwrap.dedent(NETWORK) + textwrap.dedent(body))
    return command.check_file(str(path), brief=brief)


def test_every_check_passes_exit_0(tmp_path, capsys):
    status = run(tmp_path, '''
        def check_gradients():
            return reference.compare_gradients(forward_backward, NET, X, Y, torch.nn.MSELoss())
        def check_twice():
            return [check_gradients(), check_gradients()]
        ''')
    out = capsys.readouterr().out
    assert status == 0, out
    assert "== check_gradients\ncompare_gradients: passed" in out
    assert out.rstrip().endswith("2 check(s), 2 passed")


def test_a_finding_exits_1_and_brief_gives_one_line_per_check(tmp_path, capsys):
    status = run(tmp_path, '''
        def check_wrong():
            fb = lambda p, x, y: forward_backward(p, x, y, scale=0.5)
            return reference.compare_gradients(fb, NET, X, Y, torch.nn.MSELoss())
        ''', brief=True)
    out = capsys.readouterr().out
    assert status == 1
    assert out.splitlines()[0] == "check_wrong: factor at grad[0.weight]"
    assert "failed: check_wrong" in out


def test_the_code_under_check_raising_exits_1(tmp_path, capsys):
    status = run(tmp_path, '''
        def check_crash():
            def fb(p, x, y):
                raise IndexError("off by one")
            return reference.compare_gradients(fb, NET, X, Y, torch.nn.MSELoss())
        ''')
    out = capsys.readouterr().out
    assert status == 1
    assert "the code under check failed: compare_gradients: forward_backward" in out
    assert "IndexError: off by one" in out


@pytest.mark.parametrize(("body", "message"), [
    ("def check_x(:\n", "importing it raised SyntaxError"),
    ("VALUE = 1\n", "defines no check_* function"),
    ("def check_x(n):\n    return None\n", "check_x() takes arguments (n)"),
    ("def check_x():\n    return 42\n", "check_x() returned int; expected a reference.Report"),
    ("def check_x():\n    return reference.compare_gradients(None, NET, X, Y, "
     "torch.nn.MSELoss())\n", "check_x() raised TypeError: forward_backward: expected a function"),
])
def test_a_broken_file_exits_2_saying_why(tmp_path, capsys, body, message):
    assert run(tmp_path, body) == 2
    assert message in capsys.readouterr().err


def test_a_missing_file_exits_2(tmp_path, capsys):
    assert command.check_file(str(tmp_path / "nope.py")) == 2
    assert "no such file" in capsys.readouterr().err


def test_the_adapters_folder_is_importable(tmp_path, capsys):
    (tmp_path / "student_net.py").write_text(textwrap.dedent(NETWORK))
    path = tmp_path / "check.py"
    path.write_text("import torch, reference\nfrom student_net import NET, X, Y, "
                    "forward_backward\n\ndef check_it():\n    return reference.compare_gradients("
                    "forward_backward, NET, X, Y, torch.nn.MSELoss())\n")
    assert command.check_file(str(path), brief=True) == 0
    assert capsys.readouterr().out.startswith("check_it: passed")


def test_zeronet_check_runs_as_a_command_with_its_exit_status(tmp_path):
    path = tmp_path / "adapter.py"
    path.write_text(textwrap.dedent(NETWORK) + textwrap.dedent('''
        def check_wrong():
            fb = lambda p, x, y: forward_backward(p, x, y, scale=0.5)
            return reference.compare_gradients(fb, NET, X, Y, torch.nn.MSELoss())
        '''))
    done = subprocess.run([sys.executable, "-m", "zeronet", "check", str(path), "--brief"],
                          capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout.splitlines()[0]) == (1, "check_wrong: factor at "
                                                                 "grad[0.weight]")
    broken = subprocess.run([sys.executable, "-m", "zeronet", "check", str(tmp_path / "no.py")],
                            capture_output=True, text=True, timeout=120)
    assert (broken.returncode, broken.stderr.strip()) == (2, f"zeronet check: "
                                                             f"{tmp_path / 'no.py'}: no such file")
