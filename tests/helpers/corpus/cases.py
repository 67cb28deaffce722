"""The mutation matrix: every (implementation, check, task, bug) the checker must get right.

``CASES`` is a list of ``Case(implementation, check, task, bug, expected_first_kind,
build)``:

* ``implementation``: "seedlike", "cs231n" or "colmajor" (modules of this package);
* ``check``: "gradients", "layer", "loss", "optimizer", "training" or "init", i.e.
  ``reference.compare_<check>``;
* ``task``: "classification" or "regression" for gradients, loss and training, None
  otherwise;
* ``bug``: one finding kind switched on in the implementation, or None for the correct one;
* ``expected_first_kind``: the kind of the report's first finding (None: no finding at all);
* ``build(dtype)``: a :class:`Built` holding every argument of that call, in that dtype
  (float64 or float32; every implementation keeps the dtype it is given).
  ``build.variant`` says which layer ("linear"/"relu"), optimizer ("sgd", "adam", ...) or
  logits ("big-logits") the case uses. The data depend on the case's implementation,
  check, task and variant, not on the bug: a bug case and its correct twin
  (``correct_twin(case)``) see the same numbers.

Run one case::

    built = case.build(np.float64)
    report = built.call(reference)     # reference.compare_<check>(**built.positional,
                                       #                            **built.keywords)

Data passed in the user's conventions: x, targets, ``output`` (compare_loss), ``grad_out``
and the batches are in the user's layout (``samples="columns"``: (features, N)); the torch
model and torch loss are torch's. ``compare_optimizer``'s ``params`` and ``grads`` are
keyed by torch's names in torch's layout (biases 1-D), as today; the checker hands them to
``step`` through ``names``/``layout``. ``built.torch_data`` has the same data as (N,
features) rows, for a checker that reads the other way.
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import torch

from helpers.corpus import colmajor, cs231n, seedlike
from helpers.corpus.convention import Convention

IMPLEMENTATIONS = {"seedlike": seedlike, "cs231n": cs231n, "colmajor": colmajor}
CHECKS = ("gradients", "layer", "loss", "optimizer", "training", "init")
TASKS = ("classification", "regression")
DTYPES = (np.float64, np.float32)
KINDS = (
    "extra-1/N", "missing-1/N", "factor", "sign", "transposed", "relu-at-0", "ce-precedence",
    "softmax-overflow", "input-mutated", "grad-mutated", "adam-bias-correction",
    "grad-accumulated", "init-fan", "init-gain", "init-zero", "init-distribution",
)

# Layer sizes and batch sizes of the whole networks (gradients and training checks).
SIZES = {
    "seedlike": {"classification": (4, 8, 8, 3), "regression": (3, 8, 8, 2)},
    "cs231n": {"classification": (4, 10, 6, 3), "regression": (3, 9, 5, 2)},
    "colmajor": {"classification": (5, 7, 6, 4), "regression": (2, 6, 5, 3)},
}
BATCH = {
    "seedlike": {"classification": 5, "regression": 6},
    "cs231n": {"classification": 7, "regression": 4},
    "colmajor": {"classification": 6, "regression": 5},
}
LAYER = {"seedlike": (5, 3), "cs231n": (3, 7), "colmajor": (6, 4)}  # Linear(in, out); ReLU(in)
OPTIMIZER_SIZES = (3, 5, 2)  # compare_optimizer: the parameters of Linear(3, 5), Linear(5, 2)
OPTIMIZER_STEPS = 3
TRAINING_STEPS = 3
# compare_init shapes, torch's (out, in); fan ratios 4, 1/4 and 100/12: never 1, 2, 3, 6 or their
# inverses, where a fan variant would equal a gain variant.
INIT_SHAPE = {"seedlike": (16, 64), "cs231n": (40, 10), "colmajor": (12, 100)}
TORCH_INIT = {
    "seedlike": lambda w: torch.nn.init.kaiming_uniform_(w, nonlinearity="relu"),
    "cs231n": lambda w: torch.nn.init.kaiming_normal_(w, nonlinearity="relu"),
    "colmajor": lambda w: torch.nn.init.kaiming_uniform_(w, a=math.sqrt(5)),  # nn.Linear's
}
HYPER = {
    "sgd": {"lr": 0.1},
    "momentum": {"lr": 0.05, "momentum": 0.9},
    "sgd_momentum": {"lr": 0.05, "momentum": 0.9},
    "adam": {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
}


def make_torch_optimizer(name: str) -> Callable[[list[torch.nn.Parameter]], torch.optim.Optimizer]:
    """The torch optimizer matching the implementation's optimizer ``name`` with HYPER."""
    h = HYPER[name]
    if name == "sgd":
        return lambda ps: torch.optim.SGD(ps, lr=h["lr"])
    if name in ("momentum", "sgd_momentum"):
        return lambda ps: torch.optim.SGD(ps, lr=h["lr"], momentum=h["momentum"])
    return lambda ps: torch.optim.Adam(ps, lr=h["lr"], betas=(h["beta1"], h["beta2"]),
                                       eps=h["eps"])


