"""MSELoss and CrossEntropyLoss against torch.nn: loss value and dL/doutput.

Tolerance: float64 rtol = atol = 1e-12 (both compute a sum of N*C terms
rounded once each; measured max |a - e| / (1 + |e|) ~1e-15, and 1.3e-16
with logits of 1e4); float32 torch.testing's defaults.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from helpers.parity import DTYPES, helper_loss, normal

import zeronet as zn

REDUCTIONS = ["mean", "sum"]
SHAPES = [(1, 1), (100, 1), (7, 10), (64, 3)]


def softmax_rows(rng: np.random.Generator, shape: tuple[int, int], dtype) -> np.ndarray:
    z = rng.standard_normal(shape)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    return (p / p.sum(axis=1, keepdims=True)).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES)
def test_mse(shape, reduction, dtype):
    rng = np.random.default_rng(0)
    helper_loss(zn.nn.MSELoss(reduction), normal(rng, shape, dtype), normal(rng, shape, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES)
def test_cross_entropy_class_indices(shape, reduction, dtype):
    rng = np.random.default_rng(1)
    target = rng.integers(0, shape[1], shape[0])
    helper_loss(zn.nn.CrossEntropyLoss(reduction), normal(rng, shape, dtype, 3.0), target)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES)
def test_cross_entropy_probabilities(shape, reduction, dtype):
    rng = np.random.default_rng(2)
    target = softmax_rows(rng, shape, dtype)
    helper_loss(zn.nn.CrossEntropyLoss(reduction), normal(rng, shape, dtype, 3.0), target)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_one_hot_equals_indices(reduction, dtype):
    rng = np.random.default_rng(3)
    logits, labels = normal(rng, (20, 10), dtype, 3.0), rng.integers(0, 10, 20)
    one_hot = np.eye(10, dtype=dtype)[labels]
    by_index = helper_loss(zn.nn.CrossEntropyLoss(reduction), logits, labels)
    by_row = helper_loss(zn.nn.CrossEntropyLoss(reduction), logits, one_hot)
    np.testing.assert_array_equal(by_index["grad_output"].actual, by_row["grad_output"].actual)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("target_kind", ["indices", "probabilities"])
def test_cross_entropy_huge_logits(target_kind, reduction, dtype):
    """Logits of +-1e4: finite loss and gradient equal to torch's, no overflow or warning."""
    rng = np.random.default_rng(4)
    logits = normal(rng, (32, 10), dtype, 1e4)
    logits[0] = 1e4  # a row of equal maxima
    logits[1, 3] = -1e4
    target = (rng.integers(0, 10, 32) if target_kind == "indices"
              else softmax_rows(rng, (32, 10), dtype))
    # exp(-2e4) underflowing to 0 is the correct result; overflow, 0/0, log(0) are not
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        report = helper_loss(zn.nn.CrossEntropyLoss(reduction), logits, target)
    assert np.isfinite(report["loss"].actual)
    assert np.isfinite(report["grad_output"].actual).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_mse_large_values(dtype):
    """Outputs of order 1e3 (an untrained sine net's worst case): squared terms ~1e6."""
    rng = np.random.default_rng(5)
    output, target = normal(rng, (100, 1), dtype, 1e3), normal(rng, (100, 1), dtype, 50)
    helper_loss(zn.nn.MSELoss(), output, target)


def test_torch_agrees_on_probability_targets():
    """Sanity of the reference: torch's CE with one-hot rows equals its CE with indices."""
    logits = torch.randn(5, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    labels = torch.tensor([0, 3, 1, 1, 2])
    loss = torch.nn.CrossEntropyLoss()
    torch.testing.assert_close(loss(logits, labels),
                               loss(logits, torch.eye(4, dtype=torch.float64)[labels]))
