"""``zeronet train``, the one-line errors of the ``zeronet`` command, and its plugins.

Every bad argument gives exactly one line on stderr naming the option, what
was expected and what was given, exit status 2, and no traceback; checked
through ``main([...])`` and through a real ``python -m zeronet`` process.
Subcommands beyond ``train`` come from the entry-point group
``zeronet.commands``: faked here, and the study's real ones (report, bench).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import os
import re
import signal
import subprocess
import sys
import time
import weakref
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from helpers.mnist import mnist_dir

import zeronet as zn
from zeronet import cli, cli_options, train_command
from zeronet.checkpoint import load_checkpoint, read_progress
from zeronet.seed_networks import SINE


def checkpoint_state(path: Path) -> dict[str, object]:
    """A checkpoint of ``zeronet train`` on sine, read through zeronet (whatever its format):
    its progress, the model's arrays, the optimizer's state and the loader's position."""
    progress = read_progress(path)
    model = zn.nn.relu_mlp(SINE.sizes, dtype=np.dtype(progress["dtype"]),
                           rng=np.random.default_rng(99))
    optimizer = (zn.optim.Adam(model.parameters()) if progress["optimizer"] == "adam"
                 else zn.optim.SGD(model.parameters(), lr=1.0))
    data = zn.data.sample_sine()
    loader = zn.data.DataLoader(data.x_train, data.y_train, progress["batch_size"], shuffle=True)
    load_checkpoint(path, model, optimizer, loader=loader)
    state = optimizer.state_dict()["state"]
    return {"progress": progress, **{f"model/{k}": v for k, v in model.state_dict().items()},
            **{f"optimizer/{i}/{k}": v for i, entry in state.items() for k, v in entry.items()},
            "loader": loader.state_dict(), "hyper": optimizer.hyperparameters}


def assert_same_checkpoint(a: Path, b: Path) -> None:
    """Equal bit for bit: every array (np.array_equal), the progress and the loader's state."""
    first, second = checkpoint_state(a), checkpoint_state(b)
    assert first.keys() == second.keys()
    for key, value in first.items():
        if isinstance(value, np.ndarray):
            assert value.dtype == second[key].dtype, key
            assert np.array_equal(value, second[key]), key
        else:
            assert value == second[key], key


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
    assert_same_checkpoint(tmp_path / "a.npz", tmp_path / "b.npz")


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
    assert capsys.readouterr().err == ("zeronet train: interrupted; nothing was saved "
                                       "(no --checkpoint)\n")


