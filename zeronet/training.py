"""A small training loop that stops at the first NaN or inf and can resume bit for bit.

:func:`fit` runs forward, loss, backward and the optimizer step over a
:class:`~zeronet.data.DataLoader`. Before every optimizer step it checks that
the loss and every gradient are finite; if not, it raises
:class:`NonFiniteError` naming the epoch, the step and where the bad number
appeared (the loss, a parameter's gradient such as ``"4.weight"``, a layer's
output, or the batch itself). The step is never taken, so neither the
weights in memory nor the last checkpoint on disk hold a bad number.

With ``checkpoint=PATH`` it saves model, optimizer, loader position and its
own counters there (see :mod:`zeronet.checkpoint`), with the caller's
``settings`` (e.g. ``zeronet train``'s options); ``resume=True`` continues
from that file, also from the middle of an epoch, and k + k resumed steps
give exactly the weights of 2k uninterrupted steps.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zeronet._checks import NonFiniteValueError, positive_int
from zeronet.checkpoint import (
    MAX_TEXT,
    CheckpointError,
    load_checkpoint,
    read_progress,
    save_checkpoint,
)
from zeronet.data.loader import DataLoader
from zeronet.nn.module import Module, Parameter, Sequential
from zeronet.optim.optimizer import Optimizer

#: The counters :func:`fit` keeps in a checkpoint's progress.
PROGRESS_KEYS = ("epoch", "step", "epoch_batches", "epoch_loss_sum")

_sum = np.add.reduce


class NonFiniteError(ArithmeticError):
    """Training met a NaN or inf; raised before the optimizer step, so nothing is corrupted.

    Attributes:
        epoch: the 1-based epoch in which it happened.
        step: the 1-based number of the optimizer step that was not taken
            (counted over the whole run, resumed steps included).
        batch: the 1-based batch within the epoch.
        where: ``"loss"``, a parameter name (its gradient, e.g. ``"4.weight"``),
            ``"layer 2 (Linear)"`` (that layer's output), ``"input batch"`` or
            ``"target batch"``.
        kind: ``"loss"``, ``"gradient"``, ``"activation"``, ``"input"`` or ``"target"``.
        value: the first bad value (NaN, inf or -inf).
        checkpoint: the last good checkpoint on disk, or None if none was written.
        checkpoint_step: the number of steps that checkpoint holds.
    """

    def __init__(self, *, epoch: int, step: int, batch: int, where: str, kind: str,
                 value: float, detail: str, checkpoint: Path | None,
                 checkpoint_step: int | None) -> None:
        self.epoch, self.step, self.batch = epoch, step, batch
        self.where, self.kind, self.value = where, kind, value
        self.checkpoint, self.checkpoint_step = checkpoint, checkpoint_step
        saved = (f"last good checkpoint: {checkpoint} (after step {checkpoint_step})"
                 if checkpoint is not None else "no checkpoint was written")
        super().__init__(
            f"non-finite {kind} at epoch {epoch}, step {step} (batch {batch} of the epoch), "
            f"{where}: {detail}; stopped before the optimizer step, so the weights are "
            f"those after step {step - 1}; {saved}")


class _StepFaultError(Exception):
    """Internal: where a step went non-finite, before the epoch/step are attached."""

    def __init__(self, where: str, kind: str, value: float, detail: str) -> None:
        super().__init__(detail)
        self.where, self.kind, self.value, self.detail = where, kind, value, detail


@dataclass
class FitResult:
    """Where :func:`fit` stopped: completed epochs and steps, resumed ones included."""

    epoch: int
    step: int
    #: Mean batch loss of each epoch completed by this call (a resumed epoch counts whole).
    epoch_losses: list[float] = field(default_factory=list)


def fit(model: Module, loss_fn: Any, optimizer: Optimizer, loader: DataLoader, *,
        epochs: int, checkpoint: str | os.PathLike[str] | None = None,
        checkpoint_every: int | None = None, resume: bool = False,
        max_steps: int | None = None,
        on_epoch: Callable[[int, float], None] | None = None,
        settings: Mapping[str, int | float | str] | None = None,
        on_resume: Callable[[dict[str, int | float | str]], None] | None = None) -> FitResult:
    """Train until ``epochs`` epochs (or ``max_steps`` steps in total) are done.

    Args:
        loss_fn: a zeronet loss (``loss_fn(output, target) -> float``, ``backward()``).
        checkpoint: file to save to: every ``checkpoint_every`` steps, or at
            the end of every epoch if that is None, and when training stops.
        resume: first restore model, optimizer, loader and counters from
            ``checkpoint`` (which must exist); ``epochs`` and ``max_steps``
            count from the start of the original run.
        max_steps: stop after this many optimizer steps in total, also in
            the middle of an epoch (a resumed run finishes that epoch).
        on_epoch: called as ``on_epoch(epoch, mean_batch_loss)`` after each epoch.
        settings: the caller's settings of the run (str keys other than
            :data:`PROGRESS_KEYS`; int, finite float or str values), stored
            with the counters in every checkpoint, so that a later run can
            read them (``zeronet.checkpoint.read_progress``) and resume with
            the same ones. On resume the file must hold exactly these names
            (CheckpointError otherwise, before anything is loaded); comparing
            their values is the caller's business, and the next save stores the
            values given now (e.g. a new number of epochs).
        on_resume: called as ``on_resume(progress)`` once the checkpoint is
            loaded, before the first step, with the counters and settings it
            held; e.g. to set a new learning rate in ``optimizer.hyperparameters``,
            as torch users edit ``param_groups`` after ``load_state_dict``.

    Raises:
        NonFiniteError: a NaN/inf in the loss, a gradient or an activation;
            the optimizer step is not taken and the checkpoint is not touched.
    """
    epochs = positive_int(epochs, "epochs")
    if max_steps is not None:
        max_steps = positive_int(max_steps, "max_steps")
    if checkpoint_every is not None:
        checkpoint_every = positive_int(checkpoint_every, "checkpoint_every")
    if not isinstance(loader, DataLoader):
        raise TypeError(f"loader: expected a zeronet.data.DataLoader, got {type(loader).__name__}")
    if checkpoint is None and (resume or checkpoint_every is not None):
        raise ValueError("checkpoint: expected a file path when resume or checkpoint_every "
                         "is given, got None")
    settings = _checked_settings(settings)
    path = None if checkpoint is None else Path(checkpoint)
    progress: dict[str, Any] = {"epoch": 0, "step": 0, "epoch_batches": 0, "epoch_loss_sum": 0.0}
    if resume:
        assert path is not None
        _checked_progress(path, read_progress(path), settings)  # before anything is loaded
        stored = load_checkpoint(path, model, optimizer, loader=loader)
        progress = _checked_progress(path, stored, settings)
        if on_resume is not None:
            on_resume(dict(stored))
    progress.update(settings)
    saved_step = progress["step"] if resume else None
    named = model.named_parameters()
    result = FitResult(progress["epoch"], progress["step"])

    def save() -> None:
        nonlocal saved_step
        if path is not None and saved_step != progress["step"]:
            save_checkpoint(path, model, optimizer, loader=loader, progress=progress)
            saved_step = progress["step"]

    def done() -> bool:
        return max_steps is not None and progress["step"] >= max_steps

    while progress["epoch"] < epochs and not done():
        epoch_finished = True
        # NaN/inf are checked explicitly below; NumPy's warnings about them would only
        # get in the way (or, with warnings as errors, replace NonFiniteError).
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for xb, yb in loader:
                try:
                    loss = _train_step(model, loss_fn, optimizer, named, xb, yb)
                except _StepFaultError as fault:
                    raise NonFiniteError(
                        epoch=progress["epoch"] + 1, step=progress["step"] + 1,
                        batch=progress["epoch_batches"] + 1, where=fault.where,
                        kind=fault.kind, value=fault.value, detail=fault.detail,
                        checkpoint=path if saved_step is not None else None,
                        checkpoint_step=saved_step) from fault.__cause__
                progress["step"] += 1
                progress["epoch_batches"] += 1
                progress["epoch_loss_sum"] += loss
                if checkpoint_every is not None and progress["step"] % checkpoint_every == 0:
                    save()
                if done() and progress["epoch_batches"] < len(loader):
                    epoch_finished = False  # stopped mid-epoch; resuming finishes it
                    break
        if epoch_finished:
            mean = progress["epoch_loss_sum"] / max(1, progress["epoch_batches"])
            progress.update(epoch=progress["epoch"] + 1, epoch_batches=0, epoch_loss_sum=0.0)
            result.epoch_losses.append(mean)
            if on_epoch is not None:
                on_epoch(progress["epoch"], mean)
            if checkpoint_every is None:
                save()
    save()
    result.epoch, result.step = progress["epoch"], progress["step"]
    return result


def _train_step(model: Module, loss_fn: Any, optimizer: Optimizer,
                named: list[tuple[str, Parameter]], xb: np.ndarray, yb: np.ndarray) -> float:
    """zero_grad, forward, loss, backward, finiteness checks, optimizer step; the loss."""
    optimizer.zero_grad()
    try:
        loss = loss_fn(model(xb), yb)
    except ValueError as exc:  # zeronet rejects non-finite activations and targets
        fault = _forward_fault(model, xb, yb)
        if fault is None:
            raise
        raise fault from exc
    if not math.isfinite(loss):
        raise _StepFaultError("loss", "loss", loss, f"the batch loss is {loss}")
    model.backward(loss_fn.backward(), input_grad=False)
    # One cheap reduction per gradient: a NaN/inf anywhere makes the total non-finite;
    # a total that overflowed from finite values is cleared by the full scan.
    if not math.isfinite(sum([_sum(p.grad, None) for _, p in named if p.grad is not None])):
        fault = _gradient_fault(named)
        if fault is not None:
            raise fault
    optimizer.step()
    return loss


def _first_bad(array: np.ndarray) -> tuple[int, tuple[int, ...], float] | None:
    """(count, index of the first, its value) of the non-finite entries, or None."""
    bad = ~np.isfinite(array)
    if not bad.any():
        return None
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    return int(bad.sum()), index, float(array[index])


def _describe(what: str, array: np.ndarray, found: tuple[int, tuple[int, ...], float]) -> str:
    count, index, value = found
    return (f"{what} has {count} NaN/inf of {array.size} entries, "
            f"the first {value} at index {index}")


def _gradient_fault(named: list[tuple[str, Parameter]]) -> _StepFaultError | None:
    """The bad gradient nearest the loss (backward order, where it started), or None."""
    bad = [(name, p.grad, found) for name, p in reversed(named) if p.grad is not None
           for found in [_first_bad(p.grad)] if found is not None]
    if not bad:
        return None
    name, grad, found = bad[0]
    detail = _describe("the gradient", grad, found)
    if len(bad) > 1:
        detail += f" (also non-finite: {', '.join(n for n, _, _ in bad[1:])})"
    return _StepFaultError(name, "gradient", found[2], detail)


def _forward_fault(model: Module, xb: np.ndarray, yb: np.ndarray) -> _StepFaultError | None:
    """Replay the forward pass to find the first non-finite array; None if all are finite."""
    found = _first_bad(xb) if _is_float(xb) else None
    if found is not None:
        return _StepFaultError("input batch", "input", found[2], _describe("x", xb, found))
    layers = list(model) if isinstance(model, Sequential) else [model]
    h = xb
    for i, layer in enumerate(layers):
        where = f"layer {i} ({type(layer).__name__})" if len(layers) > 1 else "model output"
        try:
            h = layer(h)
        except NonFiniteValueError as exc:  # a finite input, an output that overflowed
            return _StepFaultError(where, "activation", math.inf, str(exc))
        except ValueError:
            return None  # a finite input the layer rejects: not a NaN/inf problem
        found = _first_bad(h) if _is_float(h) else None
        if found is not None:
            return _StepFaultError(where, "activation", found[2], _describe("its output", h, found))
    found = _first_bad(yb) if _is_float(yb) else None
    if found is not None:
        return _StepFaultError("target batch", "target", found[2], _describe("y", yb, found))
    return None


def _is_float(array: object) -> bool:
    return isinstance(array, np.ndarray) and array.dtype.kind == "f"


def _checked_settings(settings: Mapping[str, Any] | None) -> dict[str, int | float | str]:
    """``settings`` as a dict, if it can be stored beside the counters; else raise."""
    if settings is None:
        return {}
    if not isinstance(settings, Mapping):
        raise TypeError(f"settings: expected a mapping of str -> int/float/str, "
                        f"got {type(settings).__name__}")
    for key, value in settings.items():
        if not isinstance(key, str) or key in PROGRESS_KEYS:
            raise ValueError(f"settings: expected str keys other than fit()'s counters "
                             f"{list(PROGRESS_KEYS)}, got {key!r}")
        number = isinstance(value, (int, float)) and not isinstance(value, bool) \
            and math.isfinite(value)
        if not (number or (isinstance(value, str) and len(value) <= MAX_TEXT)):
            raise ValueError(f"settings[{key!r}]: expected an int, a finite float or a str "
                             f"of at most {MAX_TEXT} characters, got {value!r:.80}")
    return dict(settings)


def _checked_progress(path: Path, progress: Mapping[str, Any],
                      settings: Mapping[str, Any]) -> dict[str, Any]:
    """The counters of a checkpoint's progress, if it holds them and exactly ``settings``' names."""
    if set(progress) != set(PROGRESS_KEYS) | set(settings):
        raise CheckpointError(f"{path}: key 'meta': expected the progress counters "
                              f"{list(PROGRESS_KEYS)} that fit() writes and the settings "
                              f"{sorted(settings)}, got {sorted(progress)}")
    counters = {}
    for key in PROGRESS_KEYS:
        value = progress[key]
        loss_sum = key == "epoch_loss_sum"
        if isinstance(value, bool) or not isinstance(value, (int, float) if loss_sum else int) \
                or (not loss_sum and value < 0):
            raise CheckpointError(f"{path}: key 'meta': progress[{key!r}]: expected "
                                  f"{'a number' if loss_sum else 'an integer >= 0'}, "
                                  f"got {value!r:.80}")
        counters[key] = float(value) if key == "epoch_loss_sum" else value
    return counters
