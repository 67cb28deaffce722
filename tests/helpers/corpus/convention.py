"""The checker's calling conventions (issue 9), written out as conversions.

``Convention(layout, samples, names)`` turns arrays named and shaped as torch
has them into what the user's adapter is handed, and the adapter's results
back into torch's names and shapes:

* weights: (out, in) as torch; transposed to (in, out) with ``layout="in_out"``;
* biases (torch's 1-D parameters): handed as (n,) by default, (1, n) with
  ``layout="in_out"``, (n, 1) with ``samples="columns"``; whatever comes back
  for a bias is read as (n,);
* data (x, regression targets, outputs, upstream gradients, dL/dx): (N, features)
  with ``samples="rows"``, (features, N) with ``samples="columns"``; class
  indices are (N,) either way;
* names: None (torch's own), a mapping user name -> torch name, or a sequence of
  user names in torch's parameter order.

This is what the sanity tests assume the checker does; cases.py builds every
argument with it. The checker does not have to use it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

LAYOUTS = ("out_in", "in_out")
SAMPLES = ("rows", "columns")


@dataclass(frozen=True)
class Convention:
    layout: str = "out_in"
    samples: str = "rows"
    names: Any = None  # None, Mapping[user, torch] or Sequence[user] in torch's order

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout: expected one of {LAYOUTS}, got {self.layout!r}")
        if self.samples not in SAMPLES:
            raise ValueError(f"samples: expected one of {SAMPLES}, got {self.samples!r}")

    def keywords(self) -> dict[str, Any]:
        """layout, samples and names as keyword arguments of reference.compare_*."""
        return {"layout": self.layout, "samples": self.samples, "names": self.names}

    def user_names(self, torch_names: Sequence[str]) -> dict[str, str]:
        """torch name -> user name for every name in ``torch_names`` (in torch's order)."""
        torch_names = list(torch_names)
        if self.names is None:
            return {n: n for n in torch_names}
        if isinstance(self.names, Mapping):
            inverse = {t: u for u, t in self.names.items()}
            return {n: inverse[n] for n in torch_names}
        return dict(zip(torch_names, self.names, strict=True))

    def bias_shape(self, n: int) -> tuple[int, ...]:
        if self.samples == "columns":
            return (n, 1)
        if self.layout == "in_out":
            return (1, n)
        return (n,)

    def to_user(self, torch_arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Copies of ``torch_arrays`` under the user's names, in the user's layout."""
        names = self.user_names(torch_arrays)
        result = {}
        for name, array in torch_arrays.items():
            array = np.array(array, copy=True)
            if array.ndim == 1:
                array = array.reshape(self.bias_shape(array.size))
            elif self.layout == "in_out":
                array = np.ascontiguousarray(array.T)
            result[names[name]] = array
        return result

    def to_torch(self, user_arrays: Mapping[str, Any],
                 torch_shapes: Mapping[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
        """The user's arrays under torch's names: weights in (out, in), biases as (n,)."""
        names = self.user_names(torch_shapes)
        result = {}
        for name, shape in torch_shapes.items():
            array = np.asarray(user_arrays[names[name]])
            if len(shape) == 1:
                array = array.reshape(-1)
            elif self.layout == "in_out":
                array = array.T
            result[name] = np.array(array, copy=True)
        return result

    def data_to_user(self, array: np.ndarray) -> np.ndarray:
        """A copy of (N, features) data in the user's layout (class indices unchanged)."""
        array = np.asarray(array)
        if self.samples == "columns" and array.ndim == 2:
            return np.ascontiguousarray(array.T)
        return np.array(array, copy=True)

    def data_to_torch(self, array: np.ndarray) -> np.ndarray:
        """A copy of the user's data as (N, features)."""
        return self.data_to_user(array)  # the same transposition
