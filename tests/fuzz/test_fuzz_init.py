"""Fuzzing zeronet.init: every public function, with tensors of every dtype, shape and kind
(read-only, 0-size, 0-d, a Parameter) and arguments of every type and size.

The harness and the property are those of test_fuzz.py (its module docstring). torch draws
from its own generator, so the filled values are not compared entry by entry: a fill that
returns must leave the tensor's shape and dtype, fill it with finite values inside the
bounds torch's formulas give (computed here with torch.nn.init's own functions: gains,
fans, bounds compare exactly), and torch must accept the same call.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st

import zeronet as zn
from fuzz.harness import (
    FUZZ,
    Raised,
    assert_documented,
    assert_returned,
    mostly,
    run,
    run_torch,
    seeds,
)

tinit = torch.nn.init
INIT_DTYPES = (np.float16, np.float32, np.float64)
TORCH_INIT_DTYPES = {np.dtype(np.float16): torch.float16, np.dtype(np.float32): torch.float32,
                     np.dtype(np.float64): torch.float64}
NONLINEARITIES = zn.init.NONLINEARITIES
ARGUMENTS = frozenset({"tensor", "a", "b", "mean", "std", "value", "gain", "mode",
                       "nonlinearity"})


@st.composite
def init_tensors(draw: st.DrawFn) -> Any:
    """Mostly writeable float16/32/64 arrays of 0 to 3 dims (sizes 0 to 4) or Parameters;
    else a read-only array, an array of another dtype, or not an array."""
    shape = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
    dtype = draw(st.sampled_from(INIT_DTYPES))
    kind = draw(mostly(st.sampled_from(["array", "parameter"]),
                       st.sampled_from(["read-only", "int", "bool", "complex", "object", "junk"])))
    if kind == "array":
        return np.zeros(shape, dtype=dtype)
    if kind == "parameter":
        return zn.nn.Parameter(np.zeros(shape, dtype=np.float32 if dtype == np.float32
                                        else np.float64))
    if kind == "read-only":
        array = np.zeros(shape, dtype=dtype)
        array.flags.writeable = False
        return array
    if kind == "junk":
        return draw(st.sampled_from([None, 3.0, [[0.0, 0.0]], torch.zeros(2, 2), "w"]))
    return np.zeros(shape, dtype={"int": np.int64, "bool": bool, "complex": complex,
                                  "object": object}[kind])


def tensor_fault(tensor: Any) -> bool:
    """Whether ``tensor`` is not something init fills: a writeable float array or Parameter."""
    data = tensor.data if isinstance(tensor, zn.nn.Parameter) else tensor
    return not (isinstance(data, np.ndarray) and data.dtype.kind == "f"
                and data.flags.writeable)


def array_of(tensor: Any) -> np.ndarray:
    return tensor.data if isinstance(tensor, zn.nn.Parameter) else tensor


#: numbers of every kind: ordinary ones, and ones no argument takes
numbers = mostly(st.one_of(st.floats(-3, 3), st.integers(-3, 3)), st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, 1e300, -1e300, 1e5, None, "1", True, 1j,
                     np.array([1.0])]),
    st.floats(allow_nan=False)))


def is_real(value: object) -> bool:
    """A finite int or float (numpy's included), not a bool."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond the float range
        return False


def fits(value: object, dtype: np.dtype) -> bool:
    """A finite real number whose size the dtype can hold."""
    return is_real(value) and abs(value) <= float(np.finfo(dtype).max)


def torch_twin(tensor: Any) -> torch.Tensor | None:
    """An empty torch tensor of ``tensor``'s shape and dtype (None if torch has no such)."""
    data = array_of(tensor)
    if not isinstance(data, np.ndarray) or data.dtype not in TORCH_INIT_DTYPES:
        return None
    return torch.empty(data.shape, dtype=TORCH_INIT_DTYPES[data.dtype])


def check_fill(outcome: Raised | Any, tensor: Any, owner: Callable[..., Any],
               faults: set[str], torch_call: Callable[[torch.Tensor], Any],
               check_values: Callable[[np.ndarray], None], maybe: set[str] = frozenset()) -> None:
    """The property for one fill: a documented error naming one of ``faults``; or, if there
    are none, a fill, in place, of finite values that ``check_values`` accepts, where torch
    accepts the same call. ``maybe``: arguments that may be refused (draws that may
    overflow the dtype), and must be named if they are."""
    twin = torch_twin(tensor)
    theirs = run_torch(torch_call, twin) if twin is not None else None
    if faults:
        assert_documented(outcome, owner, *faults)
        return
    if isinstance(outcome, Raised) and (maybe or isinstance(theirs, Raised)):
        assert_documented(outcome, owner, *(maybe or ARGUMENTS))
        return
    assert not isinstance(outcome, Raised), (
        f"{owner.__name__} refused a call torch accepts:\n{outcome.describe()}")
    assert assert_returned(outcome, owner.__name__) is tensor  # filled in place
    assert theirs is not None, f"{owner.__name__} filled a {type(tensor)} torch has no twin of"
    assert not isinstance(theirs, Raised), (
        f"{owner.__name__} filled a tensor torch refuses to fill:\n{theirs.describe()}")
    data = array_of(tensor)
    assert np.isfinite(data).all(), f"{owner.__name__} filled non-finite values"
    check_values(data)


@FUZZ
@given(tensor=init_tensors(), a=numbers, b=numbers, seed=seeds)
def test_uniform_fills_within_bounds(tensor: Any, a: Any, b: Any, seed: int) -> None:
    faults = {"tensor"} if tensor_fault(tensor) else set()
    if not faults:
        dtype = array_of(tensor).dtype
        faults |= {name for name, v in (("a", a), ("b", b)) if not fits(v, dtype)}
        if not faults and (b < a or not math.isfinite(b - a)):
            faults.add("b")
    outcome = run(zn.init.uniform_, tensor, a, b, rng=np.random.default_rng(seed))

    def within(data: np.ndarray) -> None:
        low, high = data.dtype.type(a), data.dtype.type(b)  # the bounds rounded to the dtype
        assert ((low <= data) & (data <= high)).all()
    check_fill(outcome, tensor, zn.init.uniform_, faults, lambda t: tinit.uniform_(t, a, b),
               within)


@FUZZ
@given(tensor=init_tensors(), mean=numbers, std=numbers, seed=seeds)
def test_normal_fills_finite_values(tensor: Any, mean: Any, std: Any, seed: int) -> None:
    """std and mean huge for the dtype (1e5 in float16) overflow: refused, not inf."""
    faults = {"tensor"} if tensor_fault(tensor) else set()
    if not faults:
        dtype = array_of(tensor).dtype
        faults |= {name for name, v in (("mean", mean), ("std", std)) if not fits(v, dtype)}
        if not faults and std < 0:
            faults.add("std")
    maybe = set()
    if not faults and abs(mean) + 40 * std > float(np.finfo(array_of(tensor).dtype).max):
        maybe.add("std")  # the draws may overflow the dtype
    outcome = run(zn.init.normal_, tensor, mean, std, rng=np.random.default_rng(seed))
    check_fill(outcome, tensor, zn.init.normal_, faults, lambda t: tinit.normal_(t, mean, std),
               lambda data: None, maybe)


@FUZZ
@given(tensor=init_tensors(), value=numbers,
       fill=st.sampled_from(["constant_", "zeros_", "ones_"]))
def test_constant_fills_fill_exactly(tensor: Any, value: Any, fill: str) -> None:
    faults = {"tensor"} if tensor_fault(tensor) else set()
    if fill != "constant_":
        value = 0.0 if fill == "zeros_" else 1.0
        call, torch_call = getattr(zn.init, fill), getattr(tinit, fill)
        outcome = run(call, tensor)
    else:
        if not faults and not fits(value, array_of(tensor).dtype):
            faults.add("value")
        call = zn.init.constant_

        def torch_call(t: torch.Tensor) -> torch.Tensor:
            return tinit.constant_(t, value)
        outcome = run(call, tensor, value)

    def exact(data: np.ndarray) -> None:
        np.testing.assert_array_equal(data, np.full(data.shape, value, dtype=data.dtype))
    check_fill(outcome, tensor, call, faults, torch_call, exact)


#: leaky_relu slopes: half of them ones calculate_gain must refuse
slopes = st.one_of(st.none(), st.floats(-3, 3), st.integers(-3, 3), st.sampled_from(
    [math.nan, math.inf, 1e200, -1e200, 10**400, True, "0.1", [0.1], np.float32(0.1)]))
#: leaky_relu (the one that takes a slope) half the time
nonlinearities = st.one_of(st.just("leaky_relu"), mostly(st.sampled_from(NONLINEARITIES),
                                                         st.sampled_from(["swish", "RELU", "",
                                                                          None, 1,
                                                                          np.array(["relu"])])))
modes = mostly(st.sampled_from(zn.init.MODES), st.sampled_from(["fan_avg", None, 0]))


def gain_faults(nonlinearity: Any, param: Any, name: str) -> set[str]:
    """The arguments calculate_gain (or kaiming's ``a``, named ``name``) must refuse."""
    if not isinstance(nonlinearity, str) or nonlinearity not in NONLINEARITIES:
        return {"nonlinearity"}
    if nonlinearity == "leaky_relu" and param is not None and not (
            is_real(param) and isinstance(param, (int, float)) and abs(param) < 1e150):
        return {name}
    return set()


@FUZZ
@given(nonlinearity=nonlinearities, param=slopes)
def test_calculate_gain_equals_torchs(nonlinearity: Any, param: Any) -> None:
    """The same formula as torch's: equal results. zeronet also refuses what gives torch's
    an OverflowError (slope**2) or NaN, and np.float32 slopes as torch does."""
    outcome = run(zn.init.calculate_gain, nonlinearity, param)
    faults = gain_faults(nonlinearity, param, "param")
    if faults:
        assert_documented(outcome, zn.init.calculate_gain, *faults)
        return
    theirs = run_torch(tinit.calculate_gain, nonlinearity, param)
    assert not isinstance(theirs, Raised), f"torch refused: {theirs.describe()}"
    assert assert_returned(outcome, "calculate_gain") == theirs.value


@FUZZ
@given(tensor=init_tensors())
def test_fans_equal_torchs(tensor: Any) -> None:
    outcome = run(zn.init.calculate_fan_in_and_fan_out, tensor)
    data = array_of(tensor)
    if not (isinstance(data, np.ndarray) and data.dtype.kind == "f") or data.ndim < 2:
        assert_documented(outcome, zn.init.calculate_fan_in_and_fan_out, "tensor")
        return
    expected = tinit._calculate_fan_in_and_fan_out(torch.empty(data.shape))
    assert assert_returned(outcome, "calculate_fan_in_and_fan_out") == expected


def torch_fan(shape: tuple[int, ...], mode: str) -> int:
    return tinit._calculate_correct_fan(torch.empty(shape), mode)


@FUZZ
@given(tensor=init_tensors(), a=slopes, mode=modes, nonlinearity=nonlinearities,
       normal=st.booleans(), seed=seeds)
def test_kaiming_fills_within_torchs_bound(tensor: Any, a: Any, mode: Any, nonlinearity: Any,
                                           normal: bool, seed: int) -> None:
    """kaiming_uniform_bound equals torch's gain * sqrt(3 / fan) exactly; the uniform fill
    stays inside it; a zero fan (shape (3, 0)) is refused (torch skips 0-element tensors)."""
    fill = zn.init.kaiming_normal_ if normal else zn.init.kaiming_uniform_
    outcome = run(fill, tensor, a, mode, nonlinearity, rng=np.random.default_rng(seed))
    faults = {"tensor"} if tensor_fault(tensor) or array_of(tensor).ndim < 2 else set()
    faults |= gain_faults(nonlinearity, a, "a")
    if not isinstance(mode, str) or mode not in zn.init.MODES:
        faults.add("mode")
    if "tensor" not in faults and "mode" not in faults \
            and torch_fan(array_of(tensor).shape, mode) == 0:
        faults.add("tensor")
    bound_outcome = run(zn.init.kaiming_uniform_bound, tensor, a, mode, nonlinearity)
    read_only = isinstance(tensor, np.ndarray) and tensor.dtype.kind == "f" \
        and not tensor.flags.writeable and tensor.ndim >= 2
    if faults and not (read_only and faults == {"tensor"}):  # the bound only reads it
        assert_documented(bound_outcome, zn.init.kaiming_uniform_bound, *faults)
    elif torch_fan(tensor.shape, mode) == 0:
        assert_documented(bound_outcome, zn.init.kaiming_uniform_bound, "tensor")
    else:
        gain = tinit.calculate_gain(nonlinearity, a)
        expected = math.sqrt(3.0) * (gain / math.sqrt(torch_fan(array_of(tensor).shape, mode)))
        assert assert_returned(bound_outcome, "kaiming_uniform_bound") == expected

    def within(data: np.ndarray) -> None:
        if not normal:
            assert (np.abs(data) <= data.dtype.type(expected)).all()
    torch_fill = tinit.kaiming_normal_ if normal else tinit.kaiming_uniform_
    check_fill(outcome, tensor, fill, faults,
               lambda t: torch_fill(t, a=a, mode=mode, nonlinearity=nonlinearity), within)


@FUZZ
@given(tensor=init_tensors(), gain=numbers, normal=st.booleans(), seed=seeds)
def test_xavier_fills_within_torchs_bound(tensor: Any, gain: Any, normal: bool,
                                          seed: int) -> None:
    """gain must be a finite number >= 0 (torch's uniform_ refuses a negative one's bounds);
    fan_in + fan_out = 0 is refused (a ZeroDivisionError in torch)."""
    fill = zn.init.xavier_normal_ if normal else zn.init.xavier_uniform_
    outcome = run(fill, tensor, gain, rng=np.random.default_rng(seed))
    faults = {"tensor"} if tensor_fault(tensor) or array_of(tensor).ndim < 2 else set()
    fans = 0 if faults else sum(tinit._calculate_fan_in_and_fan_out(
        torch.empty(array_of(tensor).shape)))
    if not faults and fans == 0:
        faults.add("tensor")
    if not (is_real(gain) and gain >= 0):
        faults.add("gain")
    maybe = set()
    if not faults and 40 * gain * math.sqrt(6.0 / fans) > float(
            np.finfo(array_of(tensor).dtype).max):
        maybe = {"gain", "std"}  # a bound or draws beyond the dtype (std: normal_'s name)

    def within(data: np.ndarray) -> None:
        fan_in, fan_out = tinit._calculate_fan_in_and_fan_out(torch.empty(data.shape))
        bound = gain * math.sqrt(2.0 / float(fan_in + fan_out)) * math.sqrt(3.0)
        if not normal:
            assert (np.abs(data) <= data.dtype.type(bound) * (1 + 1e-15)).all()
    torch_fill = tinit.xavier_normal_ if normal else tinit.xavier_uniform_
    check_fill(outcome, tensor, fill, faults, lambda t: torch_fill(t, gain=gain), within, maybe)


@FUZZ
@given(rng=st.sampled_from([0, "seed", None, np.random.RandomState(0), np.random.PCG64(0)]))
def test_rng_must_be_a_generator(rng: Any) -> None:
    """None draws from fresh OS entropy (allowed, not fuzzed: tests pass seeded Generators)."""
    if rng is None:
        return
    for fill in (zn.init.uniform_, zn.init.normal_, zn.init.kaiming_uniform_,
                 zn.init.kaiming_normal_, zn.init.xavier_uniform_, zn.init.xavier_normal_):
        assert_documented(run(fill, np.zeros((2, 3)), rng=rng), fill, "rng")
