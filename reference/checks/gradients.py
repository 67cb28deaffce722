"""compare_gradients: one forward and backward pass of a whole network against torch's."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from reference.calls import (
    Handed,
    UserCodeError,  # noqa: F401  (its Raises: names it)
    call_user,
    unpack,
)
from reference.conventions import Conventions
from reference.diagnosis import (
    Tensor,
    Variant,
    diagnose,
    exp_can_fail,
    finite_findings,
    in_report_order,
    mutation_findings,
)
from reference.network import (
    backward_order,
    check_callable,
    layer_of,
    model_conventions,
    model_dtype,
    scaled_last_layer,
    spread_logits,
    user_inputs,
)
from reference.report import Difference, Finding, Report
from reference.returned import gradients, loss_value, sample_array
from reference.tolerance import checked_tolerance
from reference.torch_side import Pass, ce_precedence_upstream, has_relu, parameters_of, run

__all__ = ["compare_gradients"]

#: ``forward_backward(params, x, target)`` -> ``(output, loss, grads, grad_x)`` or
#: ``(loss, grads, grad_x)``.
ForwardBackward = Callable[[dict[str, np.ndarray], np.ndarray, np.ndarray], tuple]

CHECK = "compare_gradients"
CALL = "forward_backward(params, x, target)"


@dataclass(frozen=True)
class Batch:
    """One call of the user's code: its label ("" for the user's own batch) and inputs."""

    label: str
    params: dict[str, np.ndarray]
    x: np.ndarray
    target: np.ndarray
    finite_only: bool = False

    def name(self, tensor: str) -> str:
        return f"{self.label}: {tensor}" if self.label else tensor


def _probes(model: torch.nn.Module, params: dict[str, np.ndarray], x: np.ndarray,
            target: np.ndarray, loss_fn: Any) -> list[Batch]:
    """The batches that random data cannot stand in for (see :func:`compare_gradients`)."""
    probes = []
    if has_relu(model):
        zeros = x.copy()
        zeros[0] = 0  # one row: its upstream gradient cannot cancel against another's
        no_bias = {n: np.zeros_like(v) if v.ndim == 1 else v.copy() for n, v in params.items()}
        probes.append(Batch("zero pre-activations", no_bias, zeros, target.copy()))
    if isinstance(loss_fn, torch.nn.CrossEntropyLoss) and params:
        scale, shift, smallest = spread_logits(run(model, params, x, target, loss_fn).output,
                                               target)
        probes.append(Batch("large logits", scaled_last_layer(params, scale, shift), x.copy(),
                            smallest, finite_only=True))
    if x.shape[0] > 1:
        probes.append(Batch("batch of one", params, x[:1].copy(), target[:1].copy()))
    return probes


def _user_pass(forward_backward: ForwardBackward, conv: Conventions, batch: Batch,
               handed: Handed, dtype: np.dtype, expected: Pass) -> dict[str, Any]:
    """Call the user's code on ``batch``; its results in torch's shapes, by role."""
    where = f" on the {batch.label} probe" if batch.label else ""
    call = f"{CALL}{where}"
    params = conv.params_to_user(batch.params)  # copies; changing them is not a finding
    x = handed.give(batch.name("x"), conv.samples_to_user(batch.x))
    target = handed.give(batch.name("target"), conv.samples_to_user(batch.target))
    shapes = {"x": x.shape} | {f"params[{k!r}]": v.shape for k, v in params.items()}
    result = call_user(CHECK, call, forward_backward, params, x, target, shapes=shapes)
    got = unpack(result, {4: "(output, loss, grads, grad_x)", 3: "(loss, grads, grad_x)"}, call)
    output, loss, grads, grad_x = got if len(got) == 4 else (None, *got)
    out: dict[str, Any] = {"loss": loss_value(loss, call, dtype),
                           "params": gradients(grads, conv, call)}
    if output is not None:
        out["output"] = sample_array(output, conv.samples_to_user(expected.output).shape,
                                     conv, call, "output")
    if grad_x is not None:
        out["grad_x"] = sample_array(grad_x, x.shape, conv, call, "grad_x")
    return out


def _tensors(user: dict[str, Any], truth: Pass, conv: Conventions, batch: Batch) -> list[Tensor]:
    """Every compared tensor of one batch, in backward order."""
    tensors = []
    if "output" in user:
        tensors.append(Tensor(batch.name("output"), user["output"], truth.output, "output",
                              ratio=False))
    tensors.append(Tensor(batch.name("loss"), user["loss"], truth.loss, "loss"))
    for name in backward_order(list(conv.torch_shapes)):
        value, other_layout = user["params"][name]
        tensors.append(Tensor(batch.name(f"grad[{conv.user[name]}]"), value, truth.grads[name],
                              "grad", layer=layer_of(name, conv), other_layout=other_layout))
    if "grad_x" in user:
        first = next(iter(conv.torch_shapes), "")
        tensors.append(Tensor(batch.name("grad_x"), user["grad_x"], truth.grad_x, "grad_x",
                              layer=layer_of(first, conv) if first else "the model"))
    return tensors


def _values(p: Pass, conv: Conventions, batch: Batch) -> dict[str, np.ndarray]:
    values = {batch.name(f"grad[{conv.user[n]}]"): g for n, g in p.grads.items()}
    values[batch.name("grad_x")] = p.grad_x
    return values


def _variants(model: torch.nn.Module, loss_fn: Any, batch: Batch,
              conv: Conventions) -> list[Variant]:
    """The catalogued bugs that change a whole pass, as torch computes them."""
    variants = []
    n = batch.x.shape[0]
    if isinstance(loss_fn, torch.nn.CrossEntropyLoss) and n > 1:
        p = run(model, batch.params, batch.x, batch.target, loss_fn,
                upstream=ce_precedence_upstream)
        variants.append(Variant("ce-precedence", _values(p, conv, batch), (
            f"every gradient equals backpropagating softmax - y/N (N = {n}) instead of "
            f"(softmax - y)/N, while the loss agrees: an operator-precedence slip in the "
            f"cross-entropy backward (seed fig. 1-11); write (softmax - y) / N.")))
    if has_relu(model):
        p = run(model, batch.params, batch.x, batch.target, loss_fn, relu_at_0=True)
        variants.append(Variant("relu-at-0", _values(p, conv, batch), (
            f"where a pre-activation is exactly 0 ({batch.label or 'this batch'}) the gradient "
            f"passes through the ReLU: its derivative is taken as 1 at 0, where torch (and the "
            f"seed's eq. 1-22) take 0; use x > 0, not x >= 0, for the mask.")))
    return variants


def compare_gradients(forward_backward: ForwardBackward, torch_model: torch.nn.Module,
                      x: np.ndarray, target: np.ndarray, loss_fn: Callable[..., torch.Tensor],
                      *, layout: str = "out_in", samples: str = "rows",
                      names: Mapping[str, str] | list[str] | None = None, probes: bool = True,
                      rtol: float | None = None, atol: float | None = None) -> Report:
    """Compare your forward and backward pass of a whole network with torch's.

    ``forward_backward(params, x, target)`` gets copies of ``torch_model``'s
    parameters in your conventions (``layout``, ``samples``, ``names``: see
    :mod:`reference.conventions`) and returns ``(output, loss, grads, grad_x)``
    or ``(loss, grads, grad_x)``: ``grads`` maps your names to dL/dparameter
    in your layout, ``grad_x`` is dL/dx (or None to skip it). ``loss_fn`` is
    torch's loss (e.g. ``torch.nn.CrossEntropyLoss()``); integer targets are
    class indices.

    With ``probes`` (the default) your code is also run on the batches that
    random data cannot stand in for, each reported under its own name:
    "zero pre-activations" (the first row of x zero and every bias zero, so
    the ReLUs see exactly 0: ``relu-at-0``), "large logits" (with a cross-entropy loss: the
    last layer scaled and shifted to logits of magnitude 1e3, each row's target its
    smallest logit; checked for
    finiteness only, as correct code may round differently there:
    ``softmax-overflow``) and "batch of one".

    Every tensor is held to ``rtol``/``atol`` (default: :func:`default_tolerance`
    of the model's dtype). The report's names are ``output``, ``loss``,
    ``grad[<your name>]``, ``grad_x``, prefixed with the probe's name.

    Raises:
        TypeError, ValueError: naming the argument or keyword at fault.
        UserCodeError: your function raised (chained); ResultError (a UserCodeError,
            TypeError and ValueError): it returned something that cannot be compared
            (arity, types, gradient names, shapes that fit neither layout).
    """
    check_callable(forward_backward, "forward_backward")
    check_callable(loss_fn, "loss_fn")
    dtype = model_dtype(torch_model)
    conv = model_conventions(torch_model, layout=layout, samples=samples, names=names)
    x_rows, target_rows = user_inputs(x, target, dtype, conv)
    rtol, atol = checked_tolerance(rtol, atol, dtype)
    if not isinstance(probes, bool):
        raise TypeError(f"probes: expected a bool, got {probes!r}")
    params = parameters_of(torch_model)
    batches = [Batch("", params, x_rows, target_rows)]
    if probes:
        batches += _probes(torch_model, params, x_rows, target_rows, loss_fn)

    handed = Handed()
    differences: dict[str, Difference] = {}
    findings: list[list[Finding]] = []
    for batch in batches:
        truth = run(torch_model, batch.params, batch.x, batch.target, loss_fn)
        user = _user_pass(forward_backward, conv, batch, handed, dtype, truth)
        tensors = _tensors(user, truth, conv, batch)
        for t in tensors:
            differences[t.name] = Difference.held_to(t.name, t.actual, t.expected, rtol, atol,
                                             finite_only=batch.finite_only,
                                             transposed=t.other_layout)
        if batch.finite_only:
            findings.append(finite_findings(tensors, overflow=True,
                                            where=f"the '{batch.label}' probe"))
            continue
        if all(differences[t.name].close for t in tensors):
            continue
        overflow = isinstance(loss_fn, torch.nn.CrossEntropyLoss) and exp_can_fail(truth.output)
        nonfinite = finite_findings(tensors, overflow=overflow, where=batch.label or "your batch")
        if nonfinite and overflow:
            findings.append(nonfinite)
            continue
        d = truth.output.shape[1] if truth.output.ndim == 2 else None
        findings.append(diagnose(tensors, rtol=rtol, atol=atol, n=batch.x.shape[0], d=d,
                             variants=_variants(torch_model, loss_fn, batch, conv)))
    mutated = mutation_findings(handed.changed(), "input-mutated", CALL)
    notes = []
    if not probes:
        notes.append("probes=False: ReLU'(0), large logits and a batch of one were not tried")
    return Report(differences, in_report_order(mutated, findings), notes, title=CHECK)
