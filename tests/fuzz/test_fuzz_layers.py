"""Fuzzing the layers and models: Linear, ReLU, relu_mlp, Sequential and mirror.

The rules every property follows (documented exceptions naming the argument, or torch's
result) and the strategies are in harness.py.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import zeronet as zn
from fuzz.harness import (
    BOUNDS,
    FUZZ,
    TORCH_DTYPES,
    WRONG_DTYPES,
    Raised,
    any_arrays,
    assert_documented,
    assert_matches,
    assert_returned,
    float_arrays,
    float_dtypes,
    mostly,
    near_overflow,
    not_arrays,
    run,
    run_torch,
    seeds,
    terms_of,
    to_array,
    with_special,
    wrong_arrays,
)
from reference import from_torch, mirror

# ---------------------------------------------------------------------------- Linear

@st.composite
def linear_cases(draw: st.DrawFn) -> dict[str, Any]:
    """A Linear layer, an input batch (N may be 0 or 1) and an upstream gradient."""
    dtype = draw(float_dtypes)
    n, d_in, d_out = draw(st.integers(0, 6)), draw(st.integers(1, 8)), draw(st.integers(1, 8))
    bounds = BOUNDS[dtype]
    x = draw(float_arrays(dtype, (n, d_in), draw(st.sampled_from(bounds))))
    weight_scale = draw(st.sampled_from((1.0, bounds[1], bounds[3])))
    return {"dtype": dtype, "n": n, "d_in": d_in, "d_out": d_out, "bias": draw(st.booleans()),
            "seed": draw(seeds), "x": x, "weight_scale": weight_scale,
            "grad_out": draw(float_arrays(dtype, (n, d_out), draw(st.sampled_from(bounds))))}


def build_linear(case: dict[str, Any]) -> tuple[zn.nn.Linear, torch.nn.Linear]:
    """The zeronet layer, its weights scaled (through load_state_dict), and torch's copy."""
    layer = zn.nn.Linear(case["d_in"], case["d_out"], bias=case["bias"], dtype=case["dtype"],
                         rng=np.random.default_rng(case["seed"]))
    scaled = {k: v * v.dtype.type(case["weight_scale"]) for k, v in layer.state_dict().items()}
    assert_returned(run(layer.load_state_dict, scaled), "Linear.load_state_dict")
    torch_layer = torch.nn.Linear(case["d_in"], case["d_out"], bias=case["bias"],
                                  dtype=TORCH_DTYPES[case["dtype"]])
    torch_layer.load_state_dict({k: torch.from_numpy(v) for k, v in layer.state_dict().items()})
    return layer, torch_layer


def check_linear(layer: zn.nn.Linear, torch_layer: torch.nn.Linear, x: np.ndarray,
                 grad_out: np.ndarray) -> None:
    """Forward, dL/dx, dL/dW, dL/db against torch for the upstream gradient ``grad_out``."""
    forward = run(layer, x)
    if not np.isfinite(x).all():
        assert_documented(forward, zn.nn.Linear.forward, "x")
        return
    x_t = torch.from_numpy(x.copy()).requires_grad_()
    out_t = torch_layer(x_t)
    if not torch.isfinite(out_t).all():  # x W^T + b overflowed: zeronet refuses, naming x
        assert_documented(forward, zn.nn.Linear.forward, "x")
        assert isinstance(forward.error, zn.NonFiniteValueError), forward.describe()
        return
    out_t.backward(torch.from_numpy(grad_out))
    w = np.abs(layer.weight.data.astype(np.float64))
    b = 0.0 if layer.bias is None else np.abs(layer.bias.data.astype(np.float64))
    ax, ag = np.abs(x.astype(np.float64)), np.abs(grad_out.astype(np.float64))
    terms = {"output": terms_of(lambda: ax @ w.T + b), "grad_x": terms_of(lambda: ag @ w),
             "grad[weight]": terms_of(lambda: ag.T @ ax),
             "grad[bias]": terms_of(lambda: ag.sum(axis=0))}
    overflows = any(near_overflow(t, x.dtype).any() for t in terms.values())
    out = assert_returned(forward, "Linear.forward", may_overflow=overflows)
    backward = assert_returned(run(layer.backward, grad_out), "Linear.backward",
                               may_overflow=overflows)
    k = x.shape[0] + x.shape[1]
    assert_matches(out, out_t, terms["output"], "output", k)
    assert_matches(backward, x_t.grad, terms["grad_x"], "grad_x", k)
    assert_matches(layer.weight.grad, torch_layer.weight.grad, terms["grad[weight]"],
                   "grad[weight]", k)
    if layer.bias is not None:
        assert_matches(layer.bias.grad, torch_layer.bias.grad, terms["grad[bias]"],
                       "grad[bias]", k)


