"""``zeronet train``: one of the seed's networks, trained by zeronet alone, with checkpoints.

The options, what a checkpoint keeps of them and what ``--resume`` may change
(:data:`RESUME_MAY_CHANGE`), and the one true sentence said when the run is
interrupted. The parser, its errors and the signals are :mod:`zeronet.cli`'s;
the argument types, :mod:`zeronet.cli_options`'.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import zeronet as zn
from zeronet._files import DestinationError, check_destination, file_identity
from zeronet.checkpoint import read_progress
from zeronet.cli_options import (
    UsageError,
    existing_dir,
    file_in_existing_dir,
    non_negative_int,
    one_of,
    positive_float,
    positive_int,
)
from zeronet.data.mnist import MnistNotFoundError, missing_files
from zeronet.seed_networks import MNIST, SINE

#: ``zeronet train --dataset``: the seed's two networks and settings.
DATASETS = {network.task: network for network in (SINE, MNIST)}


class Train:
    """The ``zeronet train`` subcommand, a :class:`zeronet.cli.Command` like every plugin."""

    help = "train the seed's network on sine or MNIST, with checkpoints"
    description = ("Train the seed's ReLU network (zeronet only) and print one line per "
                   "epoch. With --checkpoint FILE, model, optimizer, data order and these "
                   "options are saved there; --resume continues from FILE exactly where it "
                   "stopped, with FILE's options: --epochs, --lr and --checkpoint-every "
                   "given again take effect from there on, while --dataset, --optimizer, "
                   "--dtype, --seed and --batch-size must be FILE's. An existing FILE is "
                   "replaced only with --overwrite. Training stops at the first NaN/inf, "
                   "naming the epoch, step and layer.")

    def configure(self, parser: argparse.ArgumentParser) -> None:
        # Every setting defaults to None, so that run() can tell what was given: with
        # --resume, what was not given is the checkpoint's (see SETTINGS).
        add = parser.add_argument
        add("--dataset", type=one_of(*DATASETS), default=None,
            metavar="{" + ",".join(DATASETS) + "}",
            help="the seed's sine regression or MNIST digits (default: sine)")
        add("--epochs", type=positive_int, default=None, metavar="N",
            help="epochs in total, resumed ones included (default: 10)")
        add("--lr", type=positive_float, default=None,
            help=f"learning rate (default: the seed's, {SINE.lr} sine, {MNIST.lr} MNIST); "
                 "with --resume a new one takes effect from the next step, as when torch "
                 "users set it in the optimizer's param_groups after loading its state")
        add("--batch-size", type=positive_int, default=None, metavar="B",
            help=f"examples per optimizer step (default: the seed's, {SINE.batch_size} sine, "
                 f"{MNIST.batch_size} MNIST)")
        add("--optimizer", type=one_of("sgd", "adam"), default=None, metavar="{sgd,adam}",
            help="the optimizer, as torch.optim's (default: adam)")
        add("--dtype", type=one_of("float32", "float64"), default=None,
            metavar="{float32,float64}",
            help="the floating-point type of weights and data (default: float64)")
        add("--seed", type=non_negative_int, default=None,
            help="seeds the weights and the batch order (default: 0)")
        add("--data-dir", type=existing_dir, default=None, metavar="DIR",
            help="folder holding the four MNIST .gz files (default: $ZERONET_DATA_DIR, then "
                 "~/.cache/zeronet/mnist)")
        add("--checkpoint", type=file_in_existing_dir, default=None, metavar="FILE",
            help="save model, optimizer and data order to FILE (safetensors)")
        add("--checkpoint-every", type=positive_int, default=None, metavar="STEPS",
            help="save every STEPS optimizer steps (default: after every epoch)")
        add("--resume", action="store_true",
            help="continue from --checkpoint FILE, bit-identically, with its options")
        add("--overwrite", action="store_true",
            help="replace an existing --checkpoint FILE (without it, an existing FILE is "
                 "refused unless --resume is given)")

    def run(self, args: argparse.Namespace, argv: list[str]) -> int:
        """One line per epoch on stdout; status 1 if training hit a NaN/inf."""
        path = args.checkpoint
        args.found_at_start = None if path is None else file_identity(path)  # see interrupted
        _check_checkpoint_options(args)
        stored = None
        if args.resume:
            try:
                stored = read_progress(path)
            except (zn.CheckpointError, OSError) as exc:
                raise UsageError(f"--resume: {exc}") from None
            args.resumed_from = stored
        settings = _settings(args, stored)
        if stored is not None and settings["epochs"] <= stored["epoch"]:
            wanted = (f"--epochs {settings['epochs']} asks for no more" if args.epochs is not None
                      else f"all {settings['epochs']} epochs of its run are done")
            print(f"zeronet train: nothing to do: {path} holds {_held(stored)} and {wanted}; "
                  f"pass --epochs N above {stored['epoch']} to train on", file=sys.stderr)
            return 0
        epochs, lr = settings["epochs"], settings["lr"]
        dtype = np.dtype(settings["dtype"])
        network = DATASETS[settings["dataset"]]
        x_train, y_train, x_test, y_test = _train_data(settings["dataset"], args.data_dir, dtype)
        model = zn.nn.relu_mlp(network.sizes, dtype=dtype,
                               rng=np.random.default_rng(settings["seed"]))
        optimizer = (zn.optim.Adam(model.parameters(), lr=lr) if settings["optimizer"] == "adam"
                     else zn.optim.SGD(model.parameters(), lr=lr))
        loss_fn = zn.nn.CrossEntropyLoss() if settings["dataset"] == "mnist" else zn.nn.MSELoss()
        loader = zn.data.DataLoader(x_train, y_train, settings["batch_size"], shuffle=True,
                                    seed=settings["seed"])
        steps_per_epoch = len(loader)

        def report_epoch(epoch: int, mean_loss: float) -> None:
            with np.errstate(over="ignore", invalid="ignore"):
                try:
                    out = model(x_test)
                    test = f"test_loss {loss_fn(out, y_test):.6g}"
                except ValueError:  # non-finite outputs on the test set
                    out, test = None, "test_loss nan"
            if settings["dataset"] == "mnist" and out is not None:
                test += f"  test_accuracy {100 * np.mean(out.argmax(axis=1) == y_test):.2f}%"
            print(f"epoch {epoch}/{epochs}  step {epoch * steps_per_epoch}  "
                  f"train_loss {mean_loss:.6g}  {test}", flush=True)

        def new_lr(progress: dict[str, int | float | str]) -> None:
            if progress["lr"] != lr:  # a new --lr: in effect from the next step
                optimizer.hyperparameters = optimizer.check_hyperparameters(
                    **{**optimizer.hyperparameters, "lr": lr})

        try:
            result = zn.fit(model, loss_fn, optimizer, loader, epochs=epochs, checkpoint=path,
                            checkpoint_every=settings["checkpoint_every"] or None,
                            resume=args.resume, on_epoch=report_epoch,
                            settings=settings, on_resume=new_lr)
        except zn.CheckpointError as exc:
            raise UsageError(f"--resume: {exc}") from None
        except zn.NonFiniteError as exc:
            print(f"zeronet train: {exc}", file=sys.stderr)
            return 1
        if path is not None:
            print(f"zeronet train: {result.step} steps; checkpoint {path}", file=sys.stderr)
        return 0

    def interrupted(self, args: argparse.Namespace) -> str:
        """What is in --checkpoint FILE now, read from the disk (so true at any instant).

        A save replaces FILE by a rename (zeronet.checkpoint), so FILE is either
        what it was when the run started (same inode) or the last complete save.
        """
        path = args.checkpoint
        if path is None:
            return "nothing was saved (no --checkpoint)"
        if not hasattr(args, "found_at_start"):
            return f"{path} was not touched"
        now = file_identity(path)
        if now is None:
            return "no checkpoint was written"
        if now == args.found_at_start:
            resumed = getattr(args, "resumed_from", None)
            return (f"{path} is as it was ({_held(resumed)})" if resumed is not None
                    else f"{path} is as it was before this run (not replaced yet)")
        try:
            return f"{path} holds {_held(read_progress(path))} (the last save)"
        except (zn.CheckpointError, OSError) as exc:  # not as a save of fit() leaves it
            return f"{path} was replaced and cannot be read ({exc})"


TRAIN = Train()

#: zeronet train's options stored in a checkpoint (fit's ``settings``), as option -> value.
SETTINGS = ("dataset", "optimizer", "dtype", "seed", "batch_size", "epochs", "lr",
            "checkpoint_every")
#: The settings that --resume takes anew when given; the others must be the checkpoint's.
RESUME_MAY_CHANGE = ("epochs", "lr", "checkpoint_every")
#: Each setting's check, for the values a checkpoint holds (0: save after every epoch).
SETTING_TYPES: dict[str, Callable[[str], Any]] = {
    "dataset": one_of(*DATASETS), "optimizer": one_of("sgd", "adam"),
    "dtype": one_of("float32", "float64"), "seed": non_negative_int,
    "batch_size": positive_int, "epochs": positive_int, "lr": positive_float,
    "checkpoint_every": non_negative_int}


def _option(setting: str) -> str:
    return "--" + setting.replace("_", "-")


def _settings(args: argparse.Namespace,
              stored: dict[str, int | float | str] | None) -> dict[str, int | float | str]:
    """The run's settings: those given, then the checkpoint's (``stored``), then the defaults.

    On resume, a setting given that is not in RESUME_MAY_CHANGE must equal the
    checkpoint's: a UsageError names both values otherwise.
    """
    given = {k: getattr(args, k) for k in SETTINGS if getattr(args, k) is not None}
    if stored is None:
        network = DATASETS[given.get("dataset", "sine")]
        defaults = {"dataset": network.task, "optimizer": "adam", "dtype": "float64", "seed": 0,
                    "batch_size": network.batch_size, "epochs": 10, "lr": network.lr,
                    "checkpoint_every": 0}
        return {**defaults, **given}
    path = args.checkpoint
    if not set(SETTINGS) <= set(stored):
        raise UsageError(f"--resume: {path} does not record the options it was written with "
                         f"(written by zeronet.fit or an older zeronet train), so they cannot "
                         f"be checked; start anew with --overwrite")
    saved = {}
    for key in SETTINGS:
        try:
            value = SETTING_TYPES[key](str(stored[key]))
        except argparse.ArgumentTypeError as exc:
            raise UsageError(f"--resume: {path}: its {_option(key)}: {exc}") from None
        if type(value) is not type(stored[key]):
            raise UsageError(f"--resume: {path}: its {_option(key)}: expected "
                             f"{type(value).__name__}, got {stored[key]!r:.80}")
        saved[key] = value
    for key, value in given.items():
        if key not in RESUME_MAY_CHANGE and value != saved[key]:
            raise UsageError(f"{_option(key)} {value}: the checkpoint {path} was written with "
                             f"{_option(key)} {saved[key]}; resume without it or start anew "
                             f"with --overwrite")
    return {**saved, **given}


def _held(progress: dict[str, int | float | str]) -> str:
    """Where a checkpoint's progress stands: ``epoch 3, step 30`` or ``step 34 (batch 4 of
    epoch 4)``."""
    epoch, step, batches = progress["epoch"], progress["step"], progress["epoch_batches"]
    return (f"epoch {epoch}, step {step}" if not batches
            else f"step {step} (batch {batches} of epoch {int(epoch) + 1})")


def _check_checkpoint_options(args: argparse.Namespace) -> None:
    """--resume, --overwrite and --checkpoint-every need --checkpoint FILE; FILE must be
    writable (before any work) and, unless resumed or --overwrite, new."""
    path = args.checkpoint
    for flag, given in (("--resume", args.resume), ("--overwrite", args.overwrite),
                        ("--checkpoint-every", args.checkpoint_every is not None)):
        if given and path is None:
            what = "resume from" if flag == "--resume" else "save to"
            raise UsageError(f"{flag}: expected --checkpoint FILE to {what}, got none")
    if path is None:
        return
    if args.resume and args.overwrite:
        raise UsageError("--overwrite: cannot be used with --resume (--resume continues FILE, "
                         "--overwrite starts anew)")
    if args.resume and not path.is_file():
        raise UsageError(f"--resume: expected an existing --checkpoint file, got {str(path)!r}")
    try:
        check_destination(path)
    except DestinationError as exc:
        raise UsageError(f"--checkpoint: {exc}") from None
    if not args.resume and not args.overwrite and path.exists():
        raise UsageError(f"--checkpoint: {path} exists; pass --resume to continue from it, or "
                         f"--overwrite to replace it")


def _train_data(dataset: str, data_dir: Path | None,
                dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test) as the seed prepares them, inputs in ``dtype``."""
    if dataset == "sine":
        d = zn.data.sample_sine()
        return (d.x_train.astype(dtype), d.y_train.astype(dtype), d.x_test.astype(dtype),
                d.y_test.astype(dtype))
    if data_dir is not None:  # only that folder, no download
        missing = sorted(missing_files(data_dir))  # each gzipped or not
        if missing:
            raise UsageError(f"--data-dir: expected a folder holding the four MNIST files, "
                             f"got {str(data_dir)!r}, which lacks {', '.join(missing)}")
    try:
        arrays = (zn.data.load_mnist(data_dir, download=False) if data_dir is not None
                  else zn.data.load_mnist())
    except MnistNotFoundError as exc:  # a few lines: the folder read, what it lacks, what to do
        print(f"zeronet train: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except ValueError as exc:  # a file that is not the canonical one, named with its source
        raise UsageError(f"--data-dir: {exc}" if data_dir is not None else str(exc)) from None
    x_train, y_train, x_test, y_test = arrays
    return (zn.data.flatten_pixels(x_train, dtype), y_train.astype(np.int64),
            zn.data.flatten_pixels(x_test, dtype), y_test.astype(np.int64))
