"""One contiguous buffer behind all parameters, so an optimizer step is a few NumPy calls.

An element-wise update rule (SGD, Adam) gives the same numbers whether it runs
once over every parameter laid end to end or once per parameter: no element
depends on another. Run per parameter, each step costs a dozen NumPy calls per
parameter, and for the seed's small networks that Python overhead is most of
the step. :class:`FlatParameters` lays the parameters out in one buffer and
makes each ``Parameter.data`` a view of its slice, so that one update over the
buffer updates every parameter in place.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from zeronet.nn.module import Parameter


class FlatParameters:
    """``data``: every parameter's values end to end; ``grad``: room for their gradients.

    ``Parameter.data`` of each parameter becomes a view of its slice of
    ``data`` (values unchanged). If anything later rebinds a parameter's
    ``data`` (another optimizer over the same parameters, say),
    :meth:`claim` copies the current values back in and re-binds the views.
    Only for parameters of one dtype.
    """

    def __init__(self, params: Sequence[Parameter]) -> None:
        dtype = params[0].dtype
        if any(p.dtype != dtype for p in params):
            raise TypeError(f"params: expected one dtype for a flat buffer, got "
                            f"{sorted({str(p.dtype) for p in params})}")
        self.params = list(params)
        self.shapes = [p.shape for p in params]
        bounds = np.cumsum([0] + [p.data.size for p in params])
        self.slices = [slice(int(a), int(b)) for a, b in itertools.pairwise(bounds)]
        self.data = np.empty(int(bounds[-1]), dtype=dtype)
        self.grad = np.empty_like(self.data)
        self._views: list[np.ndarray] = []
        self.claim()

    def views(self, flat: np.ndarray) -> list[np.ndarray]:
        """``flat`` cut into arrays shaped like the parameters (views, not copies)."""
        return [flat[s].reshape(shape) for s, shape in zip(self.slices, self.shapes, strict=True)]

    def claim(self) -> None:
        """Copy the parameters' current values into ``data`` and make their ``data`` views of it."""
        for p, s in zip(self.params, self.slices, strict=True):
            self.data[s] = p.data.ravel()
        self._views = self.views(self.data)
        for p, view in zip(self.params, self._views, strict=True):
            p.data = view

    def is_claimed(self) -> bool:
        """True while every ``Parameter.data`` is still the view :meth:`claim` made."""
        return all(p.data is view for p, view in zip(self.params, self._views, strict=True))

    def gather_grads(self) -> np.ndarray:
        """Copy every ``Parameter.grad`` (all present, shapes checked) into ``grad``."""
        np.concatenate([p.grad.ravel() for p in self.params], out=self.grad)
        return self.grad
