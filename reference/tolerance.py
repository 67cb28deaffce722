"""Element-wise closeness: the tolerance rule every comparison of ``reference`` uses.

* :func:`default_tolerance` gives the (rtol, atol) used when none is passed.
* :func:`to_numpy` turns tensors and Python numbers into NumPy arrays.
* :func:`assert_close` compares two arrays and, on failure, says where and by
  how much they differ.

An element passes when ``|actual - expected| <= atol + rtol * |expected|``
(torch.testing's rule). Shapes and dtypes must match exactly: nothing is
broadcast or cast behind your back.
"""

from __future__ import annotations

import numpy as np
import torch

ArrayLike = np.ndarray | torch.Tensor | float | int

__all__ = ["ArrayLike", "assert_close", "checked_tolerance", "close_elements", "close_scaled",
           "default_tolerance", "errors", "largest", "tensor_scale", "to_numpy"]


def default_tolerance(dtype: np.dtype | type | torch.dtype) -> tuple[float, float]:
    """The (rtol, atol) used for ``dtype`` when a comparison is given none.

    float64: (1e-12, 1e-12). Both frameworks round each operation to
    nearest, so two float64 results differ only by the rounding of
    reordered sums (numpy's OpenBLAS and torch's MKL block matmuls
    differently; torch fuses a*b+c into one FMA in ``add_``/``addcdiv_``).
    A sum of K terms of size S then differs by about sqrt(K) * 1.1e-16 * S:
    for K up to 10^4 that is ~1e-14 * S, so rtol = 1e-12 leaves a margin of
    100 for every element not hit by cancellation. An element that cancels
    to near zero keeps the *absolute* error of its terms, which rtol cannot
    cover; atol = 1e-12 covers it for terms of order 1. For data of another
    scale S pass ``atol=1e-12 * S``. Measured on zeronet (tests/test_parity_*):
    one forward/backward pass differs by at most 6e-15 * (1 + |expected|),
    200 SGD/Adam steps by at most 3e-15 * (1 + |expected|).

    float32: (1.3e-6, 1e-5), torch.testing.assert_close's defaults, which
    allow ~10 ulp (float32 ulp = 1.2e-7) of a result of order 1.

    float16: (1e-3, 1e-5), torch.testing's. Integer and bool: exact.

    Raises:
        TypeError: naming ``dtype``, if it is not a float, integer or bool dtype.
    """
    try:
        if isinstance(dtype, torch.dtype):
            dtype = torch.empty((), dtype=dtype).numpy().dtype
        dtype = np.dtype(dtype)
    except (TypeError, ValueError, SyntaxError) as err:  # bfloat16, "x", ",": named below
        raise TypeError(f"dtype: expected a float, integer or bool dtype, got {dtype!r}") from err
    if dtype == np.float64:
        return 1e-12, 1e-12
    if dtype == np.float32:
        return 1.3e-6, 1e-5
    if dtype == np.float16:
        return 1e-3, 1e-5
    if dtype.kind in "iub":
        return 0.0, 0.0
    raise TypeError(f"dtype: expected a float, integer or bool dtype, got {dtype}")


def to_numpy(value: ArrayLike, name: str = "value") -> np.ndarray:
    """``value`` as a NumPy array: torch tensors are detached and copied to the CPU.

    Python floats become float64, ints int64 and bools bool (0-d arrays).

    Raises:
        TypeError: naming ``name`` (default "value"), if it is none of these, or has no
            NumPy equivalent (a bfloat16 tensor, an int beyond int64).
    """
    try:
        if isinstance(value, torch.Tensor):
            return value.detach().cpu().numpy().copy()
        if isinstance(value, bool):
            return np.asarray(value, dtype=np.bool_)
        if isinstance(value, int):
            return np.asarray(value, dtype=np.int64)
        if isinstance(value, float):
            return np.asarray(value, dtype=np.float64)
        if isinstance(value, (np.ndarray, np.generic)):
            return np.array(value, copy=True)
    except (TypeError, OverflowError) as err:
        raise TypeError(f"{name}: expected a value with a NumPy equivalent, got {value!r:.80}"
                        f" ({err})") from err
    raise TypeError(f"{name}: expected a numpy array, torch tensor or Python number, "
                    f"got {type(value).__name__}")


