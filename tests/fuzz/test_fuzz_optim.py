"""Fuzzing the optimizers: constructor options of every type, steps on gradients of every
size (and of the wrong shape or dtype), and state dicts mutated every way.

The harness, the property and the tolerances are those of test_fuzz.py (its module
docstring). Optimizer tolerances: each parameter and state entry is compared after every
step, within rtol and an atol of ATOL_PER_TERM times the largest |value| that entry and its
inputs (the gradients, lr times the gradients, the previous values) have had so far, times
the number of steps: every step rounds relative to those magnitudes, and errors carry over.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import torch
from hypothesis import example, given
from hypothesis import strategies as st

import zeronet as zn
from fuzz.harness import (
    ATOL_PER_TERM,
    BOUNDS,
    FEW,
    FUZZ,
    RTOL,
    SUBNORMAL_FLOOR,
    assert_documented,
    assert_returned,
    float_dtypes,
    run,
    seeds,
    to_array,
    wrong_arrays,
)
from fuzz.harness import (
    mostly as mostly_valid,
)
from reference import assert_close, mirror_optimizer

SHAPES = ((3, 2), (2,), (1, 1), (0, 3))  # 0-size and 1-size parameters among them

#: Numbers no hyper-parameter takes, whatever its range.
bad_numbers = st.sampled_from([math.nan, math.inf, -math.inf, None, "0.1", 1j,
                               np.array([0.1]), [0.1], -1e-300])
unit_floats = st.one_of(st.floats(0, 0.999), st.sampled_from(
    [0, 0.0, 1e-6, 0.5, 0.9, 0.999, np.float32(0.5)]))


def pick_valid(valid: st.SearchStrategy, invalid: st.SearchStrategy) -> st.SearchStrategy:
    return valid


def is_number(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and \
        not isinstance(value, bool) and math.isfinite(value)


@st.composite
def sgd_options(draw: st.DrawFn, valid_only: bool = False) -> tuple[dict[str, Any], set[str]]:
    """SGD options, each valid four times in five (or always), and the invalid ones' names."""
    mostly = pick_valid if valid_only else mostly_valid
    options = {
        "lr": draw(mostly(st.floats(1e-6, 10), st.one_of(bad_numbers, st.floats(max_value=0)))),
        "momentum": draw(mostly(st.sampled_from([0.0, 0, 0.5, 0.9, 1.5]), bad_numbers)),
        "dampening": draw(mostly(st.sampled_from([0.0, 0, 0.1, 1.0]), bad_numbers)),
        "weight_decay": draw(mostly(st.sampled_from([0.0, 0, 1e-4, 0.5]), bad_numbers)),
        "nesterov": draw(mostly(st.booleans(), st.sampled_from([np.True_, 1, "yes", None]))),
    }
    bad = {k for k in ("lr",) if not (is_number(options[k]) and options[k] > 0)}
    bad |= {k for k in ("momentum", "dampening", "weight_decay")
            if not (is_number(options[k]) and options[k] >= 0)}
    nesterov = options["nesterov"]
    if nesterov is True and not bad and (options["momentum"] <= 0 or options["dampening"] != 0):
        if valid_only:
            options["nesterov"] = False
        else:
            bad.add("nesterov")
    if not isinstance(nesterov, bool):
        bad.add("nesterov")
    return options, bad


