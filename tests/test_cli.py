"""``zeronet train`` and the one-line errors of the ``zeronet`` command.

Every bad argument gives exactly one line on stderr naming the option, what
was expected and what was given, exit status 2, and no traceback; checked
through ``main([...])`` and through a real ``python -m zeronet.cli`` process.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import zeronet as zn
from zeronet import cli

MNIST_DIR = os.environ.get("ZERONET_DATA_DIR")


def read_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


# ------------------------------------------------------------------ training

def test_train_prints_one_line_per_epoch(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["train", "--epochs", "3", "--batch-size", "250"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("  ")[:2] for line in lines] == [
        ["epoch 1/3", "step 4"], ["epoch 2/3", "step 8"], ["epoch 3/3", "step 12"]]
    assert all("train_loss " in line and "test_loss " in line for line in lines)


def test_train_resumed_from_a_checkpoint_equals_one_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    common = ["train", "--optimizer", "adam", "--dtype", "float32", "--seed", "3",
              "--batch-size", "300"]
    assert cli.main([*common, "--epochs", "2", "--checkpoint", str(tmp_path / "a.npz")]) == 0
    assert cli.main([*common, "--epochs", "4", "--checkpoint", str(tmp_path / "a.npz"),
                     "--resume"]) == 0
    resumed = capsys.readouterr().out.replace("/2 ", "/4 ").splitlines()
    assert cli.main([*common, "--epochs", "4", "--checkpoint", str(tmp_path / "b.npz")]) == 0
    whole = capsys.readouterr().out.splitlines()
    assert len(whole) == 4
    assert resumed == whole  # epochs 1-2, then 3-4 from the checkpoint: the same numbers
    a, b = read_npz(tmp_path / "a.npz"), read_npz(tmp_path / "b.npz")
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_train_resume_with_another_dtype_is_a_one_line_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.npz"
    assert cli.main(["train", "--epochs", "1", "--checkpoint", str(path)]) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--epochs", "2", "--checkpoint", str(path), "--resume",
                  "--dtype", "float32"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"zeronet train: error: --resume: {path}: key 'model/0.weight': "
                          "expected dtype float32")


def test_train_that_diverges_stops_with_one_line_and_status_1(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["train", "--optimizer", "sgd", "--lr", "10", "--epochs", "5"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("zeronet train: non-finite ")
    assert "epoch 1, step " in err


def test_ctrl_c_during_training_is_one_line_and_status_130(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt
    monkeypatch.setattr(zn, "fit", interrupted)
    assert cli.main(["train"]) == 130
    assert capsys.readouterr().err == "zeronet train: interrupted; nothing was saved\n"


@pytest.mark.skipif(not MNIST_DIR, reason="ZERONET_DATA_DIR is unset: no MNIST files")
def test_train_on_mnist(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["train", "--dataset", "mnist", "--epochs", "1", "--data-dir",
                     str(MNIST_DIR)]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("epoch 1/1  step 60  train_loss ")
    assert float(line.split("test_accuracy ")[1].rstrip("%")) > 70


@pytest.mark.parametrize("command", ["train", "report"])
def test_help_works(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: zeronet {command}" in capsys.readouterr().out


# ------------------------------------------------------------------ bad arguments

BAD_ARGUMENTS = [
    (["train", "--epochs", "0"], "zeronet train: error: --epochs: expected a positive integer, "
                                 "got '0'"),
    (["train", "--epochs", "-3"], "zeronet train: error: --epochs: expected a positive "
                                  "integer, got '-3'"),
    (["train", "--epochs", "ten"], "zeronet train: error: --epochs: expected a positive "
                                   "integer, got 'ten'"),
    (["train", "--lr", "-0.1"], "zeronet train: error: --lr: expected a finite number > 0, "
                                "got '-0.1'"),
    (["train", "--lr", "0"], "zeronet train: error: --lr: expected a finite number > 0, got '0'"),
    (["train", "--lr", "nan"], "zeronet train: error: --lr: expected a finite number > 0, "
                               "got 'nan'"),
    (["train", "--batch-size", "0"], "zeronet train: error: --batch-size: expected a positive "
                                     "integer, got '0'"),
    (["train", "--seed", "-1"], "zeronet train: error: --seed: expected an integer >= 0, "
                                "got '-1'"),
    (["train", "--dataset", "cifar"], "zeronet train: error: --dataset: expected one of sine, "
                                      "mnist, got 'cifar'"),
    (["train", "--optimizer", "rmsprop"], "zeronet train: error: --optimizer: expected one of "
                                          "sgd, adam, got 'rmsprop'"),
    (["train", "--dtype", "float16"], "zeronet train: error: --dtype: expected one of float32, "
                                      "float64, got 'float16'"),
    (["train", "--data-dir", "{tmp}/missing"], "zeronet train: error: --data-dir: expected an "
                                               "existing directory, got '{tmp}/missing'"),
    (["train", "--dataset", "mnist", "--data-dir", "{tmp}"],
     "zeronet train: error: --data-dir: expected a folder holding the four MNIST files, got "
     "'{tmp}', which lacks t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz, "
     "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz"),
    (["train", "--checkpoint", "{tmp}/no/c.npz"], "zeronet train: error: --checkpoint: expected "
                                                  "a file in an existing directory, got "
                                                  "'{tmp}/no/c.npz' (no directory '{tmp}/no')"),
    (["train", "--checkpoint-every", "0"], "zeronet train: error: --checkpoint-every: expected "
                                           "a positive integer, got '0'"),
    (["train", "--checkpoint-every", "5"], "zeronet train: error: --checkpoint-every: expected "
                                           "--checkpoint FILE to save to, got none"),
    (["train", "--resume"], "zeronet train: error: --resume: expected --checkpoint FILE to "
                            "resume from, got none"),
    (["train", "--resume", "--checkpoint", "{tmp}/c.npz"],
     "zeronet train: error: --resume: expected an existing --checkpoint file, got "
     "'{tmp}/c.npz'"),
    (["report", "--threads", "0"], "zeronet report: error: --threads: expected a positive "
                                   "integer, got '0'"),
    (["report", "--jobs", "-2"], "zeronet report: error: --jobs: expected a positive integer, "
                                 "got '-2'"),
    (["train", "--bogus"], "zeronet: error: unrecognized arguments: --bogus"),
    (["frobnicate"], "zeronet: error: COMMAND: invalid choice: 'frobnicate' (choose from "
                     "'report', 'train', 'bench')"),
    ([], "zeronet: error: the following arguments are required: COMMAND"),
]


@pytest.mark.parametrize(("argv", "message"), BAD_ARGUMENTS,
                         ids=[" ".join(a) or "none" for a, _ in BAD_ARGUMENTS])
def test_bad_argument_is_one_line_and_status_2(tmp_path: Path, argv: list[str], message: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.err == message.replace("{tmp}", str(tmp_path)) + "\n"
    assert captured.out == ""


@pytest.mark.parametrize(("argv", "message"), [
    (["train", "--epochs", "0"], "zeronet train: error: --epochs: expected a positive integer, "
                                 "got '0'"),
    (["train", "--data-dir", "/nonexistent/zeronet"], "zeronet train: error: --data-dir: "
                                                      "expected an existing directory, got "
                                                      "'/nonexistent/zeronet'"),
    (["report", "--threads", "0"], "zeronet report: error: --threads: expected a positive "
                                   "integer, got '0'"),
])
def test_bad_argument_in_a_real_process(argv: list[str], message: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(zn.__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "zeronet.cli", *argv], capture_output=True,
                          text=True, env=env, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", message + "\n")


# ------------------------------------------------------------------ bench

def fake_bench_results(plan: object, *, threads: int, progress) -> dict:
    """What experiments.bench.run returns, in small: one row, one scaling point, one target."""
    progress("float64: single operations")
    times = {"zeronet": 0.001, "torch": 0.003, "floor": 0.0008, "floor (784-wide products)": 0.0005}
    return {"threads": threads, "timer": "time.process_time",
            "machine": {"cpu_model": "Test CPU", "versions": {"numpy": "n", "torch": "t"}},
            "rows": [{"name": "MNIST epoch (60 batches of 1000, Adam)", "group": "epoch",
                      "dtype": "float64", "median": times}],
            "scaling": [{"dtype": "float64", "batch": 1, "width": 16, "median": times}],
            "targets": [{"target": "MNIST epoch, float64: zeronet / floor <= 1.15",
                         "measured": 1.25, "met": False}]}


def test_bench_prints_the_table_and_writes_json_and_plot(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from experiments import bench as engine

    monkeypatch.setattr(engine, "run", fake_bench_results)
    status = cli.main(["bench", "--quick", "--json", str(tmp_path / "bench.json"),
                       "--plot", str(tmp_path / "scaling.png")])
    assert status == 0
    out, err = capsys.readouterr()
    cells = [re.split(r"\s{2,}", line.strip()) for line in out.splitlines()]
    assert cells[0] == ["operation", "dtype", "zeronet", "PyTorch", "PyTorch / zeronet",
                        "zeronet / floor"]
    assert cells[2] == ["MNIST epoch (60 batches of 1000, Adam)", "float64", "1 ms", "3 ms",
                        "3.00", "1.25 (784-wide products only: 2.00)"]
    assert "MISSED  MNIST epoch, float64: zeronet / floor <= 1.15: 1.25" in out
    assert err == "zeronet bench: float64: single operations\n"
    assert json.loads((tmp_path / "bench.json").read_text())["rows"][0]["median"]["floor"] == 0.0008
    assert (tmp_path / "scaling.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench.json", "scaling.png"]


@pytest.mark.parametrize(("argv", "message"), [
    (["bench", "--threads", "0"], "zeronet bench: error: --threads: expected a positive "
                                  "integer, got '0'"),
    (["bench", "--json", "/no/such/dir/b.json"], "zeronet bench: error: --json: expected a "
                                                 "file in an existing directory"),
])
def test_bench_bad_arguments_are_one_line(argv: list[str], message: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(message)