def test_train_on_mnist(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["train", "--dataset", "mnist", "--epochs", "1", "--data-dir",
                     str(mnist_dir())]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("epoch 1/1  step 60  train_loss ")
    assert float(line.split("test_accuracy ")[1].rstrip("%")) > 70


# ------------------------------------------------------------------ checkpoints: overwrite, resume

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def train(capsys: pytest.CaptureFixture[str]) -> Run:
    """``zeronet train ARGV`` in this process: (status, stdout, stderr); usage errors give 2."""
    def run(*argv: str | Path) -> tuple[int, str, str]:
        try:
            status = cli.main(["train", *map(str, argv)])
        except SystemExit as exc:
            status = exc.code
        captured = capsys.readouterr()
        return status, captured.out, captured.err
    return run


#: A short sine run: 4 steps an epoch.
SHORT = ("--batch-size", "250")


def trained(train: Run, path: Path, *argv: str) -> Path:
    """``path`` after ``zeronet train --epochs 2 --batch-size 250 --checkpoint path ARGV``."""
    assert train("--epochs", "2", *SHORT, "--checkpoint", path, *argv)[0] == 0
    return path


def assert_untouched(path: Path, before: os.stat_result) -> None:
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == (
        before.st_ino, before.st_mtime_ns, before.st_size)


def test_an_existing_checkpoint_is_kept_without_resume_or_overwrite(tmp_path: Path,
                                                                    train: Run) -> None:
    path = trained(train, tmp_path / "c.npz")
    before = path.stat()
    assert train("--checkpoint", path) == (2, "", (
        f"zeronet train: error: --checkpoint: {path} exists; pass --resume to continue from "
        f"it, or --overwrite to replace it\n"))
    assert_untouched(path, before)


def test_overwrite_starts_anew(tmp_path: Path, train: Run) -> None:
    path = trained(train, tmp_path / "c.npz", "--optimizer", "sgd")
    assert train("--epochs", "1", "--checkpoint", path, "--overwrite")[0] == 0
    assert read_progress(path) | {"epoch_loss_sum": 0} == {
        "epoch": 1, "step": 10, "epoch_batches": 0, "epoch_loss_sum": 0, "dataset": "sine",
        "optimizer": "adam", "dtype": "float64", "seed": 0, "batch_size": 100, "epochs": 1,
        "lr": SINE.lr, "checkpoint_every": 0}


def test_an_unwritable_checkpoint_is_refused_before_the_data_is_loaded(
        tmp_path: Path, train: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    monkeypatch.setattr(train_command, "_train_data",
                        lambda *args: pytest.fail("the data was loaded"))
    status, out, err = train("--checkpoint", fifo, "--overwrite")
    assert (status, out, err.count("\n")) == (2, "", 1)
    assert err.startswith(f"zeronet train: error: --checkpoint: {fifo}")
    assert fifo.is_fifo()


@pytest.mark.parametrize(("option", "value", "saved"), [
    ("--batch-size", "50", "250"), ("--optimizer", "sgd", "adam"),
    ("--dtype", "float32", "float64"), ("--seed", "1", "0"), ("--dataset", "mnist", "sine")])
def test_resume_refuses_another_setting_naming_the_checkpoints(
        tmp_path: Path, train: Run, option: str, value: str, saved: str) -> None:
    path = trained(train, tmp_path / "c.npz")
    assert train("--resume", "--checkpoint", path, "--epochs", "3", option, value) == (2, "", (
        f"zeronet train: error: {option} {value}: the checkpoint {path} was written with "
        f"{option} {saved}; resume without it or start anew with --overwrite\n"))


def test_resume_takes_the_checkpoints_settings_and_accepts_them_given_again(
        tmp_path: Path, train: Run) -> None:
    argv = ("--optimizer", "sgd", "--seed", "3", "--dtype", "float32")
    resumed = trained(train, tmp_path / "a.npz", *argv)
    assert train("--resume", "--checkpoint", resumed, "--epochs", "3")[0] == 0
    again = trained(train, tmp_path / "b.npz", *argv)
    assert train("--resume", "--checkpoint", again, "--epochs", "3", *argv, *SHORT)[0] == 0
    whole = tmp_path / "c.npz"
    assert train("--epochs", "3", *SHORT, *argv, "--checkpoint", whole)[0] == 0
    assert_same_checkpoint(resumed, whole)
    assert_same_checkpoint(again, whole)


def test_resume_with_a_new_lr_or_save_interval_uses_them_from_the_next_step(
        tmp_path: Path, train: Run) -> None:
    new, same = (trained(train, tmp_path / name) for name in ("new.npz", "same.npz"))
    assert train("--resume", "--checkpoint", new, "--epochs", "3", "--lr", "0.05",
                 "--checkpoint-every", "3")[0] == 0
    assert train("--resume", "--checkpoint", same, "--epochs", "3")[0] == 0
    changed, kept = checkpoint_state(new), checkpoint_state(same)
    assert (changed["hyper"]["lr"], changed["progress"]["lr"]) == (0.05, 0.05)
    assert (changed["progress"]["checkpoint_every"], kept["progress"]["checkpoint_every"]) == (
        3, 0)
    assert (kept["hyper"]["lr"], kept["progress"]["lr"]) == (SINE.lr, SINE.lr)
    assert not np.array_equal(changed["model/0.weight"], kept["model/0.weight"])


@pytest.mark.parametrize(("argv", "wanted"), [
    (["--epochs", "1"], "--epochs 1 asks for no more"),
    (["--epochs", "2"], "--epochs 2 asks for no more"),
    ([], "all 2 epochs of its run are done")])
def test_resume_with_nothing_to_do_says_so_and_leaves_the_file(
        tmp_path: Path, train: Run, argv: list[str], wanted: str) -> None:
    path = trained(train, tmp_path / "c.npz")
    before = path.stat()
    assert train("--resume", "--checkpoint", path, *argv) == (0, "", (
        f"zeronet train: nothing to do: {path} holds epoch 2, step 8 and {wanted}; pass "
        f"--epochs N above 2 to train on\n"))
    assert_untouched(path, before)


def test_resume_from_a_file_that_is_no_checkpoint_is_the_projects_one_line(
        tmp_path: Path, train: Run) -> None:
    """(Fails with the format-1 .npz reader, whose message has numpy's allow_pickle hint;
    the checkpoint format 2 of issue 11, part A, words it itself.)"""
    path = tmp_path / "notes.txt"
    path.write_text("not a checkpoint\n")
    status, out, err = train("--resume", "--checkpoint", path)
    assert (status, out, err.count("\n")) == (2, "", 1)
    assert err.startswith(f"zeronet train: error: --resume: {path}: ")
    assert "pickle" not in err


def fit_checkpoint(path: Path, **settings: int | float | str) -> Path:
    """A checkpoint of the seed's sine network written by zn.fit with these settings."""
    model = zn.nn.relu_mlp(SINE.sizes, rng=np.random.default_rng(0))
    data = zn.data.sample_sine()
    loader = zn.data.DataLoader(data.x_train, data.y_train, 100, shuffle=True, seed=0)
    zn.fit(model, zn.nn.MSELoss(), zn.optim.Adam(model.parameters(), lr=SINE.lr), loader,
           epochs=1, checkpoint=path, settings=settings)
    return path


SETTINGS = {"dataset": "sine", "optimizer": "adam", "dtype": "float64", "seed": 0,
            "batch_size": 100, "epochs": 1, "lr": SINE.lr, "checkpoint_every": 0}


@pytest.mark.parametrize(("settings", "message"), [
    ({}, "does not record the options it was written with (written by zeronet.fit or an older "
         "zeronet train), so they cannot be checked; start anew with --overwrite"),
    ({**SETTINGS, "dataset": "cifar"}, ": its --dataset: expected one of sine, mnist, got "
                                       "'cifar'"),
    ({**SETTINGS, "batch_size": 0}, ": its --batch-size: expected a positive integer, got '0'"),
    ({**SETTINGS, "seed": "0"}, ": its --seed: expected int, got '0'")])
def test_resume_refuses_a_checkpoint_without_sound_settings(
        tmp_path: Path, train: Run, settings: dict, message: str) -> None:
    path = fit_checkpoint(tmp_path / "c.npz", **settings)
    separator = "" if message.startswith(":") else " "
    assert train("--resume", "--checkpoint", path, "--epochs", "2") == (
        2, "", f"zeronet train: error: --resume: {path}{separator}{message}\n")


def test_fit_refuses_to_resume_with_other_setting_names(tmp_path: Path) -> None:
    path = fit_checkpoint(tmp_path / "c.npz", **SETTINGS)
    model = zn.nn.relu_mlp(SINE.sizes, rng=np.random.default_rng(0))
    data = zn.data.sample_sine()
    loader = zn.data.DataLoader(data.x_train, data.y_train, 100, shuffle=True, seed=0)
    before = model.state_dict()
    with pytest.raises(zn.CheckpointError, match=r"expected the progress counters .* and the "
                                                 r"settings \['run'\], got \['batch_size'"):
        zn.fit(model, zn.nn.MSELoss(), zn.optim.Adam(model.parameters()), loader, epochs=2,
               checkpoint=path, resume=True, settings={"run": "x"})
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("command", ["train", "report"])
def test_help_works(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: zeronet {command}" in capsys.readouterr().out


def parsers() -> dict[str, cli.OneLineErrorParser]:
    """``zeronet``'s parser and each installed subcommand's, by prog."""
    main = cli.build_parser()
    return {"zeronet": main, **{p.prog: p for p in main.subcommands.values()}}


@pytest.mark.parametrize(("prog", "parser"), parsers().items())
def test_every_help_text_is_whole_sentences(prog: str, parser: cli.OneLineErrorParser) -> None:
    """A description is sentences ending in '.', with no reStructuredText quoting; every option
    says what it is for, beyond its default."""
    assert parser.description, prog
    assert parser.description.rstrip().endswith("."), (prog, parser.description)
    assert "``" not in parser.description, prog
    actions = parser._actions  # argparse keeps them there; only read here
    for action in [*actions, *(a for s in actions for a in getattr(s, "_choices_actions", []))]:
        label = f"{prog} {'/'.join(action.option_strings) or action.dest}"
        assert (action.help or "").strip(), label
        assert re.sub(r"\(default:.*\)$", "", action.help).strip(), label
        assert "``" not in action.help, label


def test_version_is_the_installed_distribution(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"zeronet {zn.__version__} (zeronet-from-scratch; Python ")
    assert importlib.metadata.version(cli.DISTRIBUTION) == zn.__version__
    assert set(importlib.metadata.packages_distributions()["zeronet"]) == {cli.DISTRIBUTION}


def test_python_m_zeronet_is_the_zeronet_command(tmp_path: Path) -> None:
    """As installed (no PYTHONPATH), from a folder that is not the checkout."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-m", "zeronet", "--version"], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=120)
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert done.stdout == cli.version() + "\n"


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
    (["train", "--overwrite"], "zeronet train: error: --overwrite: expected --checkpoint FILE "
                               "to save to, got none"),
    (["train", "--resume", "--overwrite", "--checkpoint", "{tmp}/c.npz"],
     "zeronet train: error: --overwrite: cannot be used with --resume (--resume continues "
     "FILE, --overwrite starts anew)"),
    (["train", "--bogus"], "zeronet train: error: unrecognized arguments: --bogus"),
    (["train", "--epoch", "5"], "zeronet train: error: unrecognized arguments: --epoch 5 (did "
                                "you mean '--epochs'?)"),
    (["train", "--checkpoint-ev", "5"], "zeronet train: error: unrecognized arguments: "
                                        "--checkpoint-ev 5 (did you mean '--checkpoint-every'?)"),
    (["report", "--thread", "0"], "zeronet report: error: unrecognized arguments: --thread 0 "
                                  "(did you mean '--threads'?)"),  # (never runs a report)
    (["--vers"], "zeronet: error: unrecognized arguments: --vers (did you mean '--version'?)"),
    (["train", "--epcohs", "3"], "zeronet train: error: unrecognized arguments: --epcohs 3 "
                                 "(did you mean '--epochs'?)"),
    (["train", "--epochs=2", "--dtpye=float32"], "zeronet train: error: unrecognized "
                                                 "arguments: --dtpye=float32 (did you mean "
                                                 "'--dtype'?)"),
    (["report", "--quik"], "zeronet report: error: unrecognized arguments: --quik (did you "
                           "mean '--quick'?)"),
    (["--verison"], "zeronet: error: unrecognized arguments: --verison (did you mean "
                    "'--version'?)"),
    (["reprot", "--quick"], "zeronet: error: COMMAND: invalid choice: 'reprot' (choose from "
                            "'train', 'bench', 'check', 'report') (did you mean 'report'?)"),
    (["frobnicate"], "zeronet: error: COMMAND: invalid choice: 'frobnicate' (choose from "
                     "'train', 'bench', 'check', 'report')"),
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
    done = subprocess.run([sys.executable, "-m", "zeronet", *argv], capture_output=True,
                          text=True, env=env, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", message + "\n")


# ------------------------------------------------------------------ plugin subcommands

def run_zeronet(*argv: str, code: str = "") -> subprocess.CompletedProcess[str]:
    """``python -m zeronet ARGV`` on this checkout, after running ``code`` (a fault to inject)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(zn.__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    script = f"{code}\nimport sys, runpy; sys.argv = ['zeronet', *{list(argv)!r}]; " \
             "runpy.run_module('zeronet', run_name='__main__')"
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=120)


class FakeEntryPoint:
    """What importlib.metadata.entry_points gives: a name, a target, and load()."""

    group = cli.COMMANDS_GROUP

    def __init__(self, name: str, loaded: object = None, error: Exception | None = None) -> None:
        self.name, self.value, self.loaded, self.error = name, f"fake.module:{name}", loaded, error

    def load(self) -> object:
        if self.error is not None:
            raise self.error
        return self.loaded


class Hello:
    """A plugin command: ``zeronet hello --name N`` prints a greeting."""

    help = "say hello"
    description = "Say hello to --name."

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--name", type=cli_options.one_of("world", "you"), default="world")

    def run(self, args: argparse.Namespace, argv: list[str]) -> int:
        if args.name == "you":
            raise cli_options.UsageError("--name: you is not allowed today")
        print(f"hello {args.name} ({' '.join(argv)}, console {args.console})")
        return 7

    def interrupted(self, args: argparse.Namespace) -> str:
        return "nobody was greeted"


@pytest.fixture
def fake_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    entries = [FakeEntryPoint("hello", Hello()),
               FakeEntryPoint("broken", error=ModuleNotFoundError("No module named 'gone'"))]
    monkeypatch.setattr(cli, "entry_points",
                        lambda group: entries if group == cli.COMMANDS_GROUP else [])


def test_a_plugin_command_runs_with_its_options_and_status(
        fake_plugins: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["hello", "--name", "world"]) == 7
    assert capsys.readouterr().out == "hello world (hello --name world, console False)\n"


def test_a_plugin_gets_the_one_line_errors(fake_plugins: None,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    for argv, message in ((["hello", "--name", "me"], "zeronet hello: error: --name: expected "
                                                      "one of world, you, got 'me'\n"),
                          (["hello", "--name", "you"], "zeronet hello: error: --name: you is "
                                                       "not allowed today\n")):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(argv)
        assert (exit_info.value.code, capsys.readouterr().err) == (2, message)


def test_ctrl_c_in_a_plugin_says_what_it_left(fake_plugins: None, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted(self: Hello, args: object, argv: object) -> int:
        raise KeyboardInterrupt
    monkeypatch.setattr(Hello, "run", interrupted)
    assert cli.main(["hello"]) == 130
    assert capsys.readouterr().err == "zeronet hello: interrupted; nobody was greeted\n"


def test_help_lists_the_plugins_and_a_broken_one_as_unavailable(
        fake_plugins: None, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    assert re.search(r"^    train +train the seed's network", out, re.MULTILINE)
    assert re.search(r"^    hello +say hello$", out, re.MULTILINE)
    assert re.search(r"^    broken +\(unavailable: cannot load fake.module:broken\)$", out,
                     re.MULTILINE)


def test_a_plugin_that_cannot_be_loaded_is_a_one_line_error(
        fake_plugins: None, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["broken", "--whatever"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.count("\n") == 1
    assert err.startswith("zeronet broken: error: this command is not available: cannot load "
                          "fake.module:broken: ModuleNotFoundError: No module named 'gone'; ")
    assert "pip install -e '.[report]' (from the root of your clone of zeronet-from-scratch)" in err


def test_commands_are_train_then_the_plugins_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    entries = [FakeEntryPoint(name, Hello()) for name in ("zebra", "alpha", "mid")]
    monkeypatch.setattr(cli, "entry_points", lambda group: entries)
    assert list(cli.commands()) == ["train", "alpha", "mid", "zebra"]


def test_a_command_started_as_zeronet_knows_it_may_restart_the_process() -> None:
    """args.console: True in a process started as zeronet, False for main([...]) (above)."""
    fake = ("import zeronet.cli as cli\n"
            "class Hi:\n"
            "    help = description = 'hi'\n"
            "    def configure(self, parser): pass\n"
            "    def run(self, args, argv): print('console', args.console); return 0\n"
            "    def interrupted(self, args): return ''\n"
            "class Entry:\n"
            "    name, value = 'hi', 'fake:Hi'\n"
            "    def load(self): return Hi()\n"
            "cli.entry_points = lambda group: [Entry()]")
    done = run_zeronet("hi", code=fake)
    assert (done.returncode, done.stdout) == (0, "console True\n"), done.stderr


def test_a_plugin_cannot_replace_train(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "entry_points", lambda group: [FakeEntryPoint("train", Hello())])
    assert cli.commands()["train"] is train_command.TRAIN


def test_zeronet_help_lists_the_installed_plugin_commands() -> None:
    """The study's report and bench, from this distribution's entry points."""
    done = run_zeronet("--help")
    assert done.returncode == 0, done.stderr
    for command, help_text in (("train", "train the seed's network"),
                               ("bench", "time zeronet against PyTorch"),
                               ("report", "run the sine and MNIST experiments")):
        assert re.search(rf"^    {command} +{re.escape(help_text)}", done.stdout, re.MULTILINE)


# Without the study: importing zeronet_study fails, as when only the library is installed.
WITHOUT_STUDY = "import sys; sys.modules['zeronet_study'] = None"


def test_train_works_with_the_library_alone() -> None:
    done = run_zeronet("train", "--epochs", "1", code=WITHOUT_STUDY)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("epoch 1/1  step 10  train_loss ")


def test_without_the_study_its_commands_say_so_in_one_line() -> None:
    done = run_zeronet("report", "--quick", code=WITHOUT_STUDY)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("zeronet report: error: this command is not available: cannot "
                                  "load zeronet_study.commands:REPORT: ")
    assert done.stderr.rstrip().endswith(
        "pip install -e '.[report]' (from the root of your clone of zeronet-from-scratch))")


def test_the_library_imports_nothing_above_it() -> None:
    """zeronet train, run in full, loads neither the study, the torch mirror, nor torch."""
    done = run_zeronet("train", "--epochs", "1", code=WITHOUT_STUDY + "\nimport atexit\n"
                       "atexit.register(lambda: print(sorted(m for m in ('zeronet_study', "
                       "'reference', 'torch', 'matplotlib') if sys.modules.get(m))))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"


def _training_that_meets_a_lost_ctrl_c(drop: Callable[[], None],
                                       seconds: float) -> Callable[..., zn.FitResult]:
    def fit(*args: object, **kwargs: object) -> zn.FitResult:
        drop()
        time.sleep(seconds)  # then training ends as if nothing had happened
        return zn.FitResult(1, 10)
    return fit


def _swallowed() -> None:  # a library's `except KeyboardInterrupt: pass` around the handler
    with contextlib.suppress(KeyboardInterrupt):
        signal.getsignal(signal.SIGINT)(signal.SIGINT, None)


def _dropped_in_a_weakref_callback() -> None:  # Python reports and drops what it raises
    class Thing:
        pass
    thing = Thing()
    ref = weakref.ref(thing, lambda r: signal.getsignal(signal.SIGINT)(signal.SIGINT, None))
    del thing
    assert ref() is None


@pytest.mark.parametrize(("drop", "seconds"), [
    (_swallowed, 0),  # caught by the end-of-run check
    (_dropped_in_a_weakref_callback, 5),  # sent again at once: ends the sleep
])
def test_a_ctrl_c_whose_exception_was_lost_still_ends_train_with_130(
        drop: Callable[[], None], seconds: float, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(zn, "fit", _training_that_meets_a_lost_ctrl_c(drop, seconds))
    started = time.monotonic()
    assert cli.main(["train", "--epochs", "1"]) == 130
    assert time.monotonic() - started < 4
    err = capsys.readouterr().err
    assert err == "zeronet train: interrupted; nothing was saved (no --checkpoint)\n"
