"""One test per erratum of the seed report (docs/seed-errata.md has the list).

Each test shows what is correct (zeronet, against torch or finite
differences) and that the seed's formula, reproduced in
``zeronet_study.runs.seed_formulas``, gives something else. Tolerances are float64
ones: rtol 1e-12 where both sides evaluate the same formula in a different
order; the finite-difference tolerance is explained in test_gradcheck.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers.gradcheck import gradcheck
from helpers.mnist import mnist_dir

import zeronet as zn
from reference import mirror_optimizer
from zeronet.data import sine
from zeronet.seed_networks import SINE
from zeronet_study.runs.seed_formulas import (
    SeedAdam,
    SeedCrossEntropyLoss,
    SeedLinear,
    SeedReLU,
    seed_encode_onehot,
    seed_epoch_train_loss,
    seed_kaiming_bounds,
    seed_kaiming_uniform_,
    seed_mse_gradient,
    seed_softmax,
    seed_zero_init_,
)

SINE_SIZES = SINE.sizes  # table 1-1


def sine_sample(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points of section 2.1.1's curve drawn from ``rng`` (not the seed's data set)."""
    x = rng.uniform(sine.LOW, sine.HIGH, size=(n, 1))
    return x, sine.targets(x)


# (a) Adam's bias correction, fig. 2-9


def adam_steps(optimizer_type: type, grad: float, steps: int) -> np.ndarray:
    """Parameter changes of a scalar parameter under a constant gradient, eps = 0."""
    p = zn.nn.Parameter(np.zeros(1))
    optimizer = optimizer_type([p], lr=1.0, eps=0.0)
    changes = []
    for _ in range(steps):
        before = p.data.copy()
        p.grad = np.full(1, grad)
        optimizer.step()
        changes.append((p.data - before)[0])
    return np.array(changes)


def test_adam_bias_correction_uses_step_count_not_constant() -> None:
    # zeronet's Adam is torch's (five steps on a small net's gradients).
    rng = np.random.default_rng(0)
    p = zn.nn.Parameter(rng.normal(size=(3, 2)))
    optimizer = zn.optim.Adam([p], lr=0.01)
    p_t = torch.nn.Parameter(torch.from_numpy(p.data.copy()))
    optimizer_t = mirror_optimizer(optimizer, [p_t])
    for _ in range(5):
        grad = rng.normal(size=p.shape)
        p.grad, p_t.grad = grad, torch.from_numpy(grad.copy())
        optimizer.step()
        optimizer_t.step()
    np.testing.assert_allclose(p.data, p_t.detach().numpy(), rtol=1e-12, atol=1e-15)

    # Constant gradient: the correct step is exactly lr every time (m_hat = g, v_hat = g^2).
    t = np.arange(1, 3001)
    np.testing.assert_allclose(adam_steps(zn.optim.Adam, 0.5, 3000), -1.0, rtol=1e-12)
    # The seed's step is lr (1 - b1^t)/(1 - b1) / sqrt((1 - b2^t)/(1 - b2)) instead:
    seed = adam_steps(SeedAdam, 0.5, 3000)
    expected = -(1 - 0.9**t) / 0.1 / np.sqrt((1 - 0.999**t) / 0.001)
    np.testing.assert_allclose(seed, expected, rtol=1e-12)
    assert seed[0] == pytest.approx(-1.0, rel=1e-15)  # agrees at t = 1 only,
    assert seed[9] == pytest.approx(-2.06, abs=0.01)  # twice too large around t = 10,
    assert np.sqrt(0.001) / 0.1 == pytest.approx(0.316, abs=1e-3)  # -> 0.316x as t grows
    assert seed[-1] == pytest.approx(-0.324, abs=1e-3)


# (b) CE gradient precedence, fig. 1-11


