"""The ``zeronet`` command: ``zeronet train`` here, other subcommands from installed plugins.

``zeronet train`` trains one of the seed's networks with checkpoints and needs
the library alone. Further subcommands come from the entry-point group
``zeronet.commands`` (see :class:`Command`): this project's study registers
``zeronet report``, ``zeronet bench`` and ``zeronet check`` there (they need
the ``report`` extra: :func:`install_hint`). A bad argument gives one line on
stderr (``zeronet train: error: --epochs: expected a positive integer, got
'0'``) and exit status 2, never a traceback; so does a plugin that cannot be
loaded. A misspelt command or option gets a suggestion ("did you mean
--epochs?"), found by :mod:`difflib` among the names the parser knows; an
abbreviated one is not taken for the whole (``--epoch`` is not ``--epochs``).

Ctrl-C (SIGINT) and SIGTERM end every command the same way: the command
unwinds (SIGTERM raises :class:`Terminated`, a KeyboardInterrupt), then one
line says what is on disk, and the status is 130 or 143 (128 + the signal).
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import math
import os
import platform
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, NoReturn, Protocol

import numpy as np

import zeronet as zn
from zeronet._files import DestinationError, check_destination
from zeronet._interrupts import signals_recorded
from zeronet.checkpoint import read_progress
from zeronet.data.mnist import MnistNotFoundError, missing_files
from zeronet.seed_networks import MNIST, SINE

#: The entry-point group whose entries are ``zeronet`` subcommands.
COMMANDS_GROUP = "zeronet.commands"
#: The distribution that installs the package ``zeronet``. (The name ``zeronet`` on the public
#: package index belongs to an unrelated project: no message may name it as ours.)
DISTRIBUTION = "zeronet-from-scratch"
#: ``zeronet --help``: what the command is, in whole sentences (the commands are listed after it).
DESCRIPTION = ("A fully connected network in NumPy whose every number is checked against "
               "PyTorch. 'zeronet train' trains the seed's network with the library alone; "
               "the other commands come from installed plugins: this project's study adds "
               "'report' (re-run the seed's experiments and write reports/), 'bench' (time "
               "zeronet against PyTorch) and 'check' (check your own network against "
               "PyTorch).")
EPILOG = "Run 'zeronet COMMAND --help' for the options of a command."
#: ``zeronet train --dataset``: the seed's two networks and settings.
DATASETS = {network.task: network for network in (SINE, MNIST)}


# ----------------------------------------------------------------------------- errors

class UsageError(Exception):
    """A bad command-line argument found after parsing (e.g. two options that conflict)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, like Ctrl-C's KeyboardInterrupt.

    :func:`main` turns SIGTERM into this exception (Python's default would end
    the process at once, cleaning nothing up), so that a terminated command
    unwinds as an interrupted one: ``except KeyboardInterrupt`` and
    ``finally`` blocks run, temporary files are removed, and the status is 143.
    """


def install_hint(extra: str) -> str:
    """How to install what an extra of this project needs, from the root of a clone."""
    return f"pip install -e '.[{extra}]' (from the root of your clone of {DISTRIBUTION})"


def did_you_mean(given: str, known: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known`` to ``given``, or ``""``."""
    close = difflib.get_close_matches(given, known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def usage_exit(prog: str, message: str) -> NoReturn:
    """Print ``PROG: error: MESSAGE`` as one line on stderr and exit with status 2."""
    print(f"{prog}: error: {' '.join(message.split())}", file=sys.stderr)
    raise SystemExit(2)


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but an error is one line, ``PROG: error: --option: what was wrong``.

    (argparse prints the usage, then ``PROG: error: argument --option: ...``.)
    Subcommand parsers inherit the class, so every subcommand behaves the same.
    It remembers its option strings (:attr:`options`) and, for ``zeronet``
    itself, its subcommands' parsers (:attr:`subcommands`), to suggest the
    closest name for a misspelt one. Abbreviations are off (``allow_abbrev``):
    ``--epoch 5`` is an unknown option with a suggestion, not ``--epochs 5``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.options: list[str] = []  # before argparse adds -h/--help
        self.subcommands: dict[str, OneLineErrorParser] = {}
        kwargs.setdefault("allow_abbrev", False)  # subcommand parsers are built with it too
        super().__init__(*args, **kwargs)

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        action = super().add_argument(*args, **kwargs)
        self.options += action.option_strings
        return action

    def error(self, message: str) -> NoReturn:
        choice = re.match(r"argument \S+: invalid choice: '(.*)' \(choose from (.*)\)$",
                          message)
        if choice:  # a misspelt subcommand
            known = re.findall(r"'([^']*)'", choice.group(2))
            message += did_you_mean(choice.group(1), known)
        usage_exit(self.prog, re.sub(r"^argument (\S+): ", r"\1: ", message))


# ----------------------------------------------------------------------------- argument types

def int_at_least(minimum: int, expected: str) -> Callable[[str], int]:
    """An argparse type: an integer >= ``minimum``, else "expected <expected>, got '<text>'"."""
    def check(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value
    return check


positive_int = int_at_least(1, "a positive integer")
non_negative_int = int_at_least(0, "an integer >= 0")


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def one_of(*choices: str) -> Callable[[str], str]:
    def check(text: str) -> str:
        if text not in choices:
            raise argparse.ArgumentTypeError(f"expected one of {', '.join(choices)}, "
                                             f"got {text!r}")
        return text
    return check


def existing_dir(text: str) -> Path:
    if not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"expected an existing directory, got {text!r}")
    return Path(text)


def file_in_existing_dir(text: str) -> Path:
    path = Path(text)
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"expected a file in an existing directory, got "
                                         f"{text!r} (no directory {str(path.parent)!r})")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"expected a file, got the directory {text!r}")
    return path


