"""compare_layer: one layer (Linear, ReLU, ...) alone, for a given upstream gradient."""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
from reference.diagnosis import Tensor, Variant, diagnose, in_report_order, mutation_findings
from reference.network import backward_order, check_callable, layer_of, model_conventions
from reference.report import Difference, Finding, Report
from reference.returned import gradients, sample_array
from reference.tolerance import checked_tolerance, to_numpy
from reference.torch_side import Pass, has_relu, parameters_of, run

__all__ = ["compare_layer"]

CHECK = "compare_layer"
CALL = "forward_backward(params, x, grad_out)"
#: The seed of the upstream gradient drawn when none is given.
GRAD_OUT_SEED = 0


def _upstream(y: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """L = sum(y * g), whose gradient dL/dy is g: how a given upstream gradient enters torch."""
    return (y * g).sum()


def _float_input(value: Any, name: str, dtype: np.dtype | None) -> np.ndarray:
    if not isinstance(value, (np.ndarray, torch.Tensor)):
        raise TypeError(f"{name}: expected a numpy array or torch tensor, "
                        f"got {type(value).__name__}")
    array = to_numpy(value, name)
    if array.dtype not in (np.float32, np.float64) or (dtype is not None and array.dtype != dtype):
        want = dtype if dtype is not None else "float32 or float64"
        raise TypeError(f"{name}: expected dtype {want}, got {array.dtype}")
    return array


def _user_pass(forward_backward: Callable[..., tuple], conv: Conventions, label: str,
               params: dict[str, np.ndarray], x_rows: np.ndarray, g_rows: np.ndarray,
               handed: Handed, truth: Pass) -> dict[str, Any]:
    call = f"{CALL} on the {label} probe" if label else CALL
    prefix = f"{label}: " if label else ""
    user_params = conv.params_to_user(params)
    x = handed.give(f"{prefix}x", conv.samples_to_user(x_rows))
    grad_out = handed.give(f"{prefix}grad_out", conv.samples_to_user(g_rows))
    shapes = {"x": x.shape} | {f"params[{k!r}]": v.shape for k, v in user_params.items()}
    result = call_user(CHECK, call, forward_backward, user_params, x, grad_out, shapes=shapes)
    output, grads, grad_x = unpack(result, {3: "(output, grads, grad_x)"}, call)
    got: dict[str, Any] = {
        "output": sample_array(output, grad_out.shape, conv, call, "output"),
        "params": gradients({} if grads is None else grads, conv, call)}
    if grad_x is not None:
        got["grad_x"] = sample_array(grad_x, x.shape, conv, call, "grad_x")
    return got


def compare_layer(forward_backward: Callable[..., tuple], torch_module: torch.nn.Module,
                  x: np.ndarray, *, grad_out: np.ndarray | None = None, layout: str = "out_in",
                  samples: str = "rows", names: Mapping[str, str] | list[str] | None = None,
                  rtol: float | None = None, atol: float | None = None) -> Report:
    """Compare one layer's forward and backward with torch's, for an upstream gradient.

    ``forward_backward(params, x, grad_out)`` gets copies of
    ``torch_module``'s parameters in your conventions (``{}`` for a ReLU) and
    returns ``(output, grads, grad_x)``: the layer's output, dL/dparameter by
    your names, and dL/dx for the upstream gradient ``grad_out`` = dL/doutput
    (None to skip dL/dx). torch is given the loss L = sum(output * grad_out),
    whose dL/doutput is ``grad_out``. Without ``grad_out`` a normal one is drawn
    (seeded, so the check is repeatable).

    If your code changes ``x`` that is an ``input-mutated`` finding, if it
    changes ``grad_out`` a ``grad-mutated`` one (the seed's fig. 1-8). A module
    with a ReLU is also run on a probe, "zero pre-activations", where the first
    row of x and every bias is 0 (``relu-at-0``).

    Raises:
        TypeError, ValueError: naming the argument or keyword at fault.
        UserCodeError: your function raised (chained), or returned what cannot be
            compared (ResultError).
    """
    check_callable(forward_backward, "forward_backward")
    if not isinstance(torch_module, torch.nn.Module):
        raise TypeError(f"torch_module: expected a torch.nn.Module, "
                        f"got {type(torch_module).__name__}")
    params = parameters_of(torch_module)
    dtypes = {v.dtype for v in params.values()}
    if len(dtypes) > 1 or not dtypes <= {np.dtype(np.float32), np.dtype(np.float64)}:
        raise TypeError(f"torch_module: expected float32 or float64 parameters of one dtype, "
                        f"got {sorted(map(str, dtypes))}")
    xa = _float_input(x, "x", next(iter(dtypes)) if dtypes else None)
    dtype = xa.dtype
    conv = model_conventions(torch_module, layout=layout, samples=samples, names=names)
    if conv.samples == "columns" and xa.ndim != 2:
        raise ValueError(f"x: expected (features, N) with samples='columns', got {xa.shape}")
    rtol, atol = checked_tolerance(rtol, atol, dtype)
    x_rows = np.ascontiguousarray(conv.samples_from_user(xa))
    with torch.no_grad():
        out_shape = tuple(torch.func.functional_call(
            torch_module, {k: torch.from_numpy(v) for k, v in params.items()},
            (torch.from_numpy(x_rows),)).shape)
    if grad_out is None:
        g_rows = np.random.default_rng(GRAD_OUT_SEED).standard_normal(out_shape).astype(dtype)
    else:
        g_rows = np.ascontiguousarray(conv.samples_from_user(
            _float_input(grad_out, "grad_out", dtype)))
        if g_rows.shape != out_shape:
            raise ValueError(f"grad_out: expected the layer's output shape "
                             f"{conv.samples_to_user(np.empty(out_shape)).shape}, "
                             f"got {np.shape(grad_out)}")

    batches = [("", params, x_rows, g_rows)]
    if has_relu(torch_module):
        zeros = x_rows.copy()
        zeros[0] = 0  # one row: its upstream gradient cannot cancel against another's
        no_bias = {n: np.zeros_like(v) if v.ndim == 1 else v.copy() for n, v in params.items()}
        batches.append(("zero pre-activations", no_bias, zeros, g_rows.copy()))

    handed = Handed()
    differences: dict[str, Difference] = {}
    findings: list[list[Finding]] = []
    for label, p, xb, gb in batches:
        prefix = f"{label}: " if label else ""
        truth = run(torch_module, p, xb, gb, _upstream)
        user = _user_pass(forward_backward, conv, label, p, xb, gb, handed, truth)
        tensors = [Tensor(f"{prefix}output", user["output"], truth.output, "output", ratio=False)]
        for name in backward_order(list(conv.torch_shapes)):
            value, other = user["params"][name]
            tensors.append(Tensor(f"{prefix}grad[{conv.user[name]}]", value, truth.grads[name],
                                  "grad", layer=layer_of(name, conv), other_layout=other))
        if "grad_x" in user:
            tensors.append(Tensor(f"{prefix}grad_x", user["grad_x"], truth.grad_x, "grad_x",
                                  layer="the layer"))
        for t in tensors:
            differences[t.name] = Difference.held_to(t.name, t.actual, t.expected, rtol, atol,
                                             transposed=t.other_layout)
        if all(differences[t.name].close for t in tensors):
            continue
        variants = []
        if has_relu(torch_module):
            v = run(torch_module, p, xb, gb, _upstream, relu_at_0=True)
            values = {f"{prefix}grad[{conv.user[n]}]": g for n, g in v.grads.items()}
            values[f"{prefix}grad_x"] = v.grad_x
            variants.append(Variant("relu-at-0", values, (
                f"where the input is exactly 0 ({label or 'this batch'}) the gradient passes "
                f"through: ReLU's derivative is taken as 1 at 0, where torch (and the seed's "
                f"eq. 1-22) take 0; use x > 0, not x >= 0, for the mask.")))
        findings.append(diagnose(tensors, rtol=rtol, atol=atol, n=xb.shape[0], variants=variants))
    changed = handed.changed()
    mutated = mutation_findings([c for c in changed if c[0].endswith("grad_out")],
                                "grad-mutated", CALL)
    mutated = mutation_findings([c for c in changed if not c[0].endswith("grad_out")],
                                "input-mutated", CALL) + mutated
    return Report(differences, in_report_order(mutated, findings), [], title=CHECK)
