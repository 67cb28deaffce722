"""What the network checks share: the torch model's parameters, inputs and layer names.

:func:`model_conventions` reads the parameter names and shapes of a torch
model and checks the convention keywords against them; :func:`user_inputs`
turns the user's x and target into torch's orientation, checking dtypes and
sizes; :func:`layer_of` names the layer a parameter belongs to, as messages
say where to look.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from reference.conventions import Conventions
from reference.tolerance import to_numpy

__all__ = ["LARGE_LOGITS", "backward_order", "check_callable", "layer_of", "model_conventions",
           "model_dtype", "scaled_last_layer", "spread_logits", "user_inputs"]

#: The size of the large-logit probe's logits (see :func:`spread_logits`).
LARGE_LOGITS = 1e3


def check_callable(value: object, name: str) -> None:
    """Raises: TypeError naming ``name`` if ``value`` is not callable."""
    if not callable(value):
        raise TypeError(f"{name}: expected a function, got {type(value).__name__}")


def model_dtype(model: object, name: str = "torch_model") -> np.dtype:
    """The one float dtype of ``model``'s parameters, as a NumPy dtype.

    Raises:
        TypeError: naming ``name``, if it is not a torch Module whose parameters
            share one float32/float64 dtype.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{name}: expected a torch.nn.Module, got {type(model).__name__}")
    dtypes = {p.dtype for p in model.parameters()}
    if not dtypes:
        return np.dtype(torch.get_default_dtype().__str__().removeprefix("torch."))
    if len(dtypes) != 1 or not dtypes <= {torch.float32, torch.float64}:
        raise TypeError(f"{name}: expected float32 or float64 parameters of one dtype, got "
                        f"{sorted(str(d) for d in dtypes)}")
    return np.dtype(str(dtypes.pop()).removeprefix("torch."))


def model_conventions(model: torch.nn.Module, *, layout: object, samples: object,
                      names: object) -> Conventions:
    """The :class:`Conventions` of the user's code for ``model``'s parameters.

    Raises:
        ValueError: naming ``layout``, ``samples`` or ``names``.
    """
    shapes = {name: tuple(p.shape) for name, p in model.named_parameters()}
    return Conventions.build(shapes, layout=layout, samples=samples, names=names)


def _array(value: Any, name: str) -> np.ndarray:
    if not isinstance(value, (np.ndarray, torch.Tensor)):
        raise TypeError(f"{name}: expected a numpy array or torch tensor, "
                        f"got {type(value).__name__}")
    return to_numpy(value, name)


def user_inputs(x: Any, target: Any, dtype: np.dtype,
                conventions: Conventions) -> tuple[np.ndarray, np.ndarray]:
    """(x, target) with samples on rows, checked against the model's dtype.

    ``target`` may be class indices (integers, (N,)) or values in the model's
    dtype ((N, ...) rows, (D, N) columns).

    Raises:
        TypeError: naming ``x`` or ``target`` (no array, or another dtype).
        ValueError: naming ``x`` or ``target`` (shape, or a sample count that differs).
    """
    xa = _array(x, "x")
    if xa.dtype != dtype:
        raise TypeError(f"x: expected dtype {dtype} (the model's), got {xa.dtype}")
    columns = conventions.samples == "columns"
    if xa.ndim < 1 or (columns and xa.ndim != 2):
        raise ValueError(f"x: expected {'(features, N)' if columns else '(N, ...)'}, "
                         f"got shape {xa.shape}")
    x_rows = conventions.samples_from_user(xa)
    ta = _array(target, "target")
    if ta.dtype.kind in "iu":
        if ta.ndim != 1:
            raise ValueError(f"target: expected class indices of shape ({x_rows.shape[0]},), "
                             f"got {ta.shape} (pass labels as a 1-D integer array)")
        t_rows = ta.astype(np.int64)
    elif ta.dtype.kind == "f":
        if ta.dtype != dtype:
            raise TypeError(f"target: expected dtype {dtype} (the model's) or integer class "
                            f"indices, got {ta.dtype}")
        t_rows = conventions.samples_from_user(ta)
    else:
        raise TypeError(f"target: expected class indices or floats, got dtype {ta.dtype}")
    if t_rows.ndim == 0 or t_rows.shape[0] != x_rows.shape[0]:
        raise ValueError(f"target: expected {x_rows.shape[0]} samples (as x), got shape "
                         f"{ta.shape}")
    return np.ascontiguousarray(x_rows), np.ascontiguousarray(t_rows)


def layer_of(torch_name: str, conventions: Conventions) -> str:
    """Where a parameter lives, for messages: "layer 2 (W3, b3)" or "layer 2"."""
    prefix = torch_name.rpartition(".")[0]
    mine = [conventions.user[n] for n in conventions.torch_shapes
            if n.rpartition(".")[0] == prefix]
    label = f"layer {prefix}" if prefix else "the model"
    if any(m != n for m, n in zip(mine, (n for n in conventions.torch_shapes
                                         if n.rpartition(".")[0] == prefix), strict=True)):
        label += f" ({', '.join(mine)})"
    return label


def backward_order(names: list[str]) -> list[str]:
    """Parameter names in the order backprop reaches them: last module first, weight first."""
    modules: dict[str, list[str]] = {}
    for n in names:
        modules.setdefault(n.rpartition(".")[0], []).append(n)
    return [n for prefix in reversed(modules) for n in modules[prefix]]


def spread_logits(logits: np.ndarray, target: np.ndarray) -> tuple[float, float, np.ndarray]:
    """(scale, shift, target) that turn ``logits`` into the large-logit probe's.

    The widest row is spread over 2e3 and the largest logit moved to 1e3, so
    exp of a raw logit overflows (above ~709 in float64, ~88 in float32), and
    each row's target is its smallest logit, so the softmax of the target
    underflows to 0 and its log is -inf: both bugs of ``softmax-overflow``
    show, while log-sum-exp stays finite. Class-index targets stay indices,
    probability rows become one-hot rows.
    """
    rows = logits.reshape(len(logits), -1)
    spread = float(np.max(rows.max(axis=1) - rows.min(axis=1)))
    scale = 2 * LARGE_LOGITS / spread if spread > 0 else LARGE_LOGITS
    shift = LARGE_LOGITS - scale * float(rows.max())
    smallest = rows.argmin(axis=1)
    if target.dtype.kind in "iu":
        return scale, shift, smallest.astype(target.dtype)
    return scale, shift, np.eye(rows.shape[1], dtype=target.dtype)[smallest].reshape(target.shape)


def scaled_last_layer(params: Mapping[str, np.ndarray], scale: float,
                      shift: float) -> dict[str, np.ndarray]:
    """``params`` with the last module's parameters times ``scale`` and ``shift`` added to its
    bias (so its output becomes scale * output + shift)."""
    last = list(params)[-1].rpartition(".")[0]
    out = {}
    for n, v in params.items():
        if n.rpartition(".")[0] != last:
            out[n] = v.copy()
        else:
            out[n] = v * v.dtype.type(scale) + (v.dtype.type(shift) if v.ndim == 1 else 0)
    return out


LossFn = Callable[..., torch.Tensor]