# ----------------------------------------------------------------------------- subcommands

class Command(Protocol):
    """What a ``zeronet`` subcommand is: ``train`` below, and every plugin.

    A package adds ``zeronet NAME`` by naming an object of this shape (a
    module with these names works too) in its ``pyproject.toml``::

        [project.entry-points."zeronet.commands"]
        NAME = "package.module:object"

    * ``help``: one line, shown by ``zeronet --help``; ``description``: the
      paragraph of ``zeronet NAME --help``.
    * ``configure(parser)`` adds the command's options to its (one-line-error)
      parser; use the argument types above for the same messages.
    * ``run(args, argv)`` does the work and returns the exit status. ``argv``
      is the command line after ``zeronet``; ``args.console`` is True when
      the process was started as ``zeronet`` (so it may restart itself).
      Raising :class:`UsageError` prints ``zeronet NAME: error: ...``, one line,
      exit status 2.
    * ``interrupted(args)`` says what a Ctrl-C or SIGTERM left behind
      ("nothing was written"), printed as ``zeronet NAME: interrupted; ...``
      with status 130 (``terminated; ...``, 143, for SIGTERM). It must be
      true at whatever instant the signal came: look at the disk if need be.

    Loading the object must be cheap (``zeronet --help`` loads every one):
    import heavy dependencies inside ``run``. A plugin that fails to load is
    listed as unavailable, and running it is a one-line error.
    """

    help: str
    description: str

    def configure(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace, argv: list[str]) -> int: ...

    def interrupted(self, args: argparse.Namespace) -> str: ...


class Unavailable:
    """A plugin whose entry point could not be loaded: running it explains why, in one line."""

    def __init__(self, name: str, target: str, error: BaseException) -> None:
        self.name, self.reason = name, f"{target}: {type(error).__name__}: {error}"
        self.help = f"(unavailable: cannot load {target})"
        self.description = f"This command could not be loaded ({self.reason})."

    def configure(self, parser: argparse.ArgumentParser) -> None:
        pass  # it has none; main() lets its arguments through, to say why it cannot run

    def run(self, args: argparse.Namespace, argv: list[str]) -> int:
        raise UsageError(f"this command is not available: cannot load {self.reason}; install "
                         f"the package that provides it with its dependencies (for this "
                         f"project's report, bench and check: {install_hint('report')})")

    def interrupted(self, args: argparse.Namespace) -> str:
        return "nothing was done"


