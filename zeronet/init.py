"""Weight initialisation, matching ``torch.nn.init`` formula for formula.

Every function fills its argument in place and returns it. The argument is
an ndarray or a ``Parameter`` whose weight layout is torch's
(out_features, in_features), so ``fan_in = shape[1]`` and
``fan_out = shape[0]``. Random draws come from the ``rng`` passed in (a
``numpy.random.Generator``); the numbers differ from torch's generator, the
distributions do not.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, TypeVar

import numpy as np

if TYPE_CHECKING:
    from zeronet.nn.module import Parameter

Tensor = TypeVar("Tensor", np.ndarray, "Parameter")

_LINEAR_GAINS = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                 "conv_transpose2d", "conv_transpose3d", "sigmoid")
NONLINEARITIES = (*_LINEAR_GAINS, "tanh", "relu", "leaky_relu", "selu")
MODES = ("fan_in", "fan_out")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for ``nonlinearity`` (torch.nn.init.calculate_gain).

    relu: sqrt(2) (the seed's fig. 2-10 gain); leaky_relu with slope a:
    sqrt(2 / (1 + a^2)), a defaulting to 0.01; tanh: 5/3; selu: 3/4; the
    linear family and sigmoid: 1.

    Raises:
        ValueError: naming ``nonlinearity`` (not one of NONLINEARITIES) or ``param``
            (not an int or float, or one whose square is not finite: NaN, inf, 1e200).
    """
    return _gain(nonlinearity, param, "param")


def _gain(nonlinearity: str, param: float | None, param_name: str) -> float:
    """calculate_gain, naming the slope ``param_name`` (kaiming's ``a``) in its errors."""
    if not isinstance(nonlinearity, str):  # an array would make `in` ambiguous
        raise ValueError(f"nonlinearity: expected one of {NONLINEARITIES}, got {nonlinearity!r}")
    if nonlinearity in _LINEAR_GAINS:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "selu":
        return 3.0 / 4
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"{param_name}: expected a number (negative slope), got {param!r}")
        try:
            gain = math.sqrt(2.0 / (1 + slope**2))
        except OverflowError:  # 1e200**2 (torch's calculate_gain raises OverflowError)
            gain = math.nan
        if not gain > 0:  # NaN, or 0 from an infinite slope
            raise ValueError(f"{param_name}: expected a finite slope whose square is finite, "
                             f"got {param!r}")
        return gain
    raise ValueError(f"nonlinearity: expected one of {NONLINEARITIES}, got {nonlinearity!r}")


def _array(tensor: np.ndarray | Parameter, *, writeable: bool = False) -> np.ndarray:
    data = tensor if isinstance(tensor, np.ndarray) else getattr(tensor, "data", None)
    if not isinstance(data, np.ndarray) or data.dtype.kind != "f":
        raise TypeError(f"tensor: expected a float ndarray or Parameter, "
                        f"got {type(tensor).__name__}")
    if writeable and not data.flags.writeable:
        raise ValueError("tensor: expected a writeable array, got a read-only one")
    return data


def calculate_fan_in_and_fan_out(tensor: np.ndarray | Parameter) -> tuple[int, int]:
    """(fan_in, fan_out) = (shape[1], shape[0]) times the receptive field size.

    Raises:
        TypeError: naming ``tensor``, if not a float ndarray or Parameter.
        ValueError: naming ``tensor``, if it has fewer than 2 dimensions.
    """
    shape = _array(tensor).shape
    if len(shape) < 2:
        raise ValueError(f"tensor: expected at least 2 dimensions to compute fans, "
                         f"got shape {shape}")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _fan(tensor: np.ndarray | Parameter, mode: str) -> int:
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    if fan == 0:  # torch skips a 0-element tensor; kaiming_uniform_bound would divide by 0
        raise ValueError(f"tensor: expected a non-zero {mode}, got shape {_array(tensor).shape}")
    return fan