@st.composite
def adam_options(draw: st.DrawFn, valid_only: bool = False) -> tuple[dict[str, Any], set[str]]:
    """Adam options, each valid four times in five (or always), and the invalid ones' names."""
    mostly = pick_valid if valid_only else mostly_valid
    betas = draw(mostly(st.tuples(unit_floats, unit_floats), st.one_of(
        st.tuples(st.sampled_from([1.0, -0.1, math.nan, "0.9", None]), unit_floats),
        st.tuples(unit_floats, st.sampled_from([1, 1.5, math.inf])),
        st.sampled_from([(0.9,), (0.9, 0.99, 0.999), 0.9, np.array([0.9, 0.999]), None]))))
    options = {
        "lr": draw(mostly(st.floats(1e-6, 10), st.one_of(bad_numbers, st.floats(max_value=0)))),
        "betas": betas,
        "eps": draw(mostly(st.sampled_from([1e-8, 1e-12, 1e-3, 0, 0.0]), bad_numbers)),
        "weight_decay": draw(mostly(st.sampled_from([0.0, 0, 1e-4, 0.5]), bad_numbers)),
        "amsgrad": draw(mostly(st.booleans(), st.sampled_from([np.True_, 1, None]))),
    }
    bad = {k for k in ("lr",) if not (is_number(options[k]) and options[k] > 0)}
    bad |= {k for k in ("eps", "weight_decay") if not (is_number(options[k]) and options[k] >= 0)}
    if not isinstance(betas, (tuple, list)) or len(betas) != 2 or not all(
            is_number(b) and 0 <= b < 1 for b in betas):
        bad.add("betas")
    if not isinstance(options["amsgrad"], bool):
        bad.add("amsgrad")
    return options, bad


optimizer_cases = st.one_of(sgd_options().map(lambda c: (zn.optim.SGD, *c)),
                            adam_options().map(lambda c: (zn.optim.Adam, *c)))
valid_optimizer_cases = st.one_of(sgd_options(True).map(lambda c: (zn.optim.SGD, *c)),
                                  adam_options(True).map(lambda c: (zn.optim.Adam, *c)))


def make_params(dtype: np.dtype, rng: np.random.Generator) -> list[zn.nn.Parameter]:
    return [zn.nn.Parameter(rng.normal(size=shape).astype(dtype)) for shape in SHAPES]


@FUZZ
@given(case=optimizer_cases, dtype=float_dtypes, seed=seeds)
def test_optimizer_options_are_checked_and_mirrored(case: tuple[type, dict[str, Any], set[str]],
                                                    dtype: np.dtype, seed: int) -> None:
    """Invalid options raise naming the option; valid ones build an optimizer whose torch
    mirror (with the same hyper-parameters) torch accepts too."""
    optimizer_type, options, bad = case
    params = make_params(dtype, np.random.default_rng(seed))
    outcome = run(optimizer_type, params, **options)
    if bad:
        assert_documented(outcome, optimizer_type, *bad)
        return
    optimizer = assert_returned(outcome, optimizer_type.__name__)
    torch_params = [torch.nn.Parameter(torch.from_numpy(p.data.copy())) for p in params]
    torch_optimizer = assert_returned(run(mirror_optimizer, optimizer, torch_params),
                                      "mirror_optimizer")
    group = torch_optimizer.param_groups[0]
    assert all(group[k] == v for k, v in optimizer.hyperparameters.items())


not_param_lists = st.one_of(
    st.just([]), st.sampled_from([None, 5, "params"]),
    st.builds(lambda: zn.nn.Parameter(np.zeros(2))),  # a Parameter, not a list of them
    st.builds(lambda: [zn.nn.Parameter(np.zeros(2)), np.zeros(2)]),
    st.builds(lambda: [torch.nn.Parameter(torch.zeros(2))]),
    st.builds(lambda: [p := zn.nn.Parameter(np.zeros(2)), p]))


@FEW
@given(params=not_param_lists, optimizer_type=st.sampled_from([zn.optim.SGD, zn.optim.Adam]))
def test_optimizer_params_must_be_distinct_parameters(params: Any, optimizer_type: type) -> None:
    assert_documented(run(optimizer_type, params, lr=0.1), optimizer_type, "params")


@st.composite
def gradient_runs(draw: st.DrawFn) -> tuple[list[list[np.ndarray | None]], float]:
    """Gradients for each of 1 to 4 steps (None now and then: no gradient that step),
    normal values scaled by one of the dtype's bounds; and lr."""
    dtype = draw(float_dtypes)
    rng = np.random.default_rng(draw(seeds))
    steps = []
    for _ in range(draw(st.integers(1, 4))):
        scale = draw(st.sampled_from(BOUNDS[dtype][:4]))
        steps.append([None if rng.random() < 0.15 else
                      (scale * rng.uniform(-1, 1, size=shape)).astype(dtype) for shape in SHAPES])
    return steps, draw(st.sampled_from([1e-3, 0.1, 1.0]))


