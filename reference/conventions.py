"""The user's conventions: weight layout, sample axis and parameter names.

A from-scratch network rarely stores things as torch does. The checks take
three keywords and translate at their boundary, so that the user's code sees
its own conventions and the comparison sees torch's:

* ``layout="out_in"`` (torch's ``Linear.weight``, the default) or ``"in_out"``
  (W stored as (in, out): the seed's fig. 1-2, CS231n, most tutorials);
* ``samples="rows"`` (x is (N, features), the default) or ``"columns"``
  (x is (features, N), as in course material that writes h = W x + b);
* ``names``: None (the user's keys are torch's, "0.weight"), a mapping from the
  user's names to torch's, or a sequence of the user's names in the order of
  ``torch_model.named_parameters()``.

Biases (torch's 1-D parameters) are handed to the user's code as (n,), as
(1, n) with ``layout="in_out"`` and as (n, 1) with ``samples="columns"``;
whatever comes back for a bias may be (n,), (1, n) or (n, 1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from reference.calls import ResultError

LAYOUTS = ("out_in", "in_out")
SAMPLES = ("rows", "columns")

__all__ = ["LAYOUTS", "SAMPLES", "Conventions", "check_layout", "check_samples", "user_names"]


def _one_of(value: object, choices: tuple[str, ...], keyword: str) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{keyword}: expected one of {choices}, got {value!r}")
    return value


def check_layout(layout: object) -> str:
    """``layout`` itself, if it is one of :data:`LAYOUTS`.

    Raises:
        ValueError: naming ``layout`` otherwise.
    """
    return _one_of(layout, LAYOUTS, "layout")


def check_samples(samples: object) -> str:
    """``samples`` itself, if it is one of :data:`SAMPLES`.

    Raises:
        ValueError: naming ``samples`` otherwise.
    """
    return _one_of(samples, SAMPLES, "samples")


def user_names(names: object, torch_names: Sequence[str]) -> dict[str, str]:
    """torch name -> the user's name, from the ``names`` keyword.

    Raises:
        ValueError: naming ``names``, if it maps to names torch does not have, leaves
            some of torch's out, gives one name twice, or is of another kind.
    """
    if names is None:
        return {n: n for n in torch_names}
    if isinstance(names, Mapping):
        unknown = sorted(str(v) for v in names.values() if v not in torch_names)
        missing = [n for n in torch_names if n not in set(names.values())]
        if unknown or missing or len(set(names.values())) != len(names):
            raise ValueError(f"names: expected a mapping from your names to each of torch's "
                             f"{list(torch_names)} once, got {dict(names)!r} (unknown torch "
                             f"names {unknown}, torch names not mapped {missing})")
        if not all(isinstance(k, str) for k in names):
            raise ValueError(f"names: expected string keys, got {list(names)!r}")
        return {torch: user for user, torch in names.items()}
    if isinstance(names, Sequence) and not isinstance(names, (str, bytes)):
        if len(names) != len(torch_names) or len(set(names)) != len(names) \
                or not all(isinstance(n, str) for n in names):
            raise ValueError(f"names: expected {len(torch_names)} distinct strings, your names "
                             f"for torch's {list(torch_names)} in that order, got {list(names)!r}")
        return dict(zip(torch_names, names, strict=True))
    raise ValueError(f"names: expected None, a mapping from your names to torch's, or a "
                     f"sequence of your names, got {type(names).__name__}")


@dataclass(frozen=True)
class Conventions:
    """How one user's code lays out its arrays, and the translations to and from torch's.

    ``torch_shapes`` maps each torch parameter name to its shape, in
    ``named_parameters()`` order; ``user`` maps it to the user's name.
    """

    layout: str
    samples: str
    torch_shapes: dict[str, tuple[int, ...]]
    user: dict[str, str]

    @classmethod
    def build(cls, torch_shapes: Mapping[str, tuple[int, ...]], *, layout: object = "out_in",
              samples: object = "rows", names: object = None) -> Conventions:
        """Check the three keywords against the torch parameters they describe.

        Raises:
            ValueError: naming ``layout``, ``samples`` or ``names``.
        """
        return cls(check_layout(layout), check_samples(samples), dict(torch_shapes),
                   user_names(names, list(torch_shapes)))

    # ---------------------------------------------------------------- names

    @property
    def torch(self) -> dict[str, str]:
        """The user's name -> torch's."""
        return {u: t for t, u in self.user.items()}

    def label(self, torch_name: str) -> str:
        """The user's name, with torch's beside it when they differ: "W1 (0.weight)"."""
        user = self.user[torch_name]
        return user if user == torch_name else f"{user} ({torch_name})"

    @staticmethod
    def is_bias(shape: tuple[int, ...]) -> bool:
        return len(shape) == 1

    # ------------------------------------------------------- torch -> user

    def user_shape(self, torch_name: str) -> tuple[int, ...]:
        """The shape the user's code is handed (and is expected to hand back) for a parameter."""
        shape = self.torch_shapes[torch_name]
        if self.is_bias(shape):
            if self.samples == "columns":
                return (shape[0], 1)
            return (1, shape[0]) if self.layout == "in_out" else shape
        if len(shape) == 2 and self.layout == "in_out":
            return shape[::-1]
        return shape

    def to_user(self, torch_name: str, value: np.ndarray) -> np.ndarray:
        """A parameter (in torch's shape) as the user's code gets it: a fresh C-ordered copy."""
        shape = self.torch_shapes[torch_name]
        if len(shape) == 2 and self.layout == "in_out":
            value = value.T
        return np.ascontiguousarray(value).reshape(self.user_shape(torch_name)).copy()

    def params_to_user(self, params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """torch-named parameters -> the user's names, shapes and layout (copies)."""
        return {self.user[name]: self.to_user(name, value) for name, value in params.items()}

    def samples_to_user(self, value: np.ndarray) -> np.ndarray:
        """x, an output or a gradient with samples on rows, as the user's code holds it (a copy)."""
        if self.samples == "columns" and value.ndim == 2:
            return np.ascontiguousarray(value.T)
        return value.copy()

    # ------------------------------------------------------- user -> torch

    def samples_from_user(self, value: np.ndarray) -> np.ndarray:
        """An array with the user's sample axis -> samples on rows (torch's)."""
        if self.samples == "columns" and value.ndim == 2:
            return value.T
        return value

    def from_user(self, torch_name: str, value: np.ndarray,
                  where: str) -> tuple[np.ndarray, bool]:
        """A parameter-shaped array handed back by the user's code, in torch's shape.

        Returns ``(array, other_layout)``: ``other_layout`` is True when a
        non-square weight came back in the transpose of the user's layout
        (the ``transposed`` bug), in which case the array is transposed back
        so that its values can still be compared.

        Raises:
            ResultError: naming ``where``, if the shape fits neither layout.
        """
        shape = self.torch_shapes[torch_name]
        if self.is_bias(shape):
            if value.shape in ((shape[0],), (1, shape[0]), (shape[0], 1)):
                return value.reshape(shape), False
            raise ResultError(f"{where}: expected a bias of shape {shape}, (1, {shape[0]}) or "
                             f"({shape[0]}, 1), got {value.shape}")
        mine = self.user_shape(torch_name)
        if value.shape == mine:
            return (value.T if len(shape) == 2 and self.layout == "in_out" else value), False
        if len(shape) == 2 and value.shape == mine[::-1]:
            return (value if self.layout == "in_out" else value.T), True
        hint = ""
        if len(shape) == 2:
            hint = (f" (torch's {shape} is (out, in); with layout={self.layout!r} the code is "
                    f"expected to use {mine}")
            hint += ")" if self.layout == "in_out" else ", or pass layout='in_out' for (in, out))"
        raise ResultError(f"{where}: expected shape {mine}, got {value.shape}{hint}")
