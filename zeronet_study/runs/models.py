"""Build a run's zeronet trainer (model, loss, optimizer) from its config.

The formulas used are a parameter (:class:`Formulas`) so the errata ablation
can switch the seed's versions back on one at a time; the default is the
correct set. PyTorch trainers are always mirrored from a zeronet trainer
(same weights), never built independently.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import zeronet as zn
from zeronet_study.runs.configs import RunConfig
from zeronet_study.runs.trainers import ZeronetTrainer

KaimingInit = Callable[..., Any]


def kaiming_relu_(layer: zn.nn.Linear, *, rng: np.random.Generator) -> None:
    """Kaiming uniform with ReLU gain on fan_in; bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

    This is seed fig. 2-10 with the fan the seed's text intends (and torch uses).
    """
    zn.init.kaiming_uniform_(layer.weight, nonlinearity="relu", rng=rng)
    if layer.bias is not None:
        bound = 1.0 / math.sqrt(layer.in_features)
        zn.init.uniform_(layer.bias, -bound, bound, rng=rng)


@dataclass(frozen=True)
class Formulas:
    """The implementation of each formula a zeronet run uses."""

    name: str = "correct"
    linear: type[zn.nn.Linear] = zn.nn.Linear
    adam: type[zn.optim.Adam] = zn.optim.Adam
    cross_entropy: type[zn.nn.CrossEntropyLoss] = zn.nn.CrossEntropyLoss
    kaiming: KaimingInit = field(default=kaiming_relu_)


CORRECT = Formulas()


def build_model(config: RunConfig, formulas: Formulas = CORRECT,
                dtype: np.dtype | type = np.float64) -> zn.nn.Sequential:
    """The config's ReLU MLP, initialised from ``np.random.default_rng(config.model_seed)``."""
    rng = np.random.default_rng(config.model_seed)

    def linear(n_in: int, n_out: int, **kwargs: Any) -> zn.nn.Linear:
        layer = formulas.linear(n_in, n_out, **kwargs)  # torch's default init
        if config.init == "zeros":
            zn.init.zeros_(layer.weight)
            zn.init.zeros_(layer.bias)
        elif config.init == "kaiming-relu":
            formulas.kaiming(layer, rng=rng)
        return layer

    return zn.nn.relu_mlp(config.dims, dtype=dtype, rng=rng, linear=linear)


def build_trainer(config: RunConfig, formulas: Formulas = CORRECT,
                  dtype: np.dtype | type = np.float64, name: str = "zeronet") -> ZeronetTrainer:
    model = build_model(config, formulas, dtype)
    loss_fn = zn.nn.MSELoss() if config.loss == "mse" else formulas.cross_entropy()
    params = model.parameters()
    if config.optimizer == "sgd":
        optimizer: zn.optim.Optimizer = zn.optim.SGD(params, lr=config.lr)
    else:
        optimizer = formulas.adam(params, lr=config.lr)
    return ZeronetTrainer(model, loss_fn, optimizer, name=name)
