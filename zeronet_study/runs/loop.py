"""The one training loop: any number of trainers, fed the same batches, timed interleaved.

Each batch is drawn once from a single ``zn.data.DataLoader`` and handed to
every trainer in turn, so all frameworks see identical batches in identical
order. Only ``train_step`` is timed; the order in which the trainers step
alternates from batch to batch, so neither always runs on a cache warmed by
the other. Evaluation, parity bookkeeping and the progress bar run outside
the timed region.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

import zeronet as zn
from zeronet_study.progress import Part
from zeronet_study.runs.configs import RunConfig
from zeronet_study.runs.datasets import Dataset
from zeronet_study.runs.trainers import Trainer

#: A batch loss above this counts as an explosion (the loss "diverged").
EXPLODED = 1e10


@dataclass
class History:
    """Per-epoch record of one trainer (epoch i is index i)."""

    name: str
    train_loss: list[float] = field(default_factory=list)  # mean of the epoch's batch losses
    train_loss_end: list[float] = field(default_factory=list)  # whole training set, epoch end
    test_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)  # percent (classification)
    test_accuracy: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)  # seconds in train_step
    diverged_at_step: int | None = None  # first step (1-based) whose loss was non-finite/exploded
    diverged_loss: float | None = None


@dataclass
class RunResult:
    config: RunConfig
    histories: list[History]
    #: Max |w_a - w_b| over all weights after every step, trainers 0 and 1 (if two).
    step_weight_diff: list[float]
    #: max |w| over all weights of trainer 0 after every step (for relative differences).
    step_weight_max: list[float]
    initial_state: dict[str, np.ndarray]
    final_states: list[dict[str, np.ndarray]]
    test_outputs: list[np.ndarray]


def max_abs_diff(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    return max(float(np.max(np.abs(a[k] - b[k]))) for k in a)


def max_abs(state: dict[str, np.ndarray]) -> float:
    return max(float(np.max(np.abs(v))) for v in state.values())


def accuracy(outputs: np.ndarray, labels: np.ndarray) -> float:
    """Percent of rows whose arg-max is the label (seed fig. 2-16)."""
    return 100.0 * float(np.mean(np.argmax(outputs, axis=1) == labels))


def train(config: RunConfig, trainers: Sequence[Trainer], data: Dataset, *,
          progress: Part | None = None, train_set_every_epoch: bool = True) -> RunResult:
    """Train every trainer on the same batches for ``config.epochs`` epochs.

    ``progress``: the bar of this run within ``zeronet report`` (one unit per epoch).

    After each epoch the trainers are evaluated on the test set and on the
    whole training set. ``train_set_every_epoch=False`` evaluates the
    training set after the last epoch only (the other epochs record NaN for
    its loss and accuracy): for a run whose summary needs only its final
    value, such as an ablation case, that saves a pass over the training set
    per epoch (for MNIST 60000 rows, a third of an epoch's work) and changes
    no other number, as evaluating changes no weight.
    """
    loader = zn.data.DataLoader(data.x_train, data.y_train, config.batch_size, shuffle=True,
                                seed=config.loader_seed)
    histories = [History(t.name) for t in trainers]
    alive = [True] * len(trainers)
    track_parity = len(trainers) == 2
    step_diff: list[float] = []
    step_max: list[float] = []
    initial_state = trainers[0].state_dict()
    step = 0
    for epoch in range(config.epochs):
        loss_sums = [0.0] * len(trainers)
        times = [0.0] * len(trainers)
        n_batches = 0
        for xb, yb in loader:
            order = range(len(trainers)) if step % 2 == 0 else range(len(trainers) - 1, -1, -1)
            for i in order:
                if not alive[i]:
                    continue
                start = time.perf_counter()
                loss = trainers[i].train_step(xb, yb)
                times[i] += time.perf_counter() - start
                loss_sums[i] += loss
                if not math.isfinite(loss) or loss > EXPLODED:
                    alive[i] = False
                    histories[i].diverged_at_step = step + 1
                    histories[i].diverged_loss = loss
            step += 1
            n_batches += 1
            if track_parity and all(alive):
                a, b = trainers[0].state_dict(), trainers[1].state_dict()
                step_diff.append(max_abs_diff(a, b))
                step_max.append(max_abs(a))
        on_train_set = train_set_every_epoch or epoch == config.epochs - 1
        for i, trainer in enumerate(trainers):
            _record_epoch(histories[i], trainer, data, alive[i], loss_sums[i] / n_batches,
                          times[i], on_train_set)
        if progress is not None:
            progress.set_postfix_str(_postfix(histories, data.classification))
            progress.update(1)
        if not any(alive):
            break
    test_outputs = [t.evaluate(data.x_test, data.y_test)[1] for t in trainers]
    return RunResult(config, histories, step_diff, step_max, initial_state,
                     [t.state_dict() for t in trainers], test_outputs)


def _record_epoch(history: History, trainer: Trainer, data: Dataset, alive: bool,
                  mean_loss: float, seconds: float, on_train_set: bool = True) -> None:
    history.epoch_time.append(seconds)
    if not alive:
        for series in (history.train_loss, history.train_loss_end, history.test_loss):
            series.append(math.nan)
        if data.classification:
            history.train_accuracy.append(math.nan)
            history.test_accuracy.append(math.nan)
        return
    history.train_loss.append(mean_loss)
    train_loss, train_out = (trainer.evaluate(data.x_train, data.y_train) if on_train_set
                             else (math.nan, None))
    test_loss, test_out = trainer.evaluate(data.x_test, data.y_test)
    history.train_loss_end.append(train_loss)
    history.test_loss.append(test_loss)
    if data.classification:
        history.train_accuracy.append(accuracy(train_out, data.y_train) if on_train_set
                                      else math.nan)
        history.test_accuracy.append(accuracy(test_out, data.y_test))


def _postfix(histories: list[History], classification: bool) -> str:
    parts = []
    for h in histories:
        text = f"{h.name}: train {h.train_loss[-1]:.4g} test {h.test_loss[-1]:.4g}"
        if classification:
            text += f" acc {h.test_accuracy[-1]:.2f}%"
        parts.append(text)
    return " | ".join(parts)
