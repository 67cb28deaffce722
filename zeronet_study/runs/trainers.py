"""One small interface over both frameworks, so the training loop has no framework branches.

A trainer owns a model, its loss and its optimizer, and offers three calls:
``train_step(xb, yb) -> loss``, ``evaluate(x, y) -> (loss, outputs)`` and
``state_dict() -> {name: ndarray}``. Inputs and outputs are NumPy arrays on
both sides; :class:`TorchTrainer` converts at its boundary (zero-copy).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

import zeronet as zn

if TYPE_CHECKING:
    import torch


class Trainer(Protocol):
    """What the training loop needs from a framework."""

    name: str

    def train_step(self, xb: np.ndarray, yb: np.ndarray) -> float:
        """One forward, backward and optimizer step on a batch; return the batch loss.

        Returns NaN instead of raising if the step produced non-finite numbers.
        """
        ...

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """Loss and model outputs on (x, y), without touching gradients or state."""
        ...

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the weights, keyed like torch's ``state_dict``."""
        ...


class ZeronetTrainer:
    """zeronet: forward, hand-derived backward (no dL/dx for the data), optimizer step."""

    def __init__(self, model: zn.nn.Sequential, loss_fn: Any, optimizer: zn.optim.Optimizer,
                 name: str = "zeronet") -> None:
        self.model, self.loss_fn, self.optimizer, self.name = model, loss_fn, optimizer, name

    def train_step(self, xb: np.ndarray, yb: np.ndarray) -> float:
        self.optimizer.zero_grad()
        with np.errstate(over="ignore", invalid="ignore"):
            try:
                loss = self.loss_fn(self.model(xb), yb)
                if not math.isfinite(loss):
                    return math.nan
                self.model.backward(self.loss_fn.backward(), input_grad=False)
                self.optimizer.step()
            except ValueError:
                # zeronet rejects non-finite activations; any other ValueError is a bug.
                if self._weights_finite():
                    raise
                return math.nan
        return loss

    def _weights_finite(self) -> bool:
        return all(np.isfinite(p.data).all() for p in self.model.parameters())

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        with np.errstate(over="ignore", invalid="ignore"):
            try:
                out = self.model(x)
                return self.loss_fn(out, y), out
            except ValueError:
                if self._weights_finite():
                    raise
                return math.nan, np.full((len(x), self.model[-1].out_features), math.nan)

    def state_dict(self) -> dict[str, np.ndarray]:
        return self.model.state_dict()


class TorchTrainer:
    """PyTorch: the same step with autograd and ``torch.optim``."""

    def __init__(self, model: torch.nn.Module, loss_fn: torch.nn.Module,
                 optimizer: torch.optim.Optimizer, name: str = "pytorch") -> None:
        import torch  # heavy: the ablation's zeronet-only workers never load it

        self._torch = torch
        self.model, self.loss_fn, self.optimizer, self.name = model, loss_fn, optimizer, name

    @classmethod
    def mirror_of(cls, trainer: ZeronetTrainer, name: str = "pytorch") -> TorchTrainer:
        """The torch twin of a zeronet trainer: same weights, dtype, loss and hyper-parameters."""
        import reference  # imports torch: see __init__

        model = reference.mirror(trainer.model)
        return cls(model, reference.mirror_loss(trainer.loss_fn),
                   reference.mirror_optimizer(trainer.optimizer, list(model.parameters())), name)

    def train_step(self, xb: np.ndarray, yb: np.ndarray) -> float:
        torch = self._torch
        self.optimizer.zero_grad()
        loss = self.loss_fn(self.model(torch.from_numpy(xb)), torch.from_numpy(yb))
        value = loss.item()
        if not math.isfinite(value):
            return math.nan
        loss.backward()
        self.optimizer.step()
        return value

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        torch = self._torch
        with torch.no_grad():
            out = self.model(torch.from_numpy(x))
            return self.loss_fn(out, torch.from_numpy(y)).item(), out.numpy()

    def state_dict(self) -> dict[str, np.ndarray]:
        return {k: v.detach().numpy().copy() for k, v in self.model.state_dict().items()}
