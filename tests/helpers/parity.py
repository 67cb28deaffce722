"""What the parity tests share: build inputs, run zeronet and torch, compare.

Every helper draws its data from a ``numpy.random.Generator`` seeded with a
fixed number, starts both frameworks from identical weights (zeronet's,
copied into torch by ``reference.mirror``) and compares forward and backward
with :mod:`reference.compare` at ``reference.compare.default_tolerance``
(float64: rtol = atol = 1e-12; float32: torch.testing's 1.3e-6 / 1e-5).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest
import torch

import zeronet as zn
from reference import (
    Report,
    check_layer,
    check_loss,
    check_model,
    check_optimizer,
    default_tolerance,
    mirror,
    mirror_loss,
    mirror_optimizer,
)
from zeronet.data import sine
from zeronet.seed_networks import MNIST, SINE

DTYPES = [pytest.param(np.float64, id="float64"), pytest.param(np.float32, id="float32")]
SINE_SIZES, MNIST_SIZES = SINE.sizes, MNIST.sizes  # the seed's two networks


def build_net(sizes: Sequence[int], dtype: np.dtype | type, rng: np.random.Generator, *,
              kaiming: bool = False) -> zn.nn.Sequential:
    """Linear layers of ``sizes`` with ReLU between them (none after the last).

    ``kaiming=True`` re-initialises each weight as the seed's fig. 2-10 does
    (ReLU gain, fan corrected to fan_in); otherwise torch's default init.
    """
    def linear(fan_in: int, fan_out: int, **kwargs: object) -> zn.nn.Linear:
        layer = zn.nn.Linear(fan_in, fan_out, **kwargs)
        zn.init.kaiming_uniform_(layer.weight, nonlinearity="relu", rng=rng)
        return layer

    return zn.nn.relu_mlp(sizes, dtype=dtype, rng=rng, linear=linear if kaiming else zn.nn.Linear)


def sine_sample(dtype: np.dtype | type, n: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points of the seed's curve, y = 24 sin(3.2x) + 42 cos(2.3x), x ~ U(-2 pi, 2 pi).

    Not the seed's training set (that is ``zn.data.sample_sine()``, drawn from
    ``RandomState(42)``): x comes from ``default_rng(42)``, y from
    ``zn.data.sine.targets``. The parity tests need the seed's shapes and
    scales, not its exact points.
    """
    x = np.random.default_rng(42).uniform(sine.LOW, sine.HIGH, size=(n, 1))
    return x.astype(dtype), sine.targets(x).astype(dtype)


def normal(rng: np.random.Generator, shape: Sequence[int], dtype: np.dtype | type,
           scale: float = 1.0) -> np.ndarray:
    return (scale * rng.standard_normal(shape)).astype(dtype)


def assert_report(report: Report, dtype: np.dtype | type) -> None:
    """Every tensor of ``report`` close at ``dtype``'s default tolerance."""
    rtol, atol = default_tolerance(dtype)
    report.check(rtol=rtol, atol=atol)


# ------------------------------------------------------------------- one-line helpers

def helper_layer(make_layer: Callable[[np.random.Generator], zn.nn.Module], n: int,
                 in_features: int, dtype: np.dtype | type, *, input_grad: bool = True,
                 zeros: bool = False, seed: int = 0) -> Report:
    """Layer forward, dL/dW, dL/db, dL/dx against torch for a random upstream gradient.

    ``zeros=True`` sets every third input to exactly 0 (ReLU's kink).
    """
    rng = np.random.default_rng(seed)
    layer = make_layer(rng)
    x = normal(rng, (n, in_features), dtype)
    if zeros:
        x.reshape(-1)[::3] = 0
    out_features = getattr(layer, "out_features", in_features)
    grad_out = normal(rng, (n, out_features), dtype)
    report = check_layer(layer, x, grad_out, input_grad=input_grad)
    assert_report(report, dtype)
    return report


def helper_model(sizes: Sequence[int], loss_fn: zn.nn.MSELoss | zn.nn.CrossEntropyLoss,
                 x: np.ndarray, target: np.ndarray, *, input_grad: bool = True,
                 seed: int = 0) -> Report:
    """A seed network: output, loss and every gradient against torch on one batch."""
    model = build_net(sizes, x.dtype, np.random.default_rng(seed), kaiming=True)
    report = check_model(model, x, target, loss_fn, input_grad=input_grad)
    assert_report(report, x.dtype)
    return report


def helper_loss(loss_fn: zn.nn.MSELoss | zn.nn.CrossEntropyLoss, output: np.ndarray,
                target: np.ndarray) -> Report:
    """Loss value and dL/doutput against torch."""
    report = check_loss(loss_fn, output, target)
    assert_report(report, output.dtype)
    return report


