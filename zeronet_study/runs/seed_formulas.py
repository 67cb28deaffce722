"""The seed report's formulas as it codes them, errors included, on zeronet's API.

Each class or function here reproduces one formula of the seed exactly as
its code (or, for eq. 1-25, its text) states it, so a report can switch the
seed's errors on one at a time and measure what each one costs. Every
docstring names the figure or equation and gives the correct formula, which
is what ``zeronet`` itself computes. The list of errata with their tests is
``docs/seed-errata.md``; ``tests/test_seed_errata.py`` shows each one.

Nothing here is used by ``zeronet``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

import zeronet as zn


def seed_softmax(logits: np.ndarray) -> np.ndarray:
    """softmax as figs. 1-9 and 1-11 compute it: exp of the raw logits over their row sum.

    Correct (stable) form: exp(z - max z) / sum exp(z - max z), which is
    equal in exact arithmetic. The raw form overflows to inf (and then gives
    inf/inf = NaN) once a logit exceeds about 709 in float64, and gives
    0/0 = NaN once every logit of a row is below about -745. The overflow
    warnings NumPy would print are silenced so the NaN shows in the result,
    as it did in the seed's run.
    """
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        e = np.exp(logits)
        return e / e.sum(axis=-1, keepdims=True)


class SeedAdam(zn.optim.Adam):
    """Adam as fig. 2-9 codes it: bias correction by 1 - beta, not 1 - beta^t.

    The seed's text (section 2.1.3) has the right correction,
    m' = m / (1 - beta1^t) and v' = v / (1 - beta2^t); its code divides by
    the constants 1 - beta1 and 1 - beta2. At t = 1 the two agree; as t
    grows the seed's step tends to sqrt(1 - beta2) / (1 - beta1) times the
    correct one (0.316 for the default betas). Everything else is
    ``zeronet.optim.Adam``'s update, which is the seed's
    p <- p - lr * m_hat / (sqrt(v_hat) + eps) with the divisions rearranged.
    """

    def bias_corrections(self, step: int) -> tuple[float, float]:
        beta1, beta2 = self.hyperparameters["betas"]
        return 1 - beta1, 1 - beta2


class SeedCrossEntropyLoss(zn.nn.CrossEntropyLoss):
    """Cross-entropy whose backward is fig. 1-11's: raw-exp softmax minus target / N.

    The forward loss is the stable log-softmax one, as in the seed (and in
    the base class). The backward has two errors:

    * operator precedence: the code subtracts ``y / N`` from the softmax,
      i.e. computes softmax(z) - y/N, where eq. 1-32 averaged over the batch
      is (softmax(z) - y) / N;
    * the softmax is ``seed_softmax`` (raw exponentials), which is NaN for
      large logits although the loss next to it is finite.

    Correct: dL/dz = (softmax(z) - y) / N (``zeronet.nn.CrossEntropyLoss``).
    With ``reduction="sum"`` N is 1 and only the unstable softmax remains.
    Targets are accepted exactly as by the base class.
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self._logits: np.ndarray | None = None

    def __call__(self, logits: np.ndarray, target: np.ndarray) -> float:
        loss = super().__call__(logits, target)
        self._logits = logits
        return loss

    def backward(self) -> np.ndarray:
        if self._logits is None or self._cache is None:
            raise RuntimeError("SeedCrossEntropyLoss.backward called before the loss was computed")
        target = self._cache[1]
        probs = target if target.ndim == 2 else np.eye(self._logits.shape[1],
                                                         dtype=self._logits.dtype)[target]
        n = self._logits.shape[0] if self.reduction == "mean" else 1
        return seed_softmax(self._logits) - probs / n