def torch_loss(task: str) -> torch.nn.Module:
    return torch.nn.CrossEntropyLoss() if task == "classification" else torch.nn.MSELoss()


# ---------------------------------------------------------------- the matrix

def _rows(task, variant, *bugs):
    return [(task, variant, bug) for bug in bugs]


C, R = "classification", "regression"
MATRIX: dict[str, dict[str, list[tuple[str | None, str | None, str | None]]]] = {
    "seedlike": {
        "gradients": _rows(C, None, None, "extra-1/N", "missing-1/N", "sign", "transposed",
                           "relu-at-0", "ce-precedence", "softmax-overflow")
        + _rows(R, None, None, "extra-1/N", "missing-1/N", "factor", "sign", "transposed",
                "relu-at-0", "input-mutated"),
        "layer": _rows(None, "linear", None, "extra-1/N", "transposed")
        + _rows(None, "relu", None, "relu-at-0", "grad-mutated", "input-mutated"),
        "loss": _rows(C, None, None, "missing-1/N", "sign", "ce-precedence")
        + _rows(C, "big-logits", None, "softmax-overflow")
        + _rows(R, None, None, "missing-1/N", "factor", "sign", "input-mutated"),
        "optimizer": _rows(None, "sgd", None) + _rows(None, "adam", None, "adam-bias-correction"),
        "training": _rows(C, "sgd", None, "extra-1/N", "missing-1/N", "sign", "ce-precedence",
                          "grad-accumulated")
        + _rows(C, "adam", None, "adam-bias-correction")
        + _rows(R, "sgd", None, "extra-1/N", "missing-1/N", "factor", "sign", "input-mutated")
        + _rows(R, "adam", None, "adam-bias-correction", "grad-accumulated"),
        "init": _rows(None, None, None, "init-fan", "init-gain", "init-zero", "init-distribution"),
    },
    "cs231n": {
        "gradients": _rows(C, None, None, "extra-1/N", "missing-1/N", "transposed", "relu-at-0",
                           "ce-precedence", "softmax-overflow")
        + _rows(R, None, None, "extra-1/N", "missing-1/N", "factor", "transposed", "relu-at-0"),
        "layer": _rows(None, "linear", None, "extra-1/N", "transposed")
        + _rows(None, "relu", None, "relu-at-0", "grad-mutated", "input-mutated"),
        "loss": _rows(C, None, None, "missing-1/N", "ce-precedence", "input-mutated")
        + _rows(C, "big-logits", None, "softmax-overflow")
        + _rows(R, None, None, "missing-1/N", "factor", "input-mutated"),
        "optimizer": _rows(None, "sgd", None, "sign") + _rows(None, "sgd_momentum", None, "sign")
        + _rows(None, "adam", None, "sign", "adam-bias-correction"),
        "training": _rows(C, "sgd", None, "extra-1/N", "missing-1/N", "sign", "ce-precedence")
        + _rows(C, "sgd_momentum", None, "grad-accumulated")
        + _rows(C, "adam", None, "adam-bias-correction")
        + _rows(R, "sgd", None, "missing-1/N", "factor", "grad-accumulated")
        + _rows(R, "adam", None, "sign", "adam-bias-correction"),
        "init": _rows(None, None, None, "init-fan", "init-gain", "init-zero", "init-distribution"),
    },
    "colmajor": {
        "gradients": _rows(C, None, None, "extra-1/N", "missing-1/N", "sign", "transposed",
                           "relu-at-0", "ce-precedence", "softmax-overflow", "input-mutated")
        + _rows(R, None, None, "extra-1/N", "missing-1/N", "factor", "sign", "transposed",
                "relu-at-0", "input-mutated"),
        "layer": _rows(None, "linear", None, "extra-1/N", "transposed", "input-mutated")
        + _rows(None, "relu", None, "relu-at-0", "grad-mutated"),
        "loss": _rows(C, None, None, "missing-1/N", "sign", "ce-precedence")
        + _rows(C, "big-logits", None, "softmax-overflow")
        + _rows(R, None, None, "missing-1/N", "factor", "sign"),
        "optimizer": _rows(None, "sgd", None) + _rows(None, "momentum", None)
        + _rows(None, "adam", None, "adam-bias-correction"),
        "training": _rows(C, "sgd", None, "missing-1/N", "sign", "ce-precedence", "input-mutated")
        + _rows(C, "momentum", None, "grad-accumulated")
        + _rows(C, "adam", None, "ce-precedence")
        + _rows(R, "sgd", None, "extra-1/N", "factor", "grad-accumulated")
        + _rows(R, "momentum", None)
        + _rows(R, "adam", None, "adam-bias-correction"),
        "init": _rows(None, None, None, "init-fan", "init-gain", "init-zero", "init-distribution"),
    },
}


