"""The optimizers' fast path: one update over all parameters, same numbers as one per parameter.

The parity of the default path with torch is in test_parity_optim.py (its
parameters lie end to end, so that is the fast path). Here: the fast path
against the per-parameter one (``flat=False``) bit for bit, since both run
the same element-wise arithmetic; that the arrays a user holds are the ones
updated (nothing is re-pointed); when the fast path applies (a model's
parameters, built by ``relu_mlp`` or by hand) and when it must not (arrays
built apart, a ``data`` replaced, a gradient missing), and that either way
the numbers are those of the per-parameter path.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from helpers.parity import ADAM_OPTIONS, DTYPES, SGD_OPTIONS, random_grads, random_params
from helpers.parity import run_steps as run

import zeronet as zn
from zeronet.nn import storage
from zeronet.optim.flat import span
from zeronet.seed_networks import MNIST

OPTIMIZERS = ([(zn.optim.SGD, options) for options in SGD_OPTIONS.values()]
              + [(zn.optim.Adam, options) for options in ADAM_OPTIONS.values()])
IDS = [f"sgd-{name}" for name in SGD_OPTIONS] + [f"adam-{name}" for name in ADAM_OPTIONS]


def params_of(dtype: type, *, end_to_end: bool = True) -> list[zn.nn.Parameter]:
    """The parameters of test_parity_optim, lying end to end (as a model's) or each apart."""
    values = list(random_params(dtype).values())
    if end_to_end:
        values = storage.end_to_end(values)
    return [zn.nn.Parameter(v) for v in values]


def assert_identical(a: zn.optim.Optimizer, b: zn.optim.Optimizer) -> None:
    for p, q in zip(a.params, b.params, strict=True):
        np.testing.assert_array_equal(p.data, q.data)
    assert [s.keys() for s in a.state] == [s.keys() for s in b.state]
    for s, t in zip(a.state, b.state, strict=True):
        for key in s:
            np.testing.assert_array_equal(s[key], t[key])


def state_is_flat(optimizer: zn.optim.Optimizer) -> bool:
    """Whether every state array is a view of one array per entry: the fast path ran."""
    arrays = [(key, v) for s in optimizer.state for key, v in s.items()
              if isinstance(v, np.ndarray)]
    bases = {key: set() for key, _ in arrays}
    for key, v in arrays:
        bases[key].add(id(v.base))
    return bool(arrays) and all(v.base is not None for _, v in arrays) \
        and all(len(ids) == 1 for ids in bases.values())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("cls", "options"), OPTIMIZERS, ids=IDS)
def test_flat_equals_per_parameter_bit_for_bit(cls, options, dtype):
    grads = random_grads(30, dtype)
    flat, per_parameter = cls(params_of(dtype), **options), cls(params_of(dtype), **options,
                                                                flat=False)
    run(flat, flat.params, grads)
    run(per_parameter, per_parameter.params, grads)
    assert state_is_flat(flat) == bool(flat.state[0])  # SGD without momentum keeps no state
    assert not state_is_flat(per_parameter)
    assert_identical(flat, per_parameter)


@pytest.mark.parametrize("make", [lambda ps: zn.optim.SGD(ps, lr=0.1),
                                  lambda ps: zn.optim.Adam(ps, lr=0.1),
                                  lambda ps: zn.optim.SGD(ps, lr=0.1, flat=False)],
                         ids=["sgd", "adam", "sgd-per-parameter"])
def test_the_array_a_user_holds_is_the_one_updated(make):
    """``w = model[0].weight.data`` before the optimizer exists; every step shows in ``w``."""
    model = zn.nn.relu_mlp((3, 4, 2), rng=np.random.default_rng(0))
    held = [p.data for p in model.parameters()]
    w, before = model[0].weight.data, model[0].weight.data.copy()
    optimizer = make(model.parameters())
    assert all(p.data is a for p, a in zip(model.parameters(), held, strict=True))
    for p in model.parameters():
        p.grad = np.ones_like(p.data)
    optimizer.step()
    assert model[0].weight.data is w
    assert np.all(w < before)  # a positive gradient moved every weight down
    if isinstance(optimizer, zn.optim.SGD):
        np.testing.assert_array_equal(w, before - 0.1)


def test_a_models_parameters_lie_end_to_end():
    """relu_mlp's layers, and layers built one after another by hand (the README's model)."""
    rng = np.random.default_rng(0)
    by_hand = zn.nn.Sequential(zn.nn.Linear(784, 16, rng=rng), zn.nn.ReLU(),
                               zn.nn.Linear(16, 10, rng=rng))
    for model in (zn.nn.relu_mlp(MNIST.sizes, rng=rng), by_hand):
        whole = span([p.data for p in model.parameters()])
        assert whole is not None
        assert whole.size == sum(p.data.size for p in model.parameters())


def test_relu_mlp_never_straddles_two_blocks():
    """A model that no longer fits in the current block starts a new one, whole."""
    first_layer = (784 + 1) * 16
    storage.reserve(storage.BLOCK_SIZE, np.float64)  # a fresh block, then fill it
    storage.empty((storage.BLOCK_SIZE - first_layer - 100,), np.float64)  # room for layer 0 only
    model = zn.nn.relu_mlp(MNIST.sizes, rng=np.random.default_rng(0))
    assert span([p.data for p in model.parameters()]) is not None


