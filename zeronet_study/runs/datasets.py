"""The data a run trains and evaluates on: the seed's sine data and MNIST, prepared as it does."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

import zeronet as zn
from zeronet.data.mnist import MnistNotFoundError
from zeronet.data.sine import SineData, load_sine_csvs, sample_sine


@dataclass(frozen=True)
class Dataset:
    """Arrays a run trains and evaluates on (inputs float, targets float or int)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classification: bool = False


def _of_sine(d: SineData) -> Dataset:
    return Dataset(d.x_train, d.y_train, d.x_test, d.y_test)


def sine_dataset(csv_dir: str | Path) -> Dataset:
    """The seed's sine data, read from the CSV files (seed fig. 2-3)."""
    return _of_sine(load_sine_csvs(csv_dir))


def sine_sample_dataset(seed: int) -> Dataset:
    """Another sample of the sine data (legacy stream ``seed``, not 42), drawn in memory."""
    return _of_sine(sample_sine(seed))


class MnistUnreadableError(ValueError):
    """An MNIST file that is present but not the canonical one (the message names it)."""


def mnist_dataset(dtype: np.dtype | type = np.float64) -> Dataset:
    """MNIST from ``zn.data.load_mnist()`` ($ZERONET_DATA_DIR), as the seed prepares it.

    Pixels are flattened row by row to 784 values and divided by 255 (seed
    section 2.2.2, ``zn.data.flatten_pixels``); targets are class indices
    (int64), which both frameworks' cross-entropy accepts and which equal the
    seed's one-hot rows (fig. 2-14). A file that is present but unreadable or
    not the canonical one raises MnistUnreadableError with the reader's message.
    """
    try:
        x_train, y_train, x_test, y_test = zn.data.load_mnist()
    except MnistNotFoundError:
        raise
    except ValueError as exc:  # the readers' errors name the file and what is wrong
        raise MnistUnreadableError(str(exc)) from None
    return Dataset(zn.data.flatten_pixels(x_train, dtype), y_train.astype(np.int64),
                   zn.data.flatten_pixels(x_test, dtype), y_test.astype(np.int64),
                   classification=True)