OPTIM_SHAPES = {"0.weight": (6, 5), "0.bias": (6,), "2.weight": (1, 6)}
#: The option sets the optimizers are checked with (each against torch, and flat against
#: per parameter).
SGD_OPTIONS = {
    "plain": {"lr": 0.1},
    "momentum": {"lr": 0.1, "momentum": 0.9},
    "dampening": {"lr": 0.1, "momentum": 0.9, "dampening": 0.5},
    "nesterov": {"lr": 0.1, "momentum": 0.9, "nesterov": True},
    "weight_decay": {"lr": 0.1, "weight_decay": 0.05},
    "momentum_weight_decay": {"lr": 0.05, "momentum": 0.8, "weight_decay": 0.1},
    "nesterov_weight_decay": {"lr": 0.05, "momentum": 0.5, "nesterov": True, "weight_decay": 0.1},
    "all": {"lr": 0.02, "momentum": 0.95, "dampening": 0.1, "weight_decay": 0.01},
}
ADAM_OPTIONS = {
    "default": {},
    "lr": {"lr": 0.05},
    "weight_decay": {"lr": 0.01, "weight_decay": 0.1},
    "amsgrad": {"lr": 0.01, "amsgrad": True},
    "betas": {"lr": 0.01, "betas": (0.8, 0.99)},
    "small_beta1": {"lr": 0.01, "betas": (0.3, 0.9)},  # 1 - beta1 > 0.5: torch.lerp's other form
    "eps": {"lr": 0.01, "eps": 1e-3},
    "all": {"lr": 0.02, "betas": (0.85, 0.995), "eps": 1e-6, "weight_decay": 0.05,
            "amsgrad": True},
}


def run_steps(optimizer: zn.optim.Optimizer, params: list[zn.nn.Parameter],
              grads: list[dict]) -> None:
    """One ``optimizer.step()`` per mapping of ``grads``, its values set as the params' grads."""
    for g in grads:
        for p, v in zip(params, g.values(), strict=True):
            p.grad = v
        optimizer.step()


def random_grads(steps: int, dtype: np.dtype | type, seed: int = 1,
                 shapes: dict[str, tuple[int, ...]] = OPTIM_SHAPES) -> list[dict[str, np.ndarray]]:
    """Normal gradients whose scale is drawn anew each step (log-normal, 0.1 to 10)."""
    rng = np.random.default_rng(seed)
    return [{k: normal(rng, s, dtype, scale) for k, s in shapes.items()}
            for scale in np.exp(rng.normal(size=steps))]


def random_params(dtype: np.dtype | type, seed: int = 0,
                  shapes: dict[str, tuple[int, ...]] = OPTIM_SHAPES) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {k: normal(rng, s, dtype) for k, s in shapes.items()}


def laid_end_to_end(make_optimizer: Callable[[list[zn.nn.Parameter]], zn.optim.Optimizer],
                    ) -> Callable[[list[zn.nn.Parameter]], zn.optim.Optimizer]:
    """``make_optimizer``, with the parameters' data first copied end to end, as a model's lie.

    So the optimizer takes its fast path (``zeronet.optim.flat``), as it does
    in training; test_flat_optim.py shows it equal to the per-parameter path.
    """
    def make(params: list[zn.nn.Parameter]) -> zn.optim.Optimizer:
        for p, data in zip(params, zn.nn.storage.end_to_end([p.data for p in params]),
                           strict=True):
            p.data = data
        return make_optimizer(params)
    return make


def helper_optim(make_optimizer: Callable[[list[zn.nn.Parameter]], zn.optim.Optimizer],
                 steps: int, dtype: np.dtype | type,
                 grads: list[dict[str, np.ndarray | None]] | None = None) -> Report:
    """``steps`` optimizer steps on identical random gradients: parameters and state vs torch.

    The parameters lie end to end (:func:`laid_end_to_end`): the default, fast path.
    """
    grads = random_grads(steps, dtype) if grads is None else grads
    report = check_optimizer(laid_end_to_end(make_optimizer), random_params(dtype), grads)
    assert_report(report, dtype)
    return report


# ------------------------------------------------------------------ training both

def train_both(model: zn.nn.Sequential, loss_fn: zn.nn.MSELoss | zn.nn.CrossEntropyLoss,
               optimizer: zn.optim.Optimizer, loader: zn.data.DataLoader, steps: int,
               ) -> tuple[torch.nn.Sequential, list[float], list[float]]:
    """Train ``model`` and its torch mirror side by side on the same batches.

    The mirror starts from ``model``'s weights; each step both see the same
    batch, run forward, backward (zeronet with ``input_grad=False``) and one
    optimizer step. Returns the torch model and both loss curves.
    """
    torch_model = mirror(model)
    torch_loss = mirror_loss(loss_fn)
    torch_optimizer = mirror_optimizer(optimizer, list(torch_model.parameters()))
    losses: list[float] = []
    torch_losses: list[float] = []
    while len(losses) < steps:
        for x, y in loader:
            optimizer.zero_grad()
            losses.append(loss_fn(model(x), y))
            model.backward(loss_fn.backward(), input_grad=False)
            optimizer.step()

            torch_optimizer.zero_grad()
            target = torch.from_numpy(y.astype(np.int64) if y.dtype.kind in "iu" else y)
            loss = torch_loss(torch_model(torch.from_numpy(x)), target)
            loss.backward()
            torch_optimizer.step()
            torch_losses.append(loss.item())
            if len(losses) == steps:
                break
    return torch_model, losses, torch_losses