def errors(actual: np.ndarray, expected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Element-wise |a - e| and |a - e| / |e|: 0 where a == e, inf where only e == 0."""
    a = actual.astype(np.float64)
    e = expected.astype(np.float64)
    with np.errstate(all="ignore"):
        same = a == e  # also equal infinities; NaN is never equal, its error is NaN
        abs_err = np.where(same, 0.0, np.abs(a - e))
        rel_err = np.where(abs_err == 0, 0.0, abs_err / np.abs(e))
    return abs_err, rel_err


def largest(values: np.ndarray) -> float:
    """The largest entry; NaN if any is NaN (a NaN must never hide behind a max)."""
    return float(np.max(values, initial=0.0))


def close_elements(actual: np.ndarray, expected: np.ndarray, rtol: float, atol: float, *,
                   equal_nan: bool = False) -> np.ndarray:
    """Boolean mask of the elements with ``|a - e| <= atol + rtol * |e|`` (same shapes).

    Infinities must match exactly; NaN matches NaN only with ``equal_nan``.
    """
    a = actual.astype(np.float64)
    e = expected.astype(np.float64)
    with np.errstate(all="ignore"):
        finite = np.isfinite(a) & np.isfinite(e)
        close = np.where(finite, np.abs(a - e) <= atol + rtol * np.abs(e), a == e)
        if equal_nan:
            close |= np.isnan(a) & np.isnan(e)
    return close


def tensor_scale(values: np.ndarray) -> float:
    """max(1, largest finite |value|): the size an absolute tolerance is taken relative to.

    An element that cancels to near zero keeps the absolute rounding error of
    the terms it was summed from, and in a network those are of the size of
    the tensor's largest entries (a gradient of magnitude 100 has terms of
    magnitude 100). So the checks hold each tensor to ``atol * tensor_scale``:
    torch.testing's defaults for tensors of magnitude up to 1, and the same
    relative rule above.
    """
    finite = np.abs(values[np.isfinite(values)]) if values.size else values
    return max(1.0, float(finite.max())) if finite.size else 1.0


def close_scaled(actual: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    """:func:`close_elements` with ``atol`` relative to :func:`tensor_scale` of ``expected``."""
    return close_elements(actual, expected, rtol, atol * tensor_scale(expected))


def _fmt(value: float) -> str:
    return f"{value:.17g}"


def checked_tolerance(rtol: float | None, atol: float | None,
                      dtype: np.dtype) -> tuple[float, float]:
    """(rtol, atol), each defaulting to :func:`default_tolerance` of ``dtype``.

    Raises:
        ValueError: naming ``rtol, atol``, if either is not a number >= 0 (NaN, "1e-6").
    """
    if not all(t is None or (isinstance(t, (int, float, np.integer, np.floating))
               and not isinstance(t, bool) and t >= 0) for t in (rtol, atol)):  # not NaN
        raise ValueError(f"rtol, atol: expected numbers >= 0, got rtol={rtol!r}, atol={atol!r}")
    default_rtol, default_atol = default_tolerance(dtype)
    return (default_rtol if rtol is None else float(rtol),
            default_atol if atol is None else float(atol))


def assert_close(actual: ArrayLike, expected: ArrayLike, *, rtol: float | None = None,
                 atol: float | None = None, name: str = "", equal_nan: bool = False) -> None:
    """Assert ``|actual - expected| <= atol + rtol * |expected|`` element-wise.

    ``actual`` and ``expected`` are NumPy arrays, torch tensors or Python
    numbers; they must have the same shape and dtype (no broadcasting, no
    casting). ``rtol`` and ``atol`` default to :func:`default_tolerance` of
    the dtype. NaN equals NaN only with ``equal_nan=True``; infinities must
    match exactly.

    The AssertionError names ``name``, the shape and dtype, the number of
    mismatched elements, the worst one (index, both values, its abs and rel
    error, relative to what was allowed) and the tolerances.

    Raises:
        AssertionError: the values are not close, or differ in shape or dtype.
        TypeError: naming ``actual`` or ``expected`` (not an array, tensor or number;
            or of a dtype with no tolerance: complex, object, str).
        ValueError: naming ``rtol, atol``, if either is not a number >= 0 (NaN, "1e-6").
    """
    checked_tolerance(rtol, atol, np.dtype(np.float64))  # the arguments, before the values
    label = name or "value"
    a, e = to_numpy(actual, "actual"), to_numpy(expected, "expected")
    if a.shape != e.shape:
        raise AssertionError(f"{label}: shape mismatch: actual {a.shape} vs expected {e.shape} "
                             f"(no broadcasting)")
    if a.dtype != e.dtype:
        raise AssertionError(f"{label}: dtype mismatch: actual {a.dtype} vs expected {e.dtype} "
                             f"(cast one side explicitly if that is intended)")
    if a.dtype.kind not in "fiub":
        raise TypeError(f"actual, expected: expected a float, integer or bool dtype, "
                        f"got {a.dtype}")
    rtol, atol = checked_tolerance(rtol, atol, a.dtype)
    bad = ~close_elements(a, e, rtol, atol, equal_nan=equal_nan)
    if not bad.any():
        return
    abs_err, rel_err = errors(a, e)
    with np.errstate(all="ignore"):
        allowed = atol + rtol * np.abs(e.astype(np.float64))
        excess = np.where(bad, abs_err / allowed, -1.0)
        excess[bad & np.isnan(excess)] = np.inf
    worst = np.unravel_index(int(np.argmax(excess)), a.shape) if a.ndim else ()
    index = tuple(int(i) for i in worst)
    raise AssertionError(
        f"{label}: {int(bad.sum())} of {a.size} elements not close "
        f"(shape {a.shape}, dtype {a.dtype}; rule |actual - expected| <= atol + rtol*|expected| "
        f"with rtol={rtol:g}, atol={atol:g})\n"
        f"  worst at index {index}: actual={_fmt(a[worst])}, expected={_fmt(e[worst])}, "
        f"abs err {abs_err[worst]:.3g}, rel err {rel_err[worst]:.3g}, "
        f"allowed {allowed[worst]:.3g}\n"
        f"  over all elements: max abs err {largest(abs_err):.3g}, "
        f"max rel err {largest(rel_err):.3g}"
    )
