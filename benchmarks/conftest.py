"""Shared set-up for the benchmarks.

* One thread count for both frameworks (``ZERONET_BENCH_THREADS``, default 1),
  set by ``zeronet_study.threads`` as ``zeronet report`` and ``zeronet bench``
  set it: the variables exported before NumPy and torch are imported, then
  torch and NumPy's BLAS (threadpoolctl) pinned. The run stops if either
  library ends up with another count.
* What is timed comes from ``zeronet_study.bench.cases``: each twin is the
  same work in zeronet and torch (same weights and inputs, checked to agree
  before timing), sometimes with a raw-NumPy floor; ``zeronet bench`` times
  the same twins.
* A ``bench`` fixture that names the group, runs a fixed number of rounds
  and keeps each median for the table printed at the end of the run
  (``pytest_terminal_summary``), the same table ``zeronet bench`` prints.
* With one thread the clock is ``time.process_time`` (CPU time of this
  process), so that other work on a shared machine does not land in the
  measurements; with more threads, ``time.perf_counter``.
"""

from __future__ import annotations

import os

from zeronet_study import threads  # imports neither NumPy nor torch


def _thread_count() -> int:
    raw = os.environ.get("ZERONET_BENCH_THREADS", "1")
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"ZERONET_BENCH_THREADS: expected a positive integer, got {raw!r}")
    return int(raw)


THREADS = _thread_count()
threads.export(THREADS)  # before NumPy and torch are loaded: they read the variables then

import re  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from zeronet_study.bench.cases import Twin  # noqa: E402
from zeronet_study.bench.records import BenchRow  # noqa: E402
from zeronet_study.bench.table import table_text as bench_text  # noqa: E402

# With one thread, time the CPU the process used rather than the wall clock: other
# processes on a shared machine then steal time from neither twin's measurement.
# With more threads, CPU time would add the threads up, so the wall clock it is.
TIMER = time.process_time if THREADS == 1 else time.perf_counter

# (kind, dtype, name) -> the row of that twin, as zeronet_study.bench.engine.measure gives it
_ROWS = pytest.StashKey[dict[tuple[str, str, str], BenchRow]]()


# ----------------------------------------------------------------------------- threads

def pytest_configure(config: pytest.Config) -> None:
    threads.limit(THREADS)
    config.stash[_ROWS] = {}
    blas = threads.numpy_blas_threads()
    if torch.get_num_threads() != THREADS or blas != THREADS:
        raise pytest.UsageError(
            f"benchmarks: expected {THREADS} thread(s) for both frameworks, got torch "
            f"{torch.get_num_threads()} and NumPy BLAS {blas} (install threadpoolctl, or set "
            f"OPENBLAS_NUM_THREADS={THREADS} before Python starts)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "benchmark" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.benchmark(timer=TIMER))


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
        "numpy_blas_threads": threads.numpy_blas_threads(),
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


# ----------------------------------------------------------------------------- timing

# pytest-benchmark's pedantic mode with fixed counts, so that every role of a twin
# runs exactly as often: per group, (rounds, target seconds per round).
ROUNDS = {"op": (30, 0.01), "step": (30, 0.01), "epoch": (9, None), "run": (1, None),
          "scaling": (5, 0.01)}
WARMUP_ROUNDS = 2


def twin_ids(twins: list[Twin]) -> list[str]:
    return [f"{t.dtype}-{t.name}" for t in twins]


@pytest.fixture
def bench(benchmark, request: pytest.FixtureRequest) -> Callable[[Twin, str], None]:
    """``bench(twin, role)``: check the twin once, then time one role in the twin's group.

    The group is "<dtype> <name>", so pytest-benchmark's table puts zeronet,
    torch and the floors of one row side by side. Nothing is asserted about
    the timings.
    """
    def run(twin: Twin, role: str) -> None:
        twin.verify()
        fn = twin.roles()[role]
        rounds, round_seconds = ROUNDS[twin.group]
        iterations = 1
        if round_seconds is not None:
            start = TIMER()
            twin.zeronet()
            iterations = max(1, round(round_seconds / max(TIMER() - start, 1e-7)))
        benchmark.group = f"{twin.dtype} {twin.name}"
        benchmark.extra_info.update(role=role, dtype=twin.dtype, kind=twin.group,
                                    threads=THREADS, **twin.info)
        benchmark.pedantic(fn, rounds=rounds, iterations=iterations,
                           warmup_rounds=WARMUP_ROUNDS if rounds > 1 else 0)
        if benchmark.stats is not None:  # None when benchmarking is disabled
            row = request.config.stash[_ROWS].setdefault(
                (twin.group, twin.dtype, twin.name),
                BenchRow(name=twin.name, group=twin.group, dtype=twin.dtype, **twin.info,
                         median={}, total={} if twin.group == "run" else None))
            row.median[role] = benchmark.stats["median"]
            row.min[role] = benchmark.stats["min"]
            if row.total is not None:  # one round: the whole run
                row.total[role] = benchmark.stats["median"]
    return run


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """The table of ``zeronet bench``, from this run's medians, and the targets of issue 4."""
    rows = [r for r in config.stash.get(_ROWS, {}).values()
            if "zeronet" in r.median and len(r.median) > 1]  # zeronet and what it is held to
    if not rows:
        return
    terminalreporter.section(f"zeronet and PyTorch, one run, {THREADS} thread(s), "
                             f"time.{TIMER.__name__}, medians")
    for line in bench_text(rows).splitlines():
        terminalreporter.write_line(line)