@pytest.mark.parametrize("arrays", [
    lambda block: [block[4:10], block[0:4]],  # out of order
    lambda block: [block[0:4], block[5:10]],  # a gap
    lambda block: [block[0:8:2], block[8:10]],  # strided
    lambda block: [block[0:4], np.zeros(6)],  # one apart
    lambda block: [block[0:4].view(np.int64), block[4:10].view(np.int64)],  # another dtype
], ids=["order", "gap", "strided", "apart", "dtype"])
def test_span_refuses_arrays_that_do_not_fill_one_array_end_to_end(arrays):
    assert span(arrays(np.zeros(10))) is None
    block = np.zeros(10)
    assert span([block[0:4], block[4:10].reshape(2, 3)]).base is block


def test_parameters_built_apart_are_updated_one_by_one_with_the_same_numbers():
    grads = random_grads(10, np.float64)
    apart, together = (zn.optim.Adam(params_of(np.float64, end_to_end=e), lr=0.01)
                       for e in (False, True))
    run(apart, apart.params, grads)
    run(together, together.params, grads)
    assert not state_is_flat(apart)
    assert state_is_flat(together)
    assert_identical(apart, together)


def test_rebound_parameter_data_is_updated():
    """Replacing ``p.data`` after the optimizer was built: the step updates the new array."""
    grads = random_grads(5, np.float64)
    params, reference = params_of(np.float64), params_of(np.float64)
    optimizer = zn.optim.Adam(params, lr=0.01)
    expected = zn.optim.Adam(reference, lr=0.01, flat=False)
    run(optimizer, params, grads[:2])
    run(expected, reference, grads[:2])
    params[1].data = params[1].data * 2  # a new array, outside the block
    reference[1].data = reference[1].data * 2
    run(optimizer, params, grads[2:])
    run(expected, reference, grads[2:])
    assert_identical(optimizer, expected)


def test_two_optimizers_over_the_same_parameters():
    """Both update the same arrays; the parameters see every update of both."""
    grads = random_grads(6, np.float64)
    params, reference = params_of(np.float64), params_of(np.float64)
    pair = zn.optim.SGD(params, lr=0.1, momentum=0.9), zn.optim.Adam(params, lr=0.01)
    expected = (zn.optim.SGD(reference, lr=0.1, momentum=0.9, flat=False),
                zn.optim.Adam(reference, lr=0.01, flat=False))
    for i, g in enumerate(grads):
        run(pair[i % 2], params, [g])
        run(expected[i % 2], reference, [g])
    for a, b in zip(pair, expected, strict=True):
        assert state_is_flat(a)
        assert_identical(a, b)


@pytest.mark.parametrize("cls", [zn.optim.SGD, zn.optim.Adam])
def test_loaded_state_is_flattened_and_updated_in_place(cls):
    """load_state_dict, then steps: as per parameter, and state[i] keeps tracking the flat state."""
    options = {"lr": 0.01, "momentum": 0.9} if cls is zn.optim.SGD else {"lr": 0.01}
    grads = random_grads(20, np.float64)
    source = cls(params_of(np.float64), **options)
    run(source, source.params, grads[:10])
    loaded = [cls([zn.nn.Parameter(a) for a in storage.end_to_end([p.data for p in source.params])],
                  **options, flat=flat) for flat in (True, False)]
    for optimizer in loaded:
        optimizer.load_state_dict(source.state_dict())
        run(optimizer, optimizer.params, grads[10:])
    assert_identical(*loaded)
    assert state_is_flat(loaded[0])


def test_a_missing_gradient_ends_the_fast_path_with_the_same_numbers():
    grads = random_grads(6, np.float64)
    grads[2] = {**grads[2], "0.bias": None}
    flat, per_parameter = (zn.optim.Adam(params_of(np.float64), lr=0.01, flat=f)
                           for f in (True, False))
    run(flat, flat.params, grads[:2])
    assert state_is_flat(flat)
    run(flat, flat.params, grads[2:])
    run(per_parameter, per_parameter.params, grads)
    assert_identical(flat, per_parameter)
    assert flat.state[1]["step"] == 5  # the skipped parameter's count fell behind
    assert flat.state[0]["step"] == 6


def test_flat_must_be_a_bool():
    with pytest.raises(TypeError, match="flat: expected a bool, got 1"):
        zn.optim.SGD(params_of(np.float64), lr=0.1, flat=1)


def test_a_step_without_any_gradient_keeps_the_fast_path():
    """zero_grad(); step() changes nothing, so nothing makes the states differ: still flat."""
    params = params_of(np.float64)
    optimizer = zn.optim.Adam(params, lr=0.01)
    optimizer.step()  # no parameter has a gradient yet
    run(optimizer, params, random_grads(3, np.float64))
    assert state_is_flat(optimizer)


@pytest.mark.parametrize("flat", [True, False])
def test_an_adam_step_allocates_no_array_of_the_parameters_size(flat: bool) -> None:
    """After its first step Adam reuses its scratch arrays: a step's new memory stays far
    below one array of the parameters' size (NumPy reports its allocations to tracemalloc)."""
    model = zn.nn.relu_mlp((400, 250, 10), rng=np.random.default_rng(0))  # ~100k parameters
    params = model.parameters()
    for p in params:
        p.grad = np.ones_like(p.data)
    optimizer = zn.optim.Adam(params, lr=1e-3, flat=flat)
    optimizer.step()  # the state and the scratch arrays are made here
    tracemalloc.start()
    try:
        optimizer.step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    largest = max(p.data.nbytes for p in params)
    assert peak < largest / 4, f"a step allocated {peak} bytes at its peak"
