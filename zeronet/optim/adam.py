"""Adam, as torch/optim/adam.py computes it on the CPU (seed section 2.1.3)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from zeronet._checks import non_negative, positive, unit_interval
from zeronet.nn.module import Parameter
from zeronet.optim.optimizer import Optimizer


def lerp_(start: np.ndarray, end: np.ndarray, weight: float) -> None:
    """start <- start + weight * (end - start), rounded as ``torch.lerp`` rounds.

    torch evaluates the form anchored at the nearer end point, so the result
    matches it bit for bit on either side of weight = 0.5; and it first rounds the
    weight to the tensor's dtype, so 1 - weight is float32 arithmetic for float32.
    """
    weight = start.dtype.type(weight)
    if abs(weight) < 0.5:
        start += weight * (end - start)
    else:
        np.subtract(end, (end - start) * (1 - weight), out=start)


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015) with L2 weight decay and optional AMSGrad.

    For each parameter p with gradient g, at step t = 1, 2, ...:

        g  <- g + weight_decay * p                      (if weight_decay != 0)
        m  <- beta1 * m + (1 - beta1) * g               (torch.lerp form)
        v  <- beta2 * v + (1 - beta2) * g^2
        v_max <- max(v_max, v)                          (if amsgrad; v_max is used for v below)
        denom = sqrt(v) / sqrt(1 - beta2^t) + eps
        p  <- p - (lr / (1 - beta1^t)) * m / denom

    This is the seed's update of section 2.1.3 (m' = m / (1 - beta1^t),
    v' = v / (1 - beta2^t), p <- p - lr m' / (sqrt(v') + eps)) rearranged as
    torch does; the seed's code (fig. 2-9) drops the ^t.

    ``flat=True`` (the default) runs the update once over all parameters
    when they lie end to end in memory, as a model's do; ``flat=False``
    always once per parameter. The numbers are the same, and either way each
    ``Parameter.data`` is updated in place (see
    :class:`~zeronet.optim.optimizer.Optimizer`).

    Raises:
        ValueError: naming ``params`` (empty, or a Parameter twice), ``lr`` (not a finite
            number > 0), ``betas`` (not a pair) or ``betas[i]`` (not in [0, 1)), ``eps``
            or ``weight_decay`` (not a finite number >= 0).
        TypeError: naming ``params`` (not an iterable of Parameter), ``params[i]`` (not a
            Parameter), ``amsgrad`` or ``flat`` (not a bool).
    """

    def __init__(self, params: Iterable[Parameter], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, *,
                 flat: bool = True) -> None:
        super().__init__(params, flat=flat)
        self.hyperparameters = self.check_hyperparameters(
            lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)

    @staticmethod
    def check_hyperparameters(*, lr: float, betas: tuple[float, float], eps: float,
                              weight_decay: float, amsgrad: bool) -> dict[str, Any]:
        # kept as the Python floats the checks return: np.float32 betas or lr would make
        # 1 - beta^t, its square root and lr / (1 - beta1^t) float32 arithmetic
        lr = positive(lr, "lr")
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas: expected a pair (beta1, beta2), got {betas!r}")
        betas = (unit_interval(betas[0], "betas[0]"), unit_interval(betas[1], "betas[1]"))
        eps = non_negative(eps, "eps")
        weight_decay = non_negative(weight_decay, "weight_decay")
        if not isinstance(amsgrad, bool):
            raise TypeError(f"amsgrad: expected a bool, got {amsgrad!r}")
        return {"lr": lr, "betas": betas, "eps": eps,
                "weight_decay": weight_decay, "amsgrad": amsgrad}

    def state_keys(self, hyperparameters: Mapping[str, Any]) -> dict[str, bool]:
        keys = {"step": False, "exp_avg": True, "exp_avg_sq": True}
        if hyperparameters["amsgrad"]:
            keys["max_exp_avg_sq"] = True
        return keys

    def bias_corrections(self, step: int) -> tuple[float, float]:
        """(1 - beta1^t, 1 - beta2^t): what m and v are divided by at step t."""
        beta1, beta2 = self.hyperparameters["betas"]
        return 1 - beta1**step, 1 - beta2**step

    def _update(self, data: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> None:
        h = self.hyperparameters
        beta1, beta2 = h["betas"]
        if not state:
            state.update({key: np.zeros_like(data) if is_array else 0
                          for key, is_array in self.state_keys(h).items()})
        state["step"] += 1
        if h["weight_decay"] != 0:
            grad = grad + h["weight_decay"] * data

        m, v = state["exp_avg"], state["exp_avg_sq"]
        lerp_(m, grad, 1 - beta1)
        v *= beta2
        v += (1 - beta2) * grad * grad
        if h["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]

        correction1, correction2 = self.bias_corrections(state["step"])
        step_size = h["lr"] / correction1
        denom = np.sqrt(v)
        denom /= correction2**0.5
        denom += h["eps"]
        update = -step_size * m
        update /= denom
        data += update