# ---------------------------------------------------------------- building one case

@dataclass
class Built:
    """Every argument of one ``reference.compare_<check>`` call, plus what the tests need."""

    function: str                     # "compare_gradients", ...
    positional: dict[str, Any]        # the positional arguments by name, in signature order
    keywords: dict[str, Any]          # the keyword-only arguments
    convention: Convention
    torch_data: dict[str, Any] = field(default_factory=dict)  # the data as (N, features) rows
    info: dict[str, Any] = field(default_factory=dict)        # sizes, batch size, hyper, ...

    @property
    def args(self) -> tuple:
        return tuple(self.positional.values())

    def call(self, reference: Any) -> Any:
        return getattr(reference, self.function)(*self.args, **self.keywords)


def _seed(*parts: Any) -> int:
    return zlib.crc32("/".join(str(p) for p in parts).encode())


def torch_dtype(dtype: Any) -> torch.dtype:
    return {np.dtype(np.float64): torch.float64, np.dtype(np.float32): torch.float32}[
        np.dtype(dtype)]


def torch_mlp(sizes, rng: np.random.Generator, dtype) -> torch.nn.Sequential:
    """Linear, ReLU, ..., Linear with weights and biases ~ U(+-1/sqrt(fan_in)) from ``rng``."""
    layers: list[torch.nn.Module] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        if i:
            layers.append(torch.nn.ReLU())
        layers.append(_torch_linear(n_in, n_out, rng, dtype))
    return torch.nn.Sequential(*layers)


def _torch_linear(n_in, n_out, rng, dtype) -> torch.nn.Linear:
    layer = torch.nn.Linear(n_in, n_out, dtype=torch_dtype(dtype))
    bound = 1 / math.sqrt(n_in)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(rng.uniform(-bound, bound, (n_out, n_in))))
        layer.bias.copy_(torch.from_numpy(rng.uniform(-bound, bound, n_out)))
    return layer


