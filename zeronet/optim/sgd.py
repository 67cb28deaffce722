"""Stochastic gradient descent, as torch/optim/sgd.py computes it (seed fig. 1-6)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from zeronet._checks import non_negative, positive
from zeronet.nn.module import Parameter
from zeronet.optim.optimizer import Optimizer


class SGD(Optimizer):
    r"""SGD with optional momentum, dampening, Nesterov momentum and L2 weight decay.

    For each parameter p with gradient g, at step t:

        g <- g + weight_decay * p                       (if weight_decay != 0)
        b <- g                                          (t = 1: the buffer is a copy of g)
        b <- momentum * b + (1 - dampening) * g         (t > 1)
        g <- g + momentum * b   if nesterov else   b    (if momentum != 0)
        p <- p - lr * g

    With momentum = 0 this is the seed's eq. 1-6 / fig. 1-6: p <- p - lr * g.

    ``flat=True`` (the default) runs the update once over all parameters
    when they lie end to end in memory, as a model's do; ``flat=False``
    always once per parameter. The numbers are the same, and either way each
    ``Parameter.data`` is updated in place (see
    :class:`~zeronet.optim.optimizer.Optimizer`).

    Raises:
        ValueError: naming ``params`` (empty, or a Parameter twice), ``lr`` (not a finite
            number > 0), ``momentum``, ``dampening`` or ``weight_decay`` (not a finite
            number >= 0) or ``nesterov`` (without momentum, or with dampening).
        TypeError: naming ``params`` (not an iterable of Parameter), ``params[i]`` (not a
            Parameter), ``nesterov`` or ``flat`` (not a bool).
    """

    def __init__(self, params: Iterable[Parameter], lr: float, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False, *,
                 flat: bool = True) -> None:
        super().__init__(params, flat=flat)
        self.hyperparameters = self.check_hyperparameters(
            lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
            nesterov=nesterov)

    @staticmethod
    def check_hyperparameters(*, lr: float, momentum: float, dampening: float,
                              weight_decay: float, nesterov: bool) -> dict[str, Any]:
        positive(lr, "lr")
        non_negative(momentum, "momentum")
        non_negative(dampening, "dampening")
        non_negative(weight_decay, "weight_decay")
        if not isinstance(nesterov, bool):
            raise TypeError(f"nesterov: expected a bool, got {nesterov!r}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(f"nesterov: expected momentum > 0 and dampening == 0, got "
                             f"momentum={momentum}, dampening={dampening}")
        return {"lr": lr, "momentum": momentum, "dampening": dampening,
                "weight_decay": weight_decay, "nesterov": nesterov}

    def state_keys(self, hyperparameters: Mapping[str, Any]) -> dict[str, bool]:
        return {"momentum_buffer": True} if hyperparameters["momentum"] != 0 else {}

    def _update(self, data: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> None:
        h = self.hyperparameters
        if h["weight_decay"] != 0:
            grad = grad + h["weight_decay"] * data
        if h["momentum"] != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = grad.copy()
            else:
                buf *= h["momentum"]
                buf += (1 - h["dampening"]) * grad
            grad = grad + h["momentum"] * buf if h["nesterov"] else buf
        data += -h["lr"] * grad
