"""Linear, ReLU and Sequential against torch.nn: forward, dL/dW, dL/db, dL/dx.

Tolerance (from tests/parity.py): float64 rtol = atol = 1e-12, because both
sides round each product and sum once and differ only in summation order
(OpenBLAS vs MKL), ~1e-16 relative per term; measured max |a - e| / (1 + |e|)
is below 6e-15 in every case here (Linear 5e-15, sine net 5e-15, MNIST net
2e-15). float32: torch.testing's defaults (measured need: 2.7e-6 of the
1e-5 atol for Linear; the sine net's 16x1 last-layer gradient, of order 20,
used 1.5e-5 of its 3.7e-5 allowance).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers.parity import (
    DTYPES,
    MNIST_SIZES,
    SINE_SIZES,
    assert_report,
    build_net,
    helper_layer,
    helper_model,
    normal,
    sine_sample,
)

import zeronet as zn
from reference import mirror
from reference.compare import assert_close, default_tolerance

# (batch, in_features, out_features): batch 1, width 1, 1->16, 784->10, non-square
SHAPES = [(1, 1, 1), (1, 5, 3), (7, 1, 16), (9, 16, 1), (64, 784, 10), (10, 3, 7), (10, 7, 3),
          (32, 16, 16)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize(("n", "fan_in", "fan_out"), SHAPES)
def test_linear(n, fan_in, fan_out, bias, dtype):
    helper_layer(lambda rng: zn.nn.Linear(fan_in, fan_out, bias, dtype=dtype, rng=rng), n, fan_in,
                 dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("n", "width"), [(1, 1), (1, 16), (64, 10), (100, 784)])
def test_relu(n, width, dtype):
    helper_layer(lambda rng: zn.nn.ReLU(), n, width, dtype, zeros=True)  # x == 0: grad 0, as torch


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
def test_linear_without_input_grad(bias, dtype):
    report = helper_layer(lambda rng: zn.nn.Linear(7, 3, bias, dtype=dtype, rng=rng), 10, 7,
                          dtype, input_grad=False)  # asserts backward returned None
    assert "grad_x" not in report.differences
    assert "grad[weight]" in report.differences


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_without_input_grad(dtype):
    layer = zn.nn.ReLU()
    layer(np.ones((2, 3), dtype=dtype))
    assert layer.backward(np.ones((2, 3), dtype=dtype), input_grad=False) is None


@pytest.mark.parametrize("dtype", DTYPES)
def test_sine_net(dtype):
    x, y = sine_sample(dtype, n=100)
    helper_model(SINE_SIZES, zn.nn.MSELoss(), x, y)


@pytest.mark.parametrize("dtype", DTYPES)
def test_mnist_net(dtype):
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, (100, 784)).astype(dtype)  # pixel-like inputs
    helper_model(MNIST_SIZES, zn.nn.CrossEntropyLoss(), x, rng.integers(0, 10, 100))


@pytest.mark.parametrize("dtype", DTYPES)
def test_mnist_net_without_input_grad(dtype):
    rng = np.random.default_rng(4)
    x = rng.uniform(0, 1, (50, 784)).astype(dtype)
    report = helper_model(MNIST_SIZES, zn.nn.CrossEntropyLoss(), x, rng.integers(0, 10, 50),
                          input_grad=False)
    assert "grad_x" not in report.differences
    assert "grad[0.weight]" in report.differences


@pytest.mark.parametrize("dtype", DTYPES)
def test_gradients_accumulate_like_torch(dtype):
    """Two backward passes without zero_grad add up, as torch's .grad does."""
    rng = np.random.default_rng(5)
    model = build_net((7, 5, 3), dtype, rng)
    torch_model = mirror(model)
    for _ in range(2):
        x, grad_out = normal(rng, (4, 7), dtype), normal(rng, (4, 3), dtype)
        model(x)
        model.backward(grad_out)
        torch_model(torch.from_numpy(x)).backward(torch.from_numpy(grad_out))
    rtol, atol = default_tolerance(dtype)
    for (name, p), tp in zip(model.named_parameters(), torch_model.parameters(), strict=True):
        assert_close(p.grad, tp.grad, rtol=rtol, atol=atol, name=f"{name}.grad")


@pytest.mark.parametrize("dtype", DTYPES)
def test_zero_grad_sets_none(dtype):
    model = build_net((3, 2), dtype, np.random.default_rng(0))
    model(np.ones((1, 3), dtype=dtype))
    model.backward(np.ones((1, 2), dtype=dtype))
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_relu_mlp_is_the_network_written_out_by_hand():
    """Same layers, same names and, from one seeded Generator, the same weights."""
    model = zn.nn.relu_mlp((784, 16, 10), dtype=np.float32, rng=np.random.default_rng(3))
    rng = np.random.default_rng(3)
    by_hand = zn.nn.Sequential(zn.nn.Linear(784, 16, dtype=np.float32, rng=rng), zn.nn.ReLU(),
                               zn.nn.Linear(16, 10, dtype=np.float32, rng=rng))
    assert [type(m) for m in model] == [type(m) for m in by_hand]
    expected = by_hand.state_dict()
    for name, value in model.state_dict().items():  # same draws: bit for bit
        np.testing.assert_array_equal(value, expected[name], err_msg=name)
    assert model.state_dict().keys() == expected.keys()


def test_zero_grad_of_model_and_optimizer_clear_in_place_when_asked():
    model = build_net((3, 2), np.float64, np.random.default_rng(0))
    optimizer = zn.optim.SGD(model.parameters(), lr=0.1)
    for clear in (model.zero_grad, optimizer.zero_grad):
        model(np.ones((1, 3)))
        model.backward(np.ones((1, 2)))
        grads = [p.grad for p in model.parameters()]
        clear(set_to_none=False)
        assert all(p.grad is g and not g.any() for p, g in zip(model.parameters(), grads,
                                                               strict=True))


def test_report_lists_every_tensor():
    """The helper really compares output, loss and every gradient (guards the harness)."""
    x, y = sine_sample(np.float64, n=10)
    report = helper_model(SINE_SIZES, zn.nn.MSELoss(), x, y)
    names = {"output", "loss", "grad_x"} | {f"grad[{i}.{p}]" for i in (0, 2, 4, 6, 8)
                                            for p in ("weight", "bias")}
    assert set(report.differences) == names
    assert_report(report, np.float64)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sequential_computes_dl_dx_only_when_asked(dtype):
    """The model's input is data: no dL/dx unless asked (as torch's requires_grad=False);
    a single layer's backward, as the seed's hand-written chain calls it, returns it."""
    rng = np.random.default_rng(11)
    model = build_net((5, 4, 3), dtype, rng)
    x, grad_out = normal(rng, (6, 5), dtype), normal(rng, (6, 3), dtype)
    model(x)
    assert model.backward(grad_out) is None
    natural = [p.grad.copy() for p in model.parameters()]
    model.zero_grad()
    model(x)
    grad_x = model.backward(grad_out, input_grad=True)
    for p, g in zip(model.parameters(), natural, strict=True):  # the same parameter gradients
        np.testing.assert_array_equal(p.grad, g)
    model(x)  # a second backward needs a second forward, as in torch
    by_hand = grad_out
    for layer in reversed(model.layers):  # seed figs. 1-4, 1-8, 1-12
        by_hand = layer.backward(by_hand)
    np.testing.assert_array_equal(grad_x, by_hand)
    assert grad_x.shape == x.shape