def regression_run() -> tuple[list[list[np.ndarray | None]], float]:
    """float32 gradients of order 1, then of order 1e-30: with beta1 = 1.3e-6 the second
    moment underflows and the update is m / eps, where a 1 - beta1 rounded other than as
    torch rounds it shows (it did: lerp_'s weight in float64, 1% off)."""
    rng = np.random.default_rng(0)
    return [[rng.uniform(-1, 1, size=s).astype(np.float32) for s in SHAPES],
            [None, *(np.float32(1e-30) * rng.uniform(-1, 1, size=s).astype(np.float32)
                     for s in SHAPES[1:])]], 1e-3


@FUZZ
@given(case=valid_optimizer_cases, grads=gradient_runs(), seed=seeds)
@example(case=(zn.optim.Adam, {"lr": 1.0, "betas": (1.3e-6, 0.0), "eps": 1e-8,
                               "weight_decay": 0.0, "amsgrad": False}, set()),
         grads=regression_run(), seed=0)
def test_optimizer_steps_match_torch(case: tuple[type, dict[str, Any], set[str]],
                                     grads: tuple[list[list[np.ndarray | None]], float],
                                     seed: int) -> None:
    """Parameters and every state entry against torch's after each step (eps >= 1e-12 here:
    with eps = 0 and subnormal second moments the quotient m / sqrt(v) has no precision
    left in either library)."""
    optimizer_type, options, _ = case
    steps, lr = grads
    options = {**options, "lr": lr}
    if "eps" in options:
        options["eps"] = max(float(options["eps"]), 1e-12)
    dtype = next(g.dtype for step in steps for g in step if g is not None) \
        if any(g is not None for step in steps for g in step) else np.dtype(np.float64)
    params = make_params(dtype, np.random.default_rng(seed))
    optimizer = optimizer_type(params, **options)
    torch_params = [torch.nn.Parameter(torch.from_numpy(p.data.copy())) for p in params]
    torch_optimizer = mirror_optimizer(optimizer, torch_params)
    scales: dict[str, float] = {}
    for count, step in enumerate(steps, start=1):
        for p, tp, g in zip(params, torch_params, step, strict=True):
            p.grad = None if g is None else g.copy()
            tp.grad = None if g is None else torch.from_numpy(g.copy())
        before = [to_array(tp).copy() for tp in torch_params]
        torch_optimizer.step()
        huge = float(np.finfo(dtype).max) / 2
        for i, (tp, g) in enumerate(zip(torch_params, step, strict=True)):
            sizes = [np.abs(before[i]), np.abs(to_array(tp))]
            if g is not None:
                sizes += [np.abs(g.astype(np.float64)) * max(lr, 1),
                          np.square(g.astype(np.float64))]
            sizes += [np.abs(to_array(v).astype(np.float64))
                      for v in torch_optimizer.state[tp].values() if v.ndim]
            scale = max(float(np.max(s, initial=0.0)) for s in sizes)
            scales[str(i)] = max(scales.get(str(i), 0.0), scale)
        overflow = any(not scale < huge for scale in scales.values())
        assert_returned(run(optimizer.step), "step", may_overflow=overflow)
        if overflow:
            continue  # near the float range: summation order decides finite or not
        for i, (p, tp) in enumerate(zip(params, torch_params, strict=True)):
            atol = ATOL_PER_TERM[dtype] * scales[str(i)] * count + SUBNORMAL_FLOOR
            assert_close(p.data, to_array(tp), rtol=RTOL[dtype], atol=atol, name=f"param {i}")
            mine = optimizer.state[i]
            theirs = {k: v for k, v in torch_optimizer.state[tp].items() if v is not None}
            assert set(mine) == set(theirs), f"state {i}: {sorted(mine)} vs {sorted(theirs)}"
            for key, value in theirs.items():
                expected = to_array(value) if value.ndim else np.float64(value.item())
                actual = mine[key] if value.ndim else np.float64(mine[key])
                assert_close(actual, expected, rtol=RTOL[dtype], atol=atol,
                             name=f"state {i} {key}")