def test_ce_gradient_is_softmax_minus_target_over_n_not_precedence_error() -> None:
    rng = np.random.default_rng(1)
    logits, target = rng.normal(size=(8, 5)), rng.integers(0, 5, size=8)
    loss_fn, seed_fn = zn.nn.CrossEntropyLoss(), SeedCrossEntropyLoss()
    loss_fn(logits, target)
    grad = loss_fn.backward()
    logits_t = torch.from_numpy(logits.copy()).requires_grad_()
    torch.nn.functional.cross_entropy(logits_t, torch.from_numpy(target)).backward()
    np.testing.assert_allclose(grad, logits_t.grad.numpy(), rtol=1e-12, atol=1e-15)

    assert seed_fn(logits, target) == loss_fn(logits, target)  # the seed's loss is right
    seed_grad = seed_fn.backward()
    one_hot = np.eye(5)[target]
    softmax = np.exp(zn.nn.log_softmax(logits))
    np.testing.assert_allclose(seed_grad, softmax - one_hot / 8, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(grad, (softmax - one_hot) / 8, rtol=1e-12, atol=1e-15)
    # Correct rows sum to 0 (softmax shifts are invisible); the seed's to 1 - 1/N.
    np.testing.assert_allclose(grad.sum(axis=1), 0.0, atol=1e-15)
    np.testing.assert_allclose(seed_grad.sum(axis=1), 1 - 1 / 8, rtol=1e-12)


def test_seed_ce_gradient_descends_an_unbounded_objective() -> None:
    """softmax(z) - y/N is the gradient of logsumexp(z) - z_y / N, unbounded below.

    Descending it lowers every logit together without limit (the loss
    itself is blind to that shift) and pulls the target class up with only
    weight 1/N: gradient steps on the logits raise the true loss.
    """
    rng = np.random.default_rng(2)
    n = 10
    logits, target = rng.normal(size=(n, 4)), rng.integers(0, 4, size=n)
    rows = np.arange(n)

    def seed_objective() -> float:
        shift = logits.max(axis=1)
        lse = shift + np.log(np.exp(logits - shift[:, None]).sum(axis=1))
        return float(np.sum(lse - logits[rows, target] / n))

    seed_mean = SeedCrossEntropyLoss()
    seed_mean(logits, target)
    gradcheck(seed_objective, [(logits, seed_mean.backward())])

    loss_fn = zn.nn.CrossEntropyLoss()
    z = logits.copy()
    start = loss_fn(z, target)
    for _ in range(50):
        seed_mean(z, target)
        z -= 10.0 * seed_mean.backward()
    assert loss_fn(z, target) > start  # the true loss went up
    assert z.mean() < logits.mean() - 5  # every logit drifted down


# (c) softmax from raw exponentials, figs. 1-9 and 1-11


@pytest.mark.parametrize("logits", [[[1e4, 0.0, -1e4]], [[-1e4, -1e4 + 1.0, -1e4 - 1.0]]],
                         ids=["overflow", "underflow"])
def test_softmax_is_stable_for_logits_1e4(logits: list[list[float]]) -> None:
    z = np.array(logits)
    target = np.array([1])
    loss_fn, seed_fn = zn.nn.CrossEntropyLoss(), SeedCrossEntropyLoss()
    loss = loss_fn(z, target)
    grad = loss_fn.backward()
    z_t = torch.from_numpy(z.copy()).requires_grad_()
    loss_t = torch.nn.functional.cross_entropy(z_t, torch.from_numpy(target))
    loss_t.backward()
    assert loss == pytest.approx(loss_t.item(), rel=1e-12)
    np.testing.assert_allclose(grad, z_t.grad.numpy(), rtol=1e-12, atol=1e-15)

    assert np.isfinite(np.exp(zn.nn.log_softmax(z))).all()
    assert np.isnan(seed_softmax(z)).any()  # raw exp: inf/inf (overflow) or 0/0 (underflow)
    assert seed_fn(z, target) == loss  # the seed's loss uses a stable log-softmax,
    assert np.isnan(seed_fn.backward()).any()  # its gradient the raw one


# (d) Kaiming's fan, fig. 2-10


def test_kaiming_fan_in_is_input_dimension() -> None:
    layer = zn.nn.Linear(784, 16, rng=np.random.default_rng(3))
    correct = math.sqrt(2.0) * math.sqrt(3.0 / 784)
    assert zn.init.kaiming_uniform_bound(layer.weight, nonlinearity="relu") == pytest.approx(
        correct, rel=1e-15)
    w_t = torch.empty(16, 784, dtype=torch.float64)  # torch's layout (out, in), fan_in = 784
    torch.nn.init.kaiming_uniform_(w_t, nonlinearity="relu",
                                   generator=torch.Generator().manual_seed(0))
    assert 0.99 * correct < w_t.abs().max().item() <= correct

    bound_w, bound_b = seed_kaiming_bounds(layer)
    assert bound_w == pytest.approx(math.sqrt(6 / 16), rel=1e-15)  # fan = 16 = out_features
    assert bound_w / correct == pytest.approx(7.0, rel=1e-12)  # sqrt(784 / 16)
    assert bound_b == pytest.approx(1 / 4, rel=1e-15)  # torch's Linear bias: 1/sqrt(784)

    # Consequence: a layer's pre-activations should keep Var = gain^2 Var(x) = 2; the seed's
    # first MNIST layer gives 2 * 784 / 16 = 98.
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2000, 784))
    zn.init.kaiming_uniform_(layer.weight, nonlinearity="relu", rng=rng)
    zn.init.zeros_(layer.bias)
    assert 1.7 < layer(x).var() < 2.3
    seed_kaiming_uniform_(layer, rng=rng)
    zn.init.zeros_(layer.bias)
    assert 85 < layer(x).var() < 111


# (e) Linear's parameter gradients divided by N twice, fig. 1-4


