"""Property tests (hypothesis, derandomized): random shapes and values, zeronet vs torch.

Shapes are drawn by hypothesis (batch 1..64, widths 1..32); values come from
a NumPy Generator seeded by a hypothesis-drawn integer, except where the
values themselves are the point (the extreme-logit test draws them from
hypothesis directly). ``derandomize=True`` makes every run test the same
examples, so a failure always reproduces.

Float64 tolerance against torch, unless a test says otherwise: rtol 1e-10
(the project's float64 standard) and atol 1e-12. The atol covers entries
that cancel to near 0: a dot product of K <= 64 pairs of O(1) values has a
rounding error of at most K eps sum|a_i b_i| ~ 64 * 1.1e-16 * 64 ~ 5e-13 in
either library (OpenBLAS here, MKL in torch), so the two can differ by that
much in absolute terms whatever the relative size of the result.
"""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import zeronet as zn
from reference import mirror, mirror_loss

RTOL, ATOL = 1e-10, 1e-12
EPS = np.finfo(np.float64).eps
PROPS = settings(derandomize=True, max_examples=40, deadline=None)

batches = st.integers(1, 64)
widths = st.integers(1, 32)
seeds = st.integers(0, 2**32 - 1)
reductions = st.sampled_from(["mean", "sum"])


def close(actual: np.ndarray | float, expected: torch.Tensor, rtol: float = RTOL,
          atol: float = ATOL) -> None:
    np.testing.assert_allclose(actual, expected.detach().numpy(), rtol=rtol, atol=atol)


def check_model_against_torch(model: zn.nn.Sequential, x: np.ndarray,
                              rng: np.random.Generator) -> None:
    """Forward, dL/dx and every parameter gradient of L = sum(upstream * model(x)) vs torch."""
    torch_model = mirror(model)
    out = model(x)
    upstream = rng.normal(size=out.shape)
    model.zero_grad()
    grad_x = model.backward(upstream, input_grad=True)
    x_t = torch.from_numpy(x.copy()).requires_grad_()
    out_t = torch_model(x_t)
    out_t.backward(torch.from_numpy(upstream))
    close(out, out_t)
    close(grad_x, x_t.grad)
    torch_params = dict(torch_model.named_parameters())
    for name, p in model.named_parameters():
        close(p.grad, torch_params[name].grad)


def check_loss_against_torch(loss_fn, output: np.ndarray, target: np.ndarray,
                             rtol: float = RTOL, atol: float = ATOL) -> None:
    """Loss value and dL/doutput vs torch's loss configured the same way."""
    loss = loss_fn(output, target)
    grad = loss_fn.backward()
    output_t = torch.from_numpy(output.copy()).requires_grad_()
    loss_t = mirror_loss(loss_fn)(output_t, torch.from_numpy(target))
    loss_t.backward()
    close(loss, loss_t, rtol, atol)
    close(grad, output_t.grad, rtol, atol)


