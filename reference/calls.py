"""Calling the user's code: copies in, mutations noticed, exceptions named.

Every array handed to the user's function is a fresh copy, remembered beside
a second copy; after the call the two are compared bit for bit, so in-place
arithmetic on an input is seen (``input-mutated``, ``grad-mutated``) instead
of silently changing what torch is given next. An exception raised by the
user's function becomes a :class:`UserCodeError` that names the check and the
call, with the original chained.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reference.tolerance import to_numpy

__all__ = ["Handed", "ResultError", "UserCodeError", "call_user", "result_array", "unpack"]

#: Words in an exception message that point at a shape problem, where a layout hint helps.
_SHAPE_WORDS = ("shape", "aligned", "broadcast", "dimension", "matmul", "size")


class UserCodeError(Exception):
    """The code under check raised; the message names the check and the call.

    The original exception is chained as ``__cause__``.
    """


class ResultError(UserCodeError, TypeError, ValueError):
    """The code under check returned something the check cannot compare.

    A TypeError and a ValueError too, so that code catching either (as for
    any bad argument) catches it.
    """


@dataclass
class Handed:
    """The arrays handed to the user's code, and a private copy of each to compare with."""

    items: list[tuple[str, np.ndarray, np.ndarray]] = field(default_factory=list)

    def give(self, name: str, value: np.ndarray) -> np.ndarray:
        """A fresh copy of ``value`` for the user's code; remembered as ``name``."""
        mine = np.array(value, copy=True)
        self.items.append((name, mine, np.array(value, copy=True)))
        return mine

    def changed(self) -> list[tuple[str, int, int]]:
        """(name, elements changed, elements) for every handed array the user's code changed.

        Changed means not equal bit for bit (a -0.0 written over 0.0 counts),
        or resized in place.
        """
        found = []
        for name, given, original in self.items:
            if given.shape != original.shape or given.dtype != original.dtype:
                found.append((name, original.size, original.size))
                continue
            bits = f"u{given.dtype.itemsize}" if given.dtype.kind == "f" else given.dtype
            differs = given.view(bits) != original.view(bits) if given.ndim else \
                given.tobytes() != original.tobytes()
            count = int(np.count_nonzero(differs))
            if count:
                found.append((name, count, original.size))
        return found


def _hint(err: BaseException, shapes: Mapping[str, tuple[int, ...]]) -> str:
    if not any(word in str(err).lower() for word in _SHAPE_WORDS) or not shapes:
        return ""
    given = ", ".join(f"{k} {v}" for k, v in shapes.items())
    return (f" (it was handed {given}: if your code stores W as (in, out), pass "
            f"layout='in_out'; if its x is (features, N), pass samples='columns')")


def call_user(check: str, call: str, function: Callable[..., Any], *args: Any,
              shapes: Mapping[str, tuple[int, ...]] | None = None) -> Any:
    """``function(*args)``; if it raises, a UserCodeError naming ``check`` and ``call``.

    NumPy's floating-point warnings are off during the call: a NaN or inf the
    code produces is reported from its results, where it can be explained.

    ``shapes`` (what was handed, by name) is quoted in a layout hint when the
    error looks like a shape mismatch.
    """
    try:
        with np.errstate(all="ignore"):  # overflow is seen in the numbers, not as a warning
            return function(*args)
    except Exception as err:
        raise UserCodeError(f"{check}: {call} raised {type(err).__name__}: {err}"
                            f"{_hint(err, shapes or {})}") from err


def unpack(result: Any, arities: Mapping[int, str], call: str) -> tuple:
    """``result`` as a tuple of one of the lengths in ``arities`` (length -> description).

    Raises:
        ResultError: naming ``call``, for anything else.
    """
    if isinstance(result, tuple) and len(result) in arities:
        return result
    expected = " or ".join(arities.values())
    got = (f"a tuple of length {len(result)}" if isinstance(result, tuple)
           else type(result).__name__)
    raise ResultError(f"{call}: expected it to return {expected}, got {got}")


def result_array(value: Any, where: str, dtype: np.dtype | None = None) -> np.ndarray:
    """A returned value as a NumPy array (numbers and 0-d arrays in ``dtype`` if given).

    Raises:
        ResultError: naming ``where``, if it is no array, tensor or number.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool) and dtype is not None:
        return np.asarray(value, dtype=dtype)
    try:
        array = to_numpy(value, where)
    except TypeError as err:
        raise ResultError(str(err)) from None
    if array.dtype.kind not in "fiu":
        raise ResultError(f"{where}: expected numbers, got an array of dtype {array.dtype}")
    if array.ndim == 0 and dtype is not None and array.dtype.kind != "f":
        return array.astype(dtype)
    return array
