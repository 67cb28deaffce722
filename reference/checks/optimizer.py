"""compare_optimizer: your optimizer and torch's fed the same gradients, step by step."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from reference.calls import (
    ResultError,
    UserCodeError,  # noqa: F401  (its Raises: names it)
    call_user,
    result_array,
)
from reference.conventions import Conventions
from reference.diagnosis import Tensor, Variant, diagnose
from reference.network import check_callable
from reference.report import Difference, Report
from reference.tolerance import checked_tolerance, to_numpy

__all__ = ["compare_optimizer", "is_adam", "run_torch_optimizer"]

CHECK = "compare_optimizer"
CALL = "step(params, grads)"


def is_adam(optimizer: torch.optim.Optimizer) -> bool:
    return isinstance(optimizer, (torch.optim.Adam, torch.optim.AdamW))


def constant_bias_correction(optimizer: torch.optim.Optimizer) -> None:
    """Make the next Adam step divide by 1 - beta, not 1 - beta^t (the seed's fig. 2-9).

    torch's Adam computes 1 - beta^step with the step count it keeps per
    parameter; setting that count to 0 before each step makes every step the
    first, which is the seed's formula, while the moments stay exactly torch's.
    """
    for state in optimizer.state.values():
        if "step" in state:
            state["step"].zero_()


def run_torch_optimizer(make_torch_optimizer: Callable[[list[torch.nn.Parameter]],
                                                       torch.optim.Optimizer],
                        start: Mapping[str, np.ndarray], order: Sequence[str],
                        grads: Sequence[Mapping[str, np.ndarray | None]], *,
                        seed_adam: bool = False) -> tuple[list[dict[str, np.ndarray]],
                                                          torch.optim.Optimizer,
                                                          dict[str, torch.nn.Parameter]]:
    """torch's parameters after each step (and the optimizer and its parameters at the end)."""
    tensors = {k: torch.nn.Parameter(torch.from_numpy(start[k].copy())) for k in order}
    optimizer = make_torch_optimizer(list(tensors.values()))
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"make_torch_optimizer: expected it to return a torch.optim.Optimizer, "
                        f"got {type(optimizer).__name__}")
    trajectory = []
    for g in grads:
        for k, p in tensors.items():
            p.grad = None if g[k] is None else torch.from_numpy(g[k].copy())
        if seed_adam:
            constant_bias_correction(optimizer)
        optimizer.step()
        trajectory.append({k: to_numpy(p) for k, p in tensors.items()})
    return trajectory, optimizer, tensors


def _state_value(value: Any, where: str) -> np.ndarray:
    array = result_array(value, where)
    return array.astype(np.float64) if array.ndim == 0 else array


