"""``zeronet report``, ``zeronet bench`` and ``zeronet check``: the subcommands above the library.

Registered in pyproject.toml under ``[project.entry-points."zeronet.commands"]``;
each object here is a :class:`zeronet.cli.Command`. Loading this module is
cheap: PyTorch, matplotlib and the study's runs are imported when a command
runs, after its requirements were checked (the ``report`` extra installs them:
``pip install -e '.[report]'``). ``zeronet bench`` needs matplotlib only to
draw ``--plot``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

from zeronet._files import atomic_file, file_identity
from zeronet.cli import install_hint
from zeronet.cli_options import file_in_existing_dir, positive_int
from zeronet.data.mnist import MnistNotFoundError
from zeronet_study import threads
from zeronet_study.records import to_json

#: What the report needs beyond NumPy (the bench: torch, and matplotlib for --plot only).
REQUIREMENTS = ("torch", "matplotlib")


def missing_requirements(needed: tuple[str, ...] = REQUIREMENTS) -> list[str]:
    return [name for name in needed if importlib.util.find_spec(name) is None]


def requirements_missing(command: str, needed: tuple[str, ...] = REQUIREMENTS,
                         why: str = "it needs PyTorch and matplotlib") -> bool:
    """Print one line naming what ``zeronet COMMAND`` lacks and how to install it; True if so."""
    missing = missing_requirements(needed)
    if missing:
        print(f"zeronet {command}: missing {', '.join(missing)}; {why}: "
              f"{install_hint('report')}", file=sys.stderr)
    return bool(missing)


class Report:
    """``zeronet report``: run the seed's experiments in both frameworks and write ``reports/``."""

    help = "run the sine and MNIST experiments in zeronet and PyTorch; write a report"
    description = ("Run the seed's sine and MNIST experiments in zeronet and PyTorch and write "
                   "report.md, results.json and figures into --out, replacing it atomically "
                   "once everything has succeeded (by default reports/, the committed report: "
                   "git checkout reports/ brings it back). The new report compares the numbers "
                   "that depend on the machine with the report it replaces. Try --quick first. "
                   "A second run into the same --out while one is running is refused.")

    def configure(self, parser: argparse.ArgumentParser) -> None:
        add = parser.add_argument
        add("--out", default="reports", metavar="DIR",
            help="output directory, replaced by the run (default: %(default)s)")
        add("--quick", action="store_true",
            help="a few epochs per run: a smoke test, not a result")
        add("--threads", type=positive_int, default=1, metavar="N",
            help="threads for NumPy's BLAS and for torch in the timed runs "
                 "(default: %(default)s)")
        add("--jobs", type=positive_int, default=None, metavar="J",
            help="worker processes for the zeronet-only ablation runs "
                 "(default: one per usable CPU)")
        add("--no-mnist", action="store_true", help="skip the MNIST runs (no data needed)")
        add("--quiet", action="store_true", help="no progress bars")

    def run(self, args: argparse.Namespace, argv: list[str]) -> int:
        # (SIGTERM raises zeronet.cli.Terminated: the run unwinds as after a Ctrl-C)
        args.report_existed = Path(args.out).exists()  # for interrupted()
        threads.restart_if_needed(args.threads, argv, console=args.console)
        if requirements_missing("report"):
            return 2
        from zeronet_study.report.atomic import OutputBusyError  # with build, below
        from zeronet_study.report.build import build_report  # torch, matplotlib: checked above
        from zeronet_study.runs.datasets import MnistUnreadableError  # with build, above

        def replaced() -> None:
            args.report_replaced = True

        try:
            out = build_report(args.out, quick_mode=args.quick, threads=args.threads,
                               jobs=args.jobs, include_mnist=not args.no_mnist,
                               progress=not args.quiet, command=" ".join(["zeronet", *argv]),
                               on_replaced=replaced)
        except (MnistNotFoundError, MnistUnreadableError) as exc:
            print(f"zeronet report: {exc}\nThe previous report in {args.out} is unchanged.",
                  file=sys.stderr)
            return 1
        except OutputBusyError as exc:
            print(f"zeronet report: {exc}", file=sys.stderr)
            return 1
        print(f"zeronet report: wrote {out / 'report.md'}", file=sys.stderr)
        return 0

    def interrupted(self, args: argparse.Namespace) -> str:
        """Which report is in --out: the previous one, or the new one if the swap was done."""
        if getattr(args, "report_replaced", False):
            return f"the new report in {args.out} is complete"
        if getattr(args, "report_existed", True):
            return f"the previous report in {args.out} is unchanged"
        return f"no report was written to {args.out}"


