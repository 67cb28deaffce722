"""What the timings were measured on: CPU, threads, BLAS builds and library versions."""

from __future__ import annotations

import contextlib
import io
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

THREAD_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                   "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def cpu_model() -> str:
    """The first 'model name' line of /proc/cpuinfo, else platform.processor()."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def numpy_blas() -> dict[str, Any]:
    """NumPy's build configuration (``numpy.show_config(mode="dicts")``), BLAS parts."""
    import numpy as np

    try:
        config = np.show_config(mode="dicts")
    except TypeError:  # NumPy < 1.25 has no mode argument
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            np.show_config()
        return {"text": buffer.getvalue()}
    deps = config.get("Build Dependencies", {}) if isinstance(config, dict) else {}
    return {key: deps[key] for key in ("blas", "lapack") if key in deps}


def threadpools() -> list[dict[str, Any]] | None:
    """threadpoolctl's view of the loaded BLAS/OpenMP pools (None if it is not installed).

    Sorted: threadpoolctl lists them in library load order, which differs from
    run to run, and results.json must not.
    """
    try:
        import threadpoolctl
    except ImportError:
        return None
    pools = [{k: v for k, v in pool.items() if k != "filepath"}
             for pool in threadpoolctl.threadpool_info()]
    return sorted(pools, key=lambda pool: json.dumps(pool, sort_keys=True, default=str))


def describe(threads: int) -> dict[str, Any]:
    """Everything the report's speed section states about the machine and libraries."""
    import matplotlib
    import numpy as np
    import torch

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu_model": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "versions": {"numpy": np.__version__, "torch": torch.__version__,
                     "matplotlib": matplotlib.__version__},
        "threads_requested": threads,
        "torch_num_threads": torch.get_num_threads(),
        "env": {name: os.environ.get(name) for name in THREAD_ENV_VARS},
        "numpy_blas": numpy_blas(),
        "threadpools": threadpools(),
        "torch_config": torch.__config__.show(),
    }
