"""Fuzzing MSELoss, CrossEntropyLoss and log_softmax: outputs and logits of every shape,
size (up to the largest float) and dtype, targets of every kind, NaN and inf.

The harness, the property and the tolerances are those of test_fuzz.py (its module
docstring). A loss's sum of |terms| is that of the products it adds up; for the mean's
overflow check it is taken before the division by N (the sum is what overflows).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

import zeronet as zn
from fuzz.harness import (
    BOUNDS,
    FUZZ,
    any_arrays,
    assert_documented,
    assert_matches,
    assert_returned,
    float_arrays,
    float_arrays_any_shape,
    float_dtypes,
    mostly,
    near_overflow,
    not_arrays,
    run,
    seeds,
    terms_of,
    with_special,
    wrong_arrays,
)
from reference import mirror_loss

reductions = mostly(st.sampled_from(["mean", "sum"]),
                    st.sampled_from(["none", "MEAN", "", None, 1, np.array(["mean", "sum"])]))


@FUZZ
@given(reduction=reductions)
def test_loss_reduction_is_mean_or_sum(reduction: Any) -> None:
    for loss_type in (zn.nn.MSELoss, zn.nn.CrossEntropyLoss):
        outcome = run(loss_type, reduction)
        if isinstance(reduction, str) and reduction in ("mean", "sum"):
            assert assert_returned(outcome, loss_type.__name__).reduction == reduction
        else:
            assert_documented(outcome, loss_type, "reduction")


def non_finite_to_zero(array: np.ndarray) -> np.ndarray:
    """float64 copy with NaN/inf as 0: the sums of |terms| of the finite part of the input."""
    return np.nan_to_num(array.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)


@st.composite
def mse_cases(draw: st.DrawFn) -> tuple[Any, Any, set[str]]:
    """(output, target, arguments at fault): any shape (0-d and 0-size too), any bound,
    and now and then one argument broken."""
    dtype = draw(float_dtypes)
    shape = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
    bound = draw(st.sampled_from(BOUNDS[dtype]))
    output = draw(float_arrays(dtype, shape, bound))
    target = draw(float_arrays(dtype, shape, draw(st.sampled_from(BOUNDS[dtype]))))
    broken = draw(st.sampled_from(["nothing"] * 3 + [
        "output special", "target special", "output", "target", "target dtype", "target shape"]))
    if broken == "nothing":
        return output, target, set() if output.size else {"output"}
    if broken.endswith("special") and output.size:
        which = broken.split()[0]
        fixed = draw(with_special(output if which == "output" else target))
        return (fixed, target, {which}) if which == "output" else (output, fixed, {which})
    if broken == "target shape":
        other = tuple(draw(st.lists(st.integers(0, 4), max_size=3).filter(
            lambda s: tuple(s) != shape)))
        return output, np.zeros(other, dtype=dtype), {"target"} if output.size else {"output"}
    if broken == "output":
        return draw(st.one_of(wrong_arrays(shape), not_arrays)), target, {"output"}
    other = np.float32 if dtype == np.float64 else np.float64
    bad = np.zeros(shape, dtype=other) if broken == "target dtype" else \
        draw(st.one_of(wrong_arrays(shape), not_arrays))
    return output, bad, {"target"} if output.size else {"output"}


@FUZZ
@given(case=mse_cases(), reduction=st.sampled_from(["mean", "sum"]))
def test_mse_matches_torch_or_rejects(case: tuple[Any, Any, set[str]], reduction: str) -> None:
    output, target, faults = case
    loss_fn = zn.nn.MSELoss(reduction)
    outcome = run(loss_fn, output, target)
    if faults:
        assert_documented(outcome, zn.nn.MSELoss.__call__, *faults)
        return
    output_t = torch.from_numpy(output.copy()).requires_grad_()
    loss_t = mirror_loss(loss_fn)(output_t, torch.from_numpy(target))
    loss_t.backward()
    diff = terms_of(lambda: output.astype(np.float64) - target.astype(np.float64))
    total = terms_of(lambda: np.sum(diff * diff))
    loss_terms = total / diff.size if reduction == "mean" else total
    grad_terms = terms_of(lambda: 2 * np.abs(diff))  # 2 (y_hat - y) before the 1/N
    overflows = bool(near_overflow(total, output.dtype) or
                     near_overflow(grad_terms, output.dtype).any())
    loss = assert_returned(outcome, "MSELoss", may_overflow=overflows)
    grad = assert_returned(run(loss_fn.backward), "MSELoss.backward", may_overflow=overflows)
    assert isinstance(loss, float)
    assert_matches(loss, loss_t, loss_terms, "loss", diff.size, partial_sums=total)
    assert_matches(grad, output_t.grad, grad_terms, "grad", diff.size)


INDEX_DTYPES = (np.int8, np.uint8, np.int32, np.int64, np.uint64)


@st.composite
def cross_entropy_cases(draw: st.DrawFn) -> tuple[Any, Any, set[str]]:
    """(logits, target, arguments at fault): N and C from 0 to 5, logits of any bound,
    class indices of every integer dtype or probability rows; now and then one broken."""
    dtype = draw(float_dtypes)
    n, c = draw(st.integers(0, 5)), draw(st.integers(0, 5))
    bound = draw(st.sampled_from(BOUNDS[dtype]))
    logits = draw(float_arrays(dtype, (n, c), bound))
    if n and c >= 2 and draw(st.booleans()):  # a row spanning [-bound, bound]
        row, high, low = draw(st.integers(0, n - 1)), *draw(st.permutations(range(c)))[:2]
        logits[row, high], logits[row, low] = bound, -bound
    empty = {"logits"} if n == 0 or c == 0 else set()
    if draw(st.booleans()):
        index_dtype = draw(st.sampled_from(INDEX_DTYPES))
        target = np.asarray(draw(st.lists(st.integers(0, max(c - 1, 0)), min_size=n,
                                          max_size=n)), dtype=index_dtype)
    else:
        rows = draw(st.sampled_from(["dirichlet", "any"]))
        target = np.random.default_rng(draw(seeds)).dirichlet(np.ones(max(c, 1)), size=n)[:, :c] \
            if rows == "dirichlet" else draw(float_arrays(np.dtype(np.float64), (n, c), 1e3))
        target = target.astype(dtype)
    broken = draw(st.sampled_from(["nothing"] * 3 + [
        "logits special", "target special", "out of range", "logits", "target", "shape"]))
    if broken == "nothing":
        return logits, target, empty
    if broken == "logits special" and logits.size:
        return draw(with_special(logits)), target, {"logits"}
    if broken == "target special" and target.ndim == 2 and target.size:
        return logits, draw(with_special(target)), empty or {"target"}
    if broken == "out of range" and target.ndim == 1 and n:
        target = target.astype(np.int64)
        target[draw(st.integers(0, n - 1))] = draw(st.sampled_from([-1, c, c + 7, 2**40]))
        return logits, target, empty or {"target"}
    if broken == "logits":
        return draw(st.one_of(wrong_arrays((n, c)), not_arrays, wrong_arrays((n,)),
                              wrong_arrays((n, c, 1)))), target, {"logits"}
    if broken == "target":
        bad = draw(st.one_of(wrong_arrays(target.shape), not_arrays, st.just(
            np.zeros(target.shape, np.float32 if dtype == np.float64 else np.float64))))
        if isinstance(bad, np.ndarray) and bad.dtype.kind in "iu" and target.ndim == 1 \
                and c >= 2:
            return logits, bad, empty  # ones: valid class indices
        return logits, bad, empty or {"target"}
    shape = draw(st.sampled_from([(n + 1,), (n, c + 1), (n + 1, c), (), (n, c, 1)]))
    return logits, np.zeros(shape, dtype=dtype), empty or {"target"}


def cross_entropy_terms(logits: np.ndarray,
                        probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sums of |terms| of the loss and of each gradient entry. Each log-probability is
    z - max(z) - log(sum exp(z - max(z))): |z - max| plus at most log C; the loss sums
    |y| times that (terms with y = 0 drop out: torch gathers class indices). The gradient
    softmax * sum(y) - y is made of |y| and sum|y| (softmax <= 1)."""
    z = logits.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        size = np.abs(z - z.max(axis=1, keepdims=True)) + np.log(z.shape[1]) + 1
        per_entry = np.where(probs != 0, np.abs(probs) * size, 0.0)
        loss = per_entry.sum()  # before the mean's 1/N
        grad = np.abs(probs) + np.abs(probs).sum(axis=1, keepdims=True)
    return np.asarray(loss), grad