@st.composite
def bad_gradients(draw: st.DrawFn, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    """A .grad set by hand that is not an array of the parameter's shape and dtype."""
    other = np.float32 if dtype == np.float64 else np.float64
    return draw(st.one_of(
        wrong_arrays(shape), st.just(np.zeros(shape, dtype=other)),
        st.just(np.zeros((1,), dtype=dtype)), st.just(np.zeros((*shape, 2), dtype=dtype)),
        st.sampled_from([[0.0], 0.5, "grad", torch.zeros(shape, dtype=torch.float64)])))


@FUZZ
@given(case=valid_optimizer_cases, dtype=float_dtypes,
       index=st.integers(0, len(SHAPES) - 1), data=st.data())
def test_optimizer_step_refuses_gradients_of_another_shape_or_dtype(
        case: tuple[type, dict[str, Any], set[str]], dtype: np.dtype, index: int,
        data: st.DataObject) -> None:
    """numpy would broadcast a (1,) gradient into any parameter, or cast another dtype:
    step refuses naming the parameter's grad, before updating anything."""
    optimizer_type, options, _ = case
    params = make_params(dtype, np.random.default_rng(0))
    optimizer = optimizer_type(params, **options)
    for p in params:
        p.grad = np.ones(p.shape, dtype=dtype)
    params[index].grad = data.draw(bad_gradients(params[index].shape, dtype))
    before = [p.data.copy() for p in params]
    assert_documented(run(optimizer.step), optimizer_type.step, f"params[{index}].grad")
    for p, value in zip(params, before, strict=True):
        np.testing.assert_array_equal(p.data, value)


# ------------------------------------------------------------------ optimizer state_dict

STATE_MUTATIONS = (
    "none", "float32 arrays", "numpy step", "drop top key", "two groups", "group not mapping",
    "wrong params", "extra hyperparameter", "bad lr", "state not mapping",
    "index out of range", "bool index", "entry not mapping", "missing key", "wrong shape",
    "int array", "complex array", "nan array", "overflowing array", "negative step",
    "fractional step", "string step", "bool step")


def mutate_state(state: dict[str, Any], mutation: str,
                 dtype: np.dtype) -> tuple[dict[str, Any], str | None]:
    """``state`` (an optimizer's state_dict) mutated, and the argument the mutation broke
    (None if the state dict is still valid, e.g. a step mutation for SGD, which has none)."""
    state = copy.deepcopy(state)
    entry = state["state"].setdefault(0, {})  # SGD without momentum keeps no state: {}
    arrays = [k for k, v in entry.items() if isinstance(v, np.ndarray)]
    where = "state_dict['state'][0]"
    if mutation == "float32 arrays":
        for k in arrays:
            entry[k] = entry[k].astype(np.float32).astype(np.float64)
    elif mutation == "numpy step" and "step" in entry:
        entry["step"] = np.int64(entry["step"])
    elif mutation == "drop top key":
        del state["param_groups"]
        return state, "state_dict"
    elif mutation == "two groups":
        state["param_groups"] = state["param_groups"] * 2
        return state, "state_dict['param_groups']"
    elif mutation == "group not mapping":
        state["param_groups"] = [list(state["param_groups"][0].items())]
        return state, "state_dict['param_groups'][0]"
    elif mutation == "wrong params":
        state["param_groups"][0]["params"] = [0]
        return state, "state_dict['param_groups'][0]['params']"
    elif mutation == "extra hyperparameter":
        state["param_groups"][0]["maximize"] = False
        return state, "state_dict['param_groups'][0]"
    elif mutation == "bad lr":
        state["param_groups"][0]["lr"] = -1.0
        return state, "lr"
    elif mutation == "state not mapping":
        state["state"] = list(state["state"].values())
        return state, "state_dict['state']"
    elif mutation in ("index out of range", "bool index"):
        state["state"] = {len(SHAPES) if mutation == "index out of range" else True: entry}
        return state, "state_dict['state']"
    elif mutation == "entry not mapping":
        state["state"][0] = list(entry.items())
        return state, where
    elif mutation == "missing key" and entry:
        del entry[sorted(entry)[0]]
        return state, where
    elif arrays and mutation in ("wrong shape", "int array", "complex array", "nan array",
                                 "overflowing array"):
        value = entry[arrays[0]]
        if mutation == "wrong shape":
            entry[arrays[0]] = np.zeros((*value.shape, 1))
        elif mutation in ("int array", "complex array"):
            entry[arrays[0]] = value.astype(np.int64 if mutation == "int array" else complex)
        else:
            entry[arrays[0]] = value.astype(np.float64)
            entry[arrays[0]].reshape(-1)[0] = np.nan if mutation == "nan array" else (
                1e300 if dtype == np.float32 else np.inf)
        return state, f"{where}[{arrays[0]!r}]"
    elif "step" in entry and mutation.endswith("step") and mutation != "numpy step":
        entry["step"] = {"negative step": -1, "fractional step": 1.5, "string step": "1",
                         "bool step": True}[mutation]
        return state, f"{where}['step']"
    return state, None


@FUZZ
@given(case=valid_optimizer_cases, dtype=float_dtypes, seed=seeds,
       mutation=st.sampled_from(STATE_MUTATIONS))
def test_optimizer_load_state_dict_resumes_or_refuses(
        case: tuple[type, dict[str, Any], set[str]], dtype: np.dtype, seed: int,
        mutation: str) -> None:
    """A loaded state dict resumes exactly where the saved optimizer was (the next step is
    bit for bit the same); a broken one raises naming the broken part and changes nothing."""
    optimizer_type, options, _ = case
    rng = np.random.default_rng(seed)
    params = make_params(dtype, rng)
    optimizer = optimizer_type(params, **options)
    for p in params:
        p.grad = rng.normal(size=p.shape).astype(dtype)
    optimizer.step()
    fresh_params = [zn.nn.Parameter(p.data.copy()) for p in params]
    resumed = optimizer_type(fresh_params, **options)
    resumed_before = resumed.state_dict()
    state, broken = mutate_state(optimizer.state_dict(), mutation, dtype)
    outcome = run(resumed.load_state_dict, state)
    if broken is not None:
        assert_documented(outcome, zn.optim.Optimizer.load_state_dict, broken)
        after = resumed.state_dict()
        assert after["param_groups"] == resumed_before["param_groups"]
        assert after["state"] == resumed_before["state"] == {}  # nothing was set
        return
    assert_returned(outcome, "load_state_dict")
    if mutation == "float32 arrays":
        return  # a valid state, no longer the saved one
    for p, q in zip(params, fresh_params, strict=True):
        p.grad = q.grad = rng.normal(size=p.shape).astype(dtype)
    optimizer.step()
    resumed.step()
    for p, q in zip(params, fresh_params, strict=True):
        np.testing.assert_array_equal(q.data, p.data)  # same state, same arithmetic: exact


@FEW
@given(optimizer=st.sampled_from([None, "adam", torch.optim.SGD, object()]))
def test_mirror_optimizer_refuses_non_optimizers(optimizer: Any) -> None:
    outcome = run(mirror_optimizer, optimizer, [torch.nn.Parameter(torch.zeros(2))])
    assert_documented(outcome, mirror_optimizer, "optimizer")


@FEW
@given(torch_params=st.one_of(
    st.just([]), st.sampled_from([None, 5]),
    st.builds(lambda: [torch.nn.Parameter(torch.zeros(3))]),  # one, of another shape
    st.builds(lambda: [np.zeros(2)] * len(SHAPES)),
    st.builds(lambda: [torch.nn.Parameter(torch.zeros(s)) for s in SHAPES[:-1]])))
def test_mirror_optimizer_refuses_params_unlike_the_optimizers(torch_params: Any) -> None:
    params = make_params(np.dtype(np.float64), np.random.default_rng(0))
    outcome = run(mirror_optimizer, zn.optim.SGD(params, lr=0.1), torch_params)
    assert_documented(outcome, mirror_optimizer, "torch_params")