def plugins() -> dict[str, Command]:
    """The installed subcommands of :data:`COMMANDS_GROUP`, by name, sorted."""
    found: dict[str, Command] = {}
    for entry in sorted(entry_points(group=COMMANDS_GROUP), key=lambda e: e.name):
        try:
            found[entry.name] = entry.load()
        except Exception as error:  # a broken or half-installed plugin must not break zeronet
            found[entry.name] = Unavailable(entry.name, entry.value, error)
    return found


def commands() -> dict[str, Command]:
    """Every subcommand: the library's ``train``, then the plugins (which cannot replace it)."""
    return {"train": TRAIN, **{k: v for k, v in plugins().items() if k != "train"}}


def version() -> str:
    """``zeronet --version``: this version, the distribution, and the Python and NumPy used."""
    return (f"zeronet {zn.__version__} ({DISTRIBUTION}; Python {platform.python_version()}, "
            f"NumPy {np.__version__})")


def build_parser(available: dict[str, Command] | None = None) -> OneLineErrorParser:
    parser = OneLineErrorParser(prog="zeronet", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--version", action="version", version=version(),
                        help="print the version of zeronet, Python and NumPy, and exit")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                       title="commands", help="one of:")
    for name, command in (commands() if available is None else available).items():
        parser.subcommands[name] = subparsers.add_parser(name, help=command.help,
                                                         description=command.description)
        command.configure(parser.subcommands[name])
    return parser


def _unrecognized(parser: OneLineErrorParser, command: str, unknown: list[str]) -> NoReturn:
    """The error parse_args would give for ``unknown``, from the command's own parser, with a
    suggestion for the first misspelt option."""
    subparser = parser.subcommands[command]
    known = [*subparser.options, *parser.options]
    hints = (did_you_mean(arg.split("=")[0], known) for arg in unknown if arg.startswith("-"))
    subparser.error(f"unrecognized arguments: {' '.join(unknown)}{next(filter(None, hints), '')}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``zeronet COMMAND ...``; return the exit status (bad arguments: SystemExit(2))."""
    console = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    available = commands()
    parser = build_parser(available)
    for arg in argv:  # options before the command: argparse would only say COMMAND is missing
        if not arg.startswith("-"):
            break
        name = arg.split("=")[0]
        if name != "-" and name not in parser.options:
            parser.error(f"unrecognized arguments: {arg}{did_you_mean(name, parser.options)}")
    args, unknown = parser.parse_known_args(argv)
    command = available[args.command]
    if unknown and not isinstance(command, Unavailable):
        _unrecognized(parser, args.command, unknown)
    args.console = console
    with _sigterm_raises(), signals_recorded() as received:
        try:
            status = command.run(args, argv)
            if received:  # a library caught or dropped the signal's exception: still stop
                lost = Terminated if received[-1] == signal.SIGTERM else KeyboardInterrupt
                raise lost(f"signal {received[-1]}; its exception was lost")
            return status
        except UsageError as exc:
            usage_exit(f"zeronet {args.command}", str(exc))
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (Terminated)
            with _signals_ignored():  # a second Ctrl-C must not cut the account short
                how = "terminated" if isinstance(exc, Terminated) else "interrupted"
                print(f"zeronet {args.command}: {how}; {command.interrupted(args)}",
                      file=sys.stderr)
            return 128 + (signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated(f"signal {signum} (SIGTERM)")


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (main thread only; then restored)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM are ignored (main thread only; then restored)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


# ----------------------------------------------------------------------------- zeronet train

class Train:
    """``zeronet train``: one of the seed's networks, trained by zeronet alone, with checkpoints."""

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
        args.found_at_start = None if path is None else _file_identity(path)  # see interrupted
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
        now = _file_identity(path)
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


def _file_identity(path: Path) -> tuple[int, ...] | None:
    """What tells one version of the file at ``path`` from the next (a save is a new inode)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    return info.st_dev, info.st_ino, info.st_mtime_ns, info.st_size


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
