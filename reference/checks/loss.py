"""compare_loss: one loss function alone, its value and dL/doutput."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from reference.calls import (
    Handed,
    UserCodeError,  # noqa: F401  (its Raises: names it)
    call_user,
    unpack,
)
from reference.conventions import Conventions, check_samples
from reference.diagnosis import (
    Tensor,
    Variant,
    diagnose,
    exp_can_fail,
    finite_findings,
    in_report_order,
    mutation_findings,
)
from reference.network import check_callable, spread_logits, user_inputs
from reference.report import Difference, Finding, Report
from reference.returned import loss_value, sample_array
from reference.tolerance import checked_tolerance, to_numpy
from reference.torch_side import ce_precedence_upstream, run

__all__ = ["compare_loss"]

CHECK = "compare_loss"
CALL = "forward_backward(output, target)"


def compare_loss(forward_backward: Callable[[np.ndarray, np.ndarray], tuple],
                 torch_loss: Callable[..., torch.Tensor], output: np.ndarray,
                 target: np.ndarray, *, samples: str = "rows", rtol: float | None = None,
                 atol: float | None = None) -> Report:
    """Compare your loss and its gradient dL/doutput with torch's.

    ``forward_backward(output, target)`` returns ``(loss, grad_output)``.
    ``output`` is (N, C) (``samples="columns"``: (C, N)); ``target`` holds class
    indices (N,) or values of the output's dtype and orientation.

    With a ``torch.nn.CrossEntropyLoss`` your code is also run on "large logits"
    (the output spread to magnitude 1e3, each row's target its smallest logit;
    finiteness only: ``softmax-overflow``);
    every loss also on a "batch of one". Changing ``output`` or ``target`` in
    place is an ``input-mutated`` finding.

    Raises:
        TypeError, ValueError: naming the argument or keyword at fault.
        UserCodeError: your function raised (chained), or returned what cannot be
            compared (ResultError).
    """
    check_callable(forward_backward, "forward_backward")
    check_callable(torch_loss, "torch_loss")
    if not isinstance(output, (np.ndarray, torch.Tensor)):
        raise TypeError(f"output: expected a numpy array or torch tensor, "
                        f"got {type(output).__name__}")
    dtype = to_numpy(output, "output").dtype
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"output: expected dtype float32 or float64, got {dtype}")
    conv = Conventions("out_in", check_samples(samples), {}, {})
    out_rows, t_rows = user_inputs(output, target, dtype, conv)
    rtol, atol = checked_tolerance(rtol, atol, dtype)
    cross_entropy = isinstance(torch_loss, torch.nn.CrossEntropyLoss)
    identity = torch.nn.Identity()

    batches: list[tuple[str, np.ndarray, np.ndarray, bool]] = [("", out_rows, t_rows, False)]
    if cross_entropy and out_rows.ndim == 2 and out_rows.size:
        scale, shift, smallest = spread_logits(out_rows, t_rows)
        spread = out_rows * dtype.type(scale) + dtype.type(shift)
        batches.append(("large logits", spread, smallest, True))
    if out_rows.shape[0] > 1:
        batches.append(("batch of one", out_rows[:1].copy(), t_rows[:1].copy(), False))

    handed = Handed()
    differences: dict[str, Difference] = {}
    findings: list[list[Finding]] = []
    for label, out_b, t_b, finite_only in batches:
        prefix = f"{label}: " if label else ""
        call = f"{CALL} on the {label} probe" if label else CALL
        truth = run(identity, {}, out_b, t_b, torch_loss)
        given_out = handed.give(f"{prefix}output", conv.samples_to_user(out_b))
        given_target = handed.give(f"{prefix}target", conv.samples_to_user(t_b))
        result = call_user(CHECK, call, forward_backward, given_out, given_target,
                           shapes={"output": given_out.shape})
        loss, grad = unpack(result, {2: "(loss, grad_output)"}, call)
        g = sample_array(grad, given_out.shape, conv, call, "grad_output")
        tensors = [Tensor(f"{prefix}loss", loss_value(loss, call, dtype), truth.loss, "loss"),
                   Tensor(f"{prefix}grad_output", g, truth.grad_x, "grad_output")]
        for t in tensors:
            differences[t.name] = Difference.held_to(t.name, t.actual, t.expected, rtol, atol,
                                             finite_only=finite_only)
        if finite_only:
            findings.append(finite_findings(tensors, overflow=True, where=f"the '{label}' probe"))
            continue
        if all(differences[t.name].close for t in tensors):
            continue
        if cross_entropy and exp_can_fail(out_b):
            nonfinite = finite_findings(tensors, overflow=True, where=label or "your batch")
            if nonfinite:
                findings.append(nonfinite)
                continue
        variants = []
        n = out_b.shape[0]
        if cross_entropy and n > 1:
            v = run(identity, {}, out_b, t_b, torch_loss, upstream=ce_precedence_upstream)
            variants.append(Variant("ce-precedence", {f"{prefix}grad_output": v.grad_x}, (
                f"dL/doutput equals softmax - y/N (N = {n}) instead of (softmax - y)/N, while "
                f"the loss agrees: an operator-precedence slip (seed fig. 1-11); write "
                f"(softmax - y) / N.")))
        d = out_b.shape[1] if out_b.ndim == 2 and not cross_entropy else None
        findings.append(diagnose(tensors, rtol=rtol, atol=atol, n=n, d=d, variants=variants))
    mutated = mutation_findings(handed.changed(), "input-mutated", CALL)
    return Report(differences, in_report_order(mutated, findings), [], title=CHECK)
