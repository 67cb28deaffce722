"""SGD and Adam against torch.optim: parameters and optimizer state after 1 and 200 steps.

Both optimizers are fed the same random gradients (their scale drawn anew
each step, so that Adam's running averages and AMSGrad's maximum move) and
compared on every parameter and every state entry (momentum_buffer,
exp_avg, exp_avg_sq, max_exp_avg_sq, step).

Tolerance: float64 rtol = atol = 1e-12. The updates are element-wise, so
the two sides differ only where torch fuses a multiply-add into one FMA
(``add_(x, alpha=a)``, ``addcmul_``, ``addcdiv_``) and numpy rounds twice:
about half an ulp per operation. After 200 steps that measures at most
3e-14 absolute on values up to 76 (SGD with momentum), i.e. at most
2.7e-15 of 1 + |value|: a margin of ~400 below the tolerance. float32:
torch.testing's defaults (measured at most 7.6e-6 absolute on values up to
76, 1.5e-6 of 1 + |value|).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers.parity import (
    ADAM_OPTIONS,
    DTYPES,
    SGD_OPTIONS,
    helper_optim,
    random_grads,
    random_params,
    run_steps,
)

import zeronet as zn
from reference import mirror_optimizer

STEPS = [1, 200]


def sgd(**options):
    return lambda params: zn.optim.SGD(params, **options)


def adam(**options):
    return lambda params: zn.optim.Adam(params, **options)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("steps", STEPS)
@pytest.mark.parametrize("options", SGD_OPTIONS.values(), ids=SGD_OPTIONS)
def test_sgd(options, steps, dtype):
    helper_optim(sgd(**options), steps, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("steps", STEPS)
@pytest.mark.parametrize("options", ADAM_OPTIONS.values(), ids=ADAM_OPTIONS)
def test_adam(options, steps, dtype):
    helper_optim(adam(**options), steps, dtype)


def test_adam_state_is_compared():
    """The report covers every state entry torch keeps (guards the harness itself)."""
    report = helper_optim(adam(amsgrad=True), 3, np.float64)
    for name in random_params(np.float64):
        for key in ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
            assert f"state[{name}].{key}" in report.differences


def test_sgd_momentum_buffer_is_compared():
    report = helper_optim(sgd(lr=0.1, momentum=0.9), 3, np.float64)
    assert "state[0.weight].momentum_buffer" in report.differences


def with_gaps(grads: list[dict], zeros: bool) -> list[dict]:
    """Every 3rd step "0.bias" has no gradient (None) or a zero gradient; "2.weight" from step 5."""
    gapped = []
    for i, g in enumerate(grads):
        g = dict(g)
        if i % 3 == 1:
            g["0.bias"] = np.zeros_like(g["0.bias"]) if zeros else None
        if i < 5:
            g["2.weight"] = np.zeros_like(g["2.weight"]) if zeros else None
        gapped.append(g)
    return gapped


@pytest.mark.parametrize("zeros", [False, True], ids=["grad_none", "grad_zero"])
@pytest.mark.parametrize("make", [sgd(lr=0.1, momentum=0.9), adam(lr=0.01, amsgrad=True)],
                         ids=["sgd", "adam"])
def test_missing_and_zero_gradients(make, zeros):
    """A None grad skips the parameter (no step count, no decay), a zero grad does not: as torch."""
    helper_optim(make, 20, np.float64, with_gaps(random_grads(20, np.float64), zeros))


@pytest.mark.parametrize("make", [sgd(lr=0.1, momentum=0.9), adam(lr=0.01)], ids=["sgd", "adam"])
def test_zero_grad(make):
    params = [zn.nn.Parameter(v) for v in random_params(np.float64).values()]
    optimizer = make(params)
    for p in params:
        p.grad = np.ones_like(p.data)
    optimizer.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in params)
    optimizer.zero_grad()
    assert all(p.grad is None for p in params)
    before = [p.data.copy() for p in params]
    optimizer.step()  # nothing has a gradient: nothing moves, no state is created
    assert all(np.array_equal(b, p.data) for b, p in zip(before, params, strict=True))
    assert optimizer.state_dict()["state"] == {}


@pytest.mark.parametrize("make", [sgd(lr=0.1, momentum=0.9, weight_decay=0.01),
                                  adam(lr=0.01, amsgrad=True, weight_decay=0.01)],
                         ids=["sgd", "adam"])
def test_state_dict_round_trip(make):
    """Stop after 30 steps, restore into a fresh optimizer, go on: identical to not stopping."""
    grads = random_grads(60, np.float64)
    straight = [zn.nn.Parameter(v) for v in random_params(np.float64).values()]
    straight_opt = make(straight)
    run_steps(straight_opt, straight, grads[:30])
    saved = straight_opt.state_dict()
    resumed = [zn.nn.Parameter(p.data.copy()) for p in straight]
    run_steps(straight_opt, straight, grads[30:])

    resumed_opt = make(resumed)
    resumed_opt.load_state_dict(saved)
    run_steps(resumed_opt, resumed, grads[30:])
    for a, b in zip(straight, resumed, strict=True):  # same code, same inputs: bit-identical
        np.testing.assert_array_equal(a.data, b.data)
    for a, b in zip(straight_opt.state, resumed_opt.state, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])


def test_state_dict_is_a_copy():
    params = [zn.nn.Parameter(v) for v in random_params(np.float64).values()]
    optimizer = zn.optim.Adam(params, lr=0.01)
    run_steps(optimizer, params, random_grads(2, np.float64))
    saved = optimizer.state_dict()
    saved["state"][0]["exp_avg"] += 1
    saved["state"][0]["step"] = 99
    assert optimizer.state[0]["step"] == 2
    assert not np.array_equal(optimizer.state[0]["exp_avg"], saved["state"][0]["exp_avg"])


@pytest.mark.parametrize("make", [sgd(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01),
                                  adam(lr=0.01, betas=(0.8, 0.99), eps=1e-6, amsgrad=True)],
                         ids=["sgd", "adam"])
def test_state_dict_layout_matches_torch(make):
    """Same state indices, state keys and hyper-parameter values as torch's state_dict."""
    values = random_params(np.float64)
    params = [zn.nn.Parameter(v.copy()) for v in values.values()]
    optimizer = make(params)
    torch_params = [torch.nn.Parameter(torch.from_numpy(v)) for v in values.values()]
    torch_optimizer = mirror_optimizer(optimizer, torch_params)
    grads = random_grads(3, np.float64)
    run_steps(optimizer, params, grads)
    for g in grads:
        for p, v in zip(torch_params, g.values(), strict=True):
            p.grad = torch.from_numpy(v)
        torch_optimizer.step()
    ours, theirs = optimizer.state_dict(), torch_optimizer.state_dict()
    assert ours["state"].keys() == theirs["state"].keys()
    for i, state in ours["state"].items():
        assert state.keys() == theirs["state"][i].keys()
    group, torch_group = ours["param_groups"][0], theirs["param_groups"][0]
    assert group["params"] == torch_group["params"]
    assert {k: torch_group[k] for k in group} == group
