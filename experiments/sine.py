"""The sine-fitting data of seed section 2.1.1: generated, written to CSV, read back.

Procedure (seed fig. 2-2): a legacy NumPy stream seeded with 42 draws 1000
training inputs, then 100 test inputs, from U(-2 pi, 2 pi); each target is
y = 24 sin(3.2 x) + 42 cos(2.3 x), computed with ``math.sin``/``math.cos`` on
Python floats. The four arrays are written with ``np.savetxt(..., delimiter=",")``
and read back with ``np.loadtxt`` (seed figs. 2-2, 2-3), so the training data
is exactly what the CSV files hold. An explicit ``np.random.RandomState(42)``
yields the stream ``np.random.seed(42)`` would, without touching global state.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SEED = 42
A, B, C, D = 24.0, 3.2, 42.0, 2.3
N_TRAIN, N_TEST = 1000, 100
LOW, HIGH = -2 * math.pi, 2 * math.pi
#: File names, in the order the seed writes them.
CSV_NAMES = ("x_train.csv", "y_train.csv", "x_test.csv", "y_test.csv")


def target(x: float) -> float:
    """y = A sin(B x) + C cos(D x), on one Python float (seed section 2.1)."""
    return A * math.sin(B * x) + C * math.cos(D * x)


def _targets(x: np.ndarray) -> np.ndarray:
    return np.array([target(float(v)) for v in x.ravel()]).reshape(x.shape)


@dataclass(frozen=True)
class SineData:
    """Training and test arrays, each of shape (N, 1), float64."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def sample_sine(seed: int = SEED) -> SineData:
    """Draw the data in memory: 1000 training, then 100 test points (seed fig. 2-2).

    ``seed`` other than 42 gives another sample of the same distribution
    (the report's data-sample sensitivity study).
    """
    stream = np.random.RandomState(seed)
    x_train = stream.uniform(LOW, HIGH, (N_TRAIN, 1))
    y_train = _targets(x_train)
    x_test = stream.uniform(LOW, HIGH, (N_TEST, 1))
    y_test = _targets(x_test)
    return SineData(x_train, y_train, x_test, y_test)


def generate_sine_csvs(directory: str | Path) -> dict[str, Path]:
    """Write the four CSV files into ``directory``; return name -> path.

    Same procedure, same bytes, every time.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    data = sample_sine(SEED)
    paths = {}
    for name, array in zip(CSV_NAMES, (data.x_train, data.y_train, data.x_test, data.y_test),
                           strict=True):
        paths[name] = directory / name
        np.savetxt(paths[name], array, delimiter=",")
    return paths


def load_sine_csvs(directory: str | Path) -> SineData:
    """Read the four CSV files back as (N, 1) arrays (seed fig. 2-3)."""
    directory = Path(directory)
    arrays = [np.loadtxt(directory / name, delimiter=",", dtype=np.float64).reshape(-1, 1)
              for name in CSV_NAMES]
    return SineData(*arrays)


def sha256_of(paths: dict[str, Path]) -> dict[str, str]:
    """name -> SHA-256 hex digest of each file."""
    return {name: hashlib.sha256(Path(path).read_bytes()).hexdigest()
            for name, path in paths.items()}
