"""The report's output directory, replaced whole or not at all, by one run at a time.

Beside ``--out`` (say ``reports``) a run keeps, while it lasts:

* ``.reports.lock``: a lock file, held with ``fcntl.flock`` for the whole run,
  so that a second run into the same folder is refused (:class:`OutputBusyError`)
  instead of both swapping folders under each other; the kernel drops the lock
  when its holder dies, however it dies;
* ``.reports.tmp-XXXX``: the new report, built there and renamed onto ``reports``;
* ``.reports.old-XXXX``: for an instant, the previous report, deleted once the
  new one is in place.

A run that holds the lock is the only live one for that folder, so every
``.reports.tmp-*`` and ``.reports.old-*`` it finds then is the leftover of a run
that was killed (SIGKILL, power loss) and is removed; a live run's are never
touched, as its lock refuses the newcomer first. Ctrl-C and SIGTERM are held back
(:func:`~zeronet._interrupts.signals_deferred`) during the steps that
must not be cut in two, so an interrupted run leaves either the previous report
or the complete new one, and nothing beside it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from zeronet._interrupts import signals_deferred, signals_recorded
from zeronet.cli import Terminated


class OutputBusyError(RuntimeError):
    """Another live run is writing the same output directory (it holds the lock)."""


def lock_path(out: Path) -> Path:
    """The lock file of the output directory ``out``: ``.NAME.lock`` beside it."""
    return out.parent / f".{out.name}.lock"


def leftovers(out: Path) -> list[Path]:
    """The temporary and old folders of earlier runs into ``out`` (beside it)."""
    return sorted([*out.parent.glob(f".{out.name}.tmp-*"), *out.parent.glob(f".{out.name}.old-*")])


@contextlib.contextmanager
def output_lock(out: Path) -> Iterator[None]:
    """Hold ``out``'s lock file for the block; OutputBusyError if a live run holds it.

    The file is removed as the block ends, while still locked; a run that had
    opened it meanwhile finds, once it gets the lock, that the path is no longer
    the file it locked, and starts over with the next one (so two runs never
    both hold "the" lock).
    """
    path, fd = lock_path(out), None
    try:
        with signals_deferred():  # a signal here is raised once fd is known
            fd = _acquire(path, out)
        yield
    finally:
        if fd is not None:
            with signals_deferred():
                path.unlink(missing_ok=True)
                os.close(fd)


def _acquire(path: Path, out: Path) -> int:
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise OutputBusyError(f"{out} is being written by another zeronet report "
                                  f"(process {holder}, lock {path}); wait for it to end, "
                                  f"or pass another --out") from None
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            return fd
        os.close(fd)  # its holder removed it as it ended: lock the one at the path now


@contextlib.contextmanager
def atomic_directory(out: Path, *, on_replaced: Callable[[], None] | None = None
                     ) -> Iterator[Path]:
    """Yield a fresh temporary directory beside ``out``; on success it replaces ``out``.

    On any exception the temporary directory is removed and ``out`` is left
    untouched; so it is after a Ctrl-C whose KeyboardInterrupt Python lost
    (see :mod:`zeronet._interrupts`). The swap is two renames on
    one file system; the old report is deleted only after the new one is in
    place, and ``on_replaced()`` is called at once (before a signal that came
    during the swap is raised), so the caller can tell which report is on disk.

    Raises:
        OutputBusyError: another live run holds ``out``'s lock (nothing is touched).
    """
    out = Path(out).absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    with output_lock(out):
        for leftover in leftovers(out):  # of killed runs: we hold the lock, none is live
            with signals_deferred():
                shutil.rmtree(leftover, ignore_errors=True)
        tmp: Path | None = None
        try:
            with signals_deferred():
                tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
            tmp.chmod(0o755)  # mkdtemp makes it private; the report is not
            with signals_recorded() as received:
                yield tmp
            if signal.SIGINT in received:
                raise KeyboardInterrupt("Ctrl-C during the run (its KeyboardInterrupt was lost)")
            if received:
                raise Terminated("SIGTERM during the run (its exception was lost)")
            with signals_deferred():
                _swap(tmp, out)
                if on_replaced is not None:
                    on_replaced()
        except BaseException:
            if tmp is not None:  # (after a swap it is gone: nothing to remove)
                with signals_deferred():
                    shutil.rmtree(tmp, ignore_errors=True)
            raise


def _swap(tmp: Path, out: Path) -> None:
    """Rename ``tmp`` onto ``out``, moving the previous ``out`` aside first, then deleting it."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        old.rmdir()
        out.rename(old)
    try:
        tmp.rename(out)
    except BaseException:
        if old is not None:
            old.rename(out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
