"""The ``zeronet`` command. ``zeronet report`` runs the experiments and writes ``reports/``.

The library itself needs NumPy only; the report also needs PyTorch and
matplotlib (``pip install 'zeronet[report]'``), imported only when the
command runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import sys
from collections.abc import Sequence

THREAD_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
REPORT_REQUIREMENTS = ("torch", "matplotlib")
_REEXEC_GUARD = "_ZERONET_REPORT_REEXEC"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zeronet", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    report = commands.add_parser(
        "report", help="run the sine and MNIST experiments in zeronet and PyTorch; write a report",
        description="Run the seed's sine and MNIST experiments in zeronet and PyTorch and write "
                    "report.md, results.json and figures into --out, replacing it atomically.")
    report.add_argument("--out", default="reports", metavar="DIR",
                        help="output directory (default: %(default)s)")
    report.add_argument("--quick", action="store_true",
                        help="a few epochs per run: a smoke test, not a result")
    report.add_argument("--threads", type=_positive_int, default=1, metavar="N",
                        help="threads for NumPy's BLAS and for torch in the timed runs "
                             "(default: %(default)s)")
    report.add_argument("--jobs", type=_positive_int, default=None, metavar="J",
                        help="worker processes for the zeronet-only ablation runs "
                             "(default: one per usable CPU)")
    report.add_argument("--no-mnist", action="store_true",
                        help="skip the MNIST runs (no data needed)")
    report.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def missing_requirements() -> list[str]:
    return [name for name in REPORT_REQUIREMENTS if importlib.util.find_spec(name) is None]


def _needs_reexec(threads: int) -> bool:
    """True if NumPy's BLAS is loaded with another thread count and nothing can change it.

    NumPy (imported by ``zeronet`` before this module) reads OPENBLAS_NUM_THREADS
    once, at load time. threadpoolctl can change the count afterwards; without
    it the only way is a fresh process with the variables set.
    """
    if os.environ.get(_REEXEC_GUARD) or importlib.util.find_spec("threadpoolctl") is not None:
        return False
    return any(os.environ.get(name) != str(threads) for name in THREAD_ENV_VARS)


def report(args: argparse.Namespace, argv: Sequence[str], *, console: bool = False) -> int:
    """Run ``zeronet report``; ``console`` is True when invoked as the console script."""
    reexec = console and _needs_reexec(args.threads)
    # Thread counts for BLAS/OpenMP libraries not loaded yet (torch's MKL and OpenMP);
    # NumPy's OpenBLAS is already loaded and is pinned by threadpoolctl in build_report.
    for name in THREAD_ENV_VARS:
        os.environ[name] = str(args.threads)
    if reexec:  # the console script, without threadpoolctl: restart with the variables set
        os.environ[_REEXEC_GUARD] = "1"
        os.execv(sys.executable, [sys.executable, "-m", "zeronet.cli", *argv])
    missing = missing_requirements()
    if missing:
        print(f"zeronet report: missing {', '.join(missing)}; the report needs PyTorch and "
              "matplotlib: pip install 'zeronet[report]'", file=sys.stderr)
        return 2
    from experiments.report import build_report
    from zeronet.data.mnist import MnistNotFoundError

    command = " ".join(["zeronet", *argv])
    # A terminated run must clean up its temporary directory like a failed one:
    # turn SIGTERM into SystemExit, which the atomic writer handles.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        out = build_report(args.out, quick_mode=args.quick, threads=args.threads, jobs=args.jobs,
                           include_mnist=not args.no_mnist, progress=not args.quiet,
                           command=command)
    except MnistNotFoundError as exc:
        print(f"zeronet report: {exc}\n(or pass --no-mnist); the previous report in "
              f"{args.out} is unchanged.", file=sys.stderr)
        return 1
    print(f"zeronet report: wrote {out / 'report.md'}", file=sys.stderr)
    return 0


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    console = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.command == "report":
        return report(args, argv, console=console)
    return 2  # pragma: no cover (argparse rejects unknown commands)


if __name__ == "__main__":
    sys.exit(main())
