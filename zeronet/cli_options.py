"""What every ``zeronet`` subcommand checks its arguments with: argparse types and UsageError.

Each type is an argparse ``type=`` callable whose error reads "expected ...,
got '...'"; :mod:`zeronet.cli` prints it as one line naming the option. The
library's ``zeronet train`` (:mod:`zeronet.train_command`) and the plugins
(this project's study) use the same ones, so every command words a bad
argument the same way.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path


class UsageError(Exception):
    """A bad command-line argument found after parsing (e.g. two options that conflict)."""


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
