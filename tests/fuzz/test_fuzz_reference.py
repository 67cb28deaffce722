"""Fuzzing reference/: the functions that take user input (assert_close, compare,
default_tolerance, from_torch, mirror_loss, compare_optimizer) with values of every type.

The harness and the property are those of test_fuzz.py (its module docstring). For
assert_close the property has a third outcome: AssertionError, the comparison failing,
whose message begins with the ``name`` passed (or "value"). Exact copies must pass, values
a thousand tolerances apart must fail, and no input may make it raise anything else than
AssertionError or a documented TypeError/ValueError naming the argument.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st

import zeronet as zn
from fuzz.harness import (
    FUZZ,
    Raised,
    any_arrays,
    assert_documented,
    assert_returned,
    mostly,
    not_arrays,
    run,
    run_torch,
    seeds,
    to_array,
)
from reference import (
    assert_close,
    compare_gradients,
    compare_optimizer,
    default_tolerance,
    from_torch,
    mirror_loss,
)
from reference.compare import compare

COMPARABLE_KINDS = "fiub"  # what default_tolerance has a tolerance for

tolerances = st.one_of(st.none(), st.floats(0, 1), st.just(0), st.sampled_from(
    [-1e-9, math.nan, "1e-6", [1e-6], 1j, True]))


def is_tolerance(value: object) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool) \
        and value >= 0)


def numpy_view(value: Any) -> np.ndarray | None:
    """What assert_close compares ``value`` as; None for what it takes no array from."""
    if isinstance(value, torch.Tensor):
        return to_array(value)
    if isinstance(value, (np.ndarray, np.generic)):
        return np.asarray(value)
    if isinstance(value, (bool, int, float)):
        try:
            return np.asarray(value, dtype={bool: np.bool_, int: np.int64,
                                            float: np.float64}[type(value)])
        except OverflowError:  # an int beyond int64
            return None
    return None


@st.composite
def close_cases(draw: st.DrawFn) -> tuple[Any, Any]:
    """(actual, expected): an exact copy, the same array far off, another shape or dtype,
    a torch tensor or Python number, or something that is no array."""
    expected = draw(st.one_of(any_arrays(), st.floats(), st.integers(-5, 5), st.booleans(),
                              st.just(2**70)))
    kind = draw(st.sampled_from(["copy", "far", "shape", "dtype", "tensor", "junk"]))
    array = np.asarray(expected)
    if kind == "copy":
        return (array.copy() if isinstance(expected, np.ndarray) else expected), expected
    if kind == "far" and array.dtype.kind == "f":
        with np.errstate(all="ignore"):
            return (array * 3 + 1e3).astype(array.dtype), expected
    if kind == "shape":
        return np.resize(array, (*array.shape, 2)), expected
    if kind == "dtype" and array.dtype != np.float32:
        with np.errstate(over="ignore"):
            return array.astype(np.float32) if array.dtype.kind in "fiub" else \
                np.zeros(array.shape, np.float32), expected
    if kind == "tensor" and array.dtype.kind in "fiub" and array.dtype != np.uint64:
        return torch.from_numpy(array.copy()), expected
    return draw(not_arrays), expected


@FUZZ
@given(case=close_cases(), rtol=tolerances, atol=tolerances, name=st.text(max_size=5),
       equal_nan=st.booleans())
def test_assert_close_passes_fails_or_names_the_bad_argument(
        case: tuple[Any, Any], rtol: Any, atol: Any, name: str, equal_nan: bool) -> None:
    actual, expected = case
    outcome = run(assert_close, actual, expected, rtol=rtol, atol=atol, name=name,
                  equal_nan=equal_nan)
    a, e = numpy_view(actual), numpy_view(expected)
    faults = {n for n, v in (("actual", a), ("expected", e)) if v is None}
    comparable = not faults and a.shape == e.shape and a.dtype == e.dtype
    if comparable and a.dtype.kind not in COMPARABLE_KINDS:
        faults |= {"actual", "expected"}
    faults |= {n for n, v in (("rtol", rtol), ("atol", atol)) if not is_tolerance(v)}
    if faults:
        assert_documented(outcome, assert_close, *faults)
        return
    if isinstance(outcome, Raised) and isinstance(outcome.error, AssertionError):
        label = name or "value"
        assert str(outcome.error).startswith(f"{label}: "), outcome.describe()
        assert not outcome.warned, [str(w.message) for w in outcome.warned]
        same = comparable and np.array_equal(a, e, equal_nan=equal_nan and a.dtype.kind == "f")
        assert not same, f"an exact copy failed:\n{outcome.describe()}"
        return
    assert_returned(outcome, "assert_close")
    assert comparable, "arrays of another shape or dtype passed"
    with np.errstate(all="ignore"):
        far = a.dtype.kind == "f" and np.isfinite(e).all() and np.isfinite(a).all() \
            and (np.abs(a.astype(np.float64) - e) > 1e3 * (1 + np.abs(e))).any()
    assert not (far and (rtol is None or rtol <= 1) and (atol is None or atol <= 1)), \
        "values a thousand tolerances apart passed"


@FUZZ
@given(actual=mostly(st.dictionaries(st.sampled_from("abc"), st.floats(-1, 1)),
                     st.one_of(not_arrays, st.builds(lambda: {"a": [1.0, 2.0]}))),
       expected=mostly(st.dictionaries(st.sampled_from("abc"), st.floats(-1, 1)), not_arrays))
def test_compare_reports_matching_keys_or_names_the_bad_mapping(actual: Any,
                                                                expected: Any) -> None:
    outcome = run(compare, actual, expected)
    if not isinstance(expected, dict):
        assert_documented(outcome, compare, "expected", "actual")
    elif not isinstance(actual, dict) or set(actual) != set(expected):
        assert_documented(outcome, compare, "actual")
    elif any(not isinstance(v, float) for v in actual.values()):
        assert_documented(outcome, compare, *(f"actual[{k!r}]" for k in actual))
    else:
        report = assert_returned(outcome, "compare")
        assert set(report.differences) == set(expected)


@FUZZ
@given(dtype=st.one_of(
    st.sampled_from([np.float64, np.float32, np.float16, np.int64, np.uint8, bool, np.complex128,
                     object, "U3", torch.float64, torch.float32, torch.float16, torch.bfloat16,
                     torch.int64, torch.complex64, torch.bool]),
    st.sampled_from([None, "float", "x", 3, [np.float64], ","])))
def test_default_tolerance_has_one_for_floats_integers_and_bools(dtype: Any) -> None:
    outcome = run(default_tolerance, dtype)
    try:
        kind = (torch.empty((), dtype=dtype).numpy().dtype if isinstance(dtype, torch.dtype)
                else np.dtype(dtype)).kind
    except (TypeError, ValueError, SyntaxError):
        kind = None
    if kind is None or kind not in COMPARABLE_KINDS:  # np.dtype(None) is float64: accepted
        assert_documented(outcome, default_tolerance, "dtype")
        return
    rtol, atol = assert_returned(outcome, "default_tolerance")
    assert rtol >= 0
    assert atol >= 0


@st.composite
def torch_models(draw: st.DrawFn) -> tuple[Any, bool]:
    """(torch model, whether zeronet can hold it): Sequentials of Linear (0 features now
    and then), ReLU and other layers, of any float dtype, NaN weights now and then."""
    torch.manual_seed(draw(seeds))
    dtype = draw(mostly(st.sampled_from([torch.float32, torch.float64]),
                        st.sampled_from([torch.float16, torch.bfloat16])))
    layers, width, valid = [], draw(st.integers(1, 4)), True
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(mostly(st.sampled_from(["linear", "linear", "relu"]),
                           st.sampled_from(["empty linear", "tanh", "nested", "mixed"])))
        if kind in ("linear", "empty linear", "mixed"):
            out = 0 if kind == "empty linear" else draw(st.integers(1, 4))
            layer_dtype = torch.float64 if kind == "mixed" and dtype != torch.float64 \
                else torch.float32 if kind == "mixed" else dtype
            with warnings.catch_warnings():  # torch: "Initializing zero-element tensors"
                warnings.simplefilter("ignore")
                layers.append(torch.nn.Linear(width, out, bias=draw(st.booleans()),
                                              dtype=layer_dtype))
            width = max(out, 1)
            valid &= kind != "empty linear"
        elif kind == "relu":
            layers.append(torch.nn.ReLU())
        else:
            layers.append(torch.nn.Tanh() if kind == "tanh" else torch.nn.Sequential())
            valid = False
    model = torch.nn.Sequential(*layers)
    params = list(model.parameters())
    if params and draw(st.integers(0, 5)) == 0:
        with torch.no_grad():
            params[0].view(-1)[:1] = math.nan
        valid = valid and params[0].numel() == 0
    dtypes = {p.dtype for p in params}
    valid &= len(dtypes) == 1 and dtypes <= {torch.float32, torch.float64}
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from([None, torch.nn.Linear(2, 2), zn.nn.ReLU()])), False
    return model, valid


@FUZZ
@given(case=torch_models(), n=st.integers(0, 3), seed=seeds)
def test_from_torch_copies_the_model_or_names_torch_model(case: tuple[Any, bool], n: int,
                                                          seed: int) -> None:
    torch_model, valid = case
    outcome = run(from_torch, torch_model)
    if not valid:
        assert_documented(outcome, from_torch, "torch_model")
        return
    model = assert_returned(outcome, "from_torch")
    for key, value in torch_model.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[key], to_array(value))  # exact copy
    dtype = next(torch_model.parameters()).dtype
    x = torch.from_numpy(np.random.default_rng(seed).normal(
        size=(n, torch_model[0].in_features if isinstance(torch_model[0], torch.nn.Linear)
              else next(torch_model.parameters()).shape[-1]))).to(dtype)
    expected = run_torch(torch_model, x)
    if isinstance(expected, Raised):  # widths that do not chain: zeronet refuses them too
        assert_documented(run(model, x.numpy()), zn.nn.Sequential.forward, "x")
        return
    out = assert_returned(run(model, x.numpy()), "forward")
    rtol = 1e-10 if dtype == torch.float64 else 1.3e-6
    assert_close(out, to_array(expected.value), rtol=rtol, atol=rtol * 10, name="output")


@FUZZ
@given(loss_fn=st.one_of(
    st.sampled_from(["mean", "sum"]).map(zn.nn.MSELoss),
    st.sampled_from(["mean", "sum"]).map(zn.nn.CrossEntropyLoss),
    st.sampled_from([None, "mse", torch.nn.MSELoss(), zn.nn.ReLU(), zn.nn.MSELoss])))
def test_mirror_loss_configures_torchs_or_names_loss_fn(loss_fn: Any) -> None:
    outcome = run(mirror_loss, loss_fn)
    if not isinstance(loss_fn, (zn.nn.MSELoss, zn.nn.CrossEntropyLoss)):
        assert_documented(outcome, mirror_loss, "loss_fn")
        return
    torch_loss = assert_returned(outcome, "mirror_loss")
    assert type(torch_loss).__name__ == type(loss_fn).__name__
    assert torch_loss.reduction == loss_fn.reduction


@FUZZ
@given(keys=st.lists(st.sampled_from("pqr"), max_size=3, unique=True),
       steps=st.integers(1, 3), seed=seeds)
def test_compare_optimizer_names_gradients_with_other_keys(keys: list[str], steps: int,
                                                           seed: int) -> None:
    """grads[i] must have the keys of params; None entries skip a parameter that step."""
    rng = np.random.default_rng(seed)
    params = {"p": rng.normal(size=(2, 3)), "q": rng.normal(size=3)}
    grads = [{k: (None if rng.random() < 0.3 else rng.normal(size=np.shape(params.get(k, 0.0))))
              for k in keys} for _ in range(steps)]

    def step(values: dict[str, np.ndarray], g: dict[str, np.ndarray | None]) -> None:
        for k, v in g.items():
            if v is not None:
                values[k] -= 0.1 * v

    outcome = run(compare_optimizer, step, lambda ps: torch.optim.SGD(ps, lr=0.1), params, grads)
    if set(keys) != set(params):
        assert_documented(outcome, compare_optimizer, "grads[0]")
        return
    assert_returned(outcome, "compare_optimizer").check()  # the same plain SGD: close


def linear_forward_backward(params: dict[str, np.ndarray], x: np.ndarray,
                            target: np.ndarray) -> tuple:
    """A correct MSE forward and backward pass of one Linear layer, by hand."""
    out = x @ params["0.weight"].T + params["0.bias"]
    g = 2 * (out - target) / out.size
    grads = {"0.weight": g.T @ x, "0.bias": g.sum(axis=0)}
    return out, float(np.mean((out - target) ** 2)), grads, g @ params["0.weight"]


#: What a user's forward_backward may return instead of (output, loss, grads, grad_x).
RETURNS = ("right", "three", "no grad_x", "no output", "two", "list", "grads list",
           "grads keys", "grads shape", "loss text", "loss array", "wrong value")


@FUZZ
@given(kind=st.sampled_from(RETURNS), seed=seeds)
def test_compare_gradients_reports_or_names_forward_backward(kind: str, seed: int) -> None:
    """A report whose check() passes for a right pass and raises AssertionError (naming the
    tensor) for a wrong one; for a result of the wrong form, an error naming
    forward_backward."""
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(3, 2)).double()
    rng = np.random.default_rng(seed)
    x, target = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))

    def forward_backward(params: dict[str, np.ndarray], x: np.ndarray, target: np.ndarray):
        out, loss, grads, grad_x = linear_forward_backward(params, x, target)
        return {"right": (out, loss, grads, grad_x), "three": (loss, grads, grad_x),
                "no grad_x": (out, loss, grads, None), "no output": (None, loss, grads, grad_x),
                "two": (loss, grads), "list": [out, loss, grads, grad_x],
                "grads list": (loss, list(grads.values()), grad_x),
                "grads keys": (loss, {"weight": grads["0.weight"]}, grad_x),
                "grads shape": (loss, {**grads, "0.bias": grads["0.bias"][:1]}, grad_x),
                "loss text": ("loss", grads, grad_x), "loss array": (out, grads, grad_x),
                "wrong value": (loss, {**grads, "0.bias": grads["0.bias"] + 1}, grad_x),
                }[kind]

    outcome = run(compare_gradients, forward_backward, net, x, target, torch.nn.MSELoss())
    if kind in ("two", "list", "grads list", "grads keys", "loss text", "grads shape",
                "loss array"):  # nothing to compare: an error naming what was returned
        assert_documented(outcome, compare_gradients, "forward_backward")
        return
    report = assert_returned(outcome, "compare_gradients")
    checked = run(report.check)
    if kind == "wrong value":
        assert isinstance(checked, Raised), "a wrong gradient passed"
        assert isinstance(checked.error, AssertionError), checked.describe()
        assert "grad[0.bias]" in str(checked.error)
    else:
        assert_returned(checked, "Report.check")
