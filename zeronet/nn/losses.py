"""Loss functions: each returns a float and remembers what its backward needs.

Both follow torch: MSELoss averages over every element, CrossEntropyLoss
takes raw logits and averages over the batch.
"""

from __future__ import annotations

import math

import numpy as np

from zeronet._checks import FLOAT_DTYPES, all_finite, cached, finite, float_array
from zeronet.nn.module import SECOND_BACKWARD

REDUCTIONS = ("mean", "sum")
#: Rows up to this long are reduced over a column-major copy in log_softmax.
SHORT_ROW = 64


def _reduction(value: str) -> str:
    if not isinstance(value, str) or value not in REDUCTIONS:  # an array: ambiguous truth
        raise ValueError(f"reduction: expected one of {REDUCTIONS}, got {value!r}")
    return value


class MSELoss:
    """L = mean((y_hat - y)^2) over all N*D elements (eq. 1-24, batched).

    dL/dy_hat = 2 (y_hat - y) / (N*D); with ``reduction="sum"`` the divisor
    is dropped. (The seed's eq. 1-25 writes a sum of squares instead.)

    Raises:
        ValueError: naming ``reduction``, if not "mean" or "sum".
    """

    def __init__(self, reduction: str = "mean") -> None:
        self.reduction = _reduction(reduction)
        self._diff: np.ndarray | None = None
        self._spent = False  # backward already ran for the last loss

    def __call__(self, output: np.ndarray, target: np.ndarray) -> float:
        """The loss of ``output`` against ``target`` (same shape and float dtype).

        Raises:
            TypeError: naming ``output`` or ``target``, if not a float32/float64 ndarray
                (``target`` in the output's dtype).
            ValueError: naming ``output`` (empty, or NaN/inf) or ``target`` (another
                shape, or NaN/inf).
        """
        _check_output_and_target(output, target)
        self._diff, self._spent = output - target, False
        total = float(np.vdot(self._diff, self._diff))
        if not math.isfinite(total):  # NaN/inf in the output, or an overflow (returned)
            finite(output, "output")
        return total / self._diff.size if self.reduction == "mean" else total

    def backward(self) -> np.ndarray:
        """dL/d(output) of the last loss computed.

        Raises:
            RuntimeError: if no loss was computed yet, or a second time after one loss
                (as torch's ``loss.backward()``).
        """
        diff = cached(self._diff, "MSELoss.backward called before the loss was computed")
        if self._spent:
            raise RuntimeError(f"MSELoss.{SECOND_BACKWARD}")
        self._spent = True
        scale = 2.0 / diff.size if self.reduction == "mean" else 2.0
        return np.asarray(scale * diff)  # a 0-d output: a 0-d array, not a numpy scalar

    def __repr__(self) -> str:
        return f"MSELoss(reduction={self.reduction!r})"


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """log softmax over the last axis, from z - max(z) so that exp never overflows.

    The two reductions over each row are arranged for tall, narrow batches
    (N x 10 for MNIST), where NumPy's ``max(axis=-1)`` and ``sum(axis=-1)``
    pay a fixed cost per row: for rows of at most ``SHORT_ROW`` entries the
    maximum runs over a column-major copy (one long loop per class), and the
    sum is always a matrix-vector product with ones.

    As in torch, an entry whose z - max(z) is below the float range is -inf, and NaN or
    +inf in a row make it NaN.

    Raises:
        TypeError: naming ``logits``, if not a float32 or float64 ndarray.
        ValueError: naming ``logits``, if it is 0-d or its last axis is empty.
    """
    _check_logits(logits)
    c = logits.shape[-1]
    rows = logits.reshape(-1, c) if logits.ndim != 2 else logits
    columns_first = np.asfortranarray(rows) if c <= SHORT_ROW < rows.shape[0] else rows
    with np.errstate(over="ignore", invalid="ignore"):  # -inf, or NaN from NaN/inf: as torch
        shifted = rows - columns_first.max(axis=1, keepdims=True)
        shifted -= np.log(np.exp(shifted) @ np.ones((c, 1), dtype=rows.dtype))
    return shifted.reshape(logits.shape)


class CrossEntropyLoss:
    """Softmax cross-entropy on raw logits z of shape (N, C) (eqs. 1-23 to 1-32).

    L = -(1/N) sum_n sum_c y_nc log softmax(z_n)_c, where ``target`` is either
    class indices (N,) of an integer dtype, or probabilities / one-hot rows
    (N, C) in the logits' dtype. The gradient is

        dL/dz = (softmax(z) * sum_c y_nc - y) / N,

    which is eq. 1-32 divided by N for one-hot or probability rows (their sum
    is 1). For class indices no one-hot matrix is built: the loss picks
    log softmax(z_n) at each target, and the gradient is softmax(z) / N with
    1/N subtracted at each target; one-hot rows give the same bits.
    ``reduction="sum"`` drops the 1/N.

    Raises:
        ValueError: naming ``reduction``, if not "mean" or "sum".
    """

    def __init__(self, reduction: str = "mean") -> None:
        self.reduction = _reduction(reduction)
        self._cache: tuple[np.ndarray, np.ndarray] | None = None
        self._spent = False  # backward already ran for the last loss

    def __call__(self, logits: np.ndarray, target: np.ndarray) -> float:
        """The loss of ``logits`` (N, C) against class indices (N,) or probabilities (N, C).

        Raises:
            TypeError: naming ``logits`` (not a float32/float64 ndarray) or ``target``
                (not an ndarray, indices not of an integer dtype, probabilities not in
                the logits' dtype, e.g. integer one-hot rows).
            ValueError: naming ``logits`` (not 2-D, N or C zero, NaN/inf) or ``target``
                (wrong shape, e.g. class indices as a column (N, 1); an index outside
                [0, C-1]; NaN/inf probabilities).
        """
        n = _check_logits_and_target(logits, target)
        log_prob = log_softmax(logits)
        self._cache, self._spent = (log_prob, target), False
        if target.ndim == 1:
            total = -float(log_prob[np.arange(n), target].sum())
        else:
            total = -float(np.vdot(target, log_prob))
        return total / n if self.reduction == "mean" else total

    def backward(self) -> np.ndarray:
        """dL/d(logits) of the last loss computed.

        Raises:
            RuntimeError: if no loss was computed yet, or a second time after one loss
                (as torch's ``loss.backward()``).
        """
        log_prob, target = cached(self._cache, "CrossEntropyLoss.backward called before the "
                                               "loss was computed")
        if self._spent:
            raise RuntimeError(f"CrossEntropyLoss.{SECOND_BACKWARD}")
        self._spent = True
        n = log_prob.shape[0]
        # As torch rounds it: dL/dz = g - softmax(z) * sum_c g_c, where g = dL/d(log softmax)
        # = -y / N; for class indices g is -1/N at each target and 0 elsewhere.
        scale = 1.0 / n if self.reduction == "mean" else 1.0
        grad = np.exp(log_prob)
        if target.ndim == 2:
            g = target * -scale
            grad *= -g.sum(axis=1, keepdims=True)
            grad += g
        else:
            if scale != 1.0:
                grad *= scale
            grad[np.arange(n), target] -= scale
        return grad

    def __repr__(self) -> str:
        return f"CrossEntropyLoss(reduction={self.reduction!r})"


