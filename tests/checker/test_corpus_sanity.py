"""The mutation corpus is what it claims to be, independently of the checker.

1. Every implementation without a bug computes what torch computes: output,
   loss, every gradient, dL/dx, every optimizer update and state entry, every
   training step (loss before the update and parameters after it), and its
   initialisation draws torch_init's distribution. The torch side is plain
   autograd on the same weights (``_torch_pass`` and friends below); the
   conversions between the user's conventions and torch's are
   ``corpus.convention``. The correct code also leaves its inputs alone.
2. Every injected bug changes the numbers in exactly the stated way, e.g.
   extra-1/N gives exactly correct/N on dW and db and the correct dx; sign gives
   exactly -correct; relu-at-0 differs only where a pre-activation is exactly 0;
   adam-bias-correction equals the correct Adam at t = 1 and not at t = 2. Where a
   bug is a different but well-defined computation (ce-precedence, relu-at-0,
   grad-accumulated, the scale bugs in training), torch autograd computes that
   computation too (a surrogate loss, a ReLU with derivative 1 at 0, no zero_grad)
   and the buggy corpus must match it.

Tolerances:

* float64, rtol = atol = 1e-12: both sides evaluate the same formulas with the
  operations in another order (numpy's OpenBLAS and torch's kernels block sums
  differently, torch fuses multiply-adds in its optimizers, log-softmax is
  computed in a different but equivalent way), on values of order 1 with sums of
  at most 10 terms, so they differ by a few ulp. Measured over every correct case
  (outputs, losses, gradients, three optimizer or training steps): at most 4.4e-16
  absolute, 2.1e-16 of 1 + |expected|; 1e-12 leaves a margin of over 1000. atol
  covers elements that cancel to near 0, whose absolute error stays that of their
  order-1 terms.
* float32: torch.testing.assert_close's defaults (rtol 1.3e-6, atol 1e-5), about
  10 float32 ulp of a value of order 1 (measured: at most 2.4e-7 absolute, 9.5e-8
  of 1 + |expected|).
* "exactly" (np.testing.assert_array_equal): the bug and the correct code run the
  same floating-point operations on the same values except one that is exact
  (a negation, a multiplication by 0.5) or one extra division applied to the
  correct value itself, which the test repeats.
* distributions: see ``_assert_distribution``.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from helpers.corpus.cases import CASES, DTYPES, INIT_SHAPE, KINDS, Built, correct_twin

TOLERANCE = {np.dtype(np.float64): (1e-12, 1e-12), np.dtype(np.float32): (1.3e-6, 1e-5)}


def _id(case):
    return case.id


def _select(check, *, buggy):
    return [c for c in CASES if c.check == check and (c.bug is not None) == buggy]


def close(actual, expected, dtype, name="value") -> None:
    rtol, atol = TOLERANCE[np.dtype(dtype)]
    torch.testing.assert_close(np.asarray(actual), np.asarray(expected), rtol=rtol, atol=atol,
                               msg=lambda m: f"{name}: {m}")


def not_close(actual, expected, dtype, name="value") -> None:
    with pytest.raises(AssertionError):
        close(actual, expected, dtype, name)


def exactly(actual, expected, name="value") -> None:
    np.testing.assert_array_equal(np.asarray(actual), np.asarray(expected), err_msg=name,
                                  strict=True)


def close_all(actual: dict, expected: dict, dtype) -> None:
    assert set(actual) == set(expected), (sorted(actual), sorted(expected))
    for key in expected:
        close(actual[key], expected[key], dtype, key)


def exactly_all(actual: dict, expected: dict, scale: float = 1.0, keys=None) -> None:
    for key in expected if keys is None else keys:
        exactly(actual[key], expected[key] * scale if scale != 1.0 else expected[key], key)


def _np(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().numpy().copy()


def _t(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(array, copy=True))


# ---------------------------------------------------------------- torch's side


class _ReLUOneAtZero(torch.autograd.Function):
    """ReLU whose derivative at 0 is 1: what a mask ``x >= 0`` computes."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (x >= 0)


class ReLUOneAtZero(torch.nn.Module):
    def forward(self, x):
        return _ReLUOneAtZero.apply(x)


def with_params(model: torch.nn.Sequential, params: dict | None = None,
                relu_one_at_zero: bool = False) -> torch.nn.Sequential:
    """A copy of ``model``, with ``params`` (torch names) loaded and, optionally, ReLU'(0) = 1."""
    model = copy.deepcopy(model)
    if params is not None:
        model.load_state_dict({k: _t(v) for k, v in params.items()})
    if relu_one_at_zero:
        for i, module in enumerate(model):
            if isinstance(module, torch.nn.ReLU):
                model[i] = ReLUOneAtZero()
    return model