def test_weight_gradient_not_divided_by_n_twice() -> None:
    n = 20
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(n, 3)), rng.normal(size=(n, 2))
    layer = zn.nn.Linear(3, 2, rng=rng)
    seed_layer = SeedLinear(3, 2, rng=np.random.default_rng(0))
    seed_layer.load_state_dict(layer.state_dict())
    loss_fn = zn.nn.MSELoss()
    loss_fn(layer(x), y)
    grad_x = layer.backward(loss_fn.backward())
    loss_fn(seed_layer(x), y)
    seed_grad_x = seed_layer.backward(loss_fn.backward())

    torch_layer = torch.nn.Linear(3, 2, dtype=torch.float64)
    torch_layer.load_state_dict({k: torch.from_numpy(v) for k, v in layer.state_dict().items()})
    x_t = torch.from_numpy(x.copy()).requires_grad_()
    torch.nn.functional.mse_loss(torch_layer(x_t), torch.from_numpy(y)).backward()
    np.testing.assert_allclose(layer.weight.grad, torch_layer.weight.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.bias.grad, torch_layer.bias.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(grad_x, x_t.grad.numpy(), rtol=1e-12, atol=1e-16)

    np.testing.assert_allclose(seed_layer.weight.grad, layer.weight.grad / n, rtol=1e-12)
    np.testing.assert_allclose(seed_layer.bias.grad, layer.bias.grad / n, rtol=1e-12)
    np.testing.assert_array_equal(seed_grad_x, grad_x)  # the propagated gradient is not divided

    # Consequence: SGD at lr with the seed's layer is SGD at lr / N with the correct one.
    zn.optim.SGD(layer.parameters(), lr=0.1 / n).step()
    zn.optim.SGD(seed_layer.parameters(), lr=0.1).step()
    np.testing.assert_allclose(seed_layer.weight.data, layer.weight.data, rtol=1e-12)


# (f) eq. 1-25


def test_eq_1_25_is_not_mse_gradient() -> None:
    rng = np.random.default_rng(6)
    output, target = rng.normal(size=(1, 4)), rng.normal(size=(1, 4))
    loss_fn = zn.nn.MSELoss()
    loss = loss_fn(output, target)
    grad = loss_fn.backward()
    gradcheck(lambda: loss_fn(output, target), [(output, grad)])
    np.testing.assert_allclose(grad, 2 / 4 * (output - target), rtol=1e-15)  # fig. 1-10 is right

    literal = seed_mse_gradient(output, target)
    assert np.all(literal == literal[0, 0])  # the same number for every output j,
    assert literal[0, 0] == pytest.approx(2 * loss, rel=1e-15)  # twice the loss,
    assert (literal > 0).all()  # never negative: no sign information,
    assert (grad < 0).any()  # where the true gradient has both signs
    assert not np.allclose(literal, grad)


# Other errata


def test_relu_backward_does_not_mutate_incoming_grad() -> None:
    x = np.array([[-1.0, 2.0, 0.0, 3.0]])
    upstream = np.array([[5.0, 6.0, 7.0, 8.0]])
    relu, seed_relu = zn.nn.ReLU(), SeedReLU()
    relu(x)
    kept = upstream.copy()
    np.testing.assert_array_equal(relu.backward(upstream), [[0.0, 6.0, 0.0, 8.0]])
    np.testing.assert_array_equal(upstream, kept)  # caller's array intact
    seed_relu(x)
    returned = seed_relu.backward(upstream)
    np.testing.assert_array_equal(upstream, [[0.0, 6.0, 0.0, 8.0]])  # the seed's overwrote it
    assert returned is upstream


def test_eq_1_1_weight_matrix_is_d_in_by_d_out() -> None:
    """x (1 x D_{k-1}) W + b (1 x D_k) needs W of D_{k-1} x D_k; eq. 1-1 writes D_{k-1} square."""
    layer = zn.nn.Linear(3, 5, rng=np.random.default_rng(7))
    assert layer.weight.data.T.shape == (3, 5)  # the seed's W is zeronet's W^T
    x = np.ones((1, 3))
    with pytest.raises(ValueError, match="broadcast"):
        np.ones((1, 3)) @ np.ones((3, 3)) + np.ones(5)  # a square W cannot meet b in R^{D_k}
    assert layer(x).shape == (1, 5)


def test_eq_1_5_and_eq_1_24_define_different_losses() -> None:
    """Eq. 1-5 (half the sum of squares) has gradient z - t; eq. 1-24 (mean): 2/(ND) (z - t)."""
    rng = np.random.default_rng(8)
    n, d = 100, 1  # the sine experiment's batch
    output, target = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    half_sse, mse = zn.nn.MSELoss("sum"), zn.nn.MSELoss("mean")
    assert half_sse(output, target) / 2 == pytest.approx(n * d / 2 * mse(output, target))
    grad_eq_1_5 = half_sse.backward() / 2  # eq. 1-11: -(t - z) = z - t
    np.testing.assert_allclose(grad_eq_1_5, output - target, rtol=1e-15)
    np.testing.assert_allclose(mse.backward(), 2 / (n * d) * grad_eq_1_5, rtol=1e-15)


def test_train_loss_divided_by_10_is_mean_only_with_10_batches() -> None:
    sine = zn.data.DataLoader(np.zeros((1000, 1)), np.zeros((1000, 1)), batch_size=100)
    mnist = zn.data.DataLoader(np.zeros((60000, 1)), np.zeros(60000), batch_size=1000)
    assert len(sine) == 10
    assert len(mnist) == 60
    sine_losses, mnist_losses = [0.5] * len(sine), [0.5] * len(mnist)
    assert seed_epoch_train_loss(sine_losses) == pytest.approx(np.mean(sine_losses))
    assert seed_epoch_train_loss(mnist_losses) == pytest.approx(6 * np.mean(mnist_losses))


def test_mnist_train_set_has_60000_images_not_6000() -> None:
    labels = zn.data.read_idx(mnist_dir() / "train-labels-idx1-ubyte.gz")
    assert labels.shape == (60000,)


def test_fig_2_17_x_train_must_be_flattened_too() -> None:
    """Only x_test is reshaped to 784 columns; a (B, 28, 28) batch cannot enter Linear(784, 16)."""
    rng = np.random.default_rng(9)
    images = rng.integers(0, 256, size=(4, 28, 28)).astype(np.uint8) / 255.0
    layer = zn.nn.Linear(784, 16, rng=rng)
    with pytest.raises(ValueError, match=r"x: expected a 2-D array, got shape \(4, 28, 28\)"):
        layer(images)
    with pytest.raises(ValueError, match="shapes"):
        np.dot(images, layer.weight.data.T)  # the seed's forward, fig. 1-3, fails too
    assert layer(images.reshape(4, 784)).shape == (4, 16)


def test_zero_init_trains_only_the_last_bias() -> None:
    """Fig. 1-2's zeros: every weight gradient is 0, so SGD can only fit a constant.

    The best constant has MSE = Var(y) ~ 1.2e3 on the sine data, fifty times
    table 2-2's train loss of 23.5: that baseline cannot come from this init.
    """
    rng = np.random.default_rng(10)
    x, y = sine_sample(rng, 1000)
    model = zn.nn.relu_mlp(SINE_SIZES, rng=rng)
    for layer in model:
        if isinstance(layer, zn.nn.Linear):
            seed_zero_init_(layer)
    loss_fn, optimizer = zn.nn.MSELoss(), zn.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(100):
        model.zero_grad()
        loss_fn(model(x), y)
        model.backward(loss_fn.backward(), input_grad=False)
        *frozen, last_bias = model.parameters()
        assert all(not p.grad.any() for p in frozen)
        assert last_bias.grad.any()
        optimizer.step()
    assert np.ptp(model(x)) == 0.0  # one constant prediction for every input
    np.testing.assert_allclose(model(x)[0, 0], y.mean(), rtol=1e-6)
    assert loss_fn(model(x), y) >= np.var(y) * (1 - 1e-12) > 1000


def test_encode_onehot_width_depends_on_classes_present() -> None:
    labels = np.array([0, 1, 2, 4, 5, 6, 7, 8, 9, 4], dtype=np.uint8)  # no 3 in this split
    seed_one_hot = seed_encode_onehot(labels)
    assert seed_one_hot.shape == (10, 9)  # 9 columns, not 10
    assert seed_one_hot[3].argmax() == 3  # label 4 lands in class 3's column
    logits = np.zeros((10, 10))
    loss_fn = zn.nn.CrossEntropyLoss()
    loss_fn(logits, labels.astype(np.int64))  # zeronet: the label is the column, always
    assert loss_fn.backward()[3].argmin() == 4


def test_fig_2_2_per_row_math_sin_fails_on_current_numpy() -> None:
    """Fig. 2-2 applies math.sin to each row of a (1000, 1) array; NumPy >= 2 rejects that.

    (NumPy 1.25 deprecated converting a 1-element array to a float; the
    project's pytest turns that warning into an error, newer NumPy raises
    TypeError.) Converting each element to a Python float first, as
    ``zn.data.sine.targets`` does when it generates the data, is the fix.
    """
    rows = np.random.default_rng(11).uniform(-2 * np.pi, 2 * np.pi, size=(3, 1))
    with pytest.raises((TypeError, DeprecationWarning)):
        [24 * math.sin(3.2 * row) for row in rows]
    assert sine_sample(np.random.default_rng(11), 3)[1].shape == (3, 1)