def _rng(rng: np.random.Generator | None) -> np.random.Generator:
    if rng is None:
        return np.random.default_rng()
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def _number(value: object, name: str, dtype: np.dtype, minimum: float | None = None) -> float:
    """``value`` as a float: a real number (not a bool) that ``dtype`` holds, >= minimum."""
    limit = float(np.finfo(dtype).max)
    real = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    try:
        number = float(value) if real else math.nan
    except OverflowError:  # an int beyond the float range
        number = math.inf
    if not -limit <= number <= limit or (minimum is not None and number < minimum):
        at_least = "" if minimum is None else f" >= {minimum:g}"
        raise ValueError(f"{name}: expected a finite number{at_least} that {dtype} holds "
                         f"(|x| <= {limit:g}), got {value!r}")
    return number + 0.0  # -0.0 as 0.0: numpy refuses uniform(0.0, -0.0) and normal(0, -0.0)


def _draw_into(data: np.ndarray, draws: np.ndarray, name: str) -> None:
    """``data[...] = draws``, unless some draws are beyond ``data``'s dtype (inf once cast)."""
    with np.errstate(over="ignore"):
        values = np.asarray(draws).astype(data.dtype)
    if not np.isfinite(values).all():
        raise ValueError(f"{name}: expected draws that {data.dtype} holds, got some beyond "
                         f"{float(np.finfo(data.dtype).max):g}")
    data[...] = values


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0,
             rng: np.random.Generator | None = None) -> Tensor:
    """Fill with U(a, b).

    Raises:
        TypeError: naming ``tensor`` (not a float ndarray or Parameter) or ``rng`` (not a
            Generator).
        ValueError: naming ``tensor`` (read-only), ``a`` or ``b`` (not a finite number
            the tensor's dtype holds) or ``b`` (not b >= a, or b - a not finite).
    """
    data = _array(tensor, writeable=True)
    a, b = _number(a, "a", data.dtype), _number(b, "b", data.dtype)
    if not a <= b:
        raise ValueError(f"b: expected b >= a = {a}, got {b}")
    if not math.isfinite(b - a):
        raise ValueError(f"b: expected b - a to be finite, got a = {a}, b = {b}")
    _draw_into(data, _rng(rng).uniform(a, b, size=data.shape), "b")
    return tensor


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0,
            rng: np.random.Generator | None = None) -> Tensor:
    """Fill with N(mean, std^2).

    Raises:
        TypeError: naming ``tensor`` (not a float ndarray or Parameter) or ``rng`` (not a
            Generator).
        ValueError: naming ``tensor`` (read-only), ``mean`` or ``std`` (not a finite
            number the tensor's dtype holds, std not >= 0) or ``std`` (draws beyond the
            dtype's range: std 1e4 in float16).
    """
    data = _array(tensor, writeable=True)
    mean = _number(mean, "mean", data.dtype)
    std = _number(std, "std", data.dtype, minimum=0.0)
    _draw_into(data, _rng(rng).normal(mean, std, size=data.shape), "std")
    return tensor


def constant_(tensor: Tensor, value: float) -> Tensor:
    """Fill with ``value``.

    Raises:
        TypeError: naming ``tensor``, if not a float ndarray or Parameter.
        ValueError: naming ``tensor`` (read-only) or ``value`` (not a finite number the
            tensor's dtype holds).
    """
    data = _array(tensor, writeable=True)
    data.fill(_number(value, "value", data.dtype))
    return tensor


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0.

    Raises:
        TypeError: naming ``tensor``, if not a float ndarray or Parameter.
        ValueError: naming ``tensor``, if it is read-only.
    """
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1.

    Raises:
        TypeError: naming ``tensor``, if not a float ndarray or Parameter.
        ValueError: naming ``tensor``, if it is read-only.
    """
    return constant_(tensor, 1.0)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu",
                     rng: np.random.Generator | None = None) -> Tensor:
    """Fill with U(-bound, bound), bound = gain * sqrt(3 / fan) (seed fig. 2-10).

    ``fan`` is fan_in (the input dimension, ``shape[1]``) by default; the
    seed's code uses the output dimension. ``a`` is the leaky_relu slope
    passed to ``calculate_gain``.

    Raises:
        TypeError: naming ``tensor`` (not a float ndarray or Parameter) or ``rng`` (not a
            Generator).
        ValueError: naming ``tensor`` (fewer than 2 dimensions, a zero fan, read-only),
            ``mode``, ``nonlinearity`` or ``a`` (as calculate_gain's ``param``).
    """
    bound = kaiming_uniform_bound(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, rng=rng)


