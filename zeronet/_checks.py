"""Argument checks shared by the library.

Every check raises with a message that names the argument, what was expected
and what was given, so a user never has to guess which input was wrong.

The checks on the hot path (:func:`expect_array`, :func:`expect_batch`,
:func:`expect_grad_out`, :func:`cached`) are one call each, so that a layer's
``forward`` or ``backward`` reads as one line of checking and then its math.
Each begins with the cheap test that passes for good input and returns;
only a failure goes on to find out what is wrong and build the message.
"""

from __future__ import annotations

import math
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def float_dtype(dtype: Any, name: str = "dtype") -> np.dtype:
    """Return ``dtype`` as a NumPy dtype, accepting only float32 and float64."""
    try:
        resolved = np.dtype(dtype)
    except (TypeError, ValueError, SyntaxError, DeprecationWarning) as err:  # np.dtype(",")...
        raise TypeError(f"{name}: expected float32 or float64, got {dtype!r}") from err
    if resolved not in FLOAT_DTYPES:
        raise TypeError(f"{name}: expected float32 or float64, got {resolved}")
    return resolved


def float_array(value: Any, name: str, *, ndim: int | None = None,
                dtype: np.dtype | None = None) -> np.ndarray:
    """Check that ``value`` is a finite float ndarray of the given ndim and dtype.

    The array is returned as is (never copied or cast): a dtype mismatch is an
    error, not a silent conversion.
    """
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray, got {type(value).__name__}")
    if ndim is not None and value.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array, got shape {value.shape}")
    if dtype is not None and value.dtype != dtype:
        raise TypeError(f"{name}: expected dtype {dtype}, got {value.dtype}")
    if dtype is None and value.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name}: expected dtype float32 or float64, got {value.dtype}")
    finite(value, name)
    return value


def expect_array(value: Any, shape: tuple[int, ...], dtype: np.dtype, name: str,
                 note: str = "") -> np.ndarray:
    """``value`` itself if it is an ndarray of exactly ``shape`` and ``dtype``; else raise.

    Nothing is broadcast or cast. ``note`` is added after the expected shape
    in the message (the optimizer's " (never broadcast)").

    Raises:
        TypeError: naming ``name``, if ``value`` is not an ndarray of ``dtype``.
        ValueError: naming ``name``, if its shape is not ``shape``.
    """
    if isinstance(value, np.ndarray) and value.shape == shape and value.dtype == dtype:
        return value
    if not isinstance(value, np.ndarray) or value.dtype != dtype:
        raise TypeError(f"{name}: expected an ndarray of dtype {dtype}, "
                        f"got {type(value).__name__} {getattr(value, 'dtype', '')}")
    raise ValueError(f"{name}: expected shape {shape}{note}, got {value.shape}")


def expect_batch(value: Any, width: int, dtype: np.dtype, name: str) -> np.ndarray:
    """``value`` itself if it is a ``dtype`` ndarray of shape (N, ``width``), any N; else raise.

    Its values are not looked at when it passes (a layer checks its output
    instead, see ``Linear.forward``); when it fails for its shape, a NaN or
    inf in it is reported first.

    Raises:
        TypeError: naming ``name``, if ``value`` is not an ndarray of ``dtype``.
        ValueError: naming ``name``, if it is not 2-D with ``width`` columns
            (NonFiniteValueError if it also holds NaN or inf).
    """
    if isinstance(value, np.ndarray) and value.ndim == 2 and value.shape[1] == width \
            and value.dtype == dtype:
        return value
    float_array(value, name, ndim=2, dtype=dtype)
    raise ValueError(f"{name}: expected shape (N, {width}), got {value.shape}")


def expect_grad_out(grad_out: Any, shape: tuple[int, ...] | None, dtype: np.dtype | None,
                    layer: str) -> np.ndarray:
    """``grad_out`` itself if it is dL/d(output) for ``layer``'s last forward pass; else raise.

    ``shape`` and ``dtype`` are those of the output of that forward pass;
    ``shape`` is None if there was none yet.

    Raises:
        RuntimeError: if ``shape`` is None (``backward`` before ``forward``).
        TypeError: naming ``grad_out``, if it is not an ndarray of ``dtype``.
        ValueError: naming ``grad_out``, if its shape is not ``shape``.
    """
    if isinstance(grad_out, np.ndarray) and grad_out.shape == shape and grad_out.dtype == dtype:
        return grad_out
    if shape is None or dtype is None:
        raise RuntimeError(f"{layer}.backward called before forward")
    return expect_array(grad_out, shape, dtype, "grad_out")


def expect_real(value: Any, name: str) -> np.ndarray:
    """``value`` itself if it is an ndarray of integers or floats (any shape); else raise.

    Raises:
        TypeError: naming ``name``, if ``value`` is not an ndarray, or of another dtype
            (bool, complex, object...).
    """
    if isinstance(value, np.ndarray) and value.dtype.kind in "iuf":
        return value
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray, got {type(value).__name__}")
    raise TypeError(f"{name}: expected an integer or float dtype, got {value.dtype}")


def cached(value: T | None, message: str) -> T:
    """``value``, what a forward pass stored for its backward; RuntimeError(message) if None."""
    if value is None:
        raise RuntimeError(message)
    return value


class NonFiniteValueError(ValueError):
    """NaN or inf where finite numbers are required: in an argument, or in a result that overflowed.

    A ValueError, so code that catches bad values catches it too.
    """


def all_finite(value: np.ndarray) -> bool:
    """True if ``value`` holds no NaN or inf.

    One dot product decides almost always: the sum of squares is NaN or inf
    whenever an entry is, and it is finite otherwise, unless the squares of
    large finite entries overflow; only then does an element-wise scan decide.
    (``np.isfinite(value).all()`` writes a boolean array first and costs
    about 2-4 times as much.)
    """
    return math.isfinite(np.vdot(value, value)) or bool(np.isfinite(value).all())


def finite(value: np.ndarray, name: str) -> None:
    """Raise if ``value`` holds NaN or inf."""
    if all_finite(value):
        return
    bad = np.argwhere(~np.isfinite(value))
    raise NonFiniteValueError(
        f"{name}: expected finite values, got {len(bad)} NaN/inf entries "
        f"(first at index {tuple(int(i) for i in bad[0])})"
    )


def positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


def non_negative(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not np.isfinite(value) or value < 0:
        raise ValueError(f"{name}: expected a finite number >= 0, got {value!r}")
    return float(value)


def positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: expected a finite number > 0, got {value!r}")
    return float(value)


def unit_interval(value: Any, name: str) -> float:
    """A number in [0, 1), as Adam's betas and SGD's momentum damping need."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not 0.0 <= value < 1.0:
        raise ValueError(f"{name}: expected a number in [0, 1), got {value!r}")
    return float(value)
