"""The checker run on the seed's formulas, as a student would run it on their own code.

Each entry wraps one of the seed's formulas (``seed_formulas``, errors included)
in the adapter a user would write for ``reference.compare_*`` and records what
the checker finds. The errata were found by reading the seed; these are the
same errors found from the numbers alone, so the report can show the two side
by side.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

import reference
import zeronet as zn
from zeronet_study.runs import seed_formulas as sf

#: The seed's MNIST network (table 2-4); its first layer is the one fig. 2-10 initialises.
MNIST_SIZES = (784, 16, 16, 16, 16, 10)
SEED = 2022


@dataclass(frozen=True)
class SeedCheck:
    """One seed formula under one check: what the checker found, and how long it took."""

    erratum: str            # the id in docs/seed-errata.md
    formula: str            # what of the seed's code is run
    check: str              # the reference.compare_* used
    expected: tuple[str, ...]  # the kinds the erratum should be found as
    findings: tuple[reference.Finding, ...]
    seconds: float

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(f.kind for f in self.findings)

    @property
    def found(self) -> bool:
        return all(kind in self.kinds for kind in self.expected)


def _timed(run: Callable[[], reference.Report]) -> tuple[reference.Report, float]:
    start = time.perf_counter()
    report = run()
    return report, time.perf_counter() - start


def _layer_adapter(layer: zn.nn.Module) -> Callable[..., tuple]:
    def forward_backward(params: dict[str, np.ndarray], x: np.ndarray,
                         grad_out: np.ndarray) -> tuple:
        if params:
            layer.load_state_dict(params)
        layer.zero_grad()
        out = layer(x)
        grad_x = layer.backward(grad_out)
        return out, {n: p.grad for n, p in layer.named_parameters()}, grad_x
    return forward_backward


def _loss_adapter(loss_fn: zn.nn.CrossEntropyLoss | zn.nn.MSELoss,
                  gradient: Callable[..., np.ndarray] | None = None) -> Callable[..., tuple]:
    def forward_backward(output: np.ndarray, target: np.ndarray) -> tuple:
        loss = loss_fn(output, target)
        return loss, gradient(output, target) if gradient else loss_fn.backward()
    return forward_backward


def _network_adapter(model: zn.nn.Sequential, loss_fn: zn.nn.CrossEntropyLoss,
                     ) -> Callable[..., tuple]:
    def forward_backward(params: dict[str, np.ndarray], x: np.ndarray,
                         target: np.ndarray) -> tuple:
        model.load_state_dict(params)
        model.zero_grad()
        out = model(x)
        loss = loss_fn(out, target)
        grad_x = model.backward(loss_fn.backward())
        return out, loss, {n: p.grad for n, p in model.named_parameters()}, grad_x
    return forward_backward


def _record(erratum: str, formula: str, check: str, expected: tuple[str, ...],
            run: Callable[[], reference.Report]) -> SeedCheck:
    report, seconds = _timed(run)
    return SeedCheck(erratum, formula, check, expected, tuple(report.findings), seconds)


def run_seed_checks(*, batch: int = 1000) -> list[SeedCheck]:
    """Every seed formula under the check a user would run it with, in erratum order."""
    rng = np.random.default_rng(SEED)
    x = rng.random((batch, MNIST_SIZES[0]))
    labels = rng.integers(0, MNIST_SIZES[-1], batch)
    logits = rng.normal(size=(batch, MNIST_SIZES[-1]))
    def kaiming(w: torch.Tensor) -> torch.Tensor:
        return torch.nn.init.kaiming_uniform_(w, nonlinearity="relu")

    shape = (MNIST_SIZES[1], MNIST_SIZES[0])  # torch's (out, in) of the first layer
    checks = []

    def adam_run() -> reference.Report:
        params = {"0.weight": rng.normal(size=(16, 8)), "0.bias": rng.normal(size=16)}
        grads = [{k: rng.normal(size=v.shape) for k, v in params.items()} for _ in range(5)]
        mine = {k: zn.nn.Parameter(v.copy()) for k, v in params.items()}
        optimizer = sf.SeedAdam(list(mine.values()), lr=1e-3)

        def step(values: dict[str, np.ndarray], g: dict[str, np.ndarray]) -> None:
            for k, p in mine.items():
                p.grad = g[k]
            optimizer.step()
            values.update({k: p.data.copy() for k, p in mine.items()})
        return reference.compare_optimizer(step, lambda ps: torch.optim.Adam(ps, lr=1e-3),
                                           params, grads)
    checks.append(_record("a", "SeedAdam (fig. 2-9), 5 steps", "compare_optimizer",
                          ("adam-bias-correction",), adam_run))
    checks.append(_record(
        "b, c", "SeedCrossEntropyLoss (figs. 1-9, 1-11)", "compare_loss",
        ("ce-precedence", "softmax-overflow"),
        lambda: reference.compare_loss(_loss_adapter(sf.SeedCrossEntropyLoss()),
                                       torch.nn.CrossEntropyLoss(), logits, labels)))
    checks.append(_record(
        "c", "SeedCrossEntropyLoss(reduction='sum'): only the raw-exp softmax", "compare_loss",
        ("softmax-overflow",),
        lambda: reference.compare_loss(_loss_adapter(sf.SeedCrossEntropyLoss("sum")),
                                       torch.nn.CrossEntropyLoss(reduction="sum"), logits,
                                       labels)))

    def seed_kaiming() -> np.ndarray:
        layer = zn.nn.Linear(shape[1], shape[0], rng=rng)
        return sf.seed_kaiming_uniform_(layer, rng=rng).weight.data.copy()
    checks.append(_record("d", "seed_kaiming_uniform_ (fig. 2-10), first MNIST layer",
                          "compare_init", ("init-fan",),
                          lambda: reference.compare_init(seed_kaiming, kaiming, shape)))
    linear = sf.SeedLinear(MNIST_SIZES[0], MNIST_SIZES[1], rng=rng)
    checks.append(_record(
        "e", "SeedLinear (fig. 1-4)", "compare_layer", ("extra-1/N",),
        lambda: reference.compare_layer(_layer_adapter(linear), reference.mirror(
            zn.nn.Sequential(linear))[0], x)))
    checks.append(_record(
        "f", "eq. 1-25 as the MSE gradient", "compare_loss", ("mismatch",),
        lambda: reference.compare_loss(
            _loss_adapter(zn.nn.MSELoss(), sf.seed_mse_gradient), torch.nn.MSELoss(),
            logits, rng.normal(size=logits.shape))))
    checks.append(_record(
        "g", "SeedReLU (fig. 1-8)", "compare_layer", ("grad-mutated",),
        lambda: reference.compare_layer(_layer_adapter(sf.SeedReLU()), torch.nn.ReLU(),
                                        rng.normal(size=(batch, MNIST_SIZES[1])))))

    def zero_init() -> np.ndarray:
        layer = zn.nn.Linear(shape[1], shape[0], rng=rng)
        return sf.seed_zero_init_(layer).weight.data.copy()
    checks.append(_record("m", "seed_zero_init_ (fig. 1-2)", "compare_init", ("init-zero",),
                          lambda: reference.compare_init(zero_init, kaiming, shape)))

    model = zn.nn.relu_mlp(MNIST_SIZES, rng=rng, linear=sf.SeedLinear)
    model = zn.nn.Sequential(*(sf.SeedReLU() if isinstance(layer, zn.nn.ReLU) else layer
                               for layer in model))
    checks.append(_record(
        "b, c, e", "the seed's MNIST network: SeedLinear, SeedReLU, SeedCrossEntropyLoss",
        "compare_gradients", ("ce-precedence", "extra-1/N", "softmax-overflow"),
        lambda: reference.compare_gradients(
            _network_adapter(model, sf.SeedCrossEntropyLoss()), reference.mirror(model), x,
            labels, torch.nn.CrossEntropyLoss())))
    return checks