@PROPS
@given(n=batches, d_in=widths, d_out=widths, bias=st.booleans(), seed=seeds)
def test_linear_matches_torch(n: int, d_in: int, d_out: int, bias: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    model = zn.nn.Sequential(zn.nn.Linear(d_in, d_out, bias=bias, rng=rng))
    check_model_against_torch(model, rng.normal(size=(n, d_in)), rng)


@PROPS
@given(n=batches, d=widths, seed=seeds)
def test_relu_matches_torch_exactly(n: int, d: int, seed: int) -> None:
    """Both sides select entries (no arithmetic), so they agree exactly (tolerance 0)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    x[rng.random(size=x.shape) < 0.1] = 0.0  # the kink: both take the derivative at 0 as 0
    upstream = rng.normal(size=x.shape)
    relu = zn.nn.ReLU()
    out = relu(x)
    grad = relu.backward(upstream)
    x_t = torch.from_numpy(x.copy()).requires_grad_()
    out_t = torch.relu(x_t)
    out_t.backward(torch.from_numpy(upstream))
    np.testing.assert_array_equal(out, out_t.detach().numpy())
    np.testing.assert_array_equal(grad, x_t.grad.numpy())


@PROPS
@given(n=batches, sizes=st.lists(widths, min_size=2, max_size=5), seed=seeds)
def test_sequential_matches_torch(n: int, sizes: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    model = zn.nn.relu_mlp(sizes, rng=rng)
    check_model_against_torch(model, rng.normal(size=(n, sizes[0])), rng)


@PROPS
@given(n=batches, d=widths, reduction=reductions, seed=seeds)
def test_mse_matches_torch(n: int, d: int, reduction: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    output, target = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    check_loss_against_torch(zn.nn.MSELoss(reduction), output, target)


@PROPS
@given(n=batches, c=widths, reduction=reductions, probabilities=st.booleans(),
       scale=st.sampled_from([1e-3, 1.0, 30.0, 1e3]), seed=seeds)
def test_cross_entropy_matches_torch(n: int, c: int, reduction: str, probabilities: bool,
                                     scale: float, seed: int) -> None:
    """Loss rtol 1e-10; gradient entries are probabilities (<= 1), so atol 1e-12 is absolute.

    For logits of size 1e3 the log-probabilities are ~1e3 and the two
    libraries' log-sum-exp round differently by ~1e3 eps each, hence atol
    scaled by the logit size for the loss.
    """
    rng = np.random.default_rng(seed)
    logits = scale * rng.normal(size=(n, c))
    target = rng.dirichlet(np.ones(c), size=n) if probabilities else rng.integers(0, c, size=n)
    check_loss_against_torch(zn.nn.CrossEntropyLoss(reduction), logits, target,
                             atol=max(ATOL, 16 * EPS * scale * n))


@PROPS
@given(n=batches, c=widths, reduction=reductions, seed=seeds)
def test_cross_entropy_gradient_rows_sum_to_zero(n: int, c: int, reduction: str,
                                                 seed: int) -> None:
    """Row = softmax * 1 - y; both sum to 1 within c eps, so the row sums to 0 within 4 c eps."""
    rng = np.random.default_rng(seed)
    loss_fn = zn.nn.CrossEntropyLoss(reduction)
    loss_fn(10 * rng.normal(size=(n, c)), rng.dirichlet(np.ones(c), size=n))
    np.testing.assert_allclose(loss_fn.backward().sum(axis=1), 0.0, atol=4 * c * EPS)


@PROPS
@given(n=batches, c=widths, shift=st.floats(-1e3, 1e3), seed=seeds)
def test_cross_entropy_is_shift_invariant(n: int, c: int, shift: float, seed: int) -> None:
    """softmax(z + s) = softmax(z) exactly; in floats z + s loses eps |z + s| per entry.

    That rounding moves each log-probability by at most 2 eps (|s| + max|z|),
    the loss (a mean of them) by the same, and each gradient entry (a
    probability times the moved log-probability difference) by no more: the
    tolerance is 8 eps (|s| + max|z| + 1), absolute.
    """
    rng = np.random.default_rng(seed)
    logits = 5 * rng.normal(size=(n, c))
    target = rng.integers(0, c, size=n)
    atol = 8 * EPS * (abs(shift) + np.abs(logits).max() + 1)
    loss_fn = zn.nn.CrossEntropyLoss()
    loss, grad = loss_fn(logits, target), loss_fn.backward()
    shifted_loss = loss_fn(logits + shift, target)
    np.testing.assert_allclose(shifted_loss, loss, rtol=0, atol=atol)
    np.testing.assert_allclose(loss_fn.backward(), grad, rtol=0, atol=atol)


@PROPS
@given(arrays(np.float64, st.tuples(batches, widths), elements=st.floats(-1e4, 1e4)))
@example(np.full((3, 5), 1e4))
@example(np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]]))
def test_softmax_from_log_softmax_is_a_probability_vector(logits: np.ndarray) -> None:
    """exp(log_softmax(z)) is finite, in [0, 1], rows summing to 1 within 2 c eps, for |z| <= 1e4.

    (exp of the raw logits would overflow to inf above ~709: seed erratum c.)
    """
    p = np.exp(zn.nn.log_softmax(logits))
    assert np.isfinite(p).all()
    assert ((p >= 0) & (p <= 1)).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=2 * logits.shape[1] * EPS)
    loss_fn = zn.nn.CrossEntropyLoss()
    assert np.isfinite(loss_fn(logits, np.zeros(len(logits), dtype=np.int64)))
    assert np.isfinite(loss_fn.backward()).all()


@PROPS
@given(n=st.integers(1, 200), batch_size=batches, drop_last=st.booleans(), seed=seeds)
def test_dataloader_visits_every_sample_once_per_epoch(n: int, batch_size: int, drop_last: bool,
                                                       seed: int) -> None:
    x = np.arange(n)
    loader = zn.data.DataLoader(x, 10 * x, batch_size, shuffle=True, drop_last=drop_last,
                                seed=seed)
    for _ in range(2):
        batches_seen = list(loader)
        assert len(batches_seen) == len(loader)
        assert all(len(xb) == batch_size for xb, _ in batches_seen[:-1])
        seen = np.concatenate([xb for xb, _ in batches_seen]) if batches_seen else x[:0]
        assert all((yb == 10 * xb).all() for xb, yb in batches_seen)  # pairs stay together
        assert len(np.unique(seen)) == len(seen)  # never twice
        assert len(seen) == (n // batch_size * batch_size if drop_last else n)  # all kept ones


@PROPS
@given(n=st.integers(1, 200), batch_size=batches, seed=seeds)
def test_dataloader_same_seed_same_batches(n: int, batch_size: int, seed: int) -> None:
    x = np.arange(n)

    def epochs() -> list[list[np.ndarray]]:
        loader = zn.data.DataLoader(x, x, batch_size, shuffle=True, seed=seed)
        return [[xb for xb, _ in loader] for _ in range(3)]

    for first, second in zip(epochs(), epochs(), strict=True):
        assert len(first) == len(second)
        for a, b in zip(first, second, strict=True):
            np.testing.assert_array_equal(a, b)
