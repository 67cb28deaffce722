"""Mini-batches from in-memory arrays (the seed's NumpyDataLoader, section 2.1.2)."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from zeronet._checks import positive_int


class DataLoader:
    """Iterate over (x[idx], y[idx]) batches along the first axis.

    With ``shuffle=True`` every pass draws a fresh permutation from one
    ``numpy.random.Generator`` seeded with ``seed`` at construction, so the
    same seed gives the same sequence of epochs. ``len(loader)`` is the
    number of batches per pass: ceil(N / batch_size), or floor with
    ``drop_last=True``.

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

    def __len__(self) -> int:
        n = len(self.x)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        n = len(self.x)
        order = self._rng.permutation(n) if self.shuffle else None
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            if order is None:
                batch = slice(start, start + self.batch_size)
            else:
                batch = order[start:start + self.batch_size]
            yield self.x[batch], self.y[batch]

    def __repr__(self) -> str:
        return (f"DataLoader(n={len(self.x)}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last})")