@settings(FUZZ, max_examples=4 * FUZZ.max_examples)  # cheap; rows spanning the float range
@given(case=cross_entropy_cases(), reduction=st.sampled_from(["mean", "sum"]))
@example(case=(np.array([[1e308, -1e308]]), np.array([0]), set()), reduction="mean")
def test_cross_entropy_matches_torch_or_rejects(case: tuple[Any, Any, set[str]],
                                                reduction: str) -> None:
    logits, target, faults = case
    loss_fn = zn.nn.CrossEntropyLoss(reduction)
    outcome = run(loss_fn, logits, target)
    if faults:
        assert_documented(outcome, zn.nn.CrossEntropyLoss.__call__, *faults)
        return
    n, c = logits.shape
    logits_t = torch.from_numpy(logits.copy()).requires_grad_()
    index = target.ndim == 1
    target_t = torch.from_numpy(target.astype(np.int64) if index else target)
    loss_t = mirror_loss(loss_fn)(logits_t, target_t)
    loss_t.backward()
    probs = np.eye(c)[target.astype(np.int64)] if index else target.astype(np.float64)
    total, grad_terms = cross_entropy_terms(logits, probs)
    loss_terms = total / n if reduction == "mean" else total
    overflows = bool(near_overflow(total, logits.dtype) or
                     near_overflow(grad_terms, logits.dtype).any())
    loss = assert_returned(outcome, "CrossEntropyLoss", may_overflow=overflows)
    grad = assert_returned(run(loss_fn.backward), "CrossEntropyLoss.backward",
                           may_overflow=overflows)
    assert isinstance(loss, float)
    assert_matches(loss, loss_t, loss_terms, "loss", c * n, partial_sums=total)
    assert_matches(grad, logits_t.grad, grad_terms, "grad", c * n)