class SeedLinear(zn.nn.Linear):
    """Linear whose backward divides dL/dW and dL/db by N again (fig. 1-4).

    The loss gradient it receives is already averaged over the batch, so the
    correct gradients are dL/dW = G^T X and dL/db = sum_n G (eqs. 1-10,
    1-17). The seed divides both by N a second time but returns the input
    gradient G W undivided, so every layer's parameter gradient is 1/N of
    the true one: plain SGD then runs at lr / N, while Adam is nearly blind
    to the scale (only eps grows N-fold relative to the gradient).
    """

    def parameter_grads(self, grad_out: np.ndarray,
                        x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        grad_weight, grad_bias = super().parameter_grads(grad_out, x)
        n = x.shape[0]
        return grad_weight / n, (grad_bias / n if grad_bias is not None else None)


class SeedReLU(zn.nn.ReLU):
    """ReLU whose backward zeroes the incoming gradient in place and returns it (fig. 1-8).

    Correct: return a new array grad * (x > 0) and leave the caller's array
    alone. In the seed's own network the damage is hidden (each ReLU receives
    a fresh array from the Linear above it, and the network copies the loss
    gradient first), but any caller that reuses its gradient array gets it
    silently changed.
    """

    def backward(self, grad_out: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        if self._mask is None:
            raise RuntimeError("SeedReLU.backward called before forward")
        grad_out[~self._mask] = 0
        return grad_out if input_grad else None


def seed_kaiming_bounds(layer: zn.nn.Linear) -> tuple[float, float]:
    """(weight bound, bias bound) that fig. 2-10 draws within for ``layer``.

    The seed stores W as (in, out) and takes ``shape[1]`` as the fan, the
    rule that is right for torch's (out, in) layout, so its "fan_in" is the
    output dimension (the text says so: fan_mode is the output dimension).
    weight: sqrt(2) * sqrt(3 / out_features); bias: 1 / sqrt(out_features).
    Correct (torch, fan_in mode): sqrt(2) * sqrt(3 / in_features) and
    1 / sqrt(in_features).
    """
    fan = layer.out_features
    std = math.sqrt(2.0) / math.sqrt(fan)
    return math.sqrt(3.0) * std, 1.0 / math.sqrt(fan)


def seed_kaiming_uniform_(layer: zn.nn.Linear, *, rng: np.random.Generator) -> zn.nn.Linear:
    """Initialise ``layer`` as fig. 2-10 does (see ``seed_kaiming_bounds``); return it.

    Correct: ``zn.init.kaiming_uniform_(layer.weight, nonlinearity="relu")``
    (fan = in_features) and a bias in U(-1/sqrt(in), 1/sqrt(in)).
    """
    bound_w, bound_b = seed_kaiming_bounds(layer)
    zn.init.uniform_(layer.weight, -bound_w, bound_w, rng=rng)
    if layer.bias is not None:
        zn.init.uniform_(layer.bias, -bound_b, bound_b, rng=rng)
    return layer


def seed_zero_init_(layer: zn.nn.Linear) -> zn.nn.Linear:
    """Set weight and bias to zero, as fig. 1-2 does; return the layer.

    With every weight zero, each hidden ReLU outputs 0 and passes back a zero
    gradient, so no weight ever moves and only the last layer's bias learns:
    the network can only predict a constant. Correct: a random
    initialisation (torch's default, or Kaiming as in fig. 2-10 fixed).
    """
    zn.init.zeros_(layer.weight)
    if layer.bias is not None:
        zn.init.zeros_(layer.bias)
    return layer


def seed_mse_gradient(output: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Eq. 1-25 read literally: every dL/dz_j of a row = (2/D) * sum_i (target_i - z_i)^2.

    This is twice the row's loss, the same for every j and never negative;
    it is not a gradient of eq. 1-24. Correct: dL/dz_j = (2/D) (z_j - target_j)
    (and 2/(N D) (z - target) for the batch mean, as fig. 1-10 codes it).
    For the errata test only.
    """
    d = output.shape[-1]
    per_row = (2.0 / d) * np.sum((target - output) ** 2, axis=-1, keepdims=True)
    return np.broadcast_to(per_row, output.shape).copy()


def seed_epoch_train_loss(batch_losses: Sequence[float]) -> float:
    """The epoch's train loss as fig. 2-4 reports it: the sum of batch losses over 10.

    That is the mean only with exactly 10 batches per epoch (the sine set:
    1000 / 100). Correct: sum / number of batches (``len(loader)``).
    """
    return sum(batch_losses) / 10


def seed_encode_onehot(labels: np.ndarray) -> np.ndarray:
    """One-hot rows as fig. 2-14 builds them: one column per distinct label, in set order.

    The column order is the iteration order of a Python set (ascending for
    small non-negative ints only by an implementation detail of int hashing),
    and the width is the number of labels present: a split missing a class
    gets fewer columns and every later class shifts one column left.
    Correct: columns 0..C-1 fixed by the class value (or integer targets, as
    ``zeronet.nn.CrossEntropyLoss`` takes them).
    """
    classes = list(set(labels.tolist()))
    column = {c: i for i, c in enumerate(classes)}
    return np.identity(len(classes))[[column[c] for c in labels.tolist()]]
