"""The fast path of ``Optimizer.step``: one update over all parameters, when they lie end to end.

An element-wise update rule (SGD, Adam) gives the same numbers run once over
every parameter laid end to end as run once per parameter: no element
depends on another. Run per parameter, a step costs a dozen NumPy calls per
parameter, and for the seed's small networks that Python overhead is most of
the step. A model's parameters do lie end to end: its layers take them from
consecutive slices of one block (``zeronet.nn.storage``). :class:`FlatStep`
then views the whole stretch as one 1-D array and runs ``_update`` once over
it, with the gradients copied into one buffer and the optimizer state kept
as one array per entry. Nothing is re-pointed: each ``Parameter.data`` is
updated in place, through the one view of its memory.

This is a sibling of the per-parameter loop in ``Optimizer.step``, as
``_multi_tensor_adam`` is of ``_single_tensor_adam`` in torch/optim/adam.py.
It applies to a step when

* every parameter has a gradient (torch skips one without, and its state
  then falls behind the others': from then on the optimizer updates
  parameter by parameter);
* the ``data`` arrays still fill one 1-D array end to end, in order (not if
  they were built apart, or one was replaced by another array);
* every step so far ran here (or the states were loaded alike).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from zeronet.nn.module import Parameter

Update = Callable[[np.ndarray, np.ndarray, dict[str, Any]], None]
_data = operator.attrgetter("data")
_grad = operator.attrgetter("grad")


def span(arrays: Sequence[np.ndarray]) -> np.ndarray | None:
    """The 1-D array that ``arrays`` fill end to end, in this order (a view), or None."""
    base = arrays[0].base
    if base is None or base.ndim != 1 or base.dtype != arrays[0].dtype \
            or not base.flags.c_contiguous or not base.flags.writeable:
        return None
    itemsize = base.dtype.itemsize
    origin = base.__array_interface__["data"][0]
    start, remainder = divmod(arrays[0].__array_interface__["data"][0] - origin, itemsize)
    end = start
    for a in arrays:
        if a.base is not base or a.dtype != base.dtype or not a.flags.c_contiguous \
                or a.__array_interface__["data"][0] != origin + end * itemsize:
            return None
        end += a.size
    return None if remainder else base[start:end]


class FlatStep:
    """Runs an optimizer's ``_update`` once over all of its parameters at once, while it may.

    ``states`` is the optimizer's list of per-parameter state dicts: after a
    step here each holds views of the flat state (and the scalar entries,
    such as Adam's step count), so it reads exactly as torch's per-parameter
    state.
    """

    def __init__(self, params: Sequence[Parameter], states: list[dict[str, Any]]) -> None:
        self.params = list(params)
        self.states = states
        #: The state of all parameters end to end; None once the states may differ.
        self.state: dict[str, Any] | None = {}
        self._arrays: list[np.ndarray] = []  # the Parameter.data arrays ``_data`` spans
        self._data: np.ndarray | None = None
        self._grad: np.ndarray | None = None  # room for every gradient, end to end
        self._scalars: list[str] = []  # the state entries that are not arrays

    def step(self, update: Update, present: int) -> bool:
        """One ``update`` over the whole span, if this step may run here; False if not.

        ``present`` is how many parameters have a (checked) gradient. A step
        that cannot run here will run per parameter, which ends the flat state.
        """
        if self.state is None:
            return False
        data = self._span() if present == len(self.params) else None
        if data is None:
            self.state = None
            return False
        grad = self._grad
        np.concatenate([g.ravel() for g in map(_grad, self.params)], out=grad)
        first = not self.state
        update(data, grad, self.state)
        if first and self.state:  # the views stay valid: _update changes the flat arrays in place
            self._share(self.state)
        for key in self._scalars:
            for state in self.states:
                state[key] = self.state[key]
        return True

    def adopt(self, states: list[dict[str, Any]]) -> None:
        """Take over loaded per-parameter states: flattened if alike, else per parameter."""
        self.states = states
        self.state = {}
        if not any(states):
            return
        first = states[0]
        scalars = {k: v for k, v in first.items() if not isinstance(v, np.ndarray)}
        if any(set(s) != set(first) or any(s[k] != v for k, v in scalars.items())
               for s in states):
            self.state = None
            return
        self.state = dict(scalars)
        for key in first.keys() - scalars.keys():
            self.state[key] = np.concatenate([s[key].ravel() for s in states])
        self._share(self.state)

    def _span(self) -> np.ndarray | None:
        """The parameters' memory as one 1-D array (looked for again when a ``data`` changed)."""
        if len(self._arrays) != len(self.params) or not all(
                map(operator.is_, map(_data, self.params), self._arrays)):
            self._arrays = [p.data for p in self.params]
            self._data = span(self._arrays)
            if self._data is not None and (self._grad is None or self._grad.shape
                                           != self._data.shape or self._grad.dtype
                                           != self._data.dtype):
                self._grad = np.empty_like(self._data)
        return self._data

    def _share(self, state: dict[str, Any]) -> None:
        """Put views of the flat state arrays into every per-parameter state; note the scalars."""
        self._scalars = [k for k, v in state.items() if not isinstance(v, np.ndarray)]
        bounds = np.cumsum([0] + [p.data.size for p in self.params])
        for key, value in state.items():
            if key in self._scalars:
                continue
            for s, start, end, p in zip(self.states, bounds[:-1], bounds[1:], self.params,
                                        strict=True):
                s[key] = value[start:end].reshape(p.shape)