def ce_precedence_loss(out, target, loss):
    """sum_i logsumexp(z_i) - (1/N) sum_i z_i[y_i]: its dL/dz is softmax(z) - onehot / N."""
    n = out.shape[0]
    return torch.logsumexp(out, dim=1).sum() - out[torch.arange(n), target].sum() / n


def scaled(c):
    return lambda out, target, loss: c * loss


def _torch_pass(model, x, target, loss_fn, backward_loss=None) -> dict:
    """torch's output, loss, grad[<name>], grad_x; ``backward_loss`` is what is differentiated."""
    xt = _t(x).requires_grad_(True)
    tt = _t(target)
    out = model(xt)
    loss = loss_fn(out, tt)
    differentiated = loss if backward_loss is None else backward_loss(out, tt, loss)
    named = list(model.named_parameters())
    grads = torch.autograd.grad(differentiated, [xt, *(p for _, p in named)])
    result = {"output": _np(out), "loss": _np(loss)}
    result |= {f"grad[{n}]": _np(g) for (n, _), g in zip(named, grads[1:], strict=True)}
    result["grad_x"] = _np(grads[0])
    return result


def _torch_layer(module, x, grad_out) -> dict:
    xt = _t(x).requires_grad_(True)
    out = module(xt)
    named = list(module.named_parameters())
    grads = torch.autograd.grad((out * _t(grad_out)).sum(), [xt, *(p for _, p in named)])
    result = {"output": _np(out)}
    result |= {f"grad[{n}]": _np(g) for (n, _), g in zip(named, grads[1:], strict=True)}
    result["grad_x"] = _np(grads[0])
    return result


def _torch_loss(loss_fn, output, target, backward_loss=None) -> dict:
    out = _t(output).requires_grad_(True)
    tt = _t(target)
    loss = loss_fn(out, tt)
    differentiated = loss if backward_loss is None else backward_loss(out, tt, loss)
    (grad,) = torch.autograd.grad(differentiated, [out])
    return {"loss": _np(loss), "grad_output": _np(grad)}


def _torch_optimizer(built: Built) -> tuple[list[dict], dict]:
    p = built.positional
    params = {k: torch.nn.Parameter(_t(v)) for k, v in p["params"].items()}
    optimizer = p["make_torch_optimizer"](list(params.values()))
    history = []
    for grads in p["grads"]:
        for k, param in params.items():
            param.grad = _t(grads[k])
        optimizer.step()
        history.append({f"param[{k}]": _np(v) for k, v in params.items()})
    state = {}
    for torch_key in (built.keywords["state_names"] or {}).values():
        for k, param in params.items():
            value = optimizer.state[param][torch_key]
            state[f"state[{k}].{torch_key}"] = (
                np.asarray(float(value)) if value.ndim == 0 else _np(value))
    return history, state


def _torch_training(built: Built, backward_loss=None, loss_scale=1.0,
                    zero_grad=True) -> tuple[list, list[dict]]:
    p = built.positional
    model = with_params(p["torch_model"])
    optimizer = p["make_torch_optimizer"](list(model.parameters()))
    losses, history = [], []
    for x, target in built.torch_data["batches"]:
        if zero_grad:
            optimizer.zero_grad()
        out = model(_t(x))
        loss = p["loss_fn"](out, _t(target))
        differentiated = loss if backward_loss is None else backward_loss(out, _t(target), loss)
        differentiated.backward()
        optimizer.step()
        losses.append(_np(loss) * np.asarray(loss_scale, dtype=_np(loss).dtype))
        history.append({f"param[{n}]": _np(v) for n, v in model.named_parameters()})
    return losses, history


# ---------------------------------------------------------------- the user's side


def _user_pass(built: Built, params=None, x=None, target=None) -> tuple[dict, dict, dict]:
    """The adapter's numbers in torch's names and layout, which inputs it changed, raw grads."""
    conv = built.convention
    model = built.positional["torch_model"]
    if params is None:
        params = {n: _np(v) for n, v in model.named_parameters()}
    shapes = {n: v.shape for n, v in params.items()}
    ux = conv.data_to_user(built.torch_data["x"] if x is None else x)
    ut = conv.data_to_user(built.torch_data["target"] if target is None else target)
    before = ux.copy(), ut.copy()
    result = built.positional["forward_backward"](conv.to_user(params), ux, ut)
    output, loss, grads, grad_x = result if len(result) == 4 else (None, *result)
    actual = {"loss": np.asarray(loss)}
    if output is not None:
        actual["output"] = conv.data_to_torch(output)
    if set(grads) == set(conv.user_names(shapes).values()) and all(
            np.size(grads[u]) == np.prod(shapes[t]) for t, u in conv.user_names(shapes).items()):
        actual |= {f"grad[{n}]": v for n, v in conv.to_torch(grads, shapes).items()}
    actual["grad_x"] = conv.data_to_torch(grad_x)
    changed = {"x": not np.array_equal(ux, before[0]), "target": not np.array_equal(ut, before[1])}
    return actual, changed, grads


