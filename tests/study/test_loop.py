"""The study's one training loop: every trainer fed the same batches; zeronet and torch together."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from zeronet.data.sine import generate_sine_csvs
from zeronet.seed_networks import MNIST, SINE
from zeronet_study.runs import ablation
from zeronet_study.runs.configs import RUNS
from zeronet_study.runs.datasets import Dataset, sine_dataset
from zeronet_study.runs.loop import accuracy, train
from zeronet_study.runs.models import build_trainer
from zeronet_study.runs.trainers import TorchTrainer

RUN = {c.name: c for c in RUNS}


class RecordingTrainer:
    """A fake framework that records every batch it is given."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.batches: list[tuple[np.ndarray, np.ndarray]] = []

    def train_step(self, xb: np.ndarray, yb: np.ndarray) -> float:
        self.batches.append((xb.copy(), yb.copy()))
        return 1.0

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        return 1.0, np.zeros_like(y)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"w": np.zeros(1)}


def test_loop_feeds_identical_batches_to_every_trainer() -> None:
    x = np.arange(50, dtype=np.float64).reshape(25, 2)
    data = Dataset(x, x[:, :1].copy(), x[:3], x[:3, :1].copy())
    config = dataclasses.replace(RUN["sine-adam"], epochs=3, batch_size=10)
    a, b = RecordingTrainer("zeronet"), RecordingTrainer("pytorch")
    train(config, [a, b], data)
    assert len(a.batches) == len(b.batches) == 3 * 3  # ceil(25 / 10) batches per epoch
    for (xa, ya), (xb, yb) in zip(a.batches, b.batches, strict=True):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    epochs = [np.concatenate([xb[:, 0] for xb, _ in a.batches[i:i + 3]]) for i in (0, 3, 6)]
    assert all(sorted(e) == sorted(x[:, 0]) for e in epochs)  # each epoch sees every sample once
    assert not np.array_equal(epochs[0], epochs[1])  # and in a fresh order


def test_short_run_keeps_zeronet_and_pytorch_within_float64_rounding(tmp_path: Path) -> None:
    generate_sine_csvs(tmp_path)
    config = dataclasses.replace(RUN["sine-adam"], epochs=5)
    zn_trainer = build_trainer(config)
    result = train(config, [zn_trainer, TorchTrainer.mirror_of(zn_trainer)],
                   sine_dataset(tmp_path))
    assert len(result.step_weight_diff) == 50
    # 50 Adam steps: the gap starts at the ulp level (OpenBLAS vs MKL products) and stays
    # far below 1e-10 this early; a real formula mismatch would show at ~1e-3.
    assert max(result.step_weight_diff) < 1e-10
    zn_h, pt_h = result.histories
    np.testing.assert_allclose(zn_h.test_loss, pt_h.test_loss, rtol=1e-10)


def test_accuracy_is_the_percentage_of_rows_whose_arg_max_is_the_label() -> None:
    """Fig. 2-16: argmax of each row against the label, as a percentage."""
    outputs = np.array([[0.1, 0.9], [2.0, -1.0], [0.0, 3.0], [5.0, 4.0]])
    assert accuracy(outputs, np.array([1, 0, 0, 1])) == 50.0
    assert accuracy(outputs, np.array([1, 0, 1, 0])) == 100.0


def test_the_runs_are_the_seeds_networks_and_settings() -> None:
    """configs.RUNS takes widths, batch sizes, epochs and learning rates from seed_networks."""
    for config in RUNS:
        network = SINE if config.task == "sine" else MNIST
        assert (config.dims, config.batch_size, config.epochs, config.lr) == \
            (network.sizes, network.batch_size, network.epochs, network.lr)


def test_a_case_evaluates_the_training_set_after_its_last_epoch_only() -> None:
    """The ablation's summary reads the training set's final accuracy; the other epochs'
    passes over it are skipped (NaN), and every number recorded either way is the same."""
    rng = np.random.default_rng(3)
    x, y = rng.random((120, 784)), rng.integers(0, 10, 120)
    data = Dataset(x, y, x[:30], y[:30], classification=True)
    config = dataclasses.replace(RUN["mnist-adam"], epochs=4, batch_size=40)
    full = train(config, [build_trainer(config)], data).histories[0]
    lean = train(config, [build_trainer(config)], data,
                 train_set_every_epoch=False).histories[0]
    assert lean.train_loss == full.train_loss
    assert lean.test_loss == full.test_loss
    assert lean.test_accuracy == full.test_accuracy
    assert lean.train_accuracy[-1] == full.train_accuracy[-1]
    assert lean.train_loss_end[-1] == full.train_loss_end[-1]
    assert all(math.isnan(v) for v in lean.train_accuracy[:-1] + lean.train_loss_end[:-1])
    evaluated = []
    original = ablation.train

    def spy(*args, **kwargs):
        evaluated.append(kwargs.get("train_set_every_epoch", True))
        return original(*args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ablation, "train", spy)
        mp.setattr(ablation, "_dataset", lambda case, sine_dir: data)
        case = ablation.Case("ablation", "mnist-adam", "tiny", config)
        result = ablation.run_case(case, "")
    assert evaluated == [False]
    assert result.train_accuracy == full.train_accuracy[-1]
