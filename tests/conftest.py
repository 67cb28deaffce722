"""pytest set-up shared by the test files: the MNIST fixture and the run's header.

MNIST is read from $ZERONET_DATA_DIR (never downloaded by a test); tests that
need it are skipped, with the one reason of helpers/mnist.py, when it is unset.
"""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
import torch
from helpers.mnist import mnist_dir

import zeronet as zn

MNIST_TRAIN_SUBSET = 10_000


def pytest_configure(config: pytest.Config) -> None:
    # One torch thread, as tox.ini sets for CI (OMP/MKL_NUM_THREADS=1): the same
    # conditions in a bare `pytest` run, and no two thread pools fighting for 2 cores.
    torch.set_num_threads(1)
    # The signal tests send Ctrl-C (SIGINT) to zeronet, in this process and in children. A
    # shell runs a job started with `&` with SIGINT ignored, and an ignored signal stays
    # ignored across exec: zeronet would never see the Ctrl-C the tests send. Python's own
    # handler, as in a terminal; a child process starts with SIGINT at its default again.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_report_header(config: pytest.Config) -> str:
    return (f"zeronet {zn.__version__}, numpy {np.__version__}, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), "
            f"ZERONET_DATA_DIR={os.environ.get('ZERONET_DATA_DIR', '(unset)')}")


@pytest.fixture(scope="session")
def mnist_subset() -> tuple[np.ndarray, np.ndarray]:
    """The first 10000 MNIST training images as float64 (N, 784) in [0, 1], and labels."""
    x_train, y_train, _, _ = zn.data.load_mnist(mnist_dir(), download=False)
    return (zn.data.flatten_pixels(x_train[:MNIST_TRAIN_SUBSET]),
            y_train[:MNIST_TRAIN_SUBSET].astype(np.int64))
