"""``zeronet report`` interrupted at the dangerous instants, and two runs into one --out.

The report's experiments are replaced by the committed results (``tiny``), so
a run is the report's own writing alone: its lock, the temporary folder, the
results.json and report.md written into it, the swap of the folders. Each
interrupted run is a forked child of this process (fast: nothing to import
again) in which one function is wrapped so that its n-th call sends SIGINT or
SIGTERM to the child right where it returns: deterministic, not timing luck.
Then: status 130 / 143, a last stderr line naming the report that is in --out,
that report whole (the previous one, or the complete new one), and nothing
else beside --out: no temporary folder, no old folder, no lock file.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import functools
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from zeronet import cli
from zeronet_study.report import atomic
from zeronet_study.report import build as report_module
from zeronet_study.report import results as results_module
from zeronet_study.report.atomic import OutputBusyError, atomic_directory

COMMITTED = Path(__file__).parents[2] / "reports" / "results.json"
PREVIOUS = "previous report\n"


@functools.cache
def committed_results() -> results_module.Results:
    return results_module.read(COMMITTED)


def tiny(monkeypatch: pytest.MonkeyPatch | None = None) -> None:
    """The report's runs replaced by the committed results (the writing left as it is)."""
    committed = committed_results()

    def collect(tmp: Path, runs: object, **kwargs: object) -> object:
        (tmp / report_module.FIGURES).mkdir()
        return copy.deepcopy(committed)
    if monkeypatch is None:
        report_module.collect = collect
    else:
        monkeypatch.setattr(report_module, "collect", collect)


def report(out: Path) -> int:
    return cli.main(["report", "--quick", "--no-mnist", "--jobs", "1", "--quiet",
                     "--out", str(out)])


