"""The ``zeronet`` command: its parser, its errors and signals, where its subcommands come from.

``zeronet train`` (:mod:`zeronet.train_command`) trains one of the seed's
networks with checkpoints and needs the library alone. Further subcommands
come from the entry-point group ``zeronet.commands`` (see :class:`Command`):
this project's study registers ``zeronet report``, ``zeronet bench`` and
``zeronet check`` there (they need the ``report`` extra: :func:`install_hint`).
A bad argument gives one line on stderr (``zeronet train: error: --epochs:
expected a positive integer, got '0'``) and exit status 2, never a traceback;
so does a plugin that cannot be loaded. A misspelt command or option gets a
suggestion ("did you mean --epochs?"), found by :mod:`difflib` among the names
the parser knows; an abbreviated one is not taken for the whole (``--epoch``
is not ``--epochs``).

Ctrl-C (SIGINT) and SIGTERM end every command the same way: the command
unwinds (SIGTERM raises :class:`Terminated`, a KeyboardInterrupt), then one
line says what is on disk, and the status is 130 or 143 (128 + the signal).
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import platform
import re
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from importlib.metadata import entry_points
from typing import Any, NoReturn, Protocol

import numpy as np

import zeronet as zn
from zeronet._interrupts import signals_recorded
from zeronet.cli_options import UsageError
from zeronet.train_command import TRAIN

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


# ----------------------------------------------------------------------------- errors

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
