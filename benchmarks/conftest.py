"""Shared set-up for the benchmarks.

* One thread count for both frameworks (``ZERONET_BENCH_THREADS``, default 1):
  torch through ``torch.set_num_threads``, NumPy's BLAS through threadpoolctl
  (or, without it, ``OPENBLAS_NUM_THREADS`` set before NumPy is imported).
  The run stops if either library ends up with another count.
* The seed's two networks, built with a seeded Generator and mirrored into
  torch with the same weights (``reference.mirror``).
* A ``bench`` fixture that names the group, runs a fixed number of rounds
  and keeps each median and minimum for the ratio table printed at the end
  of the run (``pytest_terminal_summary``).
* With one thread the clock is ``time.process_time`` (CPU time of this
  process), so that other work on a shared machine does not land in the
  measurements; with more threads, ``time.perf_counter``.
"""

from __future__ import annotations

import os
import sys


def _thread_count() -> int:
    raw = os.environ.get("ZERONET_BENCH_THREADS", "1")
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"ZERONET_BENCH_THREADS: expected a positive integer, got {raw!r}")
    return int(raw)


THREADS = _thread_count()

try:
    import threadpoolctl
except ImportError:  # OpenBLAS reads this once, when NumPy is first imported
    threadpoolctl = None
    if "numpy" not in sys.modules:
        os.environ["OPENBLAS_NUM_THREADS"] = str(THREADS)

import math  # noqa: E402
import re  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import reference  # noqa: E402
import zeronet as zn  # noqa: E402

SEED = 20240607
# name -> (layer sizes, batch size): the seed's sine and MNIST networks
NETS = {"sine": ((1, 16, 16, 16, 16, 1), 100), "mnist": ((784, 16, 16, 16, 16, 10), 1000)}
# name -> (rounds, iterations per round): about 0.3-1 s per benchmark here. Fixed
# counts (benchmark.pedantic) so both twins run exactly the same number of calls;
# many short rounds so that the median and the minimum shrug off a noisy neighbour.
ROUNDS = {"sine": (100, 20), "mnist": (100, 2)}
WARMUP_ROUNDS = 3
# With one thread, time the CPU the process used rather than the wall clock: other
# processes on a shared machine then steal time from neither twin's measurement.
# With more threads, CPU time would add the threads up, so the wall clock it is.
TIMER = time.process_time if THREADS == 1 else time.perf_counter

_LIMITER = pytest.StashKey[object]()
# group -> role -> (median, min) in seconds
_TIMES = pytest.StashKey[dict[str, dict[str, tuple[float, float]]]]()


# ----------------------------------------------------------------------------- threads

def _numpy_blas_threads() -> int | None:
    """The thread count NumPy's BLAS runs with, or None if it cannot be known."""
    if threadpoolctl is not None:
        counts = {lib["num_threads"] for lib in threadpoolctl.threadpool_info()
                  if lib["user_api"] == "blas"}
        return counts.pop() if len(counts) == 1 else None
    raw = os.environ.get("OPENBLAS_NUM_THREADS", "")
    return int(raw) if raw.isdigit() else None


