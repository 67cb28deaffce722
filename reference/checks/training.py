"""compare_training: k whole training steps, your loop against torch's."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from reference.calls import (
    Handed,
    ResultError,
    UserCodeError,  # noqa: F401  (its Raises: names it)
    call_user,
    result_array,
)
from reference.checks.optimizer import constant_bias_correction, is_adam
from reference.diagnosis import Tensor, Variant, diagnose, in_report_order, mutation_findings
from reference.network import (
    backward_order,
    check_callable,
    layer_of,
    model_conventions,
    model_dtype,
    user_inputs,
)
from reference.report import Difference, Report
from reference.tolerance import checked_tolerance, to_numpy
from reference.torch_side import ReLUAtZero, ce_precedence_upstream, has_relu, torch_target

__all__ = ["compare_training"]

CHECK = "compare_training"
CALL = "train_step(params, x, target)"


@dataclass(frozen=True)
class Knobs:
    """One way of training in torch: its own loop, or the loop with one known bug."""

    zero_grad: bool = True          # False: gradients accumulate over the steps
    grad_scale: float = 1.0         # every gradient multiplied before the optimizer step
    loss_scale: float = 1.0         # the loss reported, relative to torch's
    ce_precedence: bool = False     # dL/dlogits = softmax - y/N
    seed_adam: bool = False         # Adam's bias correction 1 - beta instead of 1 - beta^t
    relu_at_0: bool = False         # ReLU'(0) = 1


@dataclass(frozen=True)
class Run:
    """Parameters (torch's names and shapes) after each step, and each step's loss."""

    params: list[dict[str, np.ndarray]]
    losses: list[float]
    adam: bool


def _swap_relus(model: torch.nn.Module) -> None:
    for parent in model.modules():
        for name, child in parent.named_children():
            if isinstance(child, torch.nn.ReLU):
                setattr(parent, name, ReLUAtZero())


def train_torch(model: torch.nn.Module, loss_fn: Callable[..., torch.Tensor],
                make_torch_optimizer: Callable[[list[torch.nn.Parameter]], torch.optim.Optimizer],
                batches: Sequence[tuple[np.ndarray, np.ndarray]], knobs: Knobs = Knobs()) -> Run:
    """The training steps in torch on a copy of ``model`` (the model itself is unchanged)."""
    model = copy.deepcopy(model)
    if knobs.relu_at_0:
        _swap_relus(model)
    optimizer = make_torch_optimizer(list(model.parameters()))
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"make_torch_optimizer: expected it to return a torch.optim.Optimizer, "
                        f"got {type(optimizer).__name__}")
    params, losses = [], []
    for x, target in batches:
        if knobs.zero_grad:
            optimizer.zero_grad()
        output = model(torch.from_numpy(x.copy()))
        t = torch_target(target)
        loss = loss_fn(output, t)
        if knobs.ce_precedence:
            output.backward(ce_precedence_upstream(output.detach(), t))
        else:
            loss.backward()
        if knobs.grad_scale != 1.0:
            for p in model.parameters():
                if p.grad is not None:
                    p.grad.mul_(knobs.grad_scale)
        if knobs.seed_adam:
            constant_bias_correction(optimizer)
        optimizer.step()
        if knobs.grad_scale != 1.0 and not knobs.zero_grad:  # keep the sum unscaled
            for p in model.parameters():
                if p.grad is not None:
                    p.grad.div_(knobs.grad_scale)
        losses.append(float(loss.detach()) * knobs.loss_scale)
        params.append({n: to_numpy(p) for n, p in model.named_parameters()})
    return Run(params, losses, is_adam(optimizer))


def _variants(model: torch.nn.Module, loss_fn: Any, make: Callable[..., Any],
              batches: Sequence[tuple[np.ndarray, np.ndarray]], names: dict[str, str],
              loss_name: str | None, adam: bool, factor: float | None) -> list[Variant]:
    n = batches[0][0].shape[0]
    options: list[tuple[str, Knobs, str]] = []
    if len(batches) > 1:
        options.append(("grad-accumulated", Knobs(zero_grad=False), (
            "step k's update uses the sum of the gradients of steps 1..k: the gradients are "
            "never zeroed between steps; zero them (or assign instead of +=) before each "
            "backward.")))
        if adam:
            options.append(("adam-bias-correction", Knobs(seed_adam=True), (
                "the training follows Adam with bias correction 1 - beta instead of 1 - beta^t "
                "(the seed's fig. 2-9): divide m by 1 - beta1^t and v by 1 - beta2^t, with t "
                "the number of steps taken so far.")))
    if isinstance(loss_fn, torch.nn.CrossEntropyLoss) and n > 1:
        options.append(("ce-precedence", Knobs(ce_precedence=True), (
            f"the training follows gradients of softmax - y/N (N = {n}) instead of "
            f"(softmax - y)/N: an operator-precedence slip in the cross-entropy gradient, "
            f"wherever it is written (seed fig. 1-11); write (softmax - y) / N.")))
    if n > 1:
        options.append(("extra-1/N", Knobs(grad_scale=1.0 / n), (
            f"the training follows gradients 1/N of torch's (N = {n}): the gradient is divided "
            f"by the batch size again after the loss averaged over it (seed fig. 1-4).")))
        options.append(("missing-1/N", Knobs(grad_scale=float(n), loss_scale=float(n)), (
            f"the training follows a loss and gradients N = {n} times torch's: the loss sums "
            f"over the batch where torch's averages.")))
    options.append(("sign", Knobs(grad_scale=-1.0), (
        "the training climbs the loss: every step adds lr * g instead of subtracting it (or "
        "uses the seed's delta = -dE/dh, eq. 1-7, as the gradient); flip the sign.")))
    if factor is not None:
        options.append(("factor", Knobs(grad_scale=factor), (
            f"the training follows gradients {factor:.6g} times torch's (or a learning rate "
            f"scaled by {factor:.6g}): a constant factor in the gradient or the update.")))
    if has_relu(model):
        options.append(("relu-at-0", Knobs(relu_at_0=True), (
            "the training follows a ReLU whose derivative is 1 at exactly 0 (torch and the "
            "seed's eq. 1-22 take 0); use x > 0 for the mask.")))
    variants = []
    for kind, knobs, message in options:
        run = train_torch(model, loss_fn, make, batches, knobs)
        values = {label: np.stack([p[torch_name] for p in run.params])
                  for torch_name, label in names.items()}
        if loss_name is not None:
            values[loss_name] = np.asarray(run.losses)
        variants.append(Variant(kind, values, message))
    return variants


def _sgd_factor(user: list[dict[str, np.ndarray]], truth: Run,
                start: Mapping[str, np.ndarray]) -> float | None:
    """The constant c with (user's first update) = c (torch's first update), least squares."""
    mine = np.concatenate([(user[0][k] - v).ravel() for k, v in start.items()])
    theirs = np.concatenate([(truth.params[0][k] - v).ravel() for k, v in start.items()])
    denominator = float(np.vdot(theirs, theirs))
    if denominator == 0 or not np.isfinite(mine).all():
        return None
    c = float(np.vdot(mine, theirs)) / denominator
    return c if np.isfinite(c) and abs(c - 1) > 1e-9 and abs(c + 1) > 1e-9 else None


def compare_training(train_step: Callable[[dict[str, np.ndarray], np.ndarray, np.ndarray], Any],
                     torch_model: torch.nn.Module, loss_fn: Callable[..., torch.Tensor],
                     make_torch_optimizer: Callable[[list[torch.nn.Parameter]],
                                                    torch.optim.Optimizer],
                     batches: Sequence[tuple[np.ndarray, np.ndarray]], *,
                     layout: str = "out_in", samples: str = "rows",
                     names: Mapping[str, str] | Sequence[str] | None = None,
                     rtol: float | None = None, atol: float | None = None) -> Report:
    """Run your training step and torch's on the same batches; compare after every step.

    ``train_step(params, x, target)`` gets ``torch_model``'s starting
    parameters in your conventions (``layout``, ``samples``, ``names``) once,
    and is called for each ``(x, target)`` of ``batches`` in turn; it updates
    the arrays of ``params`` in place (or rebinds ``params[name]``) with your
    own optimizer, whose state is your business, and returns the loss computed
    before the update (or None). torch runs ``zero_grad``, forward, ``loss_fn``,
    ``backward`` and ``step`` of ``make_torch_optimizer(parameters)`` on a copy
    of ``torch_model``.

    Findings: ``grad-accumulated`` (gradients never zeroed), ``adam-bias-correction``,
    ``ce-precedence`` (softmax - y/N in the loop), ``extra-1/N``, ``missing-1/N``,
    ``sign``, ``factor``, ``relu-at-0``, ``input-mutated``, ``mismatch``; each named
    only when torch's training with that one bug reproduces your parameters and
    losses at every step. With one batch ``grad-accumulated`` and
    ``adam-bias-correction`` cannot show (the report says so).

    Raises:
        TypeError, ValueError: naming the argument or keyword at fault.
        UserCodeError: your function raised (chained), or returned what cannot be
            compared (ResultError).
    """
    check_callable(train_step, "train_step")
    check_callable(loss_fn, "loss_fn")
    check_callable(make_torch_optimizer, "make_torch_optimizer")
    dtype = model_dtype(torch_model)
    conv = model_conventions(torch_model, layout=layout, samples=samples, names=names)
    if not isinstance(batches, Sequence) or not batches:
        raise ValueError("batches: expected a non-empty list of (x, target) pairs")
    rows = []
    for i, batch in enumerate(batches):
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise ValueError(f"batches[{i}]: expected a pair (x, target), got "
                             f"{type(batch).__name__}")
        try:
            rows.append(user_inputs(batch[0], batch[1], dtype, conv))
        except (TypeError, ValueError) as err:
            raise type(err)(f"batches[{i}]: {err}") from None
    rtol, atol = checked_tolerance(rtol, atol, dtype)
    start = {n: to_numpy(p) for n, p in torch_model.named_parameters()}

    params = conv.params_to_user(start)
    handed = Handed()
    trajectory: list[dict[str, np.ndarray]] = []
    losses: list[Any] = []
    transposed: set[str] = set()
    for i, (x, target) in enumerate(rows):
        call = f"{CALL} at step {i + 1}"
        xs = handed.give("x", conv.samples_to_user(x))
        ts = handed.give("target", conv.samples_to_user(target))
        shapes = {"x": xs.shape} | {f"params[{k!r}]": v.shape for k, v in params.items()}
        losses.append(call_user(CHECK, call, train_step, params, xs, ts, shapes=shapes))
        now = {}
        for torch_name, user in conv.user.items():
            if user not in params:
                raise ResultError(f"{call}: params[{user!r}] is gone after the step")
            value, flipped = conv.from_user(torch_name, result_array(
                params[user], f"{call}: params[{user!r}]"), f"{call}: params[{user!r}]")
            if flipped:
                transposed.add(torch_name)
            now[torch_name] = value.copy()
        trajectory.append(now)
    if any(v is None for v in losses) and not all(v is None for v in losses):
        raise ResultError(f"{CALL}: expected it to return the loss at every step or never, got "
                          f"None at some steps only")
    truth = train_torch(torch_model, loss_fn, make_torch_optimizer, rows)

    k = len(rows)
    span = f" (steps 1-{k})" if k > 1 else ""
    names_of = {n: f"param[{conv.user[n]}]{span}" for n in conv.torch_shapes}
    tensors: list[Tensor] = []
    loss_name = None
    if losses[0] is not None:
        loss_name = f"loss{span}"
        mine = np.array([result_array(v, f"{CALL}: loss at step {i + 1}", dtype).reshape(())
                         for i, v in enumerate(losses)], dtype=np.float64)
        tensors.append(Tensor(loss_name, mine, np.asarray(truth.losses), "loss"))
    for n in backward_order(list(conv.torch_shapes)):
        tensors.append(Tensor(names_of[n], np.stack([t[n] for t in trajectory]),
                              np.stack([t[n] for t in truth.params]), "param",
                              layer=layer_of(n, conv), other_layout=n in transposed,
                              ratio=False))
    differences = {t.name: Difference.held_to(t.name, t.actual, t.expected, rtol, atol,
                                      transposed=t.other_layout) for t in tensors}
    notes = []
    adam = truth.adam
    if k == 1:
        notes.append("one batch cannot show grad-accumulated" + (
            " or adam-bias-correction" if adam else "") + " (step 1 is the same either way): "
                     "give at least two batches")
    findings = []
    if not all(d.close for d in differences.values()):
        factor = _sgd_factor(trajectory, truth, start)
        findings = diagnose(tensors, rtol=rtol, atol=atol, n=rows[0][0].shape[0],
                            variants=_variants(torch_model, loss_fn, make_torch_optimizer, rows,
                                               names_of, loss_name, adam, factor))
    mutated = mutation_findings(handed.changed(), "input-mutated", CALL)
    return Report(differences, in_report_order(mutated, [findings]), notes, title=CHECK)
