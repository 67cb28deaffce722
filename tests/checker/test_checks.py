"""The checker's contract beyond the mutation matrix: bad input, localisation, notes, init.

One small correct network (``forward_backward`` below, torch's layout) is broken in
one place per test; every test is a line or two around a ``reference.compare_*`` call.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

import reference
from reference import ResultError, UserCodeError
from reference.checks.init import ALPHA, Distribution, ks_distance, torch_distribution

KAIMING_RELU = staticmethod(lambda w: torch.nn.init.kaiming_uniform_(w, nonlinearity="relu"))


def net(sizes=(4, 6, 5, 3), seed=0) -> torch.nn.Sequential:
    torch.manual_seed(seed)
    layers: list[torch.nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers += [torch.nn.ReLU()] * bool(i) + [torch.nn.Linear(a, b)]
    return torch.nn.Sequential(*layers).double()


def forward_backward(p, x, y, *, break_at=None):
    """A correct MSE pass through net()'s 3 Linear layers (indices 0, 2, 4), in torch's layout;
    ``break_at`` damages one quantity to see where the checker points."""
    keys = [0, 2, 4]
    acts, pre = [x], []
    for i, k in enumerate(keys):
        h = acts[-1] @ p[f"{k}.weight"].T + p[f"{k}.bias"]
        pre.append(h)
        acts.append(np.maximum(h, 0) if i < 2 else h)
    out = acts[-1]
    g = 2 * (out - y) / out.size
    grads = {}
    for i in reversed(range(3)):
        k = keys[i]
        grads[f"{k}.weight"], grads[f"{k}.bias"] = g.T @ acts[i], g.sum(0)
        if break_at == f"{k}.weight":
            grads[f"{k}.weight"] = grads[f"{k}.weight"] + 0.01
        g = g @ p[f"{k}.weight"]
        if i:
            g = g * (pre[i - 1] > (0.2 if break_at == f"relu{i}" else 0))
    return out, np.mean((out - y) ** 2), grads, g


def data(n=8, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 4)), rng.normal(size=(n, 3))


def compare(fb=forward_backward, **kw):
    x, y = data()
    return reference.compare_gradients(fb, net(), x, y, torch.nn.MSELoss(), **kw)


def test_a_correct_network_gets_no_finding_and_checks():
    report = compare()
    assert report.findings == []
    assert report.passed
    report.check()
    assert str(report).startswith("compare_gradients: passed")


# ------------------------------------------------------------------ where a mismatch points

def test_a_wrong_weight_gradient_alone_points_at_that_layer():
    report = compare(lambda p, x, y: forward_backward(p, x, y, break_at="2.weight"))
    (finding,) = report.findings
    assert (finding.kind, finding.tensor) == ("mismatch", "grad[2.weight]")
    assert "while every other tensor agrees: look at how layer 2" in finding.message


def test_a_wrong_relu_backward_points_at_the_first_wrong_tensor_and_what_follows():
    report = compare(lambda p, x, y: forward_backward(p, x, y, break_at="relu2"))
    finding = report.findings[0]
    assert (finding.kind, finding.tensor) == ("mismatch", "grad[2.weight]")
    assert "the tensors before it in backward order agree" in finding.message
    assert "the error enters in the backward of layer 2" in finding.message


def test_a_wrong_output_points_at_the_forward_pass():
    def fb(p, x, y):
        out, loss, grads, gx = forward_backward(p, x, y)
        return out + 1, loss, grads, gx

    finding = compare(fb).findings[0]
    assert (finding.kind, finding.tensor) == ("mismatch", "output")
    assert "forward pass is wrong" in finding.message


def test_a_nan_gradient_is_named_where_it_first_appears_not_a_crash():
    def fb(p, x, y):
        out, loss, grads, gx = forward_backward(p, x, y)
        grads["0.bias"] = grads["0.bias"] * np.nan
        return out, loss, grads, gx

    finding = compare(fb).findings[0]
    assert (finding.kind, finding.tensor) == ("mismatch", "grad[0.bias]")
    assert "NaN/inf entries where torch's are finite" in finding.message


def test_findings_come_first_in_check_and_print():
    report = compare(lambda p, x, y: forward_backward(p, x, y, break_at="4.weight"))
    with pytest.raises(AssertionError, match=r"^mismatch at grad\[4\.weight\]: "):
        report.check()
    assert str(report).splitlines()[1].startswith("  mismatch at grad[4.weight]")


# -------------------------------------------------------------------------- conventions

def test_unknown_keywords_are_named():
    with pytest.raises(ValueError, match=r"^layout: expected one of"):
        compare(layout="row_major")
    with pytest.raises(ValueError, match=r"^samples: expected one of"):
        compare(samples="cols")
    with pytest.raises(ValueError, match=r"^names: expected a mapping"):
        compare(names={"W1": "0.weight"})
    with pytest.raises(ValueError, match=r"^names: expected 6 distinct strings"):
        compare(names=["W1", "b1"])


def test_user_names_and_in_out_layout_reach_the_users_code():
    names = {"W1": "0.weight", "b1": "0.bias", "W2": "2.weight", "b2": "2.bias",
             "W3": "4.weight", "b3": "4.bias"}
    torch_of = {u: t for u, t in names.items()}

    def fb(p, x, y):  # the user's own names, W as (in, out), b as (1, n)
        assert p["W1"].shape == (4, 6)
        assert p["b1"].shape == (1, 6)
        out, loss, grads, gx = forward_backward({torch_of[k]: v.T if k.startswith("W")
                                                 else v.ravel() for k, v in p.items()}, x, y)
        return out, loss, {u: grads[t].T if u.startswith("W") else grads[t][None]
                           for u, t in names.items()}, gx

    report = compare(fb, layout="in_out", names=names)
    assert report.passed, str(report)
    assert "grad[W1]" in report.differences


def test_a_gradient_shaped_for_neither_layout_is_an_error_with_the_layout_hint():
    def fb(p, x, y):
        out, loss, grads, gx = forward_backward(p, x, y)
        return out, loss, {**grads, "0.weight": grads["0.weight"][:, :2]}, gx

    with pytest.raises(ResultError, match=r"grads\['0\.weight'\]: expected shape \(6, 4\), "
                                          r"got \(6, 2\).*layout='in_out'"):
        compare(fb)


@pytest.mark.parametrize(("result", "match"), [
    (lambda r: r[:2], "expected it to return"),
    (lambda r: (r[0], r[1], list(r[2].values()), r[3]), "grads: expected a mapping"),
    (lambda r: (r[0], r[1], {**r[2], "W9": r[2]["0.bias"]}, r[3]), r"unknown names \['W9'\]"),
    (lambda r: (r[0], "loss", r[2], r[3]), "loss"),
])
def test_a_result_of_the_wrong_form_is_one_error_naming_forward_backward(result, match):
    with pytest.raises(ResultError, match=r"^forward_backward\(params, x, target\).*" + match):
        compare(lambda p, x, y: result(forward_backward(p, x, y)))


def test_a_raising_network_names_the_check_and_the_call_and_chains_the_error():
    def fb(p, x, y):
        return x @ p["0.weight"] @ np.ones((3, 3))  # a shape error, as (in, out) code makes

    with pytest.raises(UserCodeError, match=r"^compare_gradients: forward_backward\(params, x, "
                                            r"target\) raised ValueError.*layout='in_out'") as err:
        compare(fb)
    assert isinstance(err.value.__cause__, ValueError)


def test_the_users_code_gets_copies_and_changing_them_is_a_finding():
    def fb(p, x, y):
        result = forward_backward(p, x, y)
        y += 1
        return result

    report = compare(fb)
    assert [(f.kind, f.tensor) for f in report.findings[:1]] == [("input-mutated", "target")]


def test_probes_false_says_what_was_not_tried():
    report = compare(probes=False)
    assert report.passed
    assert any("probes=False" in n for n in report.notes)
    assert all(": " not in name for name in report.differences)


# --------------------------------------------------------------------- optimizer, training

def adam_step(lr=0.01, betas=(0.9, 0.999), eps=1e-8):
    state: dict[str, dict] = {}

    def step(params, grads):
        for k, g in grads.items():
            s = state.setdefault(k, {"m": np.zeros_like(g), "v": np.zeros_like(g), "t": 0})
            s["t"] += 1
            s["m"] = betas[0] * s["m"] + (1 - betas[0]) * g
            s["v"] = betas[1] * s["v"] + (1 - betas[1]) * g * g
            m_hat = s["m"] / (1 - betas[0] ** s["t"])
            v_hat = s["v"] / (1 - betas[1] ** s["t"])
            params[k] -= lr * m_hat / (np.sqrt(v_hat) + eps)
    return step, state


def optimizer_case(steps: int):
    rng = np.random.default_rng(0)
    params = {"w": rng.normal(size=(3, 2)), "b": rng.normal(size=2)}
    grads = [{k: rng.normal(size=v.shape) for k, v in params.items()} for _ in range(steps)]
    return params, grads


def test_one_adam_step_says_it_cannot_tell_the_bias_correction():
    step, state = adam_step()
    params, grads = optimizer_case(1)
    report = reference.compare_optimizer(step, lambda ps: torch.optim.Adam(ps, lr=0.01), params,
                                         grads, state=lambda: state,
                                         state_names={"m": "exp_avg", "v": "exp_avg_sq",
                                                      "t": "step"})
    assert report.passed, str(report)
    assert any("1 - beta^t" in n for n in report.notes)


def test_an_unknown_state_key_is_an_error_naming_state_names():
    step, state = adam_step()
    params, grads = optimizer_case(2)
    with pytest.raises(ResultError, match=r"torch keeps no 'm'.*state_names="):
        reference.compare_optimizer(step, lambda ps: torch.optim.Adam(ps, lr=0.01), params,
                                    grads, state=lambda: state)


def test_one_training_batch_says_what_it_cannot_see():
    model = net()

    def train_step(p, x, y):
        _out, loss, grads, _ = forward_backward(p, x, y)
        for k in p:
            p[k] -= 0.1 * grads[k]
        return loss

    report = reference.compare_training(train_step, model, torch.nn.MSELoss(),
                                        lambda ps: torch.optim.SGD(ps, lr=0.1), [data()])
    assert report.passed, str(report)
    assert any("grad-accumulated" in n for n in report.notes)


# -------------------------------------------------------------------------------- init

RELU_GAIN = math.sqrt(2.0)


def kaiming(shape, *, fan_out=False, gain=RELU_GAIN, seed=0):
    rng = np.random.default_rng(seed)
    fan = shape[0] if fan_out else shape[1]
    bound = gain * math.sqrt(3.0 / fan)
    return lambda: rng.uniform(-bound, bound, size=shape)


def test_init_reads_torchs_distribution_exactly():
    assert torch_distribution(KAIMING_RELU, (16, 784)).scale == pytest.approx(
        math.sqrt(2) * math.sqrt(3 / 784), rel=1e-15)


def test_init_refuses_a_square_shape():
    with pytest.raises(ValueError, match=r"^shape: expected out != in"):
        reference.compare_init(kaiming((8, 8)), KAIMING_RELU, (8, 8))


def test_init_names_both_variants_when_they_give_the_same_distribution():
    # fan_out / fan_in = 2: fan_out in place of fan_in scales by 1/sqrt(2), as gain 1 does
    report = reference.compare_init(kaiming((32, 16), fan_out=True), KAIMING_RELU, (32, 16))
    assert [f.kind for f in report.findings] == ["init-fan", "init-gain"]
    assert "same distribution" in report.findings[0].message


def test_init_draws_until_close_variants_separate():
    # fans 18 and 16: the variant is 6% off; one 288-weight draw cannot tell, many can
    report = reference.compare_init(kaiming((18, 16), fan_out=True), KAIMING_RELU, (18, 16))
    assert [f.kind for f in report.findings] == ["init-fan"]
    calls = int(report.notes[1].split(" call(s)")[0].rsplit(" ", 1)[1])
    assert calls > 10, report.notes


def test_init_refuses_the_same_values_twice():
    w = np.random.default_rng(0).uniform(-0.1, 0.1, size=(10, 16))
    with pytest.raises(ResultError, match="same values twice"):
        reference.compare_init(lambda: w, KAIMING_RELU, (10, 16))


@pytest.mark.parametrize("seed", range(20))
def test_init_correct_draws_never_raise_a_false_alarm(seed):
    """20 independent correct initialisations: each false alarm has probability <= 1e-7."""
    report = reference.compare_init(kaiming((10, 16), seed=seed), KAIMING_RELU, (10, 16))
    assert report.passed, str(report)


def test_init_error_rates_are_stated_and_the_ks_distance_is_exact():
    assert ALPHA <= 1e-7
    assert "at most 1e-7" in reference.compare_init.__doc__
    # U(-1, 1) against U(-2, 2): sup |F1 - F2| = 1/4, at x = +-1
    assert ks_distance(Distribution("uniform", 1.0), Distribution("uniform", 2.0)) \
        == pytest.approx(0.25, abs=1e-5)


def test_large_logits_probe_overflows_a_raw_exp_even_for_skewed_logits():
    """Logits in [-10, 1]: spread to 2e3 they reach only +182 unless shifted to +1e3."""
    rng = np.random.default_rng(0)
    output = np.concatenate([rng.uniform(-10, -9, (6, 1)), rng.uniform(0, 1, (6, 2))], axis=1)
    target = rng.integers(0, 3, 6)

    def raw_exp_gradient(z, y):  # a stable loss beside a softmax of the raw logits
        shifted = z - z.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        return -log_p[np.arange(len(y)), y].mean(), (p - np.eye(3)[y]) / len(y)

    report = reference.compare_loss(raw_exp_gradient, torch.nn.CrossEntropyLoss(), output,
                                    target)
    assert [f.kind for f in report.findings] == ["softmax-overflow"], str(report)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_correct_network_with_large_gradients_gets_no_finding(dtype):
    """The seed's sine net on its targets (up to 66): gradients of magnitude ~100 in a batch of
    one, whose cancelling sums carry float32 errors far above atol = 1e-5; atol is taken
    relative to each tensor's largest entry, so correct code still passes."""
    import zeronet as zn

    rng = np.random.default_rng(0)
    model = zn.nn.relu_mlp((1, 16, 16, 16, 16, 1), dtype=dtype, rng=rng)
    for layer in model[::2]:  # the seed's ReLU initialisation (fig. 2-10, fan corrected)
        zn.init.kaiming_uniform_(layer.weight, nonlinearity="relu", rng=rng)
    x = rng.uniform(-2 * math.pi, 2 * math.pi, (100, 1)).astype(dtype)
    y = (24 * np.sin(3.2 * x) + 42 * np.cos(2.3 * x)).astype(dtype)
    report = reference.check_model(model, x, y, zn.nn.MSELoss(), probes=True)
    assert report.passed, str(report)