class Bench:
    """``zeronet bench``: time zeronet against PyTorch; the table on stdout, progress on stderr."""

    help = "time zeronet against PyTorch on the CPU and print the table"
    description = ("Time every operation, training step and epoch of the seed's networks in "
                   "zeronet and PyTorch (same weights, same thread count), and the MNIST "
                   "epoch's floor; print operation, zeronet, PyTorch, their ratio, the floor "
                   "ratio and each speed target with its measured ratio.")

    def configure(self, parser: argparse.ArgumentParser) -> None:
        add = parser.add_argument
        add("--quick", action="store_true",
            help="float64 only, small shapes, few rounds: a smoke test, not a result")
        add("--threads", type=positive_int, default=1, metavar="N",
            help="threads for NumPy's BLAS and for torch (default: %(default)s)")
        add("--json", type=file_in_existing_dir, default=None, metavar="FILE",
            help="also write every measurement and the machine to FILE")
        add("--plot", type=file_in_existing_dir, default=None, metavar="FILE",
            help="also draw the scaling study into FILE (PNG; needs matplotlib)")

    def run(self, args: argparse.Namespace, argv: list[str]) -> int:
        threads.restart_if_needed(args.threads, argv, console=args.console)
        if args.plot is None:
            needed, why = ("torch",), "it needs PyTorch"
        else:
            needed, why = REQUIREMENTS, "it needs PyTorch, and matplotlib for --plot"
        if requirements_missing("bench", needed, why):
            return 2
        from zeronet_study.bench import engine, table  # torch: checked above

        args.files_before = {path: file_identity(path) for path in (args.json, args.plot)
                             if path is not None}  # for interrupted()
        results = engine.run(engine.QUICK if args.quick else engine.FULL, threads=args.threads,
                             progress=lambda step: print(f"zeronet bench: {step}",
                                                         file=sys.stderr))
        print(table.text(results), end="", flush=True)
        if args.json is not None:
            with atomic_file(args.json) as file:
                file.write((json.dumps(to_json(results), indent=1) + "\n").encode())
        if args.plot is not None:
            from zeronet_study.report import figures  # matplotlib: checked above, for --plot

            with atomic_file(args.plot) as file:  # whole or not at all, as --json
                figures.scaling(results.scaling, f"{results.machine.cpu_model}, "
                                f"{args.threads} thread(s) per framework", file)
        return 0

    def interrupted(self, args: argparse.Namespace) -> str:
        """What the disk holds: each of --json and --plot is written whole or not at all."""
        before = getattr(args, "files_before", {})
        written = [str(path) for path, was in before.items() if file_identity(path) != was]
        if not written:
            return "nothing was written"
        return f"{' and '.join(written)} written whole; nothing else was written"


class Check:
    """``zeronet check FILE``: run the checks of an adapter file (``reference.command``)."""

    help = "check a from-scratch network against PyTorch: run the checks an adapter FILE defines"
    description = ("Import FILE, a Python file, and run every function named check_* in it "
                   "that takes no arguments; each returns a reference.Report (or a list or "
                   "dict of them), e.g. from reference.compare_gradients. Print each report. "
                   "Exit 0 when all pass, 1 when any has a finding or the code under check "
                   "raised, 2 when FILE is broken. See docs/check-your-network.md.")

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("file", metavar="FILE",
                            help="the adapter file: a .py defining check_* functions")
        parser.add_argument("--brief", action="store_true",
                            help="one line per check (its findings) instead of the reports")

    def run(self, args: argparse.Namespace, argv: list[str]) -> int:
        if importlib.util.find_spec("torch") is None:
            print(f"zeronet check: missing torch; it needs PyTorch: {install_hint('torch')}",
                  file=sys.stderr)
            return 2
        from reference.command import check_file  # torch: checked above

        return check_file(args.file, brief=args.brief)

    def interrupted(self, args: argparse.Namespace) -> str:
        return "nothing was written"


REPORT = Report()
BENCH = Bench()
CHECK = Check()
