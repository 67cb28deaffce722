"""The ``zeronet`` command: ``zeronet report`` runs the experiments and writes ``reports/``;
``zeronet train`` trains one network with checkpoints; ``zeronet bench`` times zeronet
against PyTorch.

The library itself needs NumPy only; the report also needs PyTorch and
matplotlib (``pip install 'zeronet[report]'``), imported only when the
command runs. A bad argument gives one line on stderr
(``zeronet train: error: --epochs: expected a positive integer, got '0'``)
and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import re
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

import numpy as np

import zeronet as zn
from zeronet._files import atomic_file

THREAD_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
REPORT_REQUIREMENTS = ("torch", "matplotlib")
_REEXEC_GUARD = "_ZERONET_REPORT_REEXEC"
#: ``zeronet train --dataset``: name -> (layer widths, default lr, default batch size);
#: the seed's networks and hyper-parameters (tables 1-1, 2-1, 2-4, 2-5).
DATASETS = {"sine": ((1, 16, 16, 16, 16, 1), 0.002, 100),
            "mnist": ((784, 16, 16, 16, 16, 10), 0.009, 1000)}


class UsageError(Exception):
    """A bad command-line argument found after parsing (e.g. two options that conflict)."""


def usage_exit(prog: str, message: str) -> NoReturn:
    """Print ``PROG: error: MESSAGE`` as one line on stderr and exit with status 2."""
    print(f"{prog}: error: {' '.join(message.split())}", file=sys.stderr)
    raise SystemExit(2)


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but an error is one line, ``PROG: error: --option: what was wrong``.

    (argparse prints the usage, then ``PROG: error: argument --option: ...``.)
    Subcommand parsers inherit the class, so ``zeronet train`` behaves the same.
    """

    def error(self, message: str) -> NoReturn:
        usage_exit(self.prog, re.sub(r"^argument (\S+): ", r"\1: ", message))


def _int_at_least(minimum: int, expected: str) -> Callable[[str], int]:
    """An argparse type: an integer >= ``minimum``, else "expected <expected>, got '<text>'"."""
    def check(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value
    return check


_positive_int = _int_at_least(1, "a positive integer")
_non_negative_int = _int_at_least(0, "an integer >= 0")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def _one_of(*choices: str) -> Callable[[str], str]:
    def check(text: str) -> str:
        if text not in choices:
            raise argparse.ArgumentTypeError(f"expected one of {', '.join(choices)}, "
                                             f"got {text!r}")
        return text
    return check


def _existing_dir(text: str) -> Path:
    if not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"expected an existing directory, got {text!r}")
    return Path(text)