# ----------------------------------------------------------------------------- the checks

def _check_output_and_target(output: object, target: object) -> None:
    """MSELoss: a non-empty float ``output``, a finite ``target`` of its shape and dtype.

    The output's values are checked by the loss itself: NaN or inf in it make
    the sum of squares non-finite, and only then is it looked at (after a
    finite target, ``output - target`` warns of nothing a finite output would
    not). With both at fault the output is named, as it is checked first.
    """
    if not isinstance(output, np.ndarray) or output.dtype not in FLOAT_DTYPES:
        float_array(output, "output")  # raises, naming what it is
    if output.size == 0:
        raise ValueError(f"output: expected at least one element, got shape {output.shape}")
    if not (isinstance(target, np.ndarray) and target.dtype == output.dtype
            and all_finite(target)):
        finite(output, "output")
        float_array(target, "target", dtype=output.dtype)
    if target.shape != output.shape:
        finite(output, "output")
        raise ValueError(f"target: expected shape {output.shape} (the output's), "
                         f"got {target.shape}")


def _check_logits(logits: object) -> None:
    """log_softmax: a float32/float64 array with a non-empty last axis."""
    if not isinstance(logits, np.ndarray) or logits.dtype not in FLOAT_DTYPES:
        raise TypeError(f"logits: expected a float32 or float64 ndarray, "
                        f"got {type(logits).__name__} {getattr(logits, 'dtype', '')}")
    if logits.ndim == 0 or logits.shape[-1] == 0:
        raise ValueError(f"logits: expected a last axis of at least one class, "
                         f"got shape {logits.shape}")


def _check_logits_and_target(logits: object, target: object) -> int:
    """CrossEntropyLoss: finite (N, C) logits, and class indices (N,) or probabilities (N, C).

    Returns N.
    """
    float_array(logits, "logits", ndim=2)
    n, c = logits.shape
    if n == 0 or c == 0:
        raise ValueError(f"logits: expected shape (N, C) with N, C >= 1, got {logits.shape}")
    if not isinstance(target, np.ndarray):
        raise TypeError(f"target: expected a numpy.ndarray, got {type(target).__name__}")
    if target.ndim == 1:
        _check_indices(target, n, c)
    elif target.ndim == 2:
        if target.dtype.kind in "iu":
            _refuse_integer_rows(target, n, logits.dtype)
        if target.dtype != logits.dtype:
            raise TypeError(f"target: expected probabilities of dtype {logits.dtype} "
                            f"(the logits'), got {target.dtype}")
        if target.shape != (n, c):
            raise ValueError(f"target: expected probabilities of shape {(n, c)}, "
                             f"got {target.shape}")
        finite(target, "target")
    else:
        raise ValueError(f"target: expected class indices (N,) or probabilities "
                         f"(N, C), got shape {target.shape}")
    return n


def _refuse_integer_rows(target: np.ndarray, n: int, dtype: np.dtype) -> None:
    """An integer 2-D target: say what it is taken for and how to pass what was meant.

    A 2-D target means probabilities (N, C), so an integer one is a mistake:
    mostly class indices as a column (N, 1), else one-hot rows as integers.
    """
    given = f"target: got an integer array of shape {target.shape}; a 2-D target is " \
            f"taken for probabilities (N, C) of dtype {dtype}"
    if target.shape[1] == 1:
        raise ValueError(f"{given}, while class indices must be 1-D of shape ({n},): pass "
                         f"target.ravel() (or target[:, 0])")
    raise TypeError(f"{given}: pass one-hot rows as target.astype(np.{dtype}), or class "
                    f"indices of shape ({n},) (e.g. target.argmax(axis=1))")


def _check_indices(target: np.ndarray, n: int, c: int) -> None:
    if target.dtype.kind not in "iu":
        raise TypeError(f"target: expected integer class indices, got dtype {target.dtype}")
    if target.shape != (n,):
        raise ValueError(f"target: expected class indices of shape ({n},), "
                         f"got {target.shape}")
    low, high = target.min(), target.max()
    if low < 0 or high >= c:
        raise ValueError(f"target: expected class indices in [0, {c - 1}], "
                         f"got values in [{low}, {high}]")
