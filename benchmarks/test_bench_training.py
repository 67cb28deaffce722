"""Training steps, epochs (with their raw-NumPy floors), the full sine run and the scaling study.

The twins are built lazily (``TwinFactory``): the MNIST ones load 60000
images, and collecting the module should not.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest

from zeronet_study.bench import cases
from zeronet_study.bench.cases import Twin
from zeronet_study.bench.records import WIDTH_SERIES_BATCH, Plan

pytestmark = pytest.mark.filterwarnings("ignore:Benchmark fixture was not used")

DTYPES = ("float64", "float32")
PLAN = Plan()


@functools.cache
def twin(make: Callable[..., Twin], *args: object, **kwargs: object) -> Twin:
    """One twin per (factory, arguments), shared by the tests timing its roles."""
    return make(*args, **kwargs)


STEPS = [(cases.step_twin, (dtype, task, opt)) for dtype in DTYPES
         for task, opt in (("sine", "sgd"), ("sine", "adam"), ("mnist", "adam"))]
EPOCHS = [(cases.sine_epoch_twin, (dtype,)) for dtype in DTYPES]
SCALING = [(dtype, {"batch": b, "width": 16}) for dtype in DTYPES for b in PLAN.batches]
SCALING += [(dtype, {"batch": WIDTH_SERIES_BATCH, "width": w}) for dtype in DTYPES
            for w in PLAN.widths[1:]]  # width 16 is in the batch series


@pytest.mark.parametrize("role", ["zeronet", "torch"])
@pytest.mark.parametrize(("make", "args"), STEPS, ids=[" ".join(a) for _, a in STEPS])
def test_step(bench, make, args, role: str) -> None:
    bench(twin(make, *args), role)


@pytest.mark.parametrize("role", ["zeronet", "torch", "floor", cases.CHECKED])
@pytest.mark.parametrize("dtype", DTYPES)
def test_sine_epoch(bench, dtype: str, role: str) -> None:
    bench(twin(cases.sine_epoch_twin, dtype), role)


@pytest.mark.parametrize("role", ["zeronet", "torch", "floor", "floor (784-wide products)"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_mnist_epoch(bench, dtype: str, role: str) -> None:
    bench(twin(cases.mnist_epoch_twin, dtype), role)


@pytest.mark.parametrize("role", ["zeronet", "tuned loop"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_mnist_natural_loop(bench, dtype: str, role: str) -> None:
    """The loop as a user writes it (every default) against the tuned loop."""
    bench(twin(cases.natural_loop_twin, dtype), role)


def whole_run(dtype: str) -> Twin:
    """The full sine run as a twin whose every role runs all its epochs in one call."""
    run = twin(cases.sine_run_twin, dtype, PLAN.sine_epochs)
    roles = {name: functools.partial(_repeat, fn, PLAN.sine_epochs)
             for name, fn in run.roles().items()}
    return Twin(run.name, run.group, dtype, roles.pop("zeronet"), roles.pop("torch"), run.check,
                roles, run.info)


def _repeat(fn: Callable[[], object], times: int) -> None:
    for _ in range(times):
        fn()


@pytest.mark.parametrize("role", ["zeronet", "torch", "floor"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_sine_full_run(bench, dtype: str, role: str) -> None:
    """The seed's whole sine Adam run (2000 epochs of 10 batches), one round per role."""
    bench(twin(whole_run, dtype), role)


@pytest.mark.parametrize("role", ["zeronet", "torch"])
@pytest.mark.parametrize(("dtype", "point"), SCALING,
                         ids=[f"{d}-batch{p['batch']}-width{p['width']}" for d, p in SCALING])
def test_scaling(bench, dtype: str, point: dict[str, int], role: str) -> None:
    bench(twin(cases.scaling_twin, dtype, **point), role)
