"""Fuzzing Parameter and Module.state_dict/load_state_dict: data of every type, gradients
of other shapes and dtypes, state dicts mutated every way.

The harness and the property are those of test_fuzz.py (its module docstring).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st

import zeronet as zn
from fuzz.harness import (
    FUZZ,
    any_arrays,
    assert_documented,
    assert_returned,
    float_arrays_any_shape,
    float_dtypes,
    mostly,
    not_arrays,
    run,
    seeds,
    to_array,
)
from reference import mirror


@FUZZ
@given(data=st.one_of(float_arrays_any_shape(), any_arrays(), not_arrays))
def test_parameter_holds_float32_or_float64_arrays_only(data: Any) -> None:
    """torch.nn.Parameter refuses integer tensors too; float16 is outside zeronet's dtypes."""
    outcome = run(zn.nn.Parameter, data)
    if isinstance(data, np.ndarray) and data.dtype in (np.float32, np.float64):
        p = assert_returned(outcome, "Parameter")
        assert p.data is data
        assert p.grad is None
        assert (p.shape, p.dtype) == (data.shape, data.dtype)
    else:
        assert_documented(outcome, zn.nn.Parameter, "data")


@FUZZ
@given(data=float_arrays_any_shape(bound=1e300), steps=st.integers(1, 4), seed=seeds,
       junk=st.lists(st.one_of(any_arrays(), not_arrays), max_size=2))
def test_parameter_accumulates_like_torch_and_refuses_other_shapes_and_dtypes(
        data: np.ndarray, steps: int, seed: int, junk: list[Any]) -> None:
    """grad <- grad + g as torch accumulates .grad; a g of another shape or dtype (which numpy
    would broadcast or cast) is refused naming grad, and .grad is left as it was."""
    rng = np.random.default_rng(seed)
    p = zn.nn.Parameter(data.copy())
    torch_grad: torch.Tensor | None = None
    huge = float(np.finfo(data.dtype).max) / 2  # two of them overflow, in torch as here
    for _ in range(steps):
        scale = huge if rng.random() < 0.2 else 1.0
        g = np.asarray(scale * rng.uniform(-1, 1, size=data.shape), dtype=data.dtype)
        torch_grad = torch.from_numpy(g.copy()) if torch_grad is None \
            else torch_grad + torch.from_numpy(g)
        assert_returned(run(p.accumulate, g), "Parameter.accumulate", may_overflow=True)
        np.testing.assert_array_equal(p.grad, to_array(torch_grad))  # one rounding each: exact
        for bad in junk:
            if isinstance(bad, np.ndarray) and bad.dtype == data.dtype and bad.shape == data.shape:
                continue
            before = p.grad.copy()
            assert_documented(run(p.accumulate, bad), zn.nn.Parameter.accumulate, "grad")
            np.testing.assert_array_equal(p.grad, before)


# ---------------------------------------------------------------------------- state_dict

STATE_MUTATIONS = ("other float dtype", "torch tensor", "parameter tensor", "nested lists",
                   "nan", "overflow", "int", "complex", "shape", "ragged", "junk", "drop", "extra")


@FUZZ
@given(sizes=st.lists(st.integers(1, 4), min_size=2, max_size=3), dtype=float_dtypes,
       seed=seeds, mutations=st.lists(st.tuples(st.sampled_from(STATE_MUTATIONS),
                                                st.integers(0, 5)), max_size=2),
       as_mapping=mostly(st.just(True), st.just(False)))
def test_load_state_dict_loads_like_torch_or_leaves_model_untouched(
        sizes: list[int], dtype: np.dtype, seed: int, mutations: list[tuple[str, int]],
        as_mapping: bool) -> None:
    rng = np.random.default_rng(seed)
    model = zn.nn.relu_mlp(sizes, dtype=dtype, rng=rng)
    torch_model = mirror(model)
    before = model.state_dict()
    state: dict[str, Any] = {k: rng.normal(size=v.shape) for k, v in before.items()}
    last = {sorted(state)[index % len(state)]: mutation for mutation, index in mutations}
    bad_keys = set()
    for key, mutation in last.items():
        value = state[key]
        if mutation == "other float dtype":
            state[key] = value.astype(rng.choice([np.float16, np.float32, np.float64]))
        elif mutation == "torch tensor":
            state[key] = torch.from_numpy(value)
        elif mutation == "parameter tensor":  # requires grad: np.asarray cannot take it
            state[key] = torch.nn.Parameter(torch.from_numpy(value))
            bad_keys.add(key)
        elif mutation == "nested lists":
            state[key] = value.tolist()
        elif mutation in ("nan", "overflow", "int", "complex"):
            special = {"nan": np.nan, "overflow": 1e300 if dtype == np.float32 else np.inf}
            state[key] = value.astype({"int": np.int64, "complex": np.complex128}.get(
                mutation, np.float64))
            state[key].reshape(-1)[0] = special.get(mutation, 1)
            bad_keys.add(key)
        elif mutation == "shape":
            state[key] = np.zeros((*value.shape, 1))
            bad_keys.add(key)
        elif mutation == "ragged":
            state[key] = [[1.0], [1.0, 2.0]]
            bad_keys.add(key)
        elif mutation == "junk":
            state[key] = rng.choice(np.array([None, "weights", object()], dtype=object))
            bad_keys.add(key)
        elif mutation == "drop":
            state.pop(key)
            bad_keys.add("state_dict")
        else:
            state[f"{len(model)}.weight"] = value
            bad_keys.add("state_dict")
    argument: Any = state if as_mapping else list(state.items())
    outcome = run(model.load_state_dict, argument)
    if not as_mapping or bad_keys:
        names = [f"state_dict[{k!r}]" for k in bad_keys if k != "state_dict"]
        assert_documented(outcome, zn.nn.Module.load_state_dict, "state_dict", *names)
        for name, value in model.state_dict().items():
            np.testing.assert_array_equal(value, before[name])  # untouched, bit for bit
        return
    assert_returned(outcome, "load_state_dict")
    torch_model.load_state_dict({k: torch.as_tensor(np.asarray(v)) for k, v in state.items()})
    for name, value in torch_model.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[name], to_array(value))  # same cast


