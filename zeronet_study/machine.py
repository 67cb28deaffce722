"""What the timings were measured on: CPU, threads, BLAS builds and library versions.

Also what decides which kernels the two BLAS libraries run, and so the last bits
of their matrix products: the CPU's vector instructions (:data:`CPU_FEATURES`),
the kernel PyTorch dispatches to, and OpenBLAS's (in :attr:`Machine.threadpools`).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zeronet_study.records import OPTIONAL
from zeronet_study.threads import THREAD_ENV_VARS

#: The environment recorded: the thread counts and what else steers OpenBLAS's kernels.
RECORDED_ENV = (*THREAD_ENV_VARS, "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
#: The CPU flags recorded: the vector instructions BLAS kernels are chosen by.
CPU_FEATURES = ("sse4_2", "avx", "fma", "avx2", "avx512f", "avx512bw", "avx512vl",
                "avx512_vnni", "amx_tile")


@dataclass(kw_only=True)
class Machine:
    """What the timings were measured on."""

    cpu_model: str
    logical_cpus: int | None
    usable_cpus: int | None
    platform: str
    python: str
    versions: dict[str, str]  # numpy, torch, matplotlib ("not installed": zeronet bench)
    threads_requested: int
    torch_num_threads: int
    env: dict[str, str | None]  # each of RECORDED_ENV
    numpy_blas: dict[str, Any]  # numpy.show_config's BLAS and LAPACK entries
    threadpools: list[dict[str, Any]] | None  # threadpoolctl's, None without it
    torch_config: str  # torch.__config__.show()
    #: Which of CPU_FEATURES the CPU has (None: not recorded, or no /proc/cpuinfo).
    cpu_features: list[str] | None = field(default=None, metadata=OPTIONAL)
    #: The kernels PyTorch dispatches to: torch.backends.cpu.get_cpu_capability().
    torch_cpu_capability: str | None = field(default=None, metadata=OPTIONAL)


def cpu_model() -> str:
    """The first 'model name' line of /proc/cpuinfo, else platform.processor()."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_features() -> list[str] | None:
    """Which of :data:`CPU_FEATURES` the first CPU of /proc/cpuinfo lists (None without it)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return None
    flags = next((line.split(":", 1)[1].split() for line in lines
                  if line.startswith("flags")), None)
    return None if flags is None else [name for name in CPU_FEATURES if name in flags]


def numpy_blas() -> dict[str, Any]:
    """NumPy's build configuration (``numpy.show_config(mode="dicts")``), BLAS parts."""
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
        import threadpoolctl  # optional
    except ImportError:
        return None
    pools = [{k: v for k, v in pool.items() if k != "filepath"}
             for pool in threadpoolctl.threadpool_info()]
    return sorted(pools, key=lambda pool: json.dumps(pool, sort_keys=True, default=str))


def describe(threads: int) -> Machine:
    """Everything the report's speed section states about the machine and libraries."""
    import torch  # heavy; only the report and the bench describe the machine

    try:
        import matplotlib  # (as torch) optional: zeronet bench draws nothing without --plot
        matplotlib_version = matplotlib.__version__
    except ImportError:
        matplotlib_version = "not installed"

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return Machine(
        cpu_model=cpu_model(), logical_cpus=os.cpu_count(), usable_cpus=usable,
        platform=platform.platform(), python=sys.version.split()[0],
        versions={"numpy": np.__version__, "torch": torch.__version__,
                  "matplotlib": matplotlib_version},
        threads_requested=threads, torch_num_threads=torch.get_num_threads(),
        env={name: os.environ.get(name) for name in RECORDED_ENV},
        numpy_blas=numpy_blas(), threadpools=threadpools(), torch_config=torch.__config__.show(),
        cpu_features=cpu_features(), torch_cpu_capability=torch.backends.cpu.get_cpu_capability())
