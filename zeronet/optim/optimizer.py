"""The Optimizer base class: parameter list, per-parameter state, state_dict."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from zeronet._checks import expect_array, float_array
from zeronet.nn.module import Parameter, zero_grads
from zeronet.optim.flat import FlatStep

#: What a gradient of another shape than its parameter's is told: it is never broadcast.
NEVER_BROADCAST = " (never broadcast)"
#: A step count must stay below this (exact as a float, as beta ** step computes it).
MAX_STEP = 2**53


class Optimizer:
    """Holds the parameters it updates and all per-parameter state.

    Subclasses implement ``check_hyperparameters(**options)``, which
    validates the options and returns them as a dict (torch's param group
    without "params"), and ``_update(data, grad, state)``, the element-wise
    update rule applied in place to ``data`` and the arrays of ``state``.
    ``state_dict()`` has torch's layout: ``{"state": {index: {...}},
    "param_groups": [{**hyperparameters, "params": [0, 1, ...]}]}``.

    ``step`` updates each ``Parameter.data`` in place: an array you hold
    sees every update, as a tensor does in torch. When the parameters lie
    end to end in memory, as a model's do (``zeronet.nn.storage``), and unless
    ``flat=False``, ``step`` runs ``_update`` once over all of them instead of
    once per parameter (:class:`~zeronet.optim.flat.FlatStep`): the same
    arithmetic on every element, in a few NumPy calls instead of a few per
    parameter.
    """

    hyperparameters: dict[str, Any]

    def __init__(self, params: Iterable[Parameter], *, flat: bool = True) -> None:
        if not isinstance(params, Iterable):
            raise TypeError(f"params: expected an iterable of Parameter, "
                            f"got {type(params).__name__}")
        self.params = list(params)
        if not self.params:
            raise ValueError("params: expected a non-empty iterable of Parameter, got none")
        for i, p in enumerate(self.params):
            if not isinstance(p, Parameter):
                raise TypeError(f"params[{i}]: expected a zeronet.nn.Parameter, "
                                f"got {type(p).__name__}")
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError("params: expected each Parameter once, got duplicates")
        if not isinstance(flat, bool):
            raise TypeError(f"flat: expected a bool, got {flat!r}")
        self.state: list[dict[str, Any]] = [{} for _ in self.params]
        self._grad_names = [f"params[{i}].grad" for i in range(len(self.params))]
        self._flat = FlatStep(self.params, self.state) if flat else None

    def step(self) -> None:
        """Update every parameter that has a gradient; skip those whose grad is None.

        As torch/optim/sgd.py and adam.py do: check every gradient, then
        update each parameter, or all of them at once (the fast path).

        Raises:
            TypeError: naming ``params[i].grad``, if not an ndarray of the parameter's dtype.
            ValueError: naming ``params[i].grad``, if not of the parameter's shape.
        """
        present = self._gradients_present()
        if present == 0:
            return
        if self._flat is not None and self._flat.step(self._update, present):
            return
        for param, state in zip(self.params, self.state, strict=True):
            if param.grad is not None:
                self._update(param.data, param.grad, state)

    def _gradients_present(self) -> int:
        """Check every gradient there is; return how many parameters have one."""
        present = 0
        for name, param in zip(self._grad_names, self.params, strict=True):
            if param.grad is not None:
                expect_array(param.grad, param.data.shape, param.data.dtype, name,
                             NEVER_BROADCAST)
                present += 1
        return present

    @staticmethod
    def check_hyperparameters(**options: Any) -> dict[str, Any]:
        raise NotImplementedError

    def _update(self, data: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> None:
        """Apply one step to ``data`` in place, given its gradient and its state.

        ``state`` is empty on the first step; arrays put into it must be
        updated in place afterwards (never replaced).
        """
        raise NotImplementedError

    def zero_grad(self, set_to_none: bool = True) -> None:
        zero_grads(self.params, set_to_none)

    def state_dict(self) -> dict[str, Any]:
        """A deep copy of the state and hyper-parameters, in torch's layout."""
        return {
            "state": {i: copy.deepcopy(s) for i, s in enumerate(self.state) if s},
            "param_groups": [{**copy.deepcopy(self.hyperparameters),
                              "params": list(range(len(self.params)))}],
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what ``state_dict()`` returned; checked whole before anything is set.

        Raises:
            ValueError: naming the part of ``state_dict`` at fault (``state_dict``,
                ``state_dict['param_groups'][0]``, ``state_dict['state'][i][key]``...):
                keys, indices or shapes that differ, a step count that is not an
                integer in [0, 2**53), NaN/inf in a state array; or the hyper-parameter at fault.
            TypeError: naming the part of ``state_dict`` that is not a mapping, or a
                state array that is not of a float dtype.
        """
        if not isinstance(state_dict, Mapping) or set(state_dict) != {"state", "param_groups"}:
            raise ValueError("state_dict: expected a mapping with keys 'state' and "
                             f"'param_groups', got {state_dict!r:.200}")
        groups = state_dict["param_groups"]
        if not isinstance(groups, (list, tuple)) or len(groups) != 1:
            raise ValueError(f"state_dict['param_groups']: expected a list of one group, "
                             f"got {groups!r:.200}")
        if not isinstance(groups[0], Mapping):
            raise TypeError(f"state_dict['param_groups'][0]: expected a mapping, "
                            f"got {type(groups[0]).__name__}")
        if list(groups[0].get("params", ())) != list(range(len(self.params))):
            raise ValueError(f"state_dict['param_groups'][0]['params']: expected "
                             f"{list(range(len(self.params)))}, got {groups[0].get('params')!r}")
        hyper = {k: v for k, v in groups[0].items() if k != "params"}
        if set(hyper) != set(self.hyperparameters):
            raise ValueError(f"state_dict['param_groups'][0]: expected keys "
                             f"{sorted(self.hyperparameters)}, got {sorted(hyper)}")
        hyper = self.check_hyperparameters(**hyper)
        states = state_dict["state"]
        if not isinstance(states, Mapping):
            raise TypeError(f"state_dict['state']: expected a mapping of index -> dict, "
                            f"got {type(states).__name__}")
        new_state: list[dict[str, Any]] = [{} for _ in self.params]
        for index, entry in states.items():
            if isinstance(index, bool) or not isinstance(index, (int, np.integer)) \
                    or not 0 <= index < len(self.params):
                raise ValueError(f"state_dict['state']: expected indices "
                                 f"0..{len(self.params) - 1}, got {index!r}")
            new_state[index] = self._checked_state(self.params[index], entry, index, hyper)
        self.hyperparameters = hyper
        self.state = new_state
        if self._flat is not None:
            self._flat.adopt(new_state)

    def state_keys(self, hyperparameters: Mapping[str, Any]) -> dict[str, bool]:
        """The per-parameter state entries: name -> whether it is an array."""
        raise NotImplementedError

    def _checked_state(self, param: Parameter, entry: object, index: int,
                       hyperparameters: Mapping[str, Any]) -> dict[str, Any]:
        where = f"state_dict['state'][{index}]"
        if not isinstance(entry, Mapping):
            raise TypeError(f"{where}: expected a mapping, got {type(entry).__name__}")
        expected = self.state_keys(hyperparameters)
        if set(entry) != set(expected):
            raise ValueError(f"{where}: expected keys {sorted(expected)}, got {sorted(entry)}")
        checked = {}
        for key, is_array in expected.items():
            value = entry[key]
            if not is_array:  # a step count
                if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                        or not 0 <= value < MAX_STEP:
                    raise ValueError(f"{where}[{key!r}]: expected an integer in [0, 2**53), "
                                     f"got {value!r:.80}")
                checked[key] = int(value)
                continue
            if not isinstance(value, np.ndarray) or value.shape != param.shape:
                raise ValueError(f"{where}[{key!r}]: expected an ndarray of shape {param.shape}, "
                                 f"got {type(value).__name__} {getattr(value, 'shape', '')}")
            if value.dtype.kind != "f":
                raise TypeError(f"{where}[{key!r}]: expected a float array, got {value.dtype}")
            with np.errstate(over="ignore"):  # 1e300 into float32: inf, refused just below
                cast = value.astype(param.dtype, copy=True)
            checked[key] = float_array(cast, f"{where}[{key!r}]")
        return checked

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters.items())
        return f"{type(self).__name__}({len(self.params)} parameters, {options})"