def in_child(run: Callable[[], int], stderr: Path) -> int:
    """``run()`` in a forked child, its stderr into ``stderr``; the child's exit status."""
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 99
        try:
            fd = os.open(stderr, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(fd, 2)
            sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115 (flushed below)
            code = run()
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def signal_after(owner: Any, name: str, signum: int, nth: int = 1,
                 when: Callable[..., bool] = lambda *args: True) -> None:
    """Wrap ``owner.name`` so that its ``nth`` call (counting those ``when`` accepts) sends
    ``signum`` to this process right as it returns (Python raises it there)."""
    function, calls = getattr(owner, name), []

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = function(*args, **kwargs)
        if when(*args):
            calls.append(1)
            if len(calls) == nth:
                os.kill(os.getpid(), signum)
        return result
    setattr(owner, name, wrapped)


def leftover_free(out: Path) -> bool:
    return sorted(p.name for p in out.parent.iterdir()) == [out.name] * out.exists()


def previous_report(tmp_path: Path) -> Path:
    out = tmp_path / "reports"
    out.mkdir()
    (out / "report.md").write_text(PREVIOUS)
    return out


def is_new(out: Path) -> bool:
    return (out / "report.md").read_text().startswith("# zeronet vs PyTorch") and \
        (out / "results.json").is_file()


def named(suffix: str) -> Callable[..., bool]:
    """A ``when`` for Path.rename / shutil.rmtree: the call whose first path ends so."""
    return lambda path, *rest: str(path).rsplit("/", 1)[-1].startswith(suffix)


def every_call(*args: Any) -> bool:
    return True
#: instant -> (module or class, function, the signal sent as its first call (that ``when``
#: accepts) returns, whether the new report is the one in place afterwards)
INSTANTS: dict[str, tuple[Any, str, int, Callable[..., bool], bool]] = {
    "lock taken": (fcntl, "flock", signal.SIGINT, every_call, False),
    "temp folder created": (tempfile, "mkdtemp", signal.SIGTERM, every_call, False),
    "results.json written": (results_module, "write", signal.SIGINT, every_call, False),
    "report.md written": (report_module, "write_markdown", signal.SIGTERM, every_call, False),
    "old report moved aside": (Path, "rename", signal.SIGTERM, named("reports"), True),
    "new report renamed into place": (Path, "rename", signal.SIGINT, named(".reports.tmp-"),
                                      True),
    "old report deleted": (shutil, "rmtree", signal.SIGINT, named(".reports.old-"), True),
}


@pytest.mark.parametrize("instant", INSTANTS)
def test_a_signal_at_any_instant_leaves_one_whole_report_says_which_and_nothing_else(
        tmp_path: Path, instant: str) -> None:
    out, err = previous_report(tmp_path), tmp_path.parent / f"{tmp_path.name}.err"
    owner, name, signum, when, replaced = INSTANTS[instant]

    def run() -> int:
        tiny()
        signal_after(owner, name, signum, when=when)
        return report(out)
    how = "interrupted" if signum == signal.SIGINT else "terminated"
    said = f"the new report in {out} is complete" if replaced else \
        f"the previous report in {out} is unchanged"
    assert in_child(run, err) == 128 + signum, err.read_text()
    assert err.read_text().splitlines()[-1] == f"zeronet report: {how}; {said}"
    assert is_new(out) if replaced else (out / "report.md").read_text() == PREVIOUS
    assert leftover_free(out)


@pytest.mark.parametrize(("signum", "raised", "said"), [
    (signal.SIGINT, KeyboardInterrupt, "its KeyboardInterrupt was lost"),
    (signal.SIGTERM, cli.Terminated, "its exception was lost"),
], ids=["SIGINT", "SIGTERM"])
def test_a_signal_whose_exception_a_library_dropped_still_keeps_the_previous_report(
        tmp_path: Path, signum: int, raised: type[BaseException], said: str) -> None:
    out = previous_report(tmp_path)

    def write_report_while_a_library_swallows_the_signal() -> None:
        with atomic_directory(out) as tmp:
            (tmp / "report.md").write_text("new report\n")
            with contextlib.suppress(KeyboardInterrupt):  # the signal's handler runs in here
                signal.getsignal(signum)(signum, None)

    with cli._sigterm_raises(), pytest.raises(raised, match=said) as info:
        write_report_while_a_library_swallows_the_signal()
    assert type(info.value) is raised
    assert (out / "report.md").read_text() == PREVIOUS
    assert leftover_free(out)


def test_interrupted_with_no_previous_report_says_none_was_written(tmp_path: Path) -> None:
    out, err = tmp_path / "reports", tmp_path.parent / f"{tmp_path.name}.err"

    def run() -> int:
        tiny()
        signal_after(results_module, "write", signal.SIGTERM)
        return report(out)
    assert in_child(run, err) == 143
    assert err.read_text().splitlines()[-1] == (f"zeronet report: terminated; no report was "
                                                f"written to {out}")
    assert leftover_free(out)


def test_leftovers_of_a_killed_run_are_removed_by_the_next(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    out = previous_report(tmp_path)
    for name in (".reports.tmp-dead", ".reports.old-dead"):
        (tmp_path / name / "figures").mkdir(parents=True)
    (tmp_path / ".reports.lock").write_text("12345\n")  # its holder is gone
    (tmp_path / "other").mkdir()  # not the report's: kept
    tiny(monkeypatch)
    report_module.build_report(out, quick_mode=True, jobs=1, include_mnist=False,
                               progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other", "reports"]
    assert is_new(out)


def test_a_second_run_into_the_same_out_is_refused_and_touches_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = previous_report(tmp_path)
    ready_read, ready_write = os.pipe()
    holder = os.fork()
    if holder == 0:  # a live run: the lock held, its temporary folder being written
        try:
            with atomic_directory(out) as tmp:
                (tmp / "partial").write_text("a live run's\n")
                os.write(ready_write, str(tmp).encode())
                time.sleep(60)
        finally:
            os._exit(0)
    live = Path(os.read(ready_read, 4096).decode())
    try:
        tiny(monkeypatch)
        with pytest.raises(OutputBusyError, match=rf"^{out} is being written by another zeronet "
                                                  rf"report \(process {holder}, lock "):
            report_module.build_report(out, quick_mode=True, jobs=1, include_mnist=False,
                                       progress=False)
        assert report(out) == 1
        (line,) = capsys.readouterr().err.splitlines()
        assert line.startswith(f"zeronet report: {out} is being written by another")
        assert (live / "partial").read_text() == "a live run's\n"
        assert (out / "report.md").read_text() == PREVIOUS
    finally:
        os.kill(holder, signal.SIGKILL)  # as a power loss would: its folder and lock stay
        os.waitpid(holder, 0)
    assert live.is_dir()
    assert atomic.lock_path(out).exists()
    report_module.build_report(out, quick_mode=True, jobs=1, include_mnist=False,
                               progress=False)
    assert is_new(out)
    assert leftover_free(out)