@FUZZ
@given(case=linear_cases(), special=st.booleans(), data=st.data())
def test_linear_matches_torch_or_rejects_non_finite_input(case: dict[str, Any], special: bool,
                                                          data: st.DataObject) -> None:
    layer, torch_layer = build_linear(case)
    x = case["x"]
    if special and x.size:
        x = data.draw(with_special(x))
    check_linear(layer, torch_layer, x, case["grad_out"])


@st.composite
def bad_inputs(draw: st.DrawFn, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    """Something other than a finite ``dtype`` array of ``shape``: wrong dtype, ndim, width,
    a non-array, or the right array with a NaN/inf in it."""
    n, width = shape
    other = np.dtype(np.float32 if dtype == np.float64 else np.float64)
    kind = draw(st.sampled_from(["dtype", "other float", "ndim", "width", "type", "special"]))
    if kind == "dtype":
        return draw(wrong_arrays(shape))
    if kind == "other float":
        return np.zeros(shape, dtype=other)
    if kind == "ndim":
        ndim = draw(st.sampled_from([0, 1, 3]))
        return np.zeros((n, width, 2)[:ndim], dtype=dtype)
    if kind == "width":
        return np.zeros((n, draw(st.integers(0, 9).filter(lambda w: w != width))), dtype=dtype)
    if kind == "type":
        return draw(not_arrays)
    return draw(with_special(np.zeros((max(n, 1), width), dtype=dtype)))


@FUZZ
@given(case=linear_cases(), data=st.data())
def test_linear_bad_input_is_rejected_naming_x(case: dict[str, Any], data: st.DataObject) -> None:
    layer, _ = build_linear(case)
    x = data.draw(bad_inputs((case["n"], case["d_in"]), case["dtype"]))
    assert_documented(run(layer, x), zn.nn.Linear.forward, "x")


@FUZZ
@given(case=linear_cases(), data=st.data())
def test_linear_bad_grad_out_is_rejected_naming_grad_out(case: dict[str, Any],
                                                         data: st.DataObject) -> None:
    layer, _ = build_linear(case)
    assert_returned(run(layer, np.zeros_like(case["x"])), "Linear.forward")
    grad_out = data.draw(bad_inputs((case["n"], case["d_out"]), case["dtype"]).filter(
        lambda g: not (isinstance(g, np.ndarray) and g.dtype == case["dtype"]
                       and g.shape == (case["n"], case["d_out"]))))
    assert_documented(run(layer.backward, grad_out), zn.nn.Linear.backward, "grad_out")


#: Constructor arguments of every type: valid ones among them.
sizes_or_not = st.one_of(st.integers(-2, 9), st.booleans(), st.floats(-2, 9),
                         st.sampled_from([np.int64(3), np.uint8(2), "3", None]))
dtypes_or_not = st.one_of(
    st.sampled_from([np.float32, np.float64, "float32", "f8", np.dtype("float64"), *WRONG_DTYPES,
                     "int32", "complex64", torch.float32, torch.float64, float, int, 3,
                     ",", "a", "f8,f8", "2f"]),  # SyntaxError, DeprecationWarning, structs
    st.text(max_size=6))


def is_positive_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0


def is_float_dtype(value: object) -> bool:
    try:
        return np.dtype(value) in (np.dtype(np.float32), np.dtype(np.float64))
    except Exception:
        return False


@FUZZ
@given(d_in=mostly(st.integers(1, 8), sizes_or_not), d_out=mostly(st.integers(1, 8), sizes_or_not),
       dtype=mostly(st.sampled_from([np.float32, np.float64, "float32", "f8"]), dtypes_or_not),
       bias=st.sampled_from([True, False, np.True_, 0, 1]),
       rng=mostly(seeds.map(np.random.default_rng),
                  st.sampled_from([0, "seed", np.random.RandomState(0)])))
def test_linear_constructor_accepts_valid_arguments_only(d_in: object, d_out: object,
                                                         dtype: object, bias: object,
                                                         rng: object) -> None:
    outcome = run(zn.nn.Linear, d_in, d_out, bias, dtype=dtype, rng=rng)
    valid = {"in_features": is_positive_int(d_in), "out_features": is_positive_int(d_out),
             "dtype": is_float_dtype(dtype),
             "rng": isinstance(rng, np.random.Generator)}
    if all(valid.values()):
        layer = assert_returned(outcome, "Linear")
        torch_layer = torch.nn.Linear(int(d_in), int(d_out), bias=bool(bias))
        assert {k: v.shape for k, v in layer.state_dict().items()} == \
            {k: tuple(v.shape) for k, v in torch_layer.state_dict().items()}
        assert layer.weight.dtype == np.dtype(dtype)
        bound = 1 / math.sqrt(int(d_in))  # torch's default init: U(-1/sqrt(in), 1/sqrt(in))
        assert all(np.abs(v).max() <= bound * (1 + 1e-6) for v in layer.state_dict().values())
    else:
        assert_documented(outcome, zn.nn.Linear, *(k for k, ok in valid.items() if not ok))


@FUZZ
@given(dtype=dtypes_or_not, sizes=st.lists(st.integers(1, 4), min_size=2, max_size=3))
def test_dtype_arguments_are_float32_or_float64(dtype: object, sizes: list[int]) -> None:
    """Whatever np.dtype makes of ``dtype`` (or fails to), only float32/float64 get through."""
    for owner, build in ((zn.nn.Linear, lambda rng: zn.nn.Linear(*sizes[:2], dtype=dtype,
                                                                  rng=rng)),
                         (zn.nn.relu_mlp, lambda rng: zn.nn.relu_mlp(sizes, dtype=dtype,
                                                                     rng=rng))):
        outcome = run(build, np.random.default_rng(0))
        if is_float_dtype(dtype):
            model = assert_returned(outcome, owner.__name__)
            assert {p.dtype for p in model.parameters()} == {np.dtype(dtype)}
        else:
            assert_documented(outcome, owner, "dtype")


# ---------------------------------------------------------------------------- ReLU


@FUZZ
@given(x=st.one_of(any_arrays(), not_arrays), data=st.data())
def test_relu_matches_torch_or_rejects(x: Any, data: st.DataObject) -> None:
    """ReLU takes real numbers (ints too, as torch.relu does) and passes NaN on as torch does."""
    relu = zn.nn.ReLU()
    forward = run(relu, x)
    theirs = run_torch(lambda: torch.relu(torch.from_numpy(x.copy())))
    if not isinstance(x, np.ndarray) or isinstance(theirs, Raised):
        assert_documented(forward, zn.nn.ReLU.forward, "x")
        return
    out = assert_returned(forward, "ReLU.forward")
    expected = to_array(theirs.value)
    assert out.dtype == expected.dtype
    np.testing.assert_array_equal(out, expected)  # a selection, no arithmetic: exact

    grad_out = data.draw(st.one_of(
        arrays(np.int8, x.shape, elements=st.integers(0, 3)).map(lambda g: g.astype(x.dtype)),
        st.builds(lambda: np.ones((*x.shape, 1), dtype=x.dtype)),
        any_arrays(), not_arrays))
    backward = run(relu.backward, grad_out)
    if not (isinstance(grad_out, np.ndarray) and grad_out.dtype == x.dtype
            and grad_out.shape == x.shape):
        assert_documented(backward, zn.nn.ReLU.backward, "grad_out")
        return
    x_t = torch.from_numpy(x.astype(np.float64)).requires_grad_()
    torch.relu(x_t).backward(torch.from_numpy(grad_out.astype(np.float64)))
    grad = assert_returned(backward, "ReLU.backward")
    assert grad.dtype == x.dtype
    np.testing.assert_array_equal(grad.astype(np.float64), to_array(x_t.grad))


# ---------------------------------------------------------------------------- models

def model_terms(model: zn.nn.Sequential, x: np.ndarray,
                upstream: np.ndarray) -> dict[str, np.ndarray]:
    """Each entry's sum of |terms|, for the output, dL/dx and every dL/dparameter of
    L = sum(upstream * model(x)): |x| pushed forward through |W| and |b|, |upstream| pushed
    back through |W| (ReLU passes both on: its mask only removes terms)."""
    forward = [np.abs(x.astype(np.float64))]
    linears = [(i, layer) for i, layer in enumerate(model) if isinstance(layer, zn.nn.Linear)]
    weights = {i: np.abs(layer.weight.data.astype(np.float64)) for i, layer in linears}
    for i, layer in linears:
        bias = 0.0 if layer.bias is None else np.abs(layer.bias.data.astype(np.float64))
        forward.append(terms_of(lambda i=i, bias=bias: forward[-1] @ weights[i].T + bias))
    terms = {"output": forward[-1]}
    backward = np.abs(upstream.astype(np.float64))
    for (i, layer), inputs in zip(reversed(linears), reversed(forward[:-1]), strict=True):
        terms[f"grad[{i}.weight]"] = terms_of(lambda g=backward, a=inputs: g.T @ a)
        if layer.bias is not None:
            terms[f"grad[{i}.bias]"] = terms_of(lambda g=backward: g.sum(axis=0))
        backward = terms_of(lambda g=backward, i=i: g @ weights[i])
    terms["grad_x"] = backward
    return terms


def check_model(model: zn.nn.Sequential, x: np.ndarray, upstream: np.ndarray) -> None:
    """Output, dL/dx and every dL/dparameter of L = sum(upstream * model(x)) against the
    torch mirror, each entry within the tolerance for its sum of |terms| (model_terms)."""
    torch_model = mirror(model)
    x_t = torch.from_numpy(x.copy()).requires_grad_()
    out_t = torch_model(x_t)
    out_t.backward(torch.from_numpy(upstream))
    terms = model_terms(model, x, upstream)
    overflows = any(near_overflow(t, x.dtype).any() for t in terms.values())
    out = assert_returned(run(model, x), "Sequential.forward", may_overflow=overflows)
    model.zero_grad()
    grad_x = assert_returned(run(lambda g: model.backward(g, input_grad=True), upstream),
                             "Sequential.backward",
                             may_overflow=overflows)
    k = sum(max(p.shape) for p in model.parameters()) + x.shape[0]
    assert_matches(out, out_t, terms["output"], "output", k)
    assert_matches(grad_x, x_t.grad, terms["grad_x"], "grad_x", k)
    torch_params = dict(torch_model.named_parameters())
    for name, p in model.named_parameters():
        assert_matches(p.grad, torch_params[name].grad, terms[f"grad[{name}]"], f"grad[{name}]",
                       k)


#: relu_mlp's ``sizes``: lists and tuples of anything, arrays, and non-sequences.
sizes_lists = st.one_of(
    st.lists(st.integers(1, 6), min_size=2, max_size=4),
    st.lists(sizes_or_not.filter(lambda s: not isinstance(s, int) or s < 8), max_size=4),
    st.lists(st.integers(1, 6), max_size=4).map(tuple),
    st.lists(st.integers(1, 6), max_size=4).map(np.array),
    st.sampled_from([5, None, 2.5, "12", object()]))


@FUZZ
@given(sizes=sizes_lists, dtype=float_dtypes, seed=seeds, data=st.data())
def test_relu_mlp_matches_torch_or_rejects_sizes(sizes: Any, dtype: np.dtype, seed: int,
                                                 data: st.DataObject) -> None:
    rng = np.random.default_rng(seed)
    outcome = run(zn.nn.relu_mlp, sizes, dtype=dtype, rng=rng)
    try:
        widths = list(sizes)
    except TypeError:
        widths = []
    if len(widths) < 2 or not all(map(is_positive_int, widths)) or isinstance(sizes, str):
        assert_documented(outcome, zn.nn.relu_mlp, "sizes")
        return
    model = assert_returned(outcome, "relu_mlp")
    assert [type(layer) for layer in model] == \
        [zn.nn.Linear, zn.nn.ReLU] * (len(widths) - 2) + [zn.nn.Linear]
    n = data.draw(st.integers(0, 5))
    x = data.draw(float_arrays(dtype, (n, int(widths[0])), 1e3))
    check_model(model, x, data.draw(float_arrays(dtype, (n, int(widths[-1])), 1.0)))


@st.composite
def layer_stacks(draw: st.DrawFn) -> tuple[list[Any], int]:
    """Layers for Sequential: Linear and ReLU in any order (widths chained, or broken now
    and then), dtypes mixed now and then, and now and then something that is no Module."""
    rng = np.random.default_rng(draw(seeds))
    width = first = draw(st.integers(1, 5))
    dtype = draw(float_dtypes)
    layers: list[Any] = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["linear"] * 4 + ["relu"] * 2 + ["broken", "other", "junk"]))
        if kind == "linear":
            out = draw(st.integers(1, 5))
            layers.append(zn.nn.Linear(width, out, bias=draw(st.booleans()), dtype=dtype,
                                       rng=rng))
            width = out
        elif kind == "relu":
            layers.append(zn.nn.ReLU())
        elif kind == "broken":
            layers.append(zn.nn.Linear(width + 1, width, rng=rng))
        elif kind == "other":
            other = np.float32 if dtype == np.float64 else np.float64
            layers.append(zn.nn.Linear(width, width, dtype=other, rng=rng))
        else:
            layers.append(draw(st.sampled_from([torch.nn.ReLU(), np.maximum, None, 3])))
    return layers, first


