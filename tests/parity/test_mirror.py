"""The reference package: the bridge (mirror, from_torch, mirror_loss,
mirror_optimizer) and the comparison API (reference.compare) the parity
tests stand on.

Weights cross the bridge as copies of the same float64/float32 bits, so
every comparison of the bridge is exact (no tolerance).
"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
import torch
from helpers.parity import DTYPES, MNIST_SIZES, SINE_SIZES, build_net

import reference.compare as compare_module
import zeronet as zn
from reference import from_torch, mirror, mirror_loss, mirror_optimizer, torch_dtype
from reference.compare import (
    assert_close,
    compare,
    compare_gradients,
    compare_optimizer,
    default_tolerance,
)


def assert_same_weights(model: zn.nn.Sequential, torch_model: torch.nn.Sequential) -> None:
    ours = model.state_dict()
    theirs = {k: v.detach().numpy() for k, v in torch_model.state_dict().items()}
    assert list(ours) == list(theirs)
    for key, value in ours.items():
        assert value.shape == theirs[key].shape, key
        assert value.dtype == theirs[key].dtype, key
        np.testing.assert_array_equal(value, theirs[key], err_msg=key)  # bit for bit


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sizes", [SINE_SIZES, MNIST_SIZES, (3, 7)], ids=["sine", "mnist", "one"])
def test_mirror_round_trip(sizes, dtype):
    model = build_net(sizes, dtype, np.random.default_rng(0))
    torch_model = mirror(model)
    assert isinstance(torch_model, torch.nn.Sequential)
    assert [type(m).__name__ for m in torch_model] == [type(m).__name__ for m in model]
    assert all(p.dtype == torch_dtype(dtype) for p in torch_model.parameters())
    assert_same_weights(model, torch_model)
    back = from_torch(torch_model)
    assert [type(m) for m in back] == [type(m) for m in model]
    assert_same_weights(back, torch_model)


def test_mirror_copies_the_weights():
    """Mirror and original do not share memory: training one leaves the other alone."""
    model = build_net((3, 2), np.float64, np.random.default_rng(0))
    torch_model = mirror(model)
    with torch.no_grad():
        torch_model[0].weight += 1
    assert not np.array_equal(model[0].weight.data, torch_model[0].weight.detach().numpy())
    back = from_torch(torch_model)
    back[0].weight.data += 1
    assert not np.array_equal(back[0].weight.data, torch_model[0].weight.detach().numpy())


@pytest.mark.parametrize("dtype", DTYPES)
def test_mirror_linear_without_bias(dtype):
    rng = np.random.default_rng(1)
    model = zn.nn.Sequential(zn.nn.Linear(4, 3, bias=False, dtype=dtype, rng=rng), zn.nn.ReLU(),
                             zn.nn.Linear(3, 2, dtype=dtype, rng=rng))
    torch_model = mirror(model)
    assert torch_model[0].bias is None
    assert torch_model[2].bias is not None
    assert list(torch_model.state_dict()) == ["0.weight", "2.weight", "2.bias"]
    assert_same_weights(model, torch_model)
    back = from_torch(torch_model)
    assert back[0].bias is None
    assert_same_weights(back, torch_model)


def test_from_torch_of_torch_initialised_model():
    torch.manual_seed(0)
    torch_model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    model = from_torch(torch_model)
    assert model[0].weight.dtype == np.float32
    assert_same_weights(model, torch_model)


def test_mirror_rejects_non_sequential():
    with pytest.raises(TypeError, match=r"model: expected a zeronet\.nn\.Sequential"):
        mirror(zn.nn.Linear(2, 2, rng=np.random.default_rng(0)))
    with pytest.raises(TypeError, match=r"torch_model: expected a torch\.nn\.Sequential"):
        from_torch(torch.nn.Linear(2, 2))


def test_mirror_rejects_unsupported_layer():
    class Square(zn.nn.Module):
        def forward(self, x):
            return x * x

    model = zn.nn.Sequential(zn.nn.Linear(2, 2, rng=np.random.default_rng(0)), Square())
    with pytest.raises(TypeError, match=r"model\[1\]: expected Linear or ReLU, got Square"):
        mirror(model)
    with pytest.raises(TypeError, match=r"torch_model\[1\]: expected Linear or ReLU, got Tanh"):
        from_torch(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Tanh()))


def test_mirror_rejects_mixed_dtypes():
    rng = np.random.default_rng(0)
    model = zn.nn.Sequential(zn.nn.Linear(2, 3, dtype=np.float64, rng=rng), zn.nn.ReLU(),
                             zn.nn.Linear(3, 1, dtype=np.float32, rng=rng))
    with pytest.raises(TypeError, match="one dtype"):
        mirror(model)
    mixed = torch.nn.Sequential(torch.nn.Linear(2, 3).double(), torch.nn.Linear(3, 1))
    with pytest.raises(TypeError, match="one dtype"):
        from_torch(mixed)
    with pytest.raises(TypeError, match="float32 or float64"):
        from_torch(torch.nn.Sequential(torch.nn.Linear(2, 3).half()))


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mirror_loss(reduction):
    mse = mirror_loss(zn.nn.MSELoss(reduction))
    ce = mirror_loss(zn.nn.CrossEntropyLoss(reduction))
    assert isinstance(mse, torch.nn.MSELoss)
    assert mse.reduction == reduction
    assert isinstance(ce, torch.nn.CrossEntropyLoss)
    assert ce.reduction == reduction
    # torch defaults that zeronet does not expose must stay at their neutral values
    assert ce.label_smoothing == 0.0
    assert ce.weight is None
    assert ce.ignore_index == -100
    with pytest.raises(TypeError, match="loss_fn"):
        mirror_loss(torch.nn.MSELoss())


OPTIMIZERS = [
    (lambda ps: zn.optim.SGD(ps, lr=0.1), {"lr": 0.1, "momentum": 0.0, "dampening": 0.0,
                                          "weight_decay": 0.0, "nesterov": False}),
    (lambda ps: zn.optim.SGD(ps, lr=0.02, momentum=0.9, dampening=0.1, weight_decay=1e-3),
     {"lr": 0.02, "momentum": 0.9, "dampening": 0.1, "weight_decay": 1e-3, "nesterov": False}),
    (lambda ps: zn.optim.SGD(ps, lr=0.02, momentum=0.9, nesterov=True),
     {"lr": 0.02, "momentum": 0.9, "nesterov": True}),
    (lambda ps: zn.optim.Adam(ps), {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8,
                                    "weight_decay": 0.0, "amsgrad": False}),
    (lambda ps: zn.optim.Adam(ps, lr=0.009, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1,
                              amsgrad=True),
     {"lr": 0.009, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1, "amsgrad": True}),
]


@pytest.mark.parametrize(("make", "expected"), OPTIMIZERS)
def test_mirror_optimizer(make, expected):
    model = build_net((3, 2), np.float64, np.random.default_rng(0))
    torch_model = mirror(model)
    optimizer = mirror_optimizer(make(model.parameters()), list(torch_model.parameters()))
    assert type(optimizer).__name__ == type(make(model.parameters())).__name__
    group = optimizer.param_groups[0]
    assert {k: group[k] for k in expected} == expected
    # the single-tensor path, whose order of operations zeronet follows; no torch-only extras
    assert group["foreach"] is False
    assert group["maximize"] is False
    assert not group.get("fused")
    assert not group.get("decoupled_weight_decay", False)
    assert group["params"] == list(torch_model.parameters())


def test_mirror_optimizer_rejects_other_types():
    with pytest.raises(TypeError, match="optimizer"):
        mirror_optimizer(object(), [])


# ---------------------------------------------------------------- reference.compare itself

def test_assert_close_passes_within_and_fails_beyond_tolerance():
    expected = np.array([[1.0, -2.0], [0.0, 3.0]])
    assert_close(expected * (1 + 1e-13), expected)  # rtol 1e-12
    assert_close(torch.from_numpy(expected + 1e-13), expected)  # tensors welcome; atol 1e-12
    actual = expected.copy()
    actual[1, 1] += 1e-9
    actual[0, 0] += 5e-12  # allowed there: 1e-12 + 1e-12 * 1
    with pytest.raises(AssertionError) as err:
        assert_close(actual, expected, name="grad[0.weight]")
    message = str(err.value)
    for part in ("grad[0.weight]", "2 of 4 elements", "index (1, 1)", "expected=3,",
                 "rtol=1e-12", "atol=1e-12", "float64", "(2, 2)"):
        assert part in message, (part, message)


def test_assert_close_refuses_shape_and_dtype_mismatch():
    with pytest.raises(AssertionError, match=r"shape mismatch: actual \(3,\) vs expected \(3, 1\)"):
        assert_close(np.zeros(3), np.zeros((3, 1)))
    with pytest.raises(AssertionError, match="dtype mismatch: actual float32 vs expected float64"):
        assert_close(np.zeros(3, np.float32), torch.zeros(3, dtype=torch.float64))


def test_assert_close_nan_and_inf():
    assert_close(np.array([np.inf, -np.inf]), np.array([np.inf, -np.inf]))
    with pytest.raises(AssertionError):
        assert_close(np.array([np.inf]), np.array([-np.inf]))
    with pytest.raises(AssertionError):
        assert_close(np.array([1.0]), np.array([np.inf]))
    with pytest.raises(AssertionError):
        assert_close(np.array([np.nan]), np.array([np.nan]))
    assert_close(np.array([np.nan]), np.array([np.nan]), equal_nan=True)


def test_default_tolerance():
    assert default_tolerance(np.float64) == (1e-12, 1e-12)
    assert default_tolerance(torch.float32) == (1.3e-6, 1e-5)  # torch.testing's
    assert default_tolerance(np.int64) == (0.0, 0.0)
    assert_close(np.float32(1) + np.float32(1e-6), np.float32(1))  # float32 defaults apply


def test_compare_gradients_on_a_users_own_numpy_network():
    """The module docstring's example runs, passes, and catches a wrong gradient."""
    example = compare_module.__doc__.split("(no zeronet)::")[1].split("Tolerances:")[0]
    namespace: dict = {}
    exec(textwrap.dedent(example).replace("report.check()", ""), namespace)
    report = namespace["report"]
    assert {k for k in report.differences if ": " not in k} == {  # the probes' have a prefix
        "output", "loss", "grad_x", "grad[0.weight]", "grad[0.bias]", "grad[2.weight]",
        "grad[2.bias]"}
    assert not report.findings
    report.check()

    def wrong(p, x, y):  # forgets the ReLU's mask when backpropagating into the first bias
        output, loss, grads, grad_x = namespace["forward_backward"](p, x, y)
        g = (2 * (output - y) / output.size) @ p["2.weight"]
        return output, loss, {**grads, "0.bias": g.sum(0)}, grad_x

    with pytest.raises(AssertionError, match=r"^mismatch at grad\[0\.bias\]: "):
        compare_gradients(wrong, namespace["net"], namespace["x"], namespace["y"],
                          torch.nn.MSELoss()).check()


def test_compare_optimizer_on_a_users_own_sgd():
    rng = np.random.default_rng(0)
    params = {"w": rng.normal(size=(3, 2)), "b": rng.normal(size=2)}
    grads = [{"w": rng.normal(size=(3, 2)), "b": None if i == 2 else rng.normal(size=2)}
             for i in range(5)]
    buffers: dict[str, np.ndarray] = {}

    def momentum_sgd(values, g):
        for k, grad in g.items():
            if grad is not None:
                buffers[k] = grad.copy() if k not in buffers else 0.9 * buffers[k] + grad
                values[k] -= 0.1 * buffers[k]

    report = compare_optimizer(
        momentum_sgd, lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9), params, grads,
        state=lambda: {k: {"momentum_buffer": v} for k, v in buffers.items()})
    assert "state[w].momentum_buffer" in report.differences
    report.check()
    with pytest.raises(ValueError, match="keys"):
        compare({"a": np.zeros(1)}, {"b": np.zeros(1)})