@st.composite
def logit_arrays(draw: st.DrawFn) -> np.ndarray:
    """float arrays of 0 to 3 dims, any bound, a NaN/inf now and then."""
    dtype = draw(float_dtypes)
    array = draw(float_arrays_any_shape(dtype, bound=draw(st.sampled_from(BOUNDS[dtype]))))
    return draw(with_special(array)) if array.size and draw(st.booleans()) else array


@FUZZ
@given(logits=st.one_of(logit_arrays(), any_arrays(), not_arrays))
def test_log_softmax_matches_torch_or_rejects(logits: Any) -> None:
    """NaN and inf propagate as in torch's log_softmax (over the last axis)."""
    outcome = run(zn.nn.log_softmax, logits)
    if not (isinstance(logits, np.ndarray) and logits.dtype in (np.float32, np.float64)
            and logits.ndim >= 1 and logits.shape[-1] >= 1):
        assert_documented(outcome, zn.nn.log_softmax, "logits")
        return
    expected = torch.log_softmax(torch.from_numpy(logits.copy()), dim=-1)
    z = non_finite_to_zero(logits)
    terms = terms_of(lambda: np.abs(z - z.max(axis=-1, keepdims=True)) + np.log(z.shape[-1]) + 1)
    result = assert_returned(outcome, "log_softmax",
                             may_overflow=bool(near_overflow(terms, logits.dtype).any()))
    assert_matches(result, expected, terms, "log_softmax", logits.shape[-1])