def kaiming_uniform_bound(tensor: np.ndarray | Parameter, a: float = 0.0, mode: str = "fan_in",
                          nonlinearity: str = "leaky_relu") -> float:
    """The bound ``kaiming_uniform_`` draws within, in torch's order of operations.

    Raises:
        TypeError: naming ``tensor``, if not a float ndarray or Parameter.
        ValueError: naming ``tensor`` (fewer than 2 dimensions, a zero fan), ``mode``,
            ``nonlinearity`` or ``a`` (as calculate_gain's ``param``).
    """
    std = _gain(nonlinearity, a, "a") / math.sqrt(_fan(tensor, mode))
    return math.sqrt(3.0) * std


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu",
                    rng: np.random.Generator | None = None) -> Tensor:
    """Fill with N(0, std^2), std = gain / sqrt(fan).

    Raises:
        TypeError: naming ``tensor`` (not a float ndarray or Parameter) or ``rng`` (not a
            Generator).
        ValueError: naming ``tensor`` (fewer than 2 dimensions, a zero fan, read-only),
            ``mode``, ``nonlinearity`` or ``a`` (as calculate_gain's ``param``).
    """
    fan = _fan(tensor, mode)
    return normal_(tensor, 0.0, _gain(nonlinearity, a, "a") / math.sqrt(fan), rng=rng)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0,
                    rng: np.random.Generator | None = None) -> Tensor:
    """Fill with U(-bound, bound), bound = gain * sqrt(6 / (fan_in + fan_out)).

    Raises:
        TypeError: naming ``tensor`` (not a float ndarray or Parameter) or ``rng`` (not a
            Generator).
        ValueError: naming ``tensor`` (fewer than 2 dimensions, fan_in + fan_out = 0,
            read-only) or ``gain`` (not a finite number >= 0, or a bound beyond the dtype).
    """
    std = _xavier_std(tensor, gain)
    bound = math.sqrt(3.0) * std
    if not 2 * bound <= float(np.finfo(_array(tensor).dtype).max):
        raise ValueError(f"gain: expected a bound gain * sqrt(6 / (fan_in + fan_out)) that "
                         f"{_array(tensor).dtype} holds, got gain = {gain}")
    return uniform_(tensor, -bound, bound, rng=rng)


def xavier_normal_(tensor: Tensor, gain: float = 1.0,
                   rng: np.random.Generator | None = None) -> Tensor:
    """Fill with N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)).

    Raises:
        TypeError: naming ``tensor`` (not a float ndarray or Parameter) or ``rng`` (not a
            Generator).
        ValueError: naming ``tensor`` (fewer than 2 dimensions, fan_in + fan_out = 0,
            read-only), ``gain`` (not a finite number >= 0) or, as normal_ does,
            ``std`` = gain * sqrt(2 / (fan_in + fan_out)) (draws beyond the dtype).
    """
    return normal_(tensor, 0.0, _xavier_std(tensor, gain), rng=rng)


def _xavier_std(tensor: np.ndarray | Parameter, gain: float) -> float:
    """gain * sqrt(2 / (fan_in + fan_out)), in torch's order of operations."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    if fan_in + fan_out == 0:
        raise ValueError(f"tensor: expected fan_in + fan_out > 0, got shape {_array(tensor).shape}")
    gain = _number(gain, "gain", np.dtype(np.float64), minimum=0.0)
    return gain * math.sqrt(2.0 / float(fan_in + fan_out))
