"""Every hand-derived backward pass against central finite differences (float64, no torch).

Layers are checked through the scalar objective L = sum(upstream * f(x)) with
a random ``upstream``, so every output element enters the gradient with its
own weight; losses and whole networks through their own scalar loss.

Step and tolerance. The central difference (L(p + h) - L(p - h)) / 2h is off
by h^2 |L'''| / 6 (truncation) plus about eps |L| / h (rounding of the two
evaluations of L). With h = 1e-6 in float64 the truncation term is <= 1e-13
for the O(1) curvatures here (and exactly 0 where L is at most quadratic in
a single parameter: Linear, ReLU, MSE, and any ReLU net under MSE), while the
rounding term is about 2.2e-10 |L|. So each comparison uses
atol = 100 eps max(1, |L|) / h (the rounding term with 100x headroom for the
rounding inside sums) and rtol = 1e-6. A real backward error (a missing
1/N, a transpose, a wrong sign) is off by O(|grad|), six orders above this.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers.gradcheck import gradcheck

import zeronet as zn
from zeronet.data import sine
from zeronet.seed_networks import SINE


def away_from_zero(rng: np.random.Generator, shape: tuple[int, ...], margin: float = 0.1):
    """Values in +-[margin, 1): no ReLU input within ``margin`` of the kink at 0."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(margin, 1.0, size=shape)


def min_abs_preactivation(model: zn.nn.Sequential, x: np.ndarray) -> float:
    """Smallest |input| of any ReLU of ``model`` on ``x`` (finite differences need it >> h)."""
    smallest = np.inf
    for layer in model:
        if isinstance(layer, zn.nn.ReLU):
            smallest = min(smallest, float(np.abs(x).min()))
        x = layer(x)
    return smallest


def check_layer(layer: zn.nn.Module, x: np.ndarray, rng: np.random.Generator) -> None:
    """gradcheck of ``layer`` under L = sum(upstream * layer(x)): dL/dx and every parameter."""
    upstream = rng.normal(size=layer(x).shape)
    layer.zero_grad()
    layer(x)
    grad_x = layer.backward(upstream)
    pairs = [(x, grad_x)] + [(p.data, p.grad) for p in layer.parameters()]
    gradcheck(lambda: float(np.sum(upstream * layer(x))), pairs)


def check_net(model: zn.nn.Sequential, loss_fn, x: np.ndarray, target: np.ndarray) -> None:
    """gradcheck of L = loss_fn(model(x), target): dL/dx and every parameter of the network."""
    assert min_abs_preactivation(model, x) > 1e-4  # every ReLU stays on one side while p +- h
    model.zero_grad()
    loss_fn(model(x), target)
    grad_x = model.backward(loss_fn.backward(), input_grad=True)
    pairs = [(x, grad_x)] + [(p.data, p.grad) for p in model.parameters()]
    gradcheck(lambda: loss_fn(model(x), target), pairs)


@pytest.mark.parametrize("bias", [True, False])
def test_linear(bias: bool) -> None:
    rng = np.random.default_rng(0)
    check_layer(zn.nn.Linear(4, 3, bias=bias, rng=rng), rng.normal(size=(5, 4)), rng)


def test_relu_away_from_the_kink() -> None:
    rng = np.random.default_rng(1)
    check_layer(zn.nn.ReLU(), away_from_zero(rng, (6, 7)), rng)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse(reduction: str) -> None:
    rng = np.random.default_rng(2)
    output, target = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    loss_fn = zn.nn.MSELoss(reduction)
    loss_fn(output, target)
    gradcheck(lambda: loss_fn(output, target), [(output, loss_fn.backward())])


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("target_kind", ["index", "probability"])
def test_cross_entropy(reduction: str, target_kind: str) -> None:
    rng = np.random.default_rng(3)
    logits = 3 * rng.normal(size=(6, 4))
    if target_kind == "index":
        target = rng.integers(0, 4, size=6)
    else:
        target = rng.dirichlet(np.ones(4), size=6)
    loss_fn = zn.nn.CrossEntropyLoss(reduction)
    loss_fn(logits, target)
    gradcheck(lambda: loss_fn(logits, target), [(logits, loss_fn.backward())])


def test_sine_net_of_the_seed() -> None:
    """Table 1-1: 1-16-16-16-16-1 with ReLUs, MSE on 8 points of the seed's curve (not its data)."""
    rng = np.random.default_rng(4)
    model = zn.nn.relu_mlp(SINE.sizes, rng=rng)
    x = rng.uniform(sine.LOW, sine.HIGH, size=(8, 1))
    check_net(model, zn.nn.MSELoss(), x, sine.targets(x))


def test_mnist_shaped_net() -> None:
    """784 -> 16 -> 16 -> 10 with ReLUs and cross-entropy on class indices (cf. table 2-4)."""
    rng = np.random.default_rng(5)
    model = zn.nn.relu_mlp((784, 16, 16, 10), rng=rng)
    x = rng.uniform(0, 1, size=(3, 784))
    check_net(model, zn.nn.CrossEntropyLoss(), x, rng.integers(0, 10, size=3))