def _file_in_existing_dir(text: str) -> Path:
    path = Path(text)
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"expected a file in an existing directory, got "
                                         f"{text!r} (no directory {str(path.parent)!r})")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"expected a file, got the directory {text!r}")
    return path


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(prog="zeronet", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_report_parser(commands)
    _add_train_parser(commands)
    _add_bench_parser(commands)
    return parser


def _add_report_parser(commands: argparse._SubParsersAction) -> None:
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


def _add_train_parser(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser(
        "train", help="train the seed's network on sine or MNIST, with checkpoints",
        description="Train the seed's ReLU network (zeronet only) and print one line per "
                    "epoch. With --checkpoint FILE, model, optimizer and data order are saved "
                    "there; --resume continues from FILE exactly where it stopped. Training "
                    "stops at the first NaN/inf, naming the epoch, step and layer.")
    train.add_argument("--dataset", type=_one_of(*DATASETS), default="sine",
                       metavar="{" + ",".join(DATASETS) + "}", help="(default: %(default)s)")
    train.add_argument("--epochs", type=_positive_int, default=10, metavar="N",
                       help="epochs in total, resumed ones included (default: %(default)s)")
    train.add_argument("--lr", type=_positive_float, default=None,
                       help="learning rate (default: the seed's, 0.002 sine, 0.009 MNIST)")
    train.add_argument("--batch-size", type=_positive_int, default=None, metavar="B",
                       help="(default: the seed's, 100 sine, 1000 MNIST)")
    train.add_argument("--optimizer", type=_one_of("sgd", "adam"), default="adam",
                       metavar="{sgd,adam}", help="(default: %(default)s)")
    train.add_argument("--dtype", type=_one_of("float32", "float64"), default="float64",
                       metavar="{float32,float64}", help="(default: %(default)s)")
    train.add_argument("--seed", type=_non_negative_int, default=0,
                       help="seeds the weights and the batch order (default: %(default)s)")
    train.add_argument("--data-dir", type=_existing_dir, default=None, metavar="DIR",
                       help="folder holding the four MNIST .gz files (default: "
                            "$ZERONET_DATA_DIR, then ~/.cache/zeronet/mnist)")
    train.add_argument("--checkpoint", type=_file_in_existing_dir, default=None, metavar="FILE",
                       help="save model, optimizer and data order to FILE (.npz)")
    train.add_argument("--checkpoint-every", type=_positive_int, default=None, metavar="STEPS",
                       help="save every STEPS optimizer steps (default: after every epoch)")
    train.add_argument("--resume", action="store_true",
                       help="continue from --checkpoint FILE, bit-identically")


def _add_bench_parser(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser(
        "bench", help="time zeronet against PyTorch on the CPU and print the table",
        description="Time every operation, training step and epoch of the seed's networks in "
                    "zeronet and PyTorch (same weights, same thread count), and the MNIST "
                    "epoch's floor; print operation, zeronet, PyTorch, their ratio, the floor "
                    "ratio and each speed target with its measured ratio.")
    bench.add_argument("--quick", action="store_true",
                       help="float64 only, small shapes, few rounds: a smoke test, not a result")
    bench.add_argument("--threads", type=_positive_int, default=1, metavar="N",
                       help="threads for NumPy's BLAS and for torch (default: %(default)s)")
    bench.add_argument("--json", type=_file_in_existing_dir, default=None, metavar="FILE",
                       help="also write every measurement and the machine to FILE")
    bench.add_argument("--plot", type=_file_in_existing_dir, default=None, metavar="FILE",
                       help="also draw the scaling study into FILE (PNG)")


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


def _pin_threads(threads: int, argv: Sequence[str], *, console: bool) -> None:
    """Export the thread count for every BLAS/OpenMP library; restart if NumPy's can't be set.

    torch's MKL and OpenMP are not loaded yet and read the variables; NumPy's
    OpenBLAS is, and is pinned by threadpoolctl later (configure_threads).
    """
    reexec = console and _needs_reexec(threads)
    for name in THREAD_ENV_VARS:
        os.environ[name] = str(threads)
    if reexec:  # the console script, without threadpoolctl: restart with the variables set
        os.environ[_REEXEC_GUARD] = "1"
        os.execv(sys.executable, [sys.executable, "-m", "zeronet.cli", *argv])


def _report_requirements_missing(command: str) -> bool:
    missing = missing_requirements()
    if missing:
        print(f"zeronet {command}: missing {', '.join(missing)}; it needs PyTorch and "
              "matplotlib: pip install 'zeronet[report]'", file=sys.stderr)
    return bool(missing)


def report(args: argparse.Namespace, argv: Sequence[str], *, console: bool = False) -> int:
    """Run ``zeronet report``; ``console`` is True when invoked as the console script."""
    _pin_threads(args.threads, argv, console=console)
    if _report_requirements_missing("report"):
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


def bench(args: argparse.Namespace, argv: Sequence[str], *, console: bool = False) -> int:
    """Run ``zeronet bench``: the table on stdout, progress on stderr; optional JSON and plot."""
    _pin_threads(args.threads, argv, console=console)
    if _report_requirements_missing("bench"):
        return 2
    import json

    from experiments import bench as engine
    from experiments import figures

    results = engine.run(engine.QUICK if args.quick else engine.Plan(), threads=args.threads,
                         progress=lambda step: print(f"zeronet bench: {step}", file=sys.stderr))
    print(engine.text(results), end="", flush=True)
    if args.json is not None:
        with atomic_file(args.json) as file:
            file.write((json.dumps(results, indent=1, default=str) + "\n").encode())
    if args.plot is not None:
        figures.scaling(results["scaling"], f"{results['machine']['cpu_model']}, "
                        f"{args.threads} thread(s) per framework", args.plot)
    return 0


def train(args: argparse.Namespace) -> int:
    """Run ``zeronet train``: one line per epoch on stdout; 1 if training hit a NaN/inf."""
    if args.resume and args.checkpoint is None:
        raise UsageError("--resume: expected --checkpoint FILE to resume from, got none")
    if args.resume and not args.checkpoint.is_file():
        raise UsageError(f"--resume: expected an existing --checkpoint file, got "
                         f"{str(args.checkpoint)!r}")
    if args.checkpoint_every is not None and args.checkpoint is None:
        raise UsageError("--checkpoint-every: expected --checkpoint FILE to save to, got none")
    dims, default_lr, default_batch_size = DATASETS[args.dataset]
    dtype = np.dtype(args.dtype)
    x_train, y_train, x_test, y_test = _train_data(args.dataset, args.data_dir, dtype)
    model = zn.nn.relu_mlp(dims, dtype=dtype, rng=np.random.default_rng(args.seed))
    lr = default_lr if args.lr is None else args.lr
    optimizer = (zn.optim.Adam(model.parameters(), lr=lr) if args.optimizer == "adam"
                 else zn.optim.SGD(model.parameters(), lr=lr))
    loss_fn = zn.nn.CrossEntropyLoss() if args.dataset == "mnist" else zn.nn.MSELoss()
    batch_size = default_batch_size if args.batch_size is None else args.batch_size
    loader = zn.data.DataLoader(x_train, y_train, batch_size, shuffle=True, seed=args.seed)
    steps_per_epoch = len(loader)

    def report_epoch(epoch: int, mean_loss: float) -> None:
        with np.errstate(over="ignore", invalid="ignore"):
            try:
                out = model(x_test)
                test = f"test_loss {loss_fn(out, y_test):.6g}"
            except ValueError:  # non-finite outputs on the test set
                out, test = None, "test_loss nan"
        if args.dataset == "mnist" and out is not None:
            test += f"  test_accuracy {100 * np.mean(out.argmax(axis=1) == y_test):.2f}%"
        print(f"epoch {epoch}/{args.epochs}  step {epoch * steps_per_epoch}  "
              f"train_loss {mean_loss:.6g}  {test}", flush=True)

    try:
        result = zn.fit(model, loss_fn, optimizer, loader, epochs=args.epochs,
                        checkpoint=args.checkpoint, checkpoint_every=args.checkpoint_every,
                        resume=args.resume, on_epoch=report_epoch)
    except zn.CheckpointError as exc:
        raise UsageError(f"--resume: {exc}") from None
    except zn.NonFiniteError as exc:
        print(f"zeronet train: {exc}", file=sys.stderr)
        return 1
    if args.checkpoint is not None:
        print(f"zeronet train: {result.step} steps; checkpoint {args.checkpoint}",
              file=sys.stderr)
    return 0


def _train_data(dataset: str, data_dir: Path | None,
                dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test) as the seed prepares them, inputs in ``dtype``."""
    if dataset == "sine":
        from experiments.sine import sample_sine

        d = sample_sine()
        return (d.x_train.astype(dtype), d.y_train.astype(dtype), d.x_test.astype(dtype),
                d.y_test.astype(dtype))
    from zeronet.data.mnist import MNIST_SHA256, MnistNotFoundError

    if data_dir is not None:  # only that folder, no download
        missing = sorted(name for name in MNIST_SHA256 if not (data_dir / name).is_file())
        if missing:
            raise UsageError(f"--data-dir: expected a folder holding the four MNIST files, "
                             f"got {str(data_dir)!r}, which lacks {', '.join(missing)}")
    try:
        arrays = (zn.data.load_mnist(data_dir, download=False) if data_dir is not None
                  else zn.data.load_mnist())
    except MnistNotFoundError as exc:
        raise UsageError(f"--data-dir: none given and {exc}") from None
    except ValueError as exc:  # a file that is not the canonical one
        raise UsageError(f"--data-dir: {exc}") from None
    x_train, y_train, x_test, y_test = arrays

    def pixels(images: np.ndarray) -> np.ndarray:
        return (images.reshape(len(images), -1) / 255.0).astype(dtype)

    return pixels(x_train), y_train.astype(np.int64), pixels(x_test), y_test.astype(np.int64)

def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``zeronet COMMAND ...``; return the exit status (bad arguments: SystemExit(2))."""
    console = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        if args.command == "report":
            return report(args, argv, console=console)
        if args.command == "train":
            return train(args)
        if args.command == "bench":
            return bench(args, argv, console=console)
    except UsageError as exc:
        usage_exit(f"zeronet {args.command}", str(exc))
    except KeyboardInterrupt:
        kept = (f"the previous report in {args.out} is unchanged" if args.command == "report"
                else "nothing was written" if args.command == "bench"
                else "the last checkpoint on disk is complete" if args.checkpoint
                else "nothing was saved")
        print(f"zeronet {args.command}: interrupted; {kept}", file=sys.stderr)
        return 130
    return 2  # pragma: no cover (argparse rejects unknown commands)


if __name__ == "__main__":
    sys.exit(main())
