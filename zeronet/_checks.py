"""Argument checks shared by the library.

Every check raises with a message that names the argument, what was expected
and what was given, so a user never has to guess which input was wrong.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

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