def _user_layer(built: Built) -> tuple[dict, dict, dict]:
    conv = built.convention
    module = built.positional["torch_module"]
    params = {n: _np(v) for n, v in module.named_parameters()}
    shapes = {n: v.shape for n, v in params.items()}
    ux = conv.data_to_user(built.torch_data["x"])
    ug = conv.data_to_user(built.torch_data["grad_out"])
    before = ux.copy(), ug.copy()
    output, grads, grad_x = built.positional["forward_backward"](conv.to_user(params), ux, ug)
    actual = {"output": conv.data_to_torch(output), "grad_x": conv.data_to_torch(grad_x)}
    if all(np.size(grads[u]) == np.prod(shapes[t]) for t, u in conv.user_names(shapes).items()):
        actual |= {f"grad[{n}]": v for n, v in conv.to_torch(grads, shapes).items()}
    changed = {"x": not np.array_equal(ux, before[0]),
               "grad_out": not np.array_equal(ug, before[1])}
    return actual, changed, grads


def _user_loss(built: Built) -> tuple[dict, dict]:
    conv = built.convention
    uo = conv.data_to_user(built.torch_data["output"])
    ut = conv.data_to_user(built.torch_data["target"])
    before = uo.copy(), ut.copy()
    loss, grad = built.positional["forward_backward"](uo, ut)
    actual = {"loss": np.asarray(loss), "grad_output": conv.data_to_torch(grad)}
    changed = {"output": not np.array_equal(uo, before[0]),
               "target": not np.array_equal(ut, before[1])}
    return actual, changed


def _user_optimizer(built: Built) -> tuple[list[dict], dict]:
    conv = built.convention
    p = built.positional
    shapes = {k: v.shape for k, v in p["params"].items()}
    params = conv.to_user(p["params"])
    history = []
    for grads in p["grads"]:
        p["step"](params, conv.to_user(grads))
        history.append({f"param[{k}]": v for k, v in conv.to_torch(params, shapes).items()})
    state = {}
    if built.keywords["state"] is not None:
        user_state = built.keywords["state"]()
        user_names = conv.user_names(shapes)
        for user_key, torch_key in built.keywords["state_names"].items():
            entries = {user_names[k]: user_state[user_names[k]][user_key] for k in shapes}
            if np.ndim(next(iter(entries.values()))) == 0:
                state |= {f"state[{k}].{torch_key}": np.asarray(float(entries[user_names[k]]))
                          for k in shapes}
            else:
                state |= {f"state[{k}].{torch_key}": v
                          for k, v in conv.to_torch(entries, shapes).items()}
    return history, state


def _user_training(built: Built) -> tuple[list, list[dict], bool]:
    conv = built.convention
    p = built.positional
    params = {n: _np(v) for n, v in p["torch_model"].named_parameters()}
    shapes = {n: v.shape for n, v in params.items()}
    user_params = conv.to_user(params)
    losses, history, changed = [], [], False
    for x, target in p["batches"]:
        ux, ut = x.copy(), target.copy()
        losses.append(np.asarray(p["train_step"](user_params, ux, ut)))
        changed |= not (np.array_equal(ux, x) and np.array_equal(ut, target))
        history.append({f"param[{k}]": v for k, v in conv.to_torch(user_params, shapes).items()})
    return losses, history, changed


def _close_training(user, expected, dtype) -> None:
    (losses, history), (expected_losses, expected_history) = user, expected
    for step, (a, e) in enumerate(zip(losses, expected_losses, strict=True)):
        close(a, e, dtype, f"loss of step {step + 1}")
    for a, e in zip(history, expected_history, strict=True):
        close_all(a, e, dtype)


