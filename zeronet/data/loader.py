"""Mini-batches from in-memory arrays (the seed's NumpyDataLoader, section 2.1.2)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from zeronet._checks import positive_int

#: The keys of ``DataLoader.state_dict()``.
STATE_KEYS = ("rng", "batches_consumed", "n", "batch_size", "shuffle", "drop_last")


class DataLoader:
    """Iterate over (x[idx], y[idx]) batches along the first axis.

    With ``shuffle=True`` every pass draws a fresh permutation from one
    ``numpy.random.Generator`` seeded with ``seed`` at construction, so the
    same seed gives the same sequence of epochs. ``len(loader)`` is the
    number of batches per pass: ceil(N / batch_size), or floor with
    ``drop_last=True``.

    Every batch is a new array, never a view of ``x`` or ``y`` (as torch's
    DataLoader gives new tensors): editing a batch in place leaves the data
    set as it was. Shuffled batches are copies by NumPy's indexing; in order,
    the slice is copied.

    ``state_dict()`` / ``load_state_dict()`` save and restore the position in
    that sequence, also in the middle of a pass: a loader restored from a
    state continues with exactly the batches the saved one would have yielded.

    Raises:
        TypeError: naming ``x`` or ``y``, if not an ndarray with a batch axis.
        ValueError: naming ``y`` (not as many samples as x) or ``batch_size`` (not a
            positive integer).
        TypeError, ValueError: naming ``seed``, if numpy cannot seed a Generator with it.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool = False,
                 drop_last: bool = False, seed: int | np.random.SeedSequence | None = None) -> None:
        for name, value in (("x", x), ("y", y)):
            if not isinstance(value, np.ndarray) or value.ndim == 0:
                raise TypeError(f"{name}: expected a numpy.ndarray with a batch axis, "
                                f"got {type(value).__name__} {getattr(value, 'shape', '')}")
        if len(x) != len(y):
            raise ValueError(f"y: expected {len(x)} samples (as many as x), got {len(y)}")
        self.x, self.y = x, y
        self.batch_size = positive_int(batch_size, "batch_size")
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        try:
            self._rng = np.random.default_rng(seed)
        except (TypeError, ValueError) as err:  # -1, 1.5, "seed": numpy's message names no seed
            raise type(err)(f"seed: expected an integer >= 0, a SeedSequence or None, "
                            f"got {seed!r}") from err
        # The pass in progress: the generator's state before its permutation was
        # drawn and the batches yielded so far (None: no pass in progress).
        self._pass_start: dict[str, Any] | None = None
        self._consumed = 0
        self._skip = 0  # batches the next pass skips (set by load_state_dict)

    def __len__(self) -> int:
        n = len(self.x)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        n = len(self.x)
        skip, self._skip = self._skip, 0
        self._pass_start, self._consumed = self._rng.bit_generator.state, skip
        order = self._rng.permutation(n) if self.shuffle else None
        x, y, size = self.x, self.y, self.batch_size
        for start in range(skip * size, len(self) * size, size):
            self._consumed += 1
            if order is None:  # a slice is a view: copy it, as indexing with order does
                yield x[start:start + size].copy(), y[start:start + size].copy()
            else:
                batch = order[start:start + size]
                yield x[batch], y[batch]
        self._pass_start = None  # the pass is over: the next one starts from the current state

    def state_dict(self) -> dict[str, Any]:
        """The position in the sequence of batches, as JSON-able Python values.

        During a pass (also after its last batch was yielded, until the
        consumer asks for the next one) this is the generator's state at the
        start of the pass and the number of batches yielded; between passes
        the current state and 0 (or, right after ``load_state_dict``, the
        loaded state). The sizes are recorded so that loading checks
        the batches would be the same.
        """
        if self._pass_start is None:  # (after load_state_dict: the batches still to skip)
            rng, consumed = self._rng.bit_generator.state, self._skip
        else:
            rng, consumed = self._pass_start, self._consumed
        return {"rng": _jsonable(rng), "batches_consumed": consumed, "n": len(self.x),
                "batch_size": self.batch_size, "shuffle": self.shuffle,
                "drop_last": self.drop_last}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from ``state`` (from ``state_dict()``); checked whole before anything is set.

        The next pass redraws the saved pass's permutation and skips the
        batches already consumed.
        """
        self.check_state_dict(state)
        self._rng.bit_generator.state = dict(state["rng"])
        self._pass_start, self._consumed = None, 0
        self._skip = int(state["batches_consumed"])

    def check_state_dict(self, state: Mapping[str, Any]) -> None:
        """Raise if ``state`` cannot be loaded into this loader; change nothing."""
        if not isinstance(state, Mapping) or set(state) != set(STATE_KEYS):
            keys = sorted(state) if isinstance(state, Mapping) else type(state).__name__
            raise ValueError(f"state_dict: expected keys {sorted(STATE_KEYS)}, got {keys}")
        for key, mine in (("n", len(self.x)), ("batch_size", self.batch_size),
                          ("shuffle", self.shuffle), ("drop_last", self.drop_last)):
            if type(state[key]) is not type(mine) or state[key] != mine:
                raise ValueError(f"state_dict[{key!r}]: expected {mine!r} (this loader's), "
                                 f"got {state[key]!r}")
        consumed = state["batches_consumed"]
        if type(consumed) is not int or not 0 <= consumed <= len(self):
            raise ValueError(f"state_dict['batches_consumed']: expected an integer in "
                             f"[0, {len(self)}], got {consumed!r}")
        rng = state["rng"]
        expected = type(self._rng.bit_generator).__name__
        if not isinstance(rng, Mapping) or rng.get("bit_generator") != expected:
            raise ValueError(f"state_dict['rng']: expected a {expected} state "
                             f"(bit_generator.state), got {rng!r:.200}")
        try:  # let NumPy validate it, on a scratch generator
            type(self._rng.bit_generator)().state = dict(rng)
        except (TypeError, ValueError, KeyError) as exc:
            raise ValueError(f"state_dict['rng']: not a valid {expected} state: {exc}") from None

    def __repr__(self) -> str:
        return (f"DataLoader(n={len(self.x)}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last})")


def _jsonable(value: Any) -> Any:
    """A bit generator's state with NumPy arrays and scalars turned into Python values."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value