@FUZZ
@given(stack=layer_stacks(), seed=seeds, data=st.data())
def test_sequential_and_mirror_match_torch_or_reject(stack: tuple[list[Any], int], seed: int,
                                                     data: st.DataObject) -> None:
    """Sequential refuses non-Modules; mirror refuses mixed dtypes and parameter-free models;
    a forward through mismatched widths or dtypes fails naming x; the rest equals torch."""
    layers, width = stack
    built = run(zn.nn.Sequential, *layers)
    if not all(isinstance(layer, zn.nn.Module) for layer in layers):
        assert_documented(built, zn.nn.Sequential, "layers")
        return
    model = assert_returned(built, "Sequential")
    dtypes = {p.dtype for p in model.parameters()}
    torch_model = run(mirror, model)
    if len(dtypes) != 1:
        assert_documented(torch_model, mirror, "model")
        return
    dtype = dtypes.pop()
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(data.draw(st.integers(0, 4)), width)).astype(dtype)
    forward = run(model, x)
    theirs = run_torch(torch_model.value, torch.from_numpy(x))
    if isinstance(theirs, Raised):  # widths that do not chain, or dtypes that differ
        assert_documented(forward, zn.nn.Sequential.forward, "x")
        return
    out = assert_returned(forward, "Sequential.forward")
    check_model(model, x, rng.normal(size=out.shape).astype(dtype))
    back = assert_returned(run(from_torch, torch_model.value), "from_torch")
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(back.state_dict()[name], value)  # copies: exact