# ---------------------------------------------------------------- 1. correct = torch


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("case", _select("gradients", buggy=False), ids=_id)
def test_correct_network_matches_torch(case, dtype) -> None:
    built = case.build(dtype)
    actual, changed, _ = _user_pass(built)
    p = built.positional
    expected = _torch_pass(p["torch_model"], built.torch_data["x"], built.torch_data["target"],
                           p["loss_fn"])
    if "output" not in actual:  # cs231n's loss hands back no scores
        del expected["output"]
    close_all(actual, expected, dtype)
    assert not any(changed.values()), changed
    # a batch of one, and rows that are exactly 0 with zero biases (the checker's probes)
    params = {n: _np(v) for n, v in p["torch_model"].named_parameters()}
    zero_bias = {n: np.zeros_like(v) if v.ndim == 1 else v for n, v in params.items()}
    x = built.torch_data["x"].copy()
    x[: len(x) // 2] = 0
    for probe_params, probe_x, probe_target in (
            (params, built.torch_data["x"][:1], built.torch_data["target"][:1]),
            (zero_bias, x, built.torch_data["target"])):
        actual, _, _ = _user_pass(built, probe_params, probe_x, probe_target)
        expected = _torch_pass(with_params(p["torch_model"], probe_params), probe_x,
                               probe_target, p["loss_fn"])
        if "output" not in actual:
            del expected["output"]
        close_all(actual, expected, dtype)
    if case.task == "classification":  # logits spanning [-2e3, 1e3]: finite, as torch's
        params, x, target = _big_logits(built)
        actual, _, _ = _user_pass(built, params, x, target)
        expected = _torch_pass(with_params(p["torch_model"], params), x, target, p["loss_fn"])
        assert all(np.isfinite(v).all() for v in [*actual.values(), *expected.values()])
        if dtype == np.float64:  # float32 logits of 1e3 differ by their ulp, 1e-4
            close_all(actual, {k: expected[k] for k in actual}, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("case", _select("layer", buggy=False), ids=_id)
def test_correct_layer_matches_torch(case, dtype) -> None:
    built = case.build(dtype)
    actual, changed, _ = _user_layer(built)
    expected = _torch_layer(built.positional["torch_module"], built.torch_data["x"],
                            built.torch_data["grad_out"])
    close_all(actual, expected, dtype)
    assert not any(changed.values()), changed


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("case", _select("loss", buggy=False), ids=_id)
def test_correct_loss_matches_torch(case, dtype) -> None:
    built = case.build(dtype)
    actual, changed = _user_loss(built)
    expected = _torch_loss(built.positional["torch_loss"], built.torch_data["output"],
                           built.torch_data["target"])
    close_all(actual, expected, dtype)
    assert not any(changed.values()), changed


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("case", _select("optimizer", buggy=False), ids=_id)
def test_correct_optimizer_matches_torch(case, dtype) -> None:
    built = case.build(dtype)
    history, state = _user_optimizer(built)
    expected_history, expected_state = _torch_optimizer(built)
    for a, e in zip(history, expected_history, strict=True):
        close_all(a, e, dtype)
    close_all(state, expected_state, dtype)
    assert bool(state) == (built.keywords["state"] is not None)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("case", _select("training", buggy=False), ids=_id)
def test_correct_training_matches_torch(case, dtype) -> None:
    built = case.build(dtype)
    losses, history, changed = _user_training(built)
    _close_training((losses, history), _torch_training(built), dtype)
    assert not changed


# ---------------------------------------------------------------- init: distributions

N_DRAWS = 100_000


def _draw(init, dtype) -> np.ndarray:
    """At least N_DRAWS weights from repeated init() calls (each must be a fresh array)."""
    arrays = []
    while sum(a.size for a in arrays) < N_DRAWS:
        w = init()
        assert w.dtype == dtype
        assert all(w is not a for a in arrays)
        arrays.append(w.copy())
    return np.concatenate([a.ravel() for a in arrays])


def _assert_distribution(w: np.ndarray, family: str, scale: float) -> None:
    """``w`` is U(-scale, scale), N(0, scale^2) or all zero ("zero").

    On n = 10^5 draws (computed in float64): the sample std is within 1.5 % of the
    stated one (its standard error is sqrt((kurtosis - 1) / 4n) = 0.14 % for a
    uniform, 0.22 % for a normal: 1.5 % is over 6 standard errors); the excess
    kurtosis is within 0.1 of -1.2 (uniform) or 0 (normal), its standard error
    being at most sqrt(24 / n) = 0.015; for a uniform max |w| <= scale and >= scale
    * (1 - 1e-3), missed with probability (1 - 1e-3)^n = e^-100; for a normal max
    |w| > 3.5 std, missed with probability (1 - 4.7e-4)^n < e^-46.
    """
    w = w.astype(np.float64)
    if family == "zero":
        assert not np.any(w)
        return
    std = scale / math.sqrt(3) if family == "uniform" else scale
    sample_std = w.std()
    assert abs(sample_std / std - 1) < 0.015, (family, scale, sample_std, std)
    kurtosis = np.mean((w - w.mean()) ** 4) / np.var(w) ** 2 - 3
    assert abs(kurtosis - (-1.2 if family == "uniform" else 0.0)) < 0.1, (family, kurtosis)
    if family == "uniform":
        # float32: the bound itself rounds to float32, relative error 6e-8
        assert scale * (1 - 1e-3) <= np.abs(w).max() <= scale * (1 + 1e-7)
    else:
        assert np.abs(w).max() > 3.5 * std


def _stated_distribution(implementation: str, bug: str | None) -> tuple[str, float]:
    """What each implementation's init draws, from the formulas of its docstring."""
    fan_out, fan_in = INIT_SHAPE[implementation]
    if bug == "init-zero":
        return "zero", 0.0
    if implementation == "seedlike":  # kaiming uniform: bound = gain * sqrt(3 / fan)
        return {None: ("uniform", math.sqrt(2) * math.sqrt(3 / fan_in)),
                "init-fan": ("uniform", math.sqrt(2) * math.sqrt(3 / fan_out)),
                "init-gain": ("uniform", math.sqrt(3 / fan_in)),
                "init-distribution": ("normal", math.sqrt(2 / fan_in))}[bug]
    if implementation == "cs231n":  # kaiming normal: std = sqrt(2 / fan_in)
        return {None: ("normal", math.sqrt(2 / fan_in)),
                "init-fan": ("normal", math.sqrt(2 / fan_out)),
                "init-gain": ("normal", math.sqrt(1 / fan_in)),
                "init-distribution": ("uniform", math.sqrt(3) * math.sqrt(2 / fan_in))}[bug]
    return {None: ("uniform", 1 / math.sqrt(fan_in)),  # torch.nn.Linear's default
            "init-fan": ("uniform", 1 / math.sqrt(fan_out)),
            "init-gain": ("uniform", math.sqrt(6 / fan_in)),
            "init-distribution": ("normal", 1 / math.sqrt(3 * fan_in))}[bug]


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("case", [c for c in CASES if c.check == "init"], ids=_id)
def test_init_draws_the_stated_distribution(case, dtype) -> None:
    built = case.build(dtype)
    p = built.positional
    first = p["init"]()
    # the user's layout: (in, out) for layout="in_out"
    assert first.shape == (p["shape"][::-1] if built.keywords["layout"] == "in_out"
                           else p["shape"])
    family, scale = _stated_distribution(case.implementation, case.bug)
    _assert_distribution(_draw(p["init"], dtype), family, scale)
    if case.bug is None:  # ... which is torch_init's
        torch.manual_seed(0)
        draws = []  # torch_init takes the fans from the tensor: draw whole (out, in) tensors
        while sum(d.size for d in draws) < N_DRAWS:
            w = torch.empty(p["shape"], dtype=torch.float64)
            p["torch_init"](w)
            draws.append(_np(w).ravel())
        _assert_distribution(np.concatenate(draws), family, scale)


# ---------------------------------------------------------------- the matrix itself

SIGNATURES = {  # issue 9: positional parameters, keyword-only parameters
    "compare_gradients": (["forward_backward", "torch_model", "x", "target", "loss_fn"],
                          {"layout", "samples", "names", "probes"}),
    "compare_layer": (["forward_backward", "torch_module", "x"],
                      {"grad_out", "layout", "samples", "names"}),
    "compare_loss": (["forward_backward", "torch_loss", "output", "target"], {"samples"}),
    "compare_optimizer": (["step", "make_torch_optimizer", "params", "grads"],
                          {"state", "state_names", "layout", "names"}),
    "compare_training": (["train_step", "torch_model", "loss_fn", "make_torch_optimizer",
                          "batches"], {"layout", "samples", "names"}),
    "compare_init": (["init", "torch_init", "shape"], {"layout"}),
}


def test_case_ids_are_unique() -> None:
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_every_case_builds_the_issues_arguments(dtype) -> None:
    for case in CASES:
        built = case.build(dtype)
        assert built.function == f"compare_{case.check}"
        positional, keywords = SIGNATURES[built.function]
        assert list(built.positional) == positional, case.id
        assert set(built.keywords) <= keywords, case.id
        for key in ("torch_model", "torch_module"):
            if key in built.positional:
                for v in built.positional[key].parameters():
                    assert v.dtype == {np.float64: torch.float64, np.float32: torch.float32}[dtype]
        for key in ("x", "output"):
            if key in built.positional:
                assert built.positional[key].dtype == dtype


# ---------------------------------------------------------------- 2. the bugs


def test_every_kind_is_injectable_somewhere() -> None:
    injected = {c.bug for c in CASES if c.bug is not None}
    assert injected == set(KINDS) - {"mismatch"}
    assert all(c.expected_first_kind == c.bug for c in CASES)


def _factors(implementation: str, n: int, d: int) -> tuple[float, float]:
    """(loss, gradient) ratio of the factor bug: seedlike's missing 2, cs231n's 0.5 * mean,
    colmajor's 0.5 * sum."""
    return {"seedlike": (1.0, 0.5), "cs231n": (0.5, 0.5),
            "colmajor": (0.5 * n * d, 0.5 * n * d)}[implementation]


def _grad_keys(result):
    return [k for k in result if k.startswith("grad[")]


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("case", _select("gradients", buggy=True), ids=_id)
def test_network_bug_changes_what_it_says(case, dtype) -> None:
    built, twin = case.build(dtype), correct_twin(case).build(dtype)
    with np.errstate(all="ignore"):
        bug, bug_changed, bug_grads = _user_pass(built)
    ok, ok_changed, ok_grads = _user_pass(twin)
    p = built.positional
    n = built.info["batch"]
    others = [k for k in ok if not k.startswith("grad[")]
    match case.bug:
        case "extra-1/N":
            exactly_all(bug, {k: ok[k] / n for k in _grad_keys(ok)})
            exactly_all(bug, ok, keys=others)
        case "missing-1/N":
            for k in ok:
                close(bug[k], ok[k] * n if k != "output" else ok[k], dtype, k)
        case "factor":
            c_loss, c_grad = _factors(case.implementation, n, built.info["sizes"][-1])
            close(bug["loss"], ok["loss"] * c_loss, dtype, "loss")
            for k in [*_grad_keys(ok), "grad_x"]:
                close(bug[k], ok[k] * c_grad, dtype, k)
        case "sign":
            exactly_all(bug, {k: -ok[k] for k in [*_grad_keys(ok), "grad_x"]})
            exactly_all(bug, ok, keys=[k for k in others if k != "grad_x"])
        case "transposed":
            for name, g in ok_grads.items():
                if g.ndim == 2 and min(g.shape) > 1:  # weights
                    close(bug_grads[name], g.T, dtype, name)
                else:
                    exactly(bug_grads[name], g, name)
            exactly_all(bug, ok, keys=others)
        case "relu-at-0":
            exactly_all(bug, ok)  # random data: no pre-activation is exactly 0
            params = {n_: _np(v) for n_, v in p["torch_model"].named_parameters()}
            params = {k: np.zeros_like(v) if v.ndim == 1 else v for k, v in params.items()}
            x = built.torch_data["x"].copy()
            x[: len(x) // 2] = 0  # these rows: every pre-activation exactly 0
            bug, _, _ = _user_pass(built, params, x)
            ok, _, _ = _user_pass(twin, params, x)
            target = built.torch_data["target"]
            expected = _torch_pass(with_params(p["torch_model"], params, relu_one_at_zero=True),
                                   x, target, p["loss_fn"])
            for k in bug:
                close(bug[k], expected[k], dtype, k)
            assert any(not np.array_equal(bug[k], ok[k]) for k in bug)
        case "ce-precedence":
            expected = _torch_pass(p["torch_model"], built.torch_data["x"],
                                   built.torch_data["target"], p["loss_fn"], ce_precedence_loss)
            exactly(bug["loss"], ok["loss"], "loss")
            for k in [*_grad_keys(ok), "grad_x"]:
                close(bug[k], expected[k], dtype, k)
        case "softmax-overflow":
            close_all(bug, ok, dtype)  # logits of order 1: the same numbers
            params, x, target = _big_logits(built)
            with np.errstate(all="ignore"):
                bug, _, _ = _user_pass(built, params, x, target)
            ok, _, _ = _user_pass(twin, params, x, target)
            expected = _torch_pass(with_params(p["torch_model"], params), x, target,
                                   p["loss_fn"])
            assert all(np.isfinite(v).all() for v in expected.values())
            assert all(np.isfinite(v).all() for v in ok.values())
            if dtype == np.float64:  # float32 logits of 1e3 carry errors of 1e-4 (their ulp)
                close_all(ok, {k: expected[k] for k in ok}, dtype)
            assert not all(np.isfinite(bug[k]).all() for k in bug)
        case "input-mutated":
            exactly_all(bug, ok)
            assert bug_changed["x"] or bug_changed["target"]
        case _:
            pytest.fail(f"no relation for {case.bug}")
    assert not any(ok_changed.values())
    if case.bug != "input-mutated":
        assert not any(bug_changed.values())


def _big_logits(built: Built):
    """Parameters and targets making the logits span [-2e3, 1e3]: the checker's 1e3 probe.

    The last layer is scaled so that the widest row of logits spans 2000 and shifted so
    that the largest logit is 1000; each row's target is its smallest logit. Then
    exp(1000) overflows and exp(-2000) underflows (float64 and float32)."""
    model = built.positional["torch_model"]
    params = {n: _np(v) for n, v in model.named_parameters()}
    x = built.torch_data["x"]
    logits = _np(model(_t(x)))
    s = 2000 / (logits.max(axis=1) - logits.min(axis=1)).max()
    last_w, last_b = list(params)[-2:]
    params[last_w] = params[last_w] * s
    params[last_b] = params[last_b] * s
    params[last_b] = params[last_b] + (1000 - (s * logits).max())
    logits = _np(with_params(model, params)(_t(x)))
    return params, x, np.argmin(logits, axis=1).astype(np.int64)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("case", _select("layer", buggy=True), ids=_id)
def test_layer_bug_changes_what_it_says(case, dtype) -> None:
    built, twin = case.build(dtype), correct_twin(case).build(dtype)
    bug, bug_changed, bug_grads = _user_layer(built)
    ok, ok_changed, ok_grads = _user_layer(twin)
    n = built.info["batch"]
    match case.bug:
        case "extra-1/N":
            exactly_all(bug, {k: ok[k] / n for k in _grad_keys(ok)})
            exactly_all(bug, ok, keys=["output", "grad_x"])
        case "transposed":
            weight = next(k for k, g in ok_grads.items() if g.ndim == 2 and min(g.shape) > 1)
            close(bug_grads[weight], ok_grads[weight].T, dtype, weight)
            exactly_all(bug, ok, keys=["output", "grad_x", "grad[bias]"])
        case "relu-at-0":
            x, grad_out = built.torch_data["x"], built.torch_data["grad_out"]
            zero = x == 0
            assert zero.any()
            exactly(bug["grad_x"][zero], grad_out[zero], "grad_x where x == 0")
            exactly(ok["grad_x"][zero], np.zeros_like(grad_out[zero]), "correct grad_x at 0")
            exactly(bug["grad_x"][~zero], ok["grad_x"][~zero], "grad_x elsewhere")
            exactly(bug["output"], ok["output"], "output")
        case "grad-mutated":
            exactly_all(bug, ok)
            assert bug_changed["grad_out"]
        case "input-mutated":
            exactly_all(bug, ok)
            assert bug_changed["x"]
        case _:
            pytest.fail(f"no relation for {case.bug}")
    assert not any(ok_changed.values())
    assert not any(v for k, v in bug_changed.items()
                   if {"grad-mutated": "grad_out", "input-mutated": "x"}.get(case.bug) != k)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("case", _select("loss", buggy=True), ids=_id)
def test_loss_bug_changes_what_it_says(case, dtype) -> None:
    built, twin = case.build(dtype), correct_twin(case).build(dtype)
    with np.errstate(all="ignore"):
        bug, bug_changed = _user_loss(built)
    ok, ok_changed = _user_loss(twin)
    n = built.info["batch"]
    match case.bug:
        case "missing-1/N":
            close(bug["loss"], ok["loss"] * n, dtype, "loss")
            close(bug["grad_output"], ok["grad_output"] * n, dtype, "grad_output")
        case "factor":
            c_loss, c_grad = _factors(case.implementation, n, built.torch_data["output"].shape[1])
            close(bug["loss"], ok["loss"] * c_loss, dtype, "loss")
            close(bug["grad_output"], ok["grad_output"] * c_grad, dtype, "grad_output")
        case "sign":
            exactly(bug["loss"], ok["loss"], "loss")
            exactly(bug["grad_output"], -ok["grad_output"], "grad_output")
        case "ce-precedence":
            output, target = built.torch_data["output"], built.torch_data["target"]
            probs = _np(torch.softmax(_t(output), dim=1))
            onehot = np.eye(output.shape[1], dtype=output.dtype)[target]
            exactly(bug["loss"], ok["loss"], "loss")
            close(bug["grad_output"], probs - onehot / n, dtype, "grad_output")
        case "softmax-overflow":
            assert all(np.isfinite(v).all() for v in ok.values())  # matches torch: see above
            assert not all(np.isfinite(v).all() for v in bug.values())
        case "input-mutated":
            exactly_all(bug, ok)
            assert bug_changed["output"] or bug_changed["target"]
        case _:
            pytest.fail(f"no relation for {case.bug}")
    assert not any(ok_changed.values())
    if case.bug != "input-mutated":
        assert not any(bug_changed.values())


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("case", _select("optimizer", buggy=True), ids=_id)
def test_optimizer_bug_changes_what_it_says(case, dtype) -> None:
    built, twin = case.build(dtype), correct_twin(case).build(dtype)
    bug_history, bug_state = _user_optimizer(built)
    ok_history, ok_state = _user_optimizer(twin)
    start = {f"param[{k}]": v for k, v in built.positional["params"].items()}
    match case.bug:
        case "sign":  # every update the other way
            for bug, ok in zip(bug_history, ok_history, strict=True):
                for k in ok:
                    close(bug[k] - start[k], -(ok[k] - start[k]), dtype, k)
        case "adam-bias-correction":
            exactly_all(bug_history[0], ok_history[0])  # 1 - beta^1 = 1 - beta
            for bug, ok in zip(bug_history[1:], ok_history[1:], strict=True):
                for k in ok:
                    not_close(bug[k], ok[k], dtype, k)
            exactly_all(bug_state, ok_state)  # the moments themselves are right
        case _:
            pytest.fail(f"no relation for {case.bug}")


@pytest.mark.parametrize("case", [c for c in CASES if c.bug == "adam-bias-correction"
                                  and c.check == "optimizer"], ids=_id)
def test_adam_bias_correction_step_is_the_seeds(case) -> None:
    # A constant gradient g: the correct Adam moves by lr every step (m_hat = g, v_hat = g^2),
    # the bug by lr (1 - b1^t)/(1 - b1) / sqrt((1 - b2^t)/(1 - b2)) (docs/seed-errata.md, a).
    # g = 0.5 against eps = 1e-8: the eps term changes a step by 2e-8 of it.
    for bug, twin in ((True, case), (False, correct_twin(case))):
        built = twin.build(np.float64)
        hyper = built.info["hyper"]
        name = built.convention.user_names(built.positional["params"])["0.weight"]
        step = built.positional["step"]
        w = {name: np.zeros((2, 3))}
        changes = []
        for _ in range(50):
            before = w[name].copy()
            step(w, {name: np.full((2, 3), 0.5)})
            changes.append(w[name][0, 0] - before[0, 0])
        t = np.arange(1, 51)
        b1, b2 = hyper["beta1"], hyper["beta2"]
        ratio = (1 - b1 ** t) / (1 - b1) / np.sqrt((1 - b2 ** t) / (1 - b2)) if bug else 1.0
        np.testing.assert_allclose(changes, -hyper["lr"] * ratio, rtol=1e-7)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("case", _select("training", buggy=True), ids=_id)
def test_training_bug_changes_what_it_says(case, dtype) -> None:
    built, twin = case.build(dtype), correct_twin(case).build(dtype)
    bug_losses, bug_history, bug_changed = _user_training(built)
    ok_losses, ok_history, ok_changed = _user_training(twin)
    n = built.info["batch"]
    match case.bug:
        case "extra-1/N":
            expected = _torch_training(built, scaled(1 / n))
        case "missing-1/N":
            expected = _torch_training(built, scaled(n), loss_scale=n)
        case "factor":
            c_loss, c_grad = _factors(case.implementation, n, built.info["sizes"][-1])
            expected = _torch_training(built, scaled(c_grad), loss_scale=c_loss)
        case "sign":
            expected = _torch_training(built, scaled(-1))
        case "ce-precedence":
            expected = _torch_training(built, ce_precedence_loss)
        case "grad-accumulated":
            expected = _torch_training(built, zero_grad=False)
            exactly_all(bug_history[0], ok_history[0])
            for k in ok_history[1]:
                not_close(bug_history[1][k], ok_history[1][k], dtype, k)
        case "adam-bias-correction":
            expected = None
            exactly_all(bug_history[0], ok_history[0])
            exactly(bug_losses[1], ok_losses[1], "loss of step 2")
            for k in ok_history[1]:
                not_close(bug_history[1][k], ok_history[1][k], dtype, k)
        case "input-mutated":
            expected = None
            for a, e in zip(bug_losses, ok_losses, strict=True):
                exactly(a, e, "loss")
            for a, e in zip(bug_history, ok_history, strict=True):
                exactly_all(a, e)
            assert bug_changed
        case _:
            pytest.fail(f"no relation for {case.bug}")
    if expected is not None:
        _close_training((bug_losses, bug_history), expected, dtype)
    assert not ok_changed
    assert bug_changed == (case.bug == "input-mutated")
