"""The fuzzing harness (hypothesis, derandomized) and the strategies the test_fuzz_*.py files
share: random shapes, dtypes, values and argument types for every public function.
test_fuzz_layers.py fuzzes the layers and models (Linear, ReLU, relu_mlp, Sequential,
mirror), test_fuzz_module.py Parameter and state dicts, test_fuzz_losses.py the losses and
log_softmax, test_fuzz_optim.py SGD and Adam, test_fuzz_init.py zeronet.init,
test_fuzz_data.py DataLoader and read_idx, and test_fuzz_reference.py the reference helpers.

Every call the properties make ends in one of two ways, and nothing else passes:

(a) it returns, and the result matches PyTorch's for the same input (see the
    tolerances below), non-finite exactly where torch's is; or
(b) it raises an exception of a type listed in the ``Raises:`` section of the
    docstring of the function (or class) called, whose message begins by
    naming the argument at fault (``"x: expected ..."``,
    ``"state_dict['0.weight']: ..."``; a file path may stand anywhere in it).

Anything else fails: another exception type (an ``AttributeError`` from deep
inside, a numpy ``AxisError``), a message that names something else, a
warning (pytest turns warnings into errors), a hang, or a NaN/inf where
torch's result is finite. Inputs valid by construction must not raise at
all, so a check that rejects everything cannot pass either.

Tolerances against torch are relative to each entry's sum of |terms| (S)
rather than to the result, so that huge (1e150), tiny (1e-300) and subnormal
inputs and results that cancel to zero are judged alike. A sum of K
products, or a mean of K elements, is within K eps S of the exact value in
either library whichever order each sums in (eps = 1.1e-16 in float64,
6e-8 in float32); K <= 16 * 32 here, so

* float64: rtol = 1e-10 and atol = 1e-10 * S: a margin of >= 1e3 over K eps;
* float32: torch.testing's defaults (rtol = 1.3e-6, atol = 1e-5) with the
  atol scaled by S the same way (S = 1 for terms of order 1: the defaults);

plus an absolute floor of K subnormals for results that underflow. Where S
comes within a factor 2 of the largest float, a partial sum may overflow in
one summation order (or without an FMA) and not in another: those entries
may differ in finiteness, and numpy's overflow warnings are allowed; they
are counted (hypothesis event "compared near overflow"), not compared.

Hypothesis settings (as in test_properties.py): ``derandomize=True`` so every
run tests the same examples and a failure always reproduces; a ``deadline``
per example, and a SIGALRM limit on every call into zeronet so that a hang
fails the test (raising :class:`Hang`) instead of stalling the run.
"""

from __future__ import annotations

import builtins
import inspect
import os
import re
import signal
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import torch
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from reference import assert_close

# ---------------------------------------------------------------------------- the harness

CALL_SECONDS = 10.0  # SIGALRM limit per call into zeronet: a hang fails, it does not stall
#: Examples per property: 100 by default (the fuzz files run in ~10 s); more for a deeper,
#: still deterministic search: ZERONET_FUZZ_EXAMPLES=2000 pytest tests/test_fuzz*.py
MAX_EXAMPLES = int(os.environ.get("ZERONET_FUZZ_EXAMPLES", "100"))
FUZZ = settings(derandomize=True, max_examples=MAX_EXAMPLES, deadline=timedelta(seconds=5),
                suppress_health_check=[HealthCheck.too_slow])
FEW = settings(FUZZ, max_examples=30)

FLOAT_DTYPES = (np.float32, np.float64)
#: dtypes zeronet's layers and losses refuse (float16 included: float32 and float64 only)
WRONG_DTYPES = (np.int64, np.int8, np.uint8, np.float16, np.complex128, np.bool_, object)
TORCH_DTYPES = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}
RTOL = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1.3e-6}
ATOL_PER_TERM = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-5}
SUBNORMAL_FLOOR = 16 * 32 * np.finfo(np.float64).smallest_subnormal
#: Largest |value| drawn, per dtype: order 1, tiny (subnormal results), big, huge, and the
#: largest float. Products of two huge values and their sums stay finite
#: (1e150^2 * 512 < 1.8e308); with the largest float they overflow, in torch as in zeronet.
BOUNDS = {np.dtype(np.float64): (1.0, 1e-300, 1e3, 1e150, float(np.finfo(np.float64).max)),
          np.dtype(np.float32): (1.0, 1e-30, 1e3, 1e15, float(np.finfo(np.float32).max))}
SPECIALS = (np.nan, np.inf, -np.inf)


class Hang(BaseException):
    """A call into zeronet ran longer than CALL_SECONDS."""


@dataclass
class Raised:
    """The outcome of a call that raised, with the warnings it emitted first."""

    error: Exception
    warned: list[warnings.WarningMessage]

    def describe(self) -> str:
        return "".join(traceback.format_exception(self.error)[-3:])


@dataclass
class Returned:
    """The outcome of a call that returned, with the warnings it emitted."""

    value: Any
    warned: list[warnings.WarningMessage]


def _on_alarm(signum: int, frame: object) -> None:
    raise Hang(f"a call into zeronet ran longer than {CALL_SECONDS} s")


