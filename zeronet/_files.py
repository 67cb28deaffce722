"""Writing a file so that it is either whole or absent: never half-written."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


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
