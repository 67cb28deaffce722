"""Writing a file so that it is either whole or absent: never half-written."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


class DestinationError(OSError):
    """A path that a file cannot be written to (found before any work is done)."""


def check_destination(path: Path) -> Path:
    """``path`` if a file can be written there; DestinationError, in one line, if not.

    Called before work whose result goes to ``path`` (e.g. before training
    starts), so that a missing or read-only folder, or a path that is a
    folder, is reported at once rather than after an epoch.
    """
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise DestinationError(f"{path}: folder {directory} does not exist")
    if path.exists() and not path.is_file():
        raise DestinationError(f"{path}: exists and is not a regular file")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise DestinationError(f"{path}: folder {directory} is not writable")
    return path


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """A binary file to write ``path``'s new content into; it becomes ``path`` only on success.

    The content goes to a temporary ``.<name>.<random>.part`` beside ``path``;
    when the block ends normally it is flushed, fsynced and renamed onto
    ``path`` (``os.replace``, atomic on one file system). If the block raises
    anything, Ctrl-C included, the temporary file is removed and ``path`` is
    left as it was.
    """
    directory = path.parent if str(path.parent) else Path(".")
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=directory)
    try:
        with os.fdopen(fd, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable, where supported
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
