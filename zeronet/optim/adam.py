"""Adam, as torch/optim/adam.py computes it on the CPU (seed section 2.1.3)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from zeronet._checks import non_negative, positive, unit_interval
from zeronet.nn.module import Parameter
from zeronet.optim.optimizer import Optimizer


def lerp_(start: np.ndarray, end: np.ndarray, weight: float,
          scratch: np.ndarray | None = None) -> None:
    """start <- start + weight * (end - start), rounded as ``torch.lerp`` rounds.

    torch evaluates the form anchored at the nearer end point, so the result
    matches it bit for bit on either side of weight = 0.5; and it first rounds the
    weight to the tensor's dtype, so 1 - weight is float32 arithmetic for float32.
    ``scratch``, an array like ``start`` (not ``end``), holds end - start; without
    it a new one does.
    """
    weight = start.dtype.type(weight)
    diff = np.subtract(end, start, out=scratch)
    if abs(weight) < 0.5:
        diff *= weight
        start += diff
    else:
        diff *= 1 - weight
        np.subtract(end, diff, out=start)


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
        self._buffers: dict[tuple[tuple[int, ...], np.dtype], tuple[np.ndarray, np.ndarray]] = {}

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
        scratch, denom = self._scratch(data)
        lerp_(m, grad, 1 - beta1, scratch)
        v *= beta2
        np.multiply(grad, 1 - beta2, out=scratch)  # (1 - beta2) * g * g, in this order
        scratch *= grad
        v += scratch
        if h["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]

        correction1, correction2 = self.bias_corrections(state["step"])
        step_size = h["lr"] / correction1
        np.sqrt(v, out=denom)
        denom /= correction2**0.5
        denom += h["eps"]
        update = np.multiply(m, -step_size, out=scratch)
        update /= denom
        data += update

    def _scratch(self, like: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Two arrays of ``like``'s shape and dtype for the update's intermediate values.

        Kept from step to step, so that no step allocates (for the MNIST net's
        13546 parameters a new array costs about as much as the arithmetic
        on it); their values never outlive one ``_update``.
        """
        key = (like.shape, like.dtype)
        buffers = self._buffers.get(key)
        if buffers is None:
            buffers = self._buffers[key] = (np.empty_like(like), np.empty_like(like))
        return buffers