def compare_optimizer(step: Callable[[dict[str, np.ndarray], dict[str, np.ndarray | None]], Any],
                      make_torch_optimizer: Callable[[list[torch.nn.Parameter]],
                                                     torch.optim.Optimizer],
                      params: Mapping[str, np.ndarray],
                      grads: Sequence[Mapping[str, np.ndarray | None]], *,
                      state: Callable[[], Mapping[str, Mapping[str, Any]]] | None = None,
                      state_names: Mapping[str, str] | None = None, layout: str = "out_in",
                      names: Mapping[str, str] | Sequence[str] | None = None,
                      rtol: float | None = None, atol: float | None = None) -> Report:
    """Feed the same gradients to your optimizer and torch's; compare every step.

    ``params`` are the starting values and ``grads`` one mapping per step of
    the same keys (None: "no gradient this step"), both keyed and laid out as
    torch's (e.g. "0.weight" as (out, in), biases 1-D). Your
    ``step(params, grads)`` gets them in your conventions (``names``,
    ``layout``: see :mod:`reference.conventions`) and updates its copy of
    ``params`` in place (or rebinds ``params[name]``); torch's optimizer, built
    by ``make_torch_optimizer(list_of_params)`` in the order of ``params``,
    takes one ``step()``. The parameters are read after every step. The rule
    is element-wise, so ``layout`` and ``names`` only name and orient the arrays.

    ``state()``, if given, returns your state after the last step as
    ``{your_param_name: {your_key: value}}``; ``state_names`` maps your keys to
    torch's (e.g. ``{"m": "exp_avg", "v": "exp_avg_sq", "t": "step"}``; keys not
    in it must be torch's). Scalars such as the step count compare as float64.

    Findings: ``sign`` or ``factor`` (every update a constant multiple of
    torch's), ``adam-bias-correction`` (Adam dividing by 1 - beta, not
    1 - beta^t), ``transposed``, ``mismatch``. A single Adam step cannot tell
    1 - beta from 1 - beta^t (t = 1): the report says so in a note.

    Raises:
        TypeError, ValueError: naming the argument or keyword at fault.
        UserCodeError: your function raised (chained), or returned what cannot be
            compared (ResultError).
    """
    check_callable(step, "step")
    check_callable(make_torch_optimizer, "make_torch_optimizer")
    if not isinstance(params, Mapping) or not params:
        raise TypeError(f"params: expected a non-empty mapping of name -> array, "
                        f"got {type(params).__name__}")
    start = {k: to_numpy(v, f"params[{k!r}]") for k, v in params.items()}
    dtypes = {v.dtype for v in start.values()}
    if len(dtypes) != 1 or not dtypes <= {np.dtype(np.float32), np.dtype(np.float64)}:
        raise TypeError(f"params: expected float32 or float64 arrays of one dtype, got "
                        f"{sorted(map(str, dtypes))}")
    dtype = dtypes.pop()
    conv = Conventions.build({k: v.shape for k, v in start.items()}, layout=layout,
                             names=names)
    order = list(start)
    if not isinstance(grads, Sequence) or not grads:
        raise ValueError("grads: expected a non-empty list of mappings name -> gradient")
    steps: list[dict[str, np.ndarray | None]] = []
    for i, g in enumerate(grads):
        if not isinstance(g, Mapping) or set(g) != set(params):
            got = sorted(map(str, g)) if isinstance(g, Mapping) else type(g).__name__
            raise ValueError(f"grads[{i}]: expected the keys {sorted(params)}, got {got}")
        steps.append({k: None if v is None else to_numpy(v, f"grads[{i}][{k!r}]")
                      for k, v in g.items()})
        for k, v in steps[-1].items():
            if v is not None and (v.shape != start[k].shape or v.dtype != dtype):
                raise ValueError(f"grads[{i}][{k!r}]: expected shape {start[k].shape} and dtype "
                                 f"{dtype} (the parameter's), got {v.shape} {v.dtype}")
    names_map = dict(state_names or {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in names_map.items()):
        raise ValueError(f"state_names: expected a mapping of your state keys to torch's, "
                         f"got {state_names!r}")
    rtol, atol = checked_tolerance(rtol, atol, dtype)

    mine = conv.params_to_user(start)
    user_trajectory: list[dict[str, np.ndarray]] = []
    transposed: set[str] = set()
    for i, g in enumerate(steps):
        call = f"{CALL} at step {i + 1}"
        call_user(CHECK, call, step, mine, {conv.user[k]: None if v is None else
                                            conv.to_user(k, v) for k, v in g.items()})
        now = {}
        for k in order:
            user = conv.user[k]
            if user not in mine:
                raise ResultError(f"{call}: params[{user!r}] is gone after the step")
            value, flipped = conv.from_user(k, result_array(mine[user], f"{call}: params"
                                                            f"[{user!r}]"),
                                            f"{call}: params[{user!r}]")
            if flipped:
                transposed.add(k)
            now[k] = value.copy()
        user_trajectory.append(now)
    torch_trajectory, optimizer, tensors = run_torch_optimizer(make_torch_optimizer, start,
                                                               order, steps)

    def stacked(trajectory: list[dict[str, np.ndarray]], k: str) -> np.ndarray:
        return np.stack([t[k] for t in trajectory])

    k_steps = len(steps)
    span = f" (steps 1-{k_steps})" if k_steps > 1 else ""
    tensors_: list[Tensor] = []
    for k in order:
        tensors_.append(Tensor(f"param[{conv.label(k)}]{span}", stacked(user_trajectory, k),
                               stacked(torch_trajectory, k), "param", other_layout=k in transposed,
                               ratio=False))
    if state is not None:
        check_callable(state, "state")
        tensors_ += _state_tensors(call_user(CHECK, "state()", state), conv, names_map,
                                   optimizer, tensors)
    differences = {t.name: Difference.held_to(t.name, t.actual, t.expected, rtol, atol,
                                      transposed=t.other_layout) for t in tensors_}
    notes = []
    adam = is_adam(optimizer)
    if adam and k_steps == 1:
        notes.append("one step cannot tell Adam's 1 - beta from 1 - beta^t (they agree at t = 1):"
                     " give at least two steps to check the bias correction")
    findings = []
    if not all(d.close for d in differences.values()):
        findings = diagnose(tensors_, rtol=rtol, atol=atol, n=1,
                            variants=_variants(tensors_, start, order, steps,
                                               make_torch_optimizer, adam))
    return Report(differences, findings, notes, title=CHECK)


def _state_tensors(theirs: Any, conv: Conventions, names_map: Mapping[str, str],
                   optimizer: torch.optim.Optimizer,
                   tensors: Mapping[str, torch.nn.Parameter]) -> list[Tensor]:
    """Your state after the last step against torch's, in torch's shapes."""
    if not isinstance(theirs, Mapping):
        raise ResultError(f"state(): expected a mapping of parameter name -> state, got "
                          f"{type(theirs).__name__}")
    out = []
    for user, entries in theirs.items():
        if user not in conv.torch:
            raise ResultError(f"state(): expected parameter names among {list(conv.torch)}, "
                              f"got {user!r}")
        k = conv.torch[user]
        torch_state = optimizer.state[tensors[k]]
        if not isinstance(entries, Mapping):
            raise ResultError(f"state()[{user!r}]: expected a mapping of key -> value, got "
                              f"{type(entries).__name__}")
        for key, value in entries.items():
            torch_key = names_map.get(key, key)
            where = f"state()[{user!r}][{key!r}]"
            if torch_key not in torch_state:
                raise ResultError(f"{where}: torch keeps no {torch_key!r} (its keys: "
                                  f"{sorted(torch_state)}); map your key to one with "
                                  f"state_names=")
            expected = _state_value(torch_state[torch_key], where)
            actual = _state_value(value, where)
            flipped = False
            if actual.ndim:
                actual, flipped = conv.from_user(k, actual, where)
            name = f"state[{conv.label(k)}].{key}" + (f" ({torch_key})" if torch_key != key
                                                       else "")
            out.append(Tensor(name, actual.astype(expected.dtype, copy=False), expected,
                              "state", other_layout=flipped, ratio=False))
    return out


def _variants(tensors: list[Tensor], start: Mapping[str, np.ndarray], order: list[str],
              steps: Sequence[Mapping[str, np.ndarray | None]],
              make: Callable[..., torch.optim.Optimizer], adam: bool) -> list[Variant]:
    """Updates scaled by a constant (sign, factor), and Adam with the seed's bias correction."""
    params = tensors[:len(order)]
    variants = []
    starts = {t.name: np.broadcast_to(start[k], t.expected.shape) for t, k in zip(params, order,
                                                                                   strict=True)}
    up_user = np.concatenate([(t.actual - starts[t.name]).ravel() for t in params])
    up_torch = np.concatenate([(t.expected - starts[t.name]).ravel() for t in params])
    denominator = float(np.vdot(up_torch, up_torch))
    if denominator > 0 and np.isfinite(up_user).all():
        c = float(np.vdot(up_user, up_torch)) / denominator
        if np.isfinite(c) and abs(c - 1) > 1e-9:
            scaled = {t.name: (starts[t.name] + c * (t.expected - starts[t.name])).astype(
                t.expected.dtype) for t in params}
            flipped = abs(c + 1) <= 1e-6
            kind = "sign" if flipped else "factor"
            message = ("every update is exactly -1 times torch's: the step adds lr * g instead "
                       "of subtracting it (or the gradient it is given is the seed's delta = "
                       "-dE/dw, eq. 1-7); flip the sign of the update." if flipped else
                       f"every update is {c:.6g} times torch's: the learning rate (or the "
                       f"gradient) is scaled by {c:.6g}.")
            variants.append(Variant(kind, scaled, message))
    if adam and len(steps) > 1:
        trajectory, _, _ = run_torch_optimizer(make, start, order, steps, seed_adam=True)
        values = {t.name: np.stack([s[k] for s in trajectory]) for t, k in zip(params, order,
                                                                              strict=True)}
        variants.append(Variant("adam-bias-correction", values, (
            "the parameters follow Adam with bias correction 1 - beta instead of 1 - beta^t "
            "(step 1 agrees, the later steps do not): the seed's fig. 2-9 divides by the "
            "constants; divide m by 1 - beta1^t and v by 1 - beta2^t, with t the number of "
            "steps taken so far.")))
    return variants
