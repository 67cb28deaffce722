"""The seed's sine data (zeronet.data.sine): the exact bytes of its CSV files, read back exactly.

Malformed CSV files are in faults/test_data_faults.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from helpers.sine_files import SINE_SHA256

import zeronet as zn
from zeronet.data.sine import CSV_NAMES, generate_sine_csvs, load_sine_csvs, sample_sine, sha256_of


def test_sine_csv_bytes_are_identical_across_generations_and_match_the_recorded_sha256(
        tmp_path: Path) -> None:
    first = generate_sine_csvs(tmp_path / "a")
    second = generate_sine_csvs(tmp_path / "b")
    for name in CSV_NAMES:
        assert first[name].read_bytes() == second[name].read_bytes(), name
    assert sha256_of(first) == SINE_SHA256


def test_sine_csv_round_trip_is_exact_and_follows_the_seed_stream(tmp_path: Path) -> None:
    generate_sine_csvs(tmp_path)
    data, drawn = load_sine_csvs(tmp_path), sample_sine()
    for name in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(data, name), getattr(drawn, name))  # '%.18e' is exact
    stream = np.random.RandomState(42)
    np.testing.assert_array_equal(data.x_train, stream.uniform(-2 * np.pi, 2 * np.pi, (1000, 1)))
    np.testing.assert_array_equal(data.x_test, stream.uniform(-2 * np.pi, 2 * np.pi, (100, 1)))


def test_targets_are_the_seeds_formula_on_python_floats() -> None:
    x = np.array([[0.0], [1.0], [-2.5]])
    expected = [24 * np.sin(3.2 * v) + 42 * np.cos(2.3 * v) for v in (0.0, 1.0, -2.5)]
    np.testing.assert_allclose(zn.data.sine.targets(x).ravel(), expected, rtol=1e-15)
    assert zn.data.sine.targets(x).shape == (3, 1)


def test_another_seed_is_another_sample_of_the_same_curve() -> None:
    other = sample_sine(0)
    assert not np.array_equal(other.x_train, sample_sine().x_train)
    np.testing.assert_array_equal(other.y_train, zn.data.sine.targets(other.x_train))
