"""The checks run on zeronet's own objects: what the parity suite stands on.

Each builds the torch twin of a zeronet object (``reference.mirror``) and runs
the general check of :mod:`reference.checks` with a ``forward_backward`` (or
``step``) that drives the zeronet object, so zeronet is checked exactly as
anyone's code is.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

import zeronet as zn
from reference.checks.gradients import compare_gradients
from reference.checks.layer import compare_layer
from reference.checks.loss import compare_loss
from reference.checks.optimizer import compare_optimizer
from reference.mirror import mirror, mirror_loss, mirror_optimizer, torch_dtype
from reference.report import Report
from reference.tolerance import to_numpy

__all__ = ["check_layer", "check_loss", "check_model", "check_optimizer"]


def _forward_backward(module: zn.nn.Module, loss_fn: Any | None,
                      input_grad: bool) -> Callable[..., tuple]:
    """A ``forward_backward`` that runs ``module`` with the parameters it is handed."""
    def forward_backward(params: dict[str, np.ndarray], x: np.ndarray,
                         target: np.ndarray) -> tuple:
        if params:
            module.load_state_dict(params)
        module.zero_grad()
        output = module(x)
        if loss_fn is None:  # a layer: target is the upstream gradient
            grad_x = module.backward(target, input_grad=input_grad)
        else:
            loss = loss_fn(output, target)
            grad_x = module.backward(loss_fn.backward(), input_grad=input_grad)
        if not input_grad and grad_x is not None:
            raise AssertionError(f"backward(input_grad=False) returned {type(grad_x).__name__}, "
                                 f"expected None")
        grads = {name: p.grad for name, p in module.named_parameters()}
        return (output, grads, grad_x) if loss_fn is None else (output, loss, grads, grad_x)
    return forward_backward


def check_model(model: zn.nn.Sequential, x: np.ndarray, target: np.ndarray, loss_fn: Any, *,
                input_grad: bool = True, probes: bool = False) -> Report:
    """A zeronet Sequential + loss against its torch mirror on one batch.

    With ``input_grad=False`` zeronet must return None for dL/dx (asserted)
    and only the output, loss and parameter gradients are compared. The
    probes run the model with other parameters; its own are restored after.
    """
    weights = model.state_dict()
    try:
        return compare_gradients(_forward_backward(model, loss_fn, input_grad), mirror(model),
                                 x, target, mirror_loss(loss_fn), probes=probes)
    finally:
        model.load_state_dict(weights)


def check_layer(layer: zn.nn.Linear | zn.nn.ReLU, x: np.ndarray, grad_out: np.ndarray, *,
                input_grad: bool = True) -> Report:
    """A zeronet Linear or ReLU against torch's for the upstream gradient ``grad_out``.

    Report names: ``output``, ``grad[weight]``, ``grad[bias]``, ``grad_x``.

    Raises:
        TypeError: naming ``layer``, if it is neither a zeronet Linear nor ReLU.
    """
    if isinstance(layer, zn.nn.Linear):
        torch_layer: torch.nn.Module = torch.nn.Linear(
            layer.in_features, layer.out_features, bias=layer.bias is not None,
            dtype=torch_dtype(layer.weight.dtype))
        torch_layer.load_state_dict({k: torch.from_numpy(v)
                                     for k, v in layer.state_dict().items()})
    elif isinstance(layer, zn.nn.ReLU):
        torch_layer = torch.nn.ReLU()
    else:
        raise TypeError(f"layer: expected zeronet.nn.Linear or ReLU, got {type(layer).__name__}")
    return compare_layer(_forward_backward(layer, None, input_grad), torch_layer, x,
                         grad_out=grad_out)


def check_loss(loss_fn: zn.nn.MSELoss | zn.nn.CrossEntropyLoss, output: np.ndarray,
               target: np.ndarray) -> Report:
    """A zeronet loss against torch's: names ``loss`` and ``grad_output`` (and the probes')."""
    def forward_backward(out: np.ndarray, t: np.ndarray) -> tuple:
        return loss_fn(out, t), loss_fn.backward()

    return compare_loss(forward_backward, mirror_loss(loss_fn), output, target)


def check_optimizer(make_optimizer: Callable[[list[zn.nn.Parameter]], zn.optim.Optimizer],
                    params: Mapping[str, np.ndarray],
                    grads: Sequence[Mapping[str, np.ndarray | None]]) -> Report:
    """A zeronet optimizer against its torch mirror, fed the same gradients.

    ``make_optimizer(list_of_zeronet_parameters)`` builds the optimizer
    (e.g. ``lambda ps: zn.optim.Adam(ps, lr=0.01, amsgrad=True)``). The report
    covers every parameter after every step and every state entry; zeronet and
    torch must keep the same state keys for each parameter (AssertionError
    otherwise).
    """
    zn_params = {k: zn.nn.Parameter(to_numpy(v)) for k, v in params.items()}
    optimizer = make_optimizer(list(zn_params.values()))
    torch_optimizer: list[torch.optim.Optimizer] = []

    def step(values: dict[str, np.ndarray], g: dict[str, np.ndarray | None]) -> None:
        for k, p in zn_params.items():
            p.grad = g[k]
        optimizer.step()
        for k, p in zn_params.items():
            values[k] = p.data

    def make_torch(torch_params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
        torch_optimizer.append(mirror_optimizer(optimizer, torch_params))
        return torch_optimizer[-1]

    def state() -> dict[str, dict[str, Any]]:
        states = dict(zip(zn_params, optimizer.state, strict=True))
        torch_params = torch_optimizer[0].param_groups[0]["params"]
        for (name, mine), p in zip(states.items(), torch_params, strict=True):
            theirs = {k for k, v in torch_optimizer[0].state[p].items() if v is not None}
            if set(mine) != theirs:
                raise AssertionError(f"state[{name}]: zeronet keeps {sorted(mine)}, "
                                     f"torch keeps {sorted(theirs)}")
        return copy.deepcopy(states)

    return compare_optimizer(step, make_torch, params, grads, state=state)
