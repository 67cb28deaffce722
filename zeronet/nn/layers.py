"""Linear and ReLU layers with hand-derived backward passes (seed section 1.1, 1.2)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from zeronet import init
from zeronet._checks import (
    NonFiniteValueError,
    all_finite,
    expect_batch,
    expect_grad_out,
    expect_real,
    float_array,
    float_dtype,
    positive_int,
)
from zeronet.nn import storage
from zeronet.nn.module import SECOND_BACKWARD, Module, Parameter, Sequential


class Linear(Module):
    """y = x W^T + b, with W of shape (out_features, in_features) as in torch.

    The seed writes y = x W + b with W as (in, out) (eq. 1-3); storing W^T
    instead keeps ``state_dict`` interchangeable with ``torch.nn.Linear``.

    Default initialisation is torch's: ``kaiming_uniform_(W, a=sqrt(5))``,
    i.e. W ~ U(-1/sqrt(in), 1/sqrt(in)), and b ~ U(-1/sqrt(in), 1/sqrt(in)).
    The seed's ReLU initialisation (fig. 2-10, with the fan fixed) is
    ``zeronet.init.kaiming_uniform_(layer.weight, nonlinearity="relu", rng=rng)``.

    Raises:
        ValueError: naming ``in_features`` or ``out_features``, if not a positive integer.
        TypeError: naming ``dtype`` (not float32 or float64) or ``rng`` (not a Generator).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 dtype: np.dtype | type = np.float64,
                 rng: np.random.Generator | None = None) -> None:
        self.in_features = positive_int(in_features, "in_features")
        self.out_features = positive_int(out_features, "out_features")
        dtype = float_dtype(dtype)
        rng = np.random.default_rng() if rng is None else rng
        # from zeronet.nn.storage: a model's parameters lie end to end, one step updates them all
        self.weight = Parameter(storage.empty((self.out_features, self.in_features), dtype))
        self.bias = Parameter(storage.empty((self.out_features,), dtype)) if bias else None
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), rng=rng)
        if self.bias is not None:
            bound = 1.0 / math.sqrt(self.in_features)
            init.uniform_(self.bias, -bound, bound, rng=rng)
        self._x: np.ndarray | None = None  # the input of the last forward pass
        self._out_shape: tuple[int, ...] | None = None  # and the shape of its output
        self._spent = False  # backward already ran for that forward pass
        self._ones = np.ones(0, dtype=dtype)  # 1 of the bias gradient 1^T G, one per row

    def forward(self, x: np.ndarray) -> np.ndarray:
        """H = X W^T + b (eq. 1-3, in torch's weight layout).

        A NaN or inf in X always reaches H, so the check for them runs on H,
        1/in_features of the size of X.

        Raises:
            TypeError: naming ``x``, if not an ndarray of the layer's dtype.
            ValueError: naming ``x``, if not of shape (N, in_features), if it holds NaN
                or inf, or if H overflows; naming ``weight`` or ``bias`` if they hold NaN
                or inf. The non-finite cases raise the subclass NonFiniteValueError.
        """
        weight = self.weight.data
        expect_batch(x, self.in_features, weight.dtype, "x")
        out = np.dot(x, weight.T)  # as x @ weight.T, bit for bit, with less overhead per call
        if self.bias is not None:
            out += self.bias.data
        if not all_finite(out):
            self._reject_non_finite(x)
        self._x, self._out_shape, self._spent = x, out.shape, False
        return out

    def _reject_non_finite(self, x: np.ndarray) -> None:
        """Name what made the output non-finite: NaN/inf in x, weight or bias, else an overflow."""
        float_array(x, "x")
        for name, p in self.named_parameters():
            float_array(p.data, name)
        raise NonFiniteValueError(f"x: expected x @ weight.T + bias to fit in {x.dtype}, "
                                  f"got an overflow (max |x| = {np.abs(x).max():.3g})")

    def backward(self, grad_out: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        """Given G = dL/dH (N, out): dL/dW = G^T X, dL/db = 1^T G, dL/dX = G W.

        These are eqs. 1-10 and 1-17 in matrix form. G already carries the
        loss's 1/N, so nothing is divided by N here (the seed's fig. 1-4
        divides a second time).

        Raises:
            RuntimeError: if called before ``forward``, or a second time after one
                ``forward`` (torch: "Trying to backward through the graph a second
                time"; accumulating again would double the gradients).
            TypeError: naming ``grad_out``, if not an ndarray of the layer's dtype.
            ValueError: naming ``grad_out``, if not of shape (N, out_features).
        """
        if self._spent:
            raise RuntimeError(f"Linear.{SECOND_BACKWARD}")
        weight = self.weight.data
        expect_grad_out(grad_out, self._out_shape, weight.dtype, "Linear")
        grad_weight, grad_bias = self.parameter_grads(grad_out, self._x)
        self.weight.accumulate(grad_weight)
        if self.bias is not None:
            self.bias.accumulate(grad_bias)
        self._spent = True
        return np.dot(grad_out, weight) if input_grad else None

    def parameter_grads(self, grad_out: np.ndarray,
                        x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(dL/dW, dL/db) = (G^T X, 1^T G) for this batch alone.

        The bias gradient, the sum of G over the batch, is taken as the
        product 1^T G: a matrix-vector product, several times faster than
        ``grad_out.sum(axis=0)`` for tall G (same sum, another order of
        additions). The products are ``np.dot``, which gives the bits of
        ``@`` for these 2-D and 1-D arrays at a fraction of a microsecond
        less per call (for the seed's 100 x 16 layers that is a sixth of a
        product).
        """
        grad_bias = None
        if self.bias is not None:
            ones = self._ones
            if len(ones) != len(grad_out) or ones.dtype != grad_out.dtype:
                ones = self._ones = np.ones(len(grad_out), dtype=grad_out.dtype)
            grad_bias = np.dot(ones, grad_out)
        return np.dot(grad_out.T, x), grad_bias

    def named_parameters(self, prefix: str = "") -> list[tuple[str, Parameter]]:
        named = [(f"{prefix}weight", self.weight)]
        if self.bias is not None:
            named.append((f"{prefix}bias", self.bias))
        return named

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, dtype={self.weight.dtype}")


class ReLU(Module):
    """max(0, x) element-wise (eq. 1-22); its derivative is 1 where x > 0, else 0.

    The derivative at 0 is taken as 0, and at NaN as 1, as torch does. ``backward`` returns a
    new array and never writes into the incoming gradient (the seed's fig.
    1-8 zeroes entries of it in place).
    """

    def __init__(self) -> None:
        self._mask: np.ndarray | None = None  # where the last input was > 0 (or NaN)
        self._shape: tuple[int, ...] | None = None  # and its shape and dtype
        self._dtype: np.dtype | None = None
        self._spent = False  # backward already ran for the last forward pass

    def forward(self, x: np.ndarray) -> np.ndarray:
        """max(0, x), for x an ndarray of any shape.

        Raises:
            TypeError: naming ``x``, if not an ndarray of integers or floats (torch.relu
                refuses bool and complex too).
        """
        expect_real(x, "x")
        # NaN passes the gradient, as in torch
        self._mask, self._shape, self._dtype, self._spent = ~(x <= 0), x.shape, x.dtype, False
        return np.maximum(x, 0)

    def backward(self, grad_out: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        """grad_out where the input was > 0 (or NaN), else 0.

        Raises:
            RuntimeError: if called before ``forward``, or a second time after one
                ``forward`` (as torch, and as ``Linear``).
            TypeError: naming ``grad_out``, if not an ndarray of the input's dtype.
            ValueError: naming ``grad_out``, if not of the input's shape.
        """
        if self._spent:
            raise RuntimeError(f"ReLU.{SECOND_BACKWARD}")
        expect_grad_out(grad_out, self._shape, self._dtype, "ReLU")
        self._spent = True
        return grad_out * self._mask if input_grad else None


def relu_mlp(sizes: Sequence[int], *, dtype: np.dtype | type = np.float64,
             rng: np.random.Generator | None = None,
             linear: Callable[..., Module] = Linear) -> Sequential:
    """Linear layers of widths ``sizes`` with a ReLU between each two (none after the last).

    The seed's networks are ``relu_mlp(zeronet.seed_networks.SINE.sizes)``,
    (1, 16, 16, 16, 16, 1) (table 1-1), and ``relu_mlp(MNIST.sizes)``,
    (784, 16, 16, 16, 16, 10) (table 2-4). Each layer is
    ``linear(in_features, out_features, dtype=dtype, rng=rng)``, built in
    order from the one ``rng``, so the draws are those of writing the layers
    out by hand; pass a Linear subclass, or a factory that re-initialises the
    layer it builds, to change a layer's formulas or initialisation.

    Raises:
        ValueError: naming ``sizes`` (fewer than 2 widths) or ``sizes[i]`` (not a
            positive integer).
        TypeError: naming ``sizes`` (not a sequence), ``dtype`` (not float32 or float64)
            or ``rng`` (not a Generator).
    """
    if not isinstance(sizes, Iterable):
        raise TypeError(f"sizes: expected a sequence of widths, got {type(sizes).__name__}")
    sizes = [positive_int(size, f"sizes[{i}]") for i, size in enumerate(sizes)]
    if len(sizes) < 2:
        raise ValueError(f"sizes: expected at least 2 widths (input and output), got {sizes}")
    rng = np.random.default_rng() if rng is None else rng
    storage.reserve(sum((n_in + 1) * n_out for n_in, n_out in itertools.pairwise(sizes)),
                    float_dtype(dtype))  # all the layers' parameters in one block
    layers: list[Module] = []
    for n_in, n_out in itertools.pairwise(sizes):
        if layers:
            layers.append(ReLU())
        layers.append(linear(n_in, n_out, dtype=dtype, rng=rng))
    return Sequential(*layers)