def _data(rng, task, n, sizes, dtype):
    x = rng.normal(size=(n, sizes[0])).astype(dtype)
    if task == "classification":
        return x, rng.integers(0, sizes[-1], n).astype(np.int64)
    return x, rng.normal(size=(n, sizes[-1])).astype(dtype)


@dataclass(frozen=True)
class Builder:
    """``build(dtype)`` of one case; ``variant``: layer, optimizer or "big-logits"."""

    implementation: str
    check: str
    task: str | None
    variant: str | None
    bug: str | None

    def __call__(self, dtype: Any = np.float64) -> Built:
        dtype = np.dtype(dtype)
        module = IMPLEMENTATIONS[self.implementation]
        bugs = frozenset() if self.bug is None else frozenset({self.bug})
        rng = np.random.default_rng(
            _seed(self.implementation, self.check, self.task, self.variant, dtype))
        return getattr(self, f"_{self.check}")(module, bugs, rng, dtype)

    def _gradients(self, module, bugs, rng, dtype):
        sizes = SIZES[self.implementation][self.task]
        n = BATCH[self.implementation][self.task]
        model = torch_mlp(sizes, rng, dtype)
        x, target = _data(rng, self.task, n, sizes, dtype)
        conv = Convention(module.LAYOUT, module.SAMPLES, module.network_names(len(sizes) - 1))
        return Built(
            "compare_gradients",
            {"forward_backward": module.make_network(sizes, self.task, bugs),
             "torch_model": model, "x": conv.data_to_user(x),
             "target": conv.data_to_user(target), "loss_fn": torch_loss(self.task)},
            {**conv.keywords(), "probes": True}, conv,
            {"x": x, "target": target}, {"sizes": sizes, "batch": n})

    def _layer(self, module, bugs, rng, dtype):
        n_in, n_out = LAYER[self.implementation]
        n = 6
        x = rng.normal(size=(n, n_in)).astype(dtype)
        if self.variant == "relu":
            x[rng.random(x.shape) < 0.3] = 0  # exact zeros: ReLU'(0) must be 0
            x[0, 0] = 0
            torch_module, n_out = torch.nn.ReLU(), n_in
            conv = Convention(module.LAYOUT, module.SAMPLES, None)
        else:
            torch_module = _torch_linear(n_in, n_out, rng, dtype)
            conv = Convention(module.LAYOUT, module.SAMPLES, module.LAYER_NAMES)
        grad_out = rng.normal(size=(n, n_out)).astype(dtype)
        return Built(
            "compare_layer",
            {"forward_backward": module.make_layer(self.variant, bugs),
             "torch_module": torch_module, "x": conv.data_to_user(x)},
            {"grad_out": conv.data_to_user(grad_out), **conv.keywords()}, conv,
            {"x": x, "grad_out": grad_out}, {"batch": n})

    def _loss(self, module, bugs, rng, dtype):
        n, width = 5, (4 if self.task == "classification" else 3)
        output = rng.normal(size=(n, width))
        if self.variant == "big-logits":
            # Every row spread over [-1e3, 1e3], its target the smallest logit: exp(1e3)
            # overflows and the target's probability exp(-2e3) underflows to 0 (float64 and
            # float32), while torch's log-softmax stays finite.
            low, high = output.min(axis=1, keepdims=True), output.max(axis=1, keepdims=True)
            output = 1e3 * (2 * (output - low) / (high - low) - 1)
            target = np.argmin(output, axis=1).astype(np.int64)
        elif self.task == "classification":
            target = rng.integers(0, width, n).astype(np.int64)
        else:
            target = rng.normal(size=(n, width)).astype(dtype)
        output = output.astype(dtype)
        conv = Convention(module.LAYOUT, module.SAMPLES, None)
        return Built(
            "compare_loss",
            {"forward_backward": module.make_loss(self.task, bugs),
             "torch_loss": torch_loss(self.task), "output": conv.data_to_user(output),
             "target": conv.data_to_user(target)},
            {"samples": conv.samples}, conv, {"output": output, "target": target}, {"batch": n})

    def _optimizer(self, module, bugs, rng, dtype):
        model = torch_mlp(OPTIMIZER_SIZES, rng, dtype)
        params = {k: v.detach().numpy().copy() for k, v in model.named_parameters()}
        grads = [{k: (scale * rng.normal(size=v.shape)).astype(dtype) for k, v in params.items()}
                 for scale in (1.0, 0.3, 2.0)[:OPTIMIZER_STEPS]]
        step, state = module.make_optimizer(self.variant, HYPER[self.variant], bugs)
        conv = Convention(module.LAYOUT, "rows", module.network_names(len(OPTIMIZER_SIZES) - 1))
        return Built(
            "compare_optimizer",
            {"step": step, "make_torch_optimizer": make_torch_optimizer(self.variant),
             "params": params, "grads": grads},
            {"state": state, "state_names": module.STATE_NAMES[self.variant],
             "layout": conv.layout, "names": conv.names}, conv,
            {}, {"hyper": HYPER[self.variant]})

    def _training(self, module, bugs, rng, dtype):
        sizes = SIZES[self.implementation][self.task]
        n = BATCH[self.implementation][self.task]
        model = torch_mlp(sizes, rng, dtype)
        batches = [_data(rng, self.task, n, sizes, dtype) for _ in range(TRAINING_STEPS)]
        conv = Convention(module.LAYOUT, module.SAMPLES, module.network_names(len(sizes) - 1))
        train_step = module.make_training(sizes, self.task, self.variant, HYPER[self.variant],
                                          bugs)
        return Built(
            "compare_training",
            {"train_step": train_step, "torch_model": model, "loss_fn": torch_loss(self.task),
             "make_torch_optimizer": make_torch_optimizer(self.variant),
             "batches": [(conv.data_to_user(x), conv.data_to_user(t)) for x, t in batches]},
            conv.keywords(), conv, {"batches": batches},
            {"sizes": sizes, "batch": n, "hyper": HYPER[self.variant]})

    def _init(self, module, bugs, rng, dtype):
        shape = INIT_SHAPE[self.implementation]
        seed = int(rng.integers(2**31))
        conv = Convention(module.LAYOUT, module.SAMPLES, None)
        return Built(
            "compare_init",
            {"init": module.make_init(shape, seed, dtype, bugs),
             "torch_init": TORCH_INIT[self.implementation], "shape": shape},
            {"layout": conv.layout}, conv, {}, {"seed": seed})