def pytest_configure(config: pytest.Config) -> None:
    torch.set_num_threads(THREADS)
    if threadpoolctl is not None:
        config.stash[_LIMITER] = threadpoolctl.threadpool_limits(limits=THREADS, user_api="blas")
    config.stash[_TIMES] = {}
    blas = _numpy_blas_threads()
    if torch.get_num_threads() != THREADS or blas != THREADS:
        raise pytest.UsageError(
            f"benchmarks: expected {THREADS} thread(s) for both frameworks, got torch "
            f"{torch.get_num_threads()} and NumPy BLAS {blas} (install threadpoolctl, or set "
            f"OPENBLAS_NUM_THREADS={THREADS} before Python starts)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "benchmark" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.benchmark(timer=TIMER))


def pytest_unconfigure(config: pytest.Config) -> None:
    limiter = config.stash.get(_LIMITER, None)
    if limiter is not None:
        limiter.restore_original_limits()


def environment() -> dict[str, object]:
    """Thread counts, versions and BLAS of both frameworks, as run here."""
    numpy_blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    torch_config = torch.__config__.show()
    torch_blas = re.search(r"BLAS_INFO=(\w+)", torch_config)
    cpu = ""
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name")), "")
    return {
        "threads": THREADS,
        "timer": f"time.{TIMER.__name__}",
        "torch_threads": torch.get_num_threads(),
        "numpy_blas_threads": _numpy_blas_threads(),
        "numpy": np.__version__,
        "numpy_blas": f"{numpy_blas.get('name')} {numpy_blas.get('version')}",
        "torch": torch.__version__,
        "torch_blas": torch_blas.group(1) if torch_blas else "unknown",
        "torch_build": [line.strip(" -") for line in torch_config.splitlines()
                        if "Math Kernel Library" in line or "CPU capability" in line],
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
    }


def pytest_report_header(config: pytest.Config) -> str:
    env = environment()
    return (f"zeronet benchmarks: timer {env['timer']}, {env['threads']} thread(s): "
            f"torch {env['torch_threads']} "
            f"({env['torch']}, {env['torch_blas']}), NumPy BLAS {env['numpy_blas_threads']} "
            f"({env['numpy']}, {env['numpy_blas']}); CPU {env['cpu']} x{env['cpu_count']}")


def pytest_benchmark_update_machine_info(config: pytest.Config,
                                         machine_info: dict[str, object]) -> None:
    machine_info["zeronet_bench"] = environment()


# ----------------------------------------------------------------------------- cases

@dataclass
class Case:
    """One network with its batch and loss, in zeronet and (same weights) in torch."""

    net: str
    dtype: str
    model: zn.nn.Sequential
    loss_fn: zn.nn.MSELoss | zn.nn.CrossEntropyLoss
    x: np.ndarray
    target: np.ndarray
    torch_model: torch.nn.Sequential
    torch_loss_fn: torch.nn.Module
    torch_x: torch.Tensor
    torch_target: torch.Tensor


def make_case(net: str, dtype: str) -> Case:
    """The seed's ``net`` in ``dtype`` with a batch drawn from a seeded Generator.

    sine: x ~ U(-2 pi, 2 pi), y = 24 sin(3.2 x) + 42 cos(2.3 x), MSE loss.
    mnist: random pixels in [0, 1) and labels in 0..9 (the timings depend on
    the shapes only, so the data set itself is not needed), cross-entropy.
    """
    sizes, batch = NETS[net]
    rng = np.random.default_rng(SEED)
    model = zn.nn.relu_mlp(sizes, dtype=dtype, rng=rng)
    loss_fn: zn.nn.MSELoss | zn.nn.CrossEntropyLoss
    if net == "sine":
        x = rng.uniform(-2 * math.pi, 2 * math.pi, (batch, 1)).astype(dtype)
        target = (24 * np.sin(3.2 * x) + 42 * np.cos(2.3 * x)).astype(dtype)
        loss_fn = zn.nn.MSELoss()
    else:
        x = rng.random((batch, sizes[0]), dtype=dtype)
        target = rng.integers(0, sizes[-1], batch)
        loss_fn = zn.nn.CrossEntropyLoss()
    return Case(net, dtype, model, loss_fn, x, target, reference.mirror(model),
                reference.mirror_loss(loss_fn), torch.from_numpy(x), torch.from_numpy(target))


@pytest.fixture(params=list(NETS))
def net(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(params=["float64", "float32"])
def dtype(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def case(net: str, dtype: str) -> Case:
    return make_case(net, dtype)


@pytest.fixture(name="make_case")
def make_case_fixture() -> Callable[[str, str], Case]:
    """``make_case`` itself, for tests that pick one network and dtype."""
    return make_case


# ----------------------------------------------------------------------------- timing

@pytest.fixture
def bench(benchmark, request: pytest.FixtureRequest) -> Callable[..., None]:
    """``bench(fn, net, dtype, kind, role)``: time ``fn`` in group "net dtype kind".

    ``role`` is "zeronet", "torch" or a third entry of the group (the NumPy
    floor, a zeronet variant); the ratio table divides zeronet by each.
    Returns nothing: a benchmark's result is its timing, never asserted.
    """
    def run(fn: Callable[[], object], net: str, dtype: str, kind: str, role: str) -> None:
        group = f"{net} {dtype} {kind}"
        benchmark.group = group
        benchmark.extra_info.update(role=role, net=net, dtype=dtype, kind=kind, threads=THREADS)
        rounds, iterations = ROUNDS[net]
        benchmark.pedantic(fn, rounds=rounds, iterations=iterations, warmup_rounds=WARMUP_ROUNDS)
        if benchmark.stats is not None:  # None when benchmarking is disabled
            times = request.config.stash[_TIMES].setdefault(group, {})
            times[role] = (benchmark.stats["median"], benchmark.stats["min"])
    return run


def _time(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} us" if seconds < 1e-3 else f"{seconds * 1e3:.3f} ms"


def _ratio(a: tuple[float, float] | None, b: tuple[float, float] | None, i: int) -> str:
    return f"{a[i] / b[i]:.2f}" if a and b else "-"


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """Per group: zeronet and torch medians, and zeronet/torch of the medians and minima.

    Then one line per extra entry (the floor, input_grad=True): zeronet / it, torch / it.
    """
    groups = config.stash.get(_TIMES, {})
    if not groups:
        return
    write = terminalreporter.write_line
    terminalreporter.section(f"zeronet / torch, one run, {THREADS} thread(s), "
                             f"time.{TIMER.__name__}")
    width = max(map(len, groups)) + 2
    write(f"{'group':<{width}}{'zeronet':>12}{'torch':>12}{'ratio (median)':>16}"
          f"{'ratio (min)':>13}")
    extras = []
    for group in sorted(groups):
        times = groups[group]
        zeronet, torch_ = times.get("zeronet"), times.get("torch")
        write(f"{group:<{width}}{_time(zeronet[0]) if zeronet else '-':>12}"
              f"{_time(torch_[0]) if torch_ else '-':>12}"
              f"{_ratio(zeronet, torch_, 0):>16}{_ratio(zeronet, torch_, 1):>13}")
        extras += [(group, role, t, zeronet, torch_) for role, t in times.items()
                   if role not in ("zeronet", "torch")]
    for group, role, t, zeronet, torch_ in extras:
        write(f"{group}: {role} {_time(t[0])}; zeronet / it = {_ratio(zeronet, t, 0)} "
              f"(min {_ratio(zeronet, t, 1)}), torch / it = {_ratio(torch_, t, 0)} "
              f"(min {_ratio(torch_, t, 1)})")