def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Raised | Returned:
    """Call ``fn``; record an exception, or the value and any warnings, under a time limit."""
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, CALL_SECONDS)
    warned: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            value = fn(*args, **kwargs)
    except Exception as err:  # judged by the caller: documented and named, or a failure
        return Raised(err, warned)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return Returned(value, warned)


def run_torch(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Raised | Returned:
    """Call a torch function; its warnings (e.g. zero-element init) are of no interest."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Returned(fn(*args, **kwargs), [])
    except Exception as err:
        return Raised(err, [])


def documented_errors(owner: object) -> tuple[type[BaseException], ...]:
    """The exception types listed under ``Raises:`` in ``owner``'s docstring."""
    doc = inspect.getdoc(owner) or ""
    section = re.search(r"^Raises:\n((?:(?:[ \t].*)?\n?)*)", doc, re.MULTILINE)
    entries = re.findall(r"^ {4}(\w[^:]*):", section.group(1) if section else "", re.MULTILINE)
    names = [name for entry in entries for name in re.findall(r"\w+", entry)]
    module = vars(inspect.getmodule(owner))
    return tuple(getattr(builtins, name, None) or module[name] for name in names)


def names_argument(message: str, argument: str) -> bool:
    """Whether the part of ``message`` before its first ': ' names ``argument``; a file
    path may stand anywhere in it (OSError puts the file name last)."""
    if "/" in argument:
        return argument in message
    label = message.split(": ", 1)[0]
    if argument == label or label.startswith(argument + "["):
        return True
    return re.search(rf"(?<![\w.]){re.escape(argument)}(?![\w])", label) is not None


def assert_documented(outcome: Raised | Returned, owner: object, *arguments: str) -> None:
    """``outcome`` raised a type ``owner`` documents, with a message naming one of ``arguments``."""
    assert isinstance(outcome, Raised), f"expected an exception, got {outcome}"
    err = outcome.error
    event(f"raised {type(err).__name__}")
    documented = documented_errors(owner)
    where = getattr(owner, "__qualname__", repr(owner))
    assert isinstance(err, documented), (
        f"{type(err).__name__} is not documented in the Raises: section of {where} "
        f"(documented: {[e.__name__ for e in documented]}):\n{outcome.describe()}")
    assert any(names_argument(str(err), a) for a in arguments), (
        f"the message does not begin by naming {' or '.join(arguments)}:\n{outcome.describe()}")
    noise = [str(w.message) for w in outcome.warned if issubclass(w.category, RuntimeWarning)]
    assert not noise, f"numpy warned before the error (an error under pytest): {noise}"


def assert_returned(outcome: Raised | Returned, what: str, *, may_overflow: bool = False) -> Any:
    """The value of a call whose input was valid by construction: it must not raise, nor
    warn, except of an overflow (and the inf - inf after it) where one may happen."""
    assert isinstance(outcome, Returned), f"{what} raised on valid input:\n{outcome.describe()}"
    event("returned")
    messages = [f"{w.category.__name__}: {w.message}" for w in outcome.warned]
    assert not messages or (may_overflow and all(
        w.category is RuntimeWarning and re.search("overflow|invalid value", str(w.message))
        for w in outcome.warned)), f"{what} warned: {messages}"
    return outcome.value


def near_overflow(terms: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Entries whose sum of |terms| comes within a factor 2 of the largest float: there a
    partial sum may overflow in one summation order (or without an FMA) and not in another."""
    with np.errstate(invalid="ignore"):
        return ~(np.asarray(terms) < float(np.finfo(dtype).max) / 2)


def assert_matches(actual: np.ndarray | float, expected: torch.Tensor, terms: np.ndarray | float,
                   name: str, count: int = 1, partial_sums: np.ndarray | None = None) -> None:
    """``actual`` equals torch's ``expected`` within the module's tolerance for ``terms``,
    the sum of |summands| of each entry (computed in float64, inf beyond its range).

    Entries near overflow (:func:`near_overflow` of ``partial_sums``, by default
    ``terms``; a mean's are its sum before the division) may be finite on one side and
    inf or NaN on the other; they are only counted. Everywhere else both sides are
    finite and close.
    """
    expected_array = to_array(expected)
    dtype = expected_array.dtype
    actual = np.asarray(actual, dtype=dtype) if isinstance(actual, float) else actual
    assert isinstance(actual, np.ndarray), f"{name}: {actual!r} is not an array"
    assert (actual.shape, actual.dtype) == (expected_array.shape, dtype), (
        f"{name}: {actual!r} against torch's {expected_array!r}")
    partial_sums = terms if partial_sums is None else partial_sums
    near = np.broadcast_to(near_overflow(partial_sums, dtype), expected_array.shape)
    if near.any():
        event("compared near overflow")
    keep = ~near
    scale = float(np.max(np.broadcast_to(terms, near.shape)[keep], initial=0.0))
    atol = ATOL_PER_TERM[dtype] * scale + SUBNORMAL_FLOOR * count
    assert_close(actual[keep], expected_array[keep], rtol=RTOL[dtype], atol=atol, name=name,
                 equal_nan=True)  # NaN where torch's is NaN (from NaN in, or 0 * inf)


def to_array(value: torch.Tensor) -> np.ndarray:
    return value.detach().numpy()


def terms_of(compute: Callable[[], np.ndarray]) -> np.ndarray:
    """Sums of |terms| computed in float64, overflowing quietly to inf."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.asarray(compute(), dtype=np.float64)


# ---------------------------------------------------------------------------- strategies

float_dtypes = st.sampled_from(FLOAT_DTYPES).map(np.dtype)
seeds = st.integers(0, 2**32 - 1)


def float_arrays(dtype: np.dtype, shape: tuple[int, ...], bound: float) -> st.SearchStrategy:
    """Arrays of finite values in [-bound, bound]: any of them, and often the extremes
    +-bound, +-0 and the smallest subnormal (so that huge values of both signs meet)."""
    width = 32 if dtype == np.float32 else 64
    bound = float(dtype.type(min(bound, float(np.finfo(dtype).max))))  # nearest in dtype
    tiny = float(np.finfo(dtype).smallest_subnormal)
    return arrays(dtype, shape, elements=st.one_of(
        st.floats(-bound, bound, width=width),
        st.sampled_from([bound, -bound, bound / 3, -bound / 3, 0.0, -0.0, tiny])))


@st.composite
def with_special(draw: st.DrawFn, array: np.ndarray) -> np.ndarray:
    """``array`` (non-empty) with one drawn entry set to NaN, +inf or -inf."""
    array = array.copy()
    index = draw(st.integers(0, array.size - 1))
    array.reshape(-1)[index] = draw(st.sampled_from(SPECIALS))
    return array


def wrong_arrays(shape: tuple[int, ...]) -> st.SearchStrategy:
    """Arrays of ``shape`` in each dtype zeronet refuses."""
    def build(dtype: type) -> np.ndarray:
        array = np.empty(shape, dtype=dtype)
        array[...] = 1
        return array
    return st.sampled_from(WRONG_DTYPES).map(build)


@st.composite
def float_arrays_any_shape(draw: st.DrawFn, dtype: np.dtype | None = None,
                           bound: float = 1e3, max_dims: int = 3) -> np.ndarray:
    """float32/float64 arrays of 0 to ``max_dims`` dims (sizes 0 to 4), finite values."""
    dtype = draw(float_dtypes) if dtype is None else dtype
    shape = tuple(draw(st.lists(st.integers(0, 4), max_size=max_dims)))
    return draw(float_arrays(dtype, shape, bound))


def mostly(valid: st.SearchStrategy, invalid: st.SearchStrategy) -> st.SearchStrategy:
    """``valid`` four times in five, else ``invalid``: most examples get past the checks."""
    return st.integers(0, 4).flatmap(lambda i: invalid if i == 0 else valid)


#: Things that are not arrays at all.
not_arrays = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=True), st.text(max_size=4),
    st.lists(st.floats(-1, 1), max_size=3), st.just(torch.zeros(2, 2)), st.just(object()))


# ---------------------------------------------------------------------------- any dtype

ANY_DTYPES = (np.float16, np.float32, np.float64, np.int8, np.int64, np.uint8, np.bool_,
              np.complex128, object, "U2", "datetime64[s]")


@st.composite
def any_arrays(draw: st.DrawFn) -> np.ndarray:
    """Arrays of any ndim (0 to 3, 0-size dims included) and any dtype, specials included."""
    shape = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
    dtype = np.dtype(draw(st.sampled_from(ANY_DTYPES)))
    values = draw(arrays(np.float64, shape, elements=st.one_of(
        st.floats(-1e6, 1e6), st.sampled_from(SPECIALS), st.just(-0.0))))
    if dtype.kind in "fc":
        with np.errstate(over="ignore"):  # float16 overflows to inf: one more special
            return values.astype(dtype)
    finite = np.asarray(np.nan_to_num(values, nan=0, posinf=100, neginf=-100))
    if dtype.kind in "iu":
        return np.asarray(np.clip(finite, -100, 100).astype(np.int8), dtype=dtype)
    if dtype.kind == "b":
        return np.asarray(finite > 0)
    return np.asarray(finite.astype(np.int64) if dtype.kind != "O" else finite, dtype=dtype)


def mutate_bytes(draw: st.DrawFn, data: bytes, *, most: int = 3) -> bytes:
    """``data`` with up to ``most`` bytes changed, cuts, extensions or insertions."""
    for _ in range(draw(st.integers(0, most))):
        position = draw(st.integers(0, len(data)))
        mutation = draw(st.sampled_from(["flip", "cut", "extend", "insert"]))
        if mutation == "flip" and position < len(data):
            data = data[:position] + bytes([draw(st.integers(0, 255))]) + data[position + 1:]
        elif mutation == "cut":
            data = data[:position]
        elif mutation == "extend":
            data += draw(st.binary(min_size=1, max_size=8))
        elif mutation == "insert":
            data = data[:position] + draw(st.binary(min_size=1, max_size=4)) + data[position:]
    return data