class Case(NamedTuple):
    implementation: str
    check: str
    task: str | None
    bug: str | None
    expected_first_kind: str | None
    build: Builder

    @property
    def variant(self) -> str | None:
        return self.build.variant

    @property
    def id(self) -> str:
        parts = (self.implementation, self.check, self.task, self.variant, self.bug or "correct")
        return "-".join(str(p) for p in parts if p is not None)


def correct_twin(case: Case) -> Case:
    """The same case with no bug: same data, same torch counterpart."""
    b = case.build
    return Case(case.implementation, case.check, case.task, None, None,
                Builder(b.implementation, b.check, b.task, b.variant, None))


def _cases() -> list[Case]:
    cases = []
    for implementation, checks in MATRIX.items():
        for check, rows in checks.items():
            for task, variant, bug in rows:
                cases.append(Case(implementation, check, task, bug, bug,
                                  Builder(implementation, check, task, variant, bug)))
    return cases


CASES: list[Case] = _cases()


def summary() -> str:
    """The matrix as text: one line per (implementation, check), bugs with their tasks."""
    lines = []
    for implementation, checks in MATRIX.items():
        for check, rows in checks.items():
            lines.append(f"{implementation:9} {check:10} " + ", ".join(
                f"{bug or 'correct'}[{'/'.join(str(p) for p in (task, variant) if p)}]"
                for task, variant, bug in rows))
    return "\n".join(lines)


__all__ = ["CASES", "CHECKS", "DTYPES", "IMPLEMENTATIONS", "KINDS", "Built", "Case",
           "correct_twin", "summary"]
