"""One thread count for both frameworks, set in one place (the report, the bench, the benchmarks).

Each library reads its thread count at a different moment:

* NumPy's OpenBLAS reads ``OPENBLAS_NUM_THREADS`` once, when NumPy is
  imported; afterwards only threadpoolctl can change it.
* torch's MKL and OpenMP read ``MKL_NUM_THREADS`` / ``OMP_NUM_THREADS``
  when torch is imported; ``torch.set_num_threads`` changes it later.

So :func:`export` sets the variables as early as possible (and for child
processes, such as the ablation's workers), :func:`restart_if_needed`
starts the command afresh with them when NumPy's count can be set no other
way (threadpoolctl missing), and :func:`limit` sets what is already loaded.
This module imports neither NumPy nor torch at import time, so that it can
run before them.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Sequence
from typing import Any

#: The variables every BLAS/OpenMP library involved reads its thread count from.
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
#: Set in the restarted process, so that it never restarts again.
RESTART_GUARD = "_ZERONET_REPORT_REEXEC"


def export(threads: int) -> None:
    """Set every variable of :data:`THREAD_ENV_VARS` to ``threads``."""
    for name in THREAD_ENV_VARS:
        os.environ[name] = str(threads)


def needs_restart(threads: int) -> bool:
    """True if NumPy's BLAS is loaded with another thread count and nothing can change it.

    NumPy (imported by ``zeronet``) read OPENBLAS_NUM_THREADS once, at load
    time. threadpoolctl can change the count afterwards; without it the only
    way is a fresh process with the variables set.
    """
    if os.environ.get(RESTART_GUARD) or importlib.util.find_spec("threadpoolctl") is not None:
        return False
    return any(os.environ.get(name) != str(threads) for name in THREAD_ENV_VARS)


def restart_if_needed(threads: int, argv: Sequence[str], *, console: bool) -> None:
    """:func:`export` the count; restart as ``python -m zeronet ARGV`` if NumPy's can't be set.

    Only a process started as the ``zeronet`` command (``console``) restarts:
    ``zeronet.cli.main([...])`` called from Python must not replace its caller.
    """
    restart = console and needs_restart(threads)
    export(threads)
    if restart:
        os.environ[RESTART_GUARD] = "1"
        os.execv(sys.executable, [sys.executable, "-m", "zeronet", *argv])


def limit(threads: int) -> dict[str, Any]:
    """Pin torch and NumPy's BLAS (threadpoolctl, if installed) to ``threads``; say what holds."""
    import torch  # heavy, and only the report and the benchmarks need it

    torch.set_num_threads(threads)
    info: dict[str, Any] = {"torch": torch.get_num_threads()}
    try:
        import threadpoolctl  # optional: without it the variables above decide
    except ImportError:
        info["numpy"] = ("threadpoolctl not installed: NumPy's BLAS threads are set only by "
                         "OPENBLAS_NUM_THREADS/OMP_NUM_THREADS, which `zeronet report` exports "
                         "at start-up")
        return info
    threadpoolctl.threadpool_limits(threads)
    info["numpy"] = {p["internal_api"]: p["num_threads"] for p in threadpoolctl.threadpool_info()}
    return info


def limit_worker() -> None:
    """A worker process's initializer: one BLAS thread, for it runs beside the others."""
    try:
        import threadpoolctl  # optional, as in limit()
    except ImportError:
        return
    threadpoolctl.threadpool_limits(1)


def numpy_blas_threads() -> int | None:
    """The thread count NumPy's BLAS runs with, or None if it cannot be known."""
    try:
        import threadpoolctl  # optional, as in limit()
    except ImportError:
        raw = os.environ.get("OPENBLAS_NUM_THREADS", "")
        return int(raw) if raw.isdigit() else None
    counts = {lib["num_threads"] for lib in threadpoolctl.threadpool_info()
              if lib["user_api"] == "blas"}
    return counts.pop() if len(counts) == 1 else None
