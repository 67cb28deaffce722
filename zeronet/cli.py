"""The ``zeronet`` command: ``zeronet train`` here, other subcommands from installed plugins.

``zeronet train`` trains one of the seed's networks with checkpoints and needs
the library alone. Further subcommands come from the entry-point group
``zeronet.commands`` (see :class:`Command`): this project's study registers
``zeronet report``, ``zeronet bench`` and ``zeronet check`` there (they need
the ``report`` extra: :func:`install_hint`). A bad argument gives one line on
stderr (``zeronet train: error: --epochs: expected a positive integer, got
'0'``) and exit status 2, never a traceback; so does a plugin that cannot be
loaded. A misspelt command or option gets a suggestion ("did you mean
--epochs?"), found by :mod:`difflib` among the names the parser knows.
"""

from __future__ import annotations

import argparse
import difflib
import math
import platform
import re
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, NoReturn, Protocol

import numpy as np

import zeronet as zn
from zeronet.data.mnist import MNIST_SHA256, MnistNotFoundError
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
    closest name for a misspelt one.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.options: list[str] = []  # before argparse adds -h/--help
        self.subcommands: dict[str, OneLineErrorParser] = {}
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
    * ``interrupted(args)`` says what a Ctrl-C left behind ("nothing was
      written"), printed as ``zeronet NAME: interrupted; ...`` with status 130.

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
        if name != "-" and not any(option.startswith(name) for option in parser.options):
            parser.error(f"unrecognized arguments: {arg}{did_you_mean(name, parser.options)}")
    args, unknown = parser.parse_known_args(argv)
    command = available[args.command]
    if unknown and not isinstance(command, Unavailable):
        _unrecognized(parser, args.command, unknown)
    args.console = console
    try:
        return command.run(args, argv)
    except UsageError as exc:
        usage_exit(f"zeronet {args.command}", str(exc))
    except KeyboardInterrupt:
        print(f"zeronet {args.command}: interrupted; {command.interrupted(args)}",
              file=sys.stderr)
        return 130


# ----------------------------------------------------------------------------- zeronet train

class Train:
    """``zeronet train``: one of the seed's networks, trained by zeronet alone, with checkpoints."""

    help = "train the seed's network on sine or MNIST, with checkpoints"
    description = ("Train the seed's ReLU network (zeronet only) and print one line per "
                   "epoch. With --checkpoint FILE, model, optimizer and data order are saved "
                   "there; --resume continues from FILE exactly where it stopped. Training "
                   "stops at the first NaN/inf, naming the epoch, step and layer.")

    def configure(self, parser: argparse.ArgumentParser) -> None:
        add = parser.add_argument
        add("--dataset", type=one_of(*DATASETS), default="sine",
            metavar="{" + ",".join(DATASETS) + "}",
            help="the seed's sine regression or MNIST digits (default: %(default)s)")
        add("--epochs", type=positive_int, default=10, metavar="N",
            help="epochs in total, resumed ones included (default: %(default)s)")
        add("--lr", type=positive_float, default=None,
            help=f"learning rate (default: the seed's, {SINE.lr} sine, {MNIST.lr} MNIST)")
        add("--batch-size", type=positive_int, default=None, metavar="B",
            help=f"examples per optimizer step (default: the seed's, {SINE.batch_size} sine, "
                 f"{MNIST.batch_size} MNIST)")
        add("--optimizer", type=one_of("sgd", "adam"), default="adam", metavar="{sgd,adam}",
            help="the optimizer, as torch.optim's (default: %(default)s)")
        add("--dtype", type=one_of("float32", "float64"), default="float64",
            metavar="{float32,float64}",
            help="the floating-point type of weights and data (default: %(default)s)")
        add("--seed", type=non_negative_int, default=0,
            help="seeds the weights and the batch order (default: %(default)s)")
        add("--data-dir", type=existing_dir, default=None, metavar="DIR",
            help="folder holding the four MNIST .gz files (default: $ZERONET_DATA_DIR, then "
                 "~/.cache/zeronet/mnist)")
        add("--checkpoint", type=file_in_existing_dir, default=None, metavar="FILE",
            help="save model, optimizer and data order to FILE (safetensors)")
        add("--checkpoint-every", type=positive_int, default=None, metavar="STEPS",
            help="save every STEPS optimizer steps (default: after every epoch)")
        add("--resume", action="store_true",
            help="continue from --checkpoint FILE, bit-identically")

    def run(self, args: argparse.Namespace, argv: list[str]) -> int:
        """One line per epoch on stdout; status 1 if training hit a NaN/inf."""
        _check_checkpoint_options(args)
        network = DATASETS[args.dataset]
        dtype = np.dtype(args.dtype)
        x_train, y_train, x_test, y_test = _train_data(args.dataset, args.data_dir, dtype)
        model = zn.nn.relu_mlp(network.sizes, dtype=dtype, rng=np.random.default_rng(args.seed))
        lr = network.lr if args.lr is None else args.lr
        optimizer = (zn.optim.Adam(model.parameters(), lr=lr) if args.optimizer == "adam"
                     else zn.optim.SGD(model.parameters(), lr=lr))
        loss_fn = zn.nn.CrossEntropyLoss() if args.dataset == "mnist" else zn.nn.MSELoss()
        batch_size = network.batch_size if args.batch_size is None else args.batch_size
        loader = zn.data.DataLoader(x_train, y_train, batch_size, shuffle=True, seed=args.seed)
        steps_per_epoch = len(loader)

        def report_epoch(epoch: int, mean_loss: float) -> None:
            with np.errstate(over="ignore", invalid="ignore"):
                try:
                    out = model(x_test)
                    test = f"test_loss {loss_fn(out, y_test):.6g}"
                except ValueError:  # non-finite outputs on the test set
                    out, test = None, "test_loss nan"
            if args.dataset == "mnist" and out is not None:
                test += f"  test_accuracy {100 * np.mean(out.argmax(axis=1) == y_test):.2f}%"
            print(f"epoch {epoch}/{args.epochs}  step {epoch * steps_per_epoch}  "
                  f"train_loss {mean_loss:.6g}  {test}", flush=True)

        try:
            result = zn.fit(model, loss_fn, optimizer, loader, epochs=args.epochs,
                            checkpoint=args.checkpoint, checkpoint_every=args.checkpoint_every,
                            resume=args.resume, on_epoch=report_epoch)
        except zn.CheckpointError as exc:
            raise UsageError(f"--resume: {exc}") from None
        except zn.NonFiniteError as exc:
            print(f"zeronet train: {exc}", file=sys.stderr)
            return 1
        if args.checkpoint is not None:
            print(f"zeronet train: {result.step} steps; checkpoint {args.checkpoint}",
                  file=sys.stderr)
        return 0

    def interrupted(self, args: argparse.Namespace) -> str:
        return ("the last checkpoint on disk is complete" if args.checkpoint
                else "nothing was saved")


TRAIN = Train()


def _check_checkpoint_options(args: argparse.Namespace) -> None:
    if args.resume and args.checkpoint is None:
        raise UsageError("--resume: expected --checkpoint FILE to resume from, got none")
    if args.resume and not args.checkpoint.is_file():
        raise UsageError(f"--resume: expected an existing --checkpoint file, got "
                         f"{str(args.checkpoint)!r}")
    if args.checkpoint_every is not None and args.checkpoint is None:
        raise UsageError("--checkpoint-every: expected --checkpoint FILE to save to, got none")


def _train_data(dataset: str, data_dir: Path | None,
                dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test) as the seed prepares them, inputs in ``dtype``."""
    if dataset == "sine":
        d = zn.data.sample_sine()
        return (d.x_train.astype(dtype), d.y_train.astype(dtype), d.x_test.astype(dtype),
                d.y_test.astype(dtype))
    if data_dir is not None:  # only that folder, no download
        missing = sorted(name for name in MNIST_SHA256 if not (data_dir / name).is_file())
        if missing:
            raise UsageError(f"--data-dir: expected a folder holding the four MNIST files, "
                             f"got {str(data_dir)!r}, which lacks {', '.join(missing)}")
    try:
        arrays = (zn.data.load_mnist(data_dir, download=False) if data_dir is not None
                  else zn.data.load_mnist())
    except MnistNotFoundError as exc:
        raise UsageError(f"--data-dir: none given and {exc}") from None
    except ValueError as exc:  # a file that is not the canonical one
        raise UsageError(f"--data-dir: {exc}") from None
    x_train, y_train, x_test, y_test = arrays
    return (zn.data.flatten_pixels(x_train, dtype), y_train.astype(np.int64),
            zn.data.flatten_pixels(x_test, dtype), y_test.astype(np.int64))
