"""The two experiments' data as :class:`experiments.loop.Dataset` objects."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import zeronet as zn
from experiments.loop import Dataset
from experiments.sine import load_sine_csvs, sample_sine


def sine_dataset(csv_dir: str | Path) -> Dataset:
    """The sine data, read from the CSV files (seed fig. 2-3)."""
    d = load_sine_csvs(csv_dir)
    return Dataset(d.x_train, d.y_train, d.x_test, d.y_test)


def sine_sample_dataset(seed: int) -> Dataset:
    """Another sample of the sine data (legacy stream ``seed``), drawn in memory."""
    d = sample_sine(seed)
    return Dataset(d.x_train, d.y_train, d.x_test, d.y_test)


def mnist_dataset(dtype: np.dtype | type = np.float64) -> Dataset:
    """MNIST from ``zn.data.load_mnist()`` ($ZERONET_DATA_DIR), as the seed prepares it.

    Pixels are flattened row by row to 784 values and divided by 255 (seed
    section 2.2.2); targets are class indices (int64), which both frameworks'
    cross-entropy accepts and which equal the seed's one-hot rows (fig. 2-14).
    """
    x_train, y_train, x_test, y_test = zn.data.load_mnist()

    def pixels(images: np.ndarray) -> np.ndarray:
        return (images.reshape(len(images), 28 * 28) / 255.0).astype(dtype)

    return Dataset(pixels(x_train), y_train.astype(np.int64), pixels(x_test),
                   y_test.astype(np.int64), classification=True)
