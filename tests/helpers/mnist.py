"""Where the tests find the real MNIST files, and the one reason they give when they cannot.

A test that needs the four canonical files takes :func:`mnist_dir`'s folder
(a fixture may too), which skips with :data:`SKIP_REASON` when there is
none: a run without the files lists one reason, worded once. Nothing here
downloads: the files are read where ``$ZERONET_DATA_DIR`` points.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DATA_DIR_ENV = "ZERONET_DATA_DIR"
SKIP_REASON = (f"needs the MNIST files: set {DATA_DIR_ENV} to the folder holding the four "
               "*-ubyte.gz files (tests never download them)")


def configured_dir() -> Path | None:
    """``$ZERONET_DATA_DIR`` as an absolute path, or None when it is unset or empty."""
    value = os.environ.get(DATA_DIR_ENV)
    return Path(value).expanduser().resolve() if value else None


def mnist_dir() -> Path:
    """The folder of the real MNIST files; skips the calling test when there is none."""
    folder = configured_dir()
    if folder is None:
        pytest.skip(SKIP_REASON)
    return folder

