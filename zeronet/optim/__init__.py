"""Optimizers. They, not the layers, keep all optimisation state."""

from zeronet.optim.adam import Adam
from zeronet.optim.optimizer import Optimizer
from zeronet.optim.sgd import SGD

__all__ = ["SGD", "Adam", "Optimizer"]
