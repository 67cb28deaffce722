"""torch's numbers for one batch, and those of the catalogued buggy variants.

Everything is computed with autograd from the user's torch model, run with
given parameter values (``torch.func.functional_call``, so the model itself is
never changed). A variant is torch's computation with one formula swapped for
a known wrong one, so that a check can ask "would this bug produce exactly the
user's numbers?":

* ``relu_at_0``: every ``torch.nn.ReLU`` passes the gradient where its input
  is exactly 0 (ReLU'(0) = 1);
* ``upstream``: dL/doutput replaced, e.g. by softmax - y/N (the seed's fig. 1-11),
  and backpropagated through the model as torch would.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch

from reference.tolerance import to_numpy

__all__ = ["Pass", "ReLUAtZero", "ce_precedence_upstream", "has_relu", "one_hot",
           "parameters_of", "run", "torch_target"]

#: dL/doutput from (output, target): an upstream gradient that replaces the loss's.
Upstream = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Pass:
    """One forward and backward pass, as NumPy arrays in torch's shapes.

    ``grads`` is keyed by torch's parameter names; ``grad_x`` is dL/dx.
    """

    output: np.ndarray
    loss: np.ndarray
    grads: dict[str, np.ndarray]
    grad_x: np.ndarray


class ReLUAtZero(torch.nn.Module):
    """max(0, x) whose derivative at exactly 0 is 1 (torch's ReLU takes 0 there)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.where(x >= 0, x, torch.zeros_like(x))


def parameters_of(model: torch.nn.Module) -> dict[str, np.ndarray]:
    """Copies of the model's parameters, by name, in ``named_parameters()`` order."""
    return {name: to_numpy(p) for name, p in model.named_parameters()}


def has_relu(model: torch.nn.Module) -> bool:
    return any(isinstance(m, torch.nn.ReLU) for m in model.modules())


def relu_at_zero_copy(model: torch.nn.Module) -> torch.nn.Module:
    """A deep copy of ``model`` with every ``torch.nn.ReLU`` swapped for :class:`ReLUAtZero`."""
    if isinstance(model, torch.nn.ReLU):
        return ReLUAtZero()
    twin = copy.deepcopy(model)
    for parent in twin.modules():
        for name, child in parent.named_children():
            if isinstance(child, torch.nn.ReLU):
                setattr(parent, name, ReLUAtZero())
    return twin


def torch_target(target: np.ndarray) -> torch.Tensor:
    """Class indices become int64 (what torch's losses take); floats keep their dtype."""
    if target.dtype.kind in "iu":
        return torch.from_numpy(np.asarray(target, dtype=np.int64))
    return torch.from_numpy(np.array(target, copy=True))


def one_hot(target: torch.Tensor, classes: int, dtype: torch.dtype) -> torch.Tensor:
    """Class indices -> one-hot rows; probability rows unchanged."""
    if target.dtype == torch.int64:
        return torch.nn.functional.one_hot(target, classes).to(dtype)
    return target


def ce_precedence_upstream(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """softmax(z) - y/N: the seed's fig. 1-11, where (softmax(z) - y)/N was meant."""
    n = output.shape[0]
    return torch.softmax(output, dim=1) - one_hot(target, output.shape[1], output.dtype) / n


def run(model: torch.nn.Module, params: Mapping[str, np.ndarray], x: np.ndarray,
        target: np.ndarray | None, loss_fn: Callable[..., torch.Tensor], *,
        relu_at_0: bool = False, upstream: Upstream | None = None) -> Pass:
    """Forward and backward through ``model`` with ``params``, in torch, for one batch.

    ``x`` has samples on rows. ``loss_fn(output, target)`` gives the loss
    (``target`` None: ``loss_fn(output)``); with ``upstream`` the gradients are
    those of backpropagating ``upstream(output, target)`` instead of the loss's
    own dL/doutput (the loss value stays the loss's).
    """
    module = relu_at_zero_copy(model) if relu_at_0 else model
    tensors = {name: torch.from_numpy(np.array(v, copy=True)).requires_grad_(True)
               for name, v in params.items()}
    xt = torch.from_numpy(np.array(x, copy=True)).requires_grad_(True)
    output = torch.func.functional_call(module, tensors, (xt,))
    t = None if target is None else torch_target(target)
    loss = loss_fn(output) if t is None else loss_fn(output, t)
    inputs = [xt, *tensors.values()]
    if upstream is None:
        grads = torch.autograd.grad(loss, inputs, allow_unused=True)
    else:
        grads = torch.autograd.grad(output, inputs, grad_outputs=upstream(output.detach(), t),
                                    allow_unused=True)
    grads = [torch.zeros_like(i) if g is None else g for i, g in zip(inputs, grads, strict=True)]
    return Pass(to_numpy(output), to_numpy(loss),
                {name: to_numpy(g) for name, g in zip(tensors, grads[1:], strict=True)},
                to_numpy(grads[0]))
