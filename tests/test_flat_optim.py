"""The optimizers' flat buffer: one update over all parameters, same numbers as one per parameter.

The parity of the default (flat) path with torch is in test_parity_optim.py.
Here: flat against per-parameter (``flat=False``) bit for bit, since both run
the same element-wise arithmetic; and the ways the buffer can be bypassed
(a parameter's ``data`` rebound, two optimizers over the same parameters,
state loaded from a state dict) still update the parameters the user sees.
"""

from __future__ import annotations

import numpy as np
import pytest
from parity import DTYPES, random_grads, random_params
from test_parity_optim import ADAM_OPTIONS, SGD_OPTIONS, run

import zeronet as zn

OPTIMIZERS = ([(zn.optim.SGD, options) for options in SGD_OPTIONS.values()]
              + [(zn.optim.Adam, options) for options in ADAM_OPTIONS.values()])
IDS = [f"sgd-{name}" for name in SGD_OPTIONS] + [f"adam-{name}" for name in ADAM_OPTIONS]


def params_of(dtype: type) -> list[zn.nn.Parameter]:
    return [zn.nn.Parameter(v) for v in random_params(dtype).values()]


def assert_identical(a: zn.optim.Optimizer, b: zn.optim.Optimizer) -> None:
    for p, q in zip(a.params, b.params, strict=True):
        np.testing.assert_array_equal(p.data, q.data)
    assert [s.keys() for s in a.state] == [s.keys() for s in b.state]
    for s, t in zip(a.state, b.state, strict=True):
        for key in s:
            np.testing.assert_array_equal(s[key], t[key])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("cls", "options"), OPTIMIZERS, ids=IDS)
def test_flat_equals_per_parameter_bit_for_bit(cls, options, dtype):
    grads = random_grads(30, dtype)
    flat, per_parameter = cls(params_of(dtype), **options), cls(params_of(dtype), **options,
                                                                flat=False)
    run(flat, flat.params, grads)
    run(per_parameter, per_parameter.params, grads)
    assert_identical(flat, per_parameter)


def test_parameters_become_views_of_one_buffer_with_their_values():
    params = params_of(np.float64)
    values = [p.data.copy() for p in params]
    zn.optim.Adam(params)
    base = params[0].data.base
    assert base is not None
    assert all(p.data.base is base for p in params)
    for p, v in zip(params, values, strict=True):
        np.testing.assert_array_equal(p.data, v)


def test_rebound_parameter_data_is_updated():
    """Replacing ``p.data`` after the optimizer was built: the step updates the new array."""
    grads = random_grads(5, np.float64)
    params, reference = params_of(np.float64), params_of(np.float64)
    optimizer = zn.optim.Adam(params, lr=0.01)
    expected = zn.optim.Adam(reference, lr=0.01, flat=False)
    run(optimizer, params, grads[:2])
    run(expected, reference, grads[:2])
    params[1].data = params[1].data * 2  # a new array, outside the buffer
    reference[1].data = reference[1].data * 2
    run(optimizer, params, grads[2:])
    run(expected, reference, grads[2:])
    assert_identical(optimizer, expected)


def test_two_optimizers_over_the_same_parameters():
    """Each claims the buffer back in turn; the parameters see every update of both."""
    grads = random_grads(6, np.float64)
    params, reference = params_of(np.float64), params_of(np.float64)
    pair = zn.optim.SGD(params, lr=0.1, momentum=0.9), zn.optim.Adam(params, lr=0.01)
    expected = (zn.optim.SGD(reference, lr=0.1, momentum=0.9, flat=False),
                zn.optim.Adam(reference, lr=0.01, flat=False))
    for i, g in enumerate(grads):
        run(pair[i % 2], params, [g])
        run(expected[i % 2], reference, [g])
    for a, b in zip(pair, expected, strict=True):
        assert_identical(a, b)


@pytest.mark.parametrize("cls", [zn.optim.SGD, zn.optim.Adam])
def test_loaded_state_is_flattened_and_updated_in_place(cls):
    """load_state_dict, then steps: as per parameter, and state[i] keeps tracking the buffer."""
    options = {"lr": 0.01, "momentum": 0.9} if cls is zn.optim.SGD else {"lr": 0.01}
    grads = random_grads(20, np.float64)
    source = cls(params_of(np.float64), **options)
    run(source, source.params, grads[:10])
    loaded = [cls([zn.nn.Parameter(p.data.copy()) for p in source.params], **options, flat=flat)
              for flat in (True, False)]
    for optimizer in loaded:
        optimizer.load_state_dict(source.state_dict())
        run(optimizer, optimizer.params, grads[10:])
    assert_identical(*loaded)
    state_arrays = [v for s in loaded[0].state for v in s.values() if isinstance(v, np.ndarray)]
    assert state_arrays
    assert all(v.base is not None for v in state_arrays)


def test_flat_must_be_a_bool():
    with pytest.raises(TypeError, match="flat: expected a bool, got 1"):
        zn.optim.SGD(params_of(np.float64), lr=0.1, flat=1)


def test_a_step_without_any_gradient_keeps_the_flat_buffer():
    """zero_grad(); step() changes nothing, so nothing makes the states differ: still flat."""
    params = params_of(np.float64)
    optimizer = zn.optim.Adam(params, lr=0.01)
    optimizer.step()  # no parameter has a gradient yet
    run(optimizer, params, random_grads(3, np.float64))
    state_arrays = [v for s in optimizer.state for v in s.values() if isinstance(v, np.ndarray)]
    assert state_arrays
    assert all(v.base is not None for v in state_arrays)  # views of the flat state
