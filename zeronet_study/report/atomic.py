"""The report's output directory, replaced whole or not at all."""

from __future__ import annotations

import contextlib
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

from zeronet_study.report.interrupts import signals_recorded


@contextlib.contextmanager
def atomic_directory(out: Path) -> Iterator[Path]:
    """Yield a fresh temporary directory beside ``out``; on success it replaces ``out``.

    On any exception the temporary directory is removed and ``out`` is left
    untouched; so it is after a Ctrl-C whose KeyboardInterrupt Python lost
    (see :mod:`zeronet_study.report.interrupts`). The swap is two renames on
    one file system; the old report is deleted only after the new one is in place.
    """
    out = Path(out).absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; the report is not
        with signals_recorded() as received:
            yield tmp
        if signal.SIGINT in received:
            raise KeyboardInterrupt("Ctrl-C during the run (its KeyboardInterrupt was lost)")
        if received:
            raise SystemExit(128 + received[0])
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
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
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
