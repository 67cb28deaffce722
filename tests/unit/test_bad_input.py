"""One test per bad input: the exception type, and a message that names the argument,
what was expected and what was given (``bad(...)`` matches all three, in that order)."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pytest

import zeronet as zn


def bad(exc: type[Exception], arg: str, expected: str, given: str, got: str = "got "):
    """pytest.raises for a message "<arg>: expected ...<expected>... <got>...<given>..."."""
    pattern = (rf"^{re.escape(arg)}: expected .*{re.escape(expected)}"
               rf".*{re.escape(got)}.*{re.escape(given)}")
    return pytest.raises(exc, match=pattern)


def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def net(dtype: type = np.float64) -> zn.nn.Sequential:
    r = rng()
    return zn.nn.Sequential(zn.nn.Linear(3, 4, dtype=dtype, rng=r), zn.nn.ReLU(),
                            zn.nn.Linear(4, 2, dtype=dtype, rng=r))


def params() -> list[zn.nn.Parameter]:
    return net().parameters()


def ones(*shape: int) -> np.ndarray:
    return np.ones(shape)


# Layers and models


def test_wrong_input_width() -> None:
    with bad(ValueError, "x", "(N, 3)", "(5, 4)"):
        net()(ones(5, 4))


def test_wrong_ndim() -> None:
    with bad(ValueError, "x", "2-D", "(3,)"):
        net()(ones(3))


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_input_to_linear(value: float) -> None:
    x = ones(2, 3)
    x[1, 2] = value
    with bad(ValueError, "x", "finite", "(1, 2)"):
        net()(x)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_input_to_linear_with_zero_weights(value: float) -> None:
    """Linear checks its output for NaN/inf: 0 * inf and 0 * NaN are NaN, so it still sees x's."""
    layer = zn.nn.Linear(3, 2, rng=np.random.default_rng(0))
    layer.weight.data[...] = 0
    x = ones(2, 3)
    x[0, 1] = value
    with bad(ValueError, "x", "finite", "(0, 1)"):
        layer(x)


def test_non_finite_weight_is_named() -> None:
    layer = zn.nn.Linear(3, 2, rng=np.random.default_rng(0))
    layer.weight.data[1, 0] = np.nan
    with bad(ValueError, "weight", "finite", "(1, 0)"):
        layer(ones(2, 3))


def test_linear_overflow_is_an_error() -> None:
    layer = zn.nn.Linear(3, 2, dtype=np.float32, rng=np.random.default_rng(0))
    layer.weight.data[...] = 1
    with bad(ValueError, "x", "fit in float32", "overflow (max |x| = 3e+38)"):
        layer(np.full((2, 3), 3e38, dtype=np.float32))


def test_float32_input_into_float64_model() -> None:
    with bad(TypeError, "x", "float64", "float32"):
        net()(ones(2, 3).astype(np.float32))


def test_linear_in_features_zero() -> None:
    with bad(ValueError, "in_features", "positive integer", "0"):
        zn.nn.Linear(0, 3, rng=rng())


def test_relu_mlp_needs_two_widths() -> None:
    with bad(ValueError, "sizes", "at least 2 widths", "[784]"):
        zn.nn.relu_mlp([784], rng=rng())


def test_relu_mlp_width_zero() -> None:
    with bad(ValueError, "sizes[1]", "positive integer", "0"):
        zn.nn.relu_mlp([3, 0, 2], rng=rng())


@pytest.mark.parametrize("dtype", [int, np.float16, "int32"])
def test_unknown_dtype(dtype: object) -> None:
    with bad(TypeError, "dtype", "float32 or float64", str(np.dtype(dtype))):
        zn.nn.Linear(3, 2, dtype=dtype, rng=rng())


@pytest.mark.parametrize("layer", [zn.nn.Linear(3, 2, rng=rng()), zn.nn.ReLU(), net()])
def test_backward_before_forward(layer: zn.nn.Module) -> None:
    with pytest.raises(RuntimeError, match=r"backward called before forward"):
        layer.backward(ones(2, 2))


SECOND_BACKWARD = re.escape("backward called twice after one forward: call forward again "
                            "(torch: Trying to backward through the graph a second time)") + "$"


@pytest.mark.parametrize("make", [lambda: zn.nn.Linear(3, 2, rng=rng()), zn.nn.ReLU, net],
                         ids=["Linear", "ReLU", "Sequential"])
def test_a_second_backward_after_one_forward_raises_as_torch(make: Callable) -> None:
    layer = make()
    grad_out = np.ones_like(layer(ones(2, 3)))
    layer.backward(grad_out)
    grads = [p.grad.copy() for p in layer.parameters()]
    with pytest.raises(RuntimeError, match=SECOND_BACKWARD):
        layer.backward(grad_out)
    assert all(np.array_equal(p.grad, g) for p, g in zip(layer.parameters(), grads, strict=True))
    layer(ones(2, 3))
    layer.backward(grad_out)  # after a new forward pass, as in torch


@pytest.mark.parametrize(("loss_fn", "target"), [
    (zn.nn.MSELoss(), ones(2, 3)), (zn.nn.CrossEntropyLoss(), np.array([0, 2])),
    (zn.nn.CrossEntropyLoss(), np.full((2, 3), 1 / 3))], ids=["mse", "ce indices", "ce rows"])
def test_a_second_loss_backward_raises_as_torch(loss_fn, target: np.ndarray) -> None:
    loss_fn(ones(2, 3), target)
    loss_fn.backward()
    with pytest.raises(RuntimeError, match=SECOND_BACKWARD):
        loss_fn.backward()
    loss_fn(ones(2, 3), target)
    loss_fn.backward()



# The messages of the shared guard (zeronet._checks.expect_array), word for word

def grad_cases() -> list[tuple[object, type[Exception], str]]:
    """(bad gradient for a float64 (4, 3) array, exception, the message's end after 'expected')."""
    return [(np.ones((4, 3), dtype=np.float32), TypeError,
             "an ndarray of dtype float64, got ndarray float32"),
            ([[1.0] * 3] * 4, TypeError, "an ndarray of dtype float64, got list "),
            (np.ones((3, 4)), ValueError, "shape (4, 3), got (3, 4)")]


@pytest.mark.parametrize(("grad", "exc", "message"), grad_cases(), ids=["dtype", "list", "shape"])
def test_accumulate_rejects_a_gradient_word_for_word(grad, exc, message) -> None:
    p = zn.nn.Parameter(np.zeros((4, 3)))
    with pytest.raises(exc, match=f"^{re.escape('grad: expected ' + message)}$"):
        p.accumulate(grad)


@pytest.mark.parametrize(("grad", "exc", "message"), grad_cases(), ids=["dtype", "list", "shape"])
@pytest.mark.parametrize("layer", ["Linear", "ReLU"])
def test_backward_rejects_grad_out_word_for_word(layer, grad, exc, message) -> None:
    module = zn.nn.Linear(2, 3, rng=rng()) if layer == "Linear" else zn.nn.ReLU()
    module(np.ones((4, 2 if layer == "Linear" else 3)))
    with pytest.raises(exc, match=f"^{re.escape('grad_out: expected ' + message)}$"):
        module.backward(grad)


@pytest.mark.parametrize(("grad", "exc", "message"), grad_cases(), ids=["dtype", "list", "shape"])
def test_optimizer_step_rejects_a_gradient_word_for_word(grad, exc, message) -> None:
    ps = [zn.nn.Parameter(np.zeros(2)), zn.nn.Parameter(np.zeros((4, 3)))]
    optimizer = zn.optim.SGD(ps, lr=0.1)
    ps[1].grad = grad
    if exc is ValueError:
        message = message.replace("(4, 3), got", "(4, 3) (never broadcast), got")
    with pytest.raises(exc, match=f"^{re.escape('params[1].grad: expected ' + message)}$"):
        optimizer.step()


# Losses


@pytest.mark.parametrize("loss_fn", [zn.nn.MSELoss(), zn.nn.CrossEntropyLoss()])
def test_loss_backward_before_forward(loss_fn) -> None:
    with pytest.raises(RuntimeError, match=r"backward called before the loss was computed"):
        loss_fn.backward()


@pytest.mark.parametrize("loss_type", [zn.nn.MSELoss, zn.nn.CrossEntropyLoss])
def test_unknown_reduction(loss_type: type) -> None:
    with bad(ValueError, "reduction", "('mean', 'sum')", "'none'"):
        loss_type(reduction="none")


def test_mse_batch_mismatch() -> None:
    with bad(ValueError, "target", "(4, 2)", "(5, 2)"):
        zn.nn.MSELoss()(ones(4, 2), ones(5, 2))


def test_ce_batch_mismatch_index_targets() -> None:
    with bad(ValueError, "target", "(4,)", "(5,)"):
        zn.nn.CrossEntropyLoss()(ones(4, 3), np.zeros(5, dtype=np.int64))


def test_ce_class_index_out_of_range() -> None:
    with bad(ValueError, "target", "[0, 2]", "[0, 3]"):
        zn.nn.CrossEntropyLoss()(ones(2, 3), np.array([0, 3]))


def test_ce_negative_class_index() -> None:
    with bad(ValueError, "target", "[0, 2]", "[-1, 1]"):
        zn.nn.CrossEntropyLoss()(ones(2, 3), np.array([-1, 1]))


def test_ce_non_integer_class_targets() -> None:
    with bad(TypeError, "target", "integer class indices", "float64"):
        zn.nn.CrossEntropyLoss()(ones(2, 3), np.array([0.0, 1.0]))


def test_ce_integer_column_says_it_is_taken_for_probabilities_and_how_to_pass_indices() -> None:
    message = ("target: got an integer array of shape (4, 1); a 2-D target is taken for "
               "probabilities (N, C) of dtype float64, while class indices must be 1-D of "
               "shape (4,): pass target.ravel() (or target[:, 0])")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        zn.nn.CrossEntropyLoss()(ones(4, 3), np.zeros((4, 1), dtype=np.int64))


def test_ce_integer_one_hot_rows_say_how_to_pass_them() -> None:
    message = ("target: got an integer array of shape (4, 3); a 2-D target is taken for "
               "probabilities (N, C) of dtype float32: pass one-hot rows as "
               "target.astype(np.float32), or class indices of shape (4,) (e.g. "
               "target.argmax(axis=1))")
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        zn.nn.CrossEntropyLoss()(ones(4, 3).astype(np.float32), np.eye(4, 3, dtype=np.int32))


def test_ce_probability_targets_of_wrong_shape() -> None:
    with bad(ValueError, "target", "(2, 3)", "(2, 4)"):
        zn.nn.CrossEntropyLoss()(ones(2, 3), np.full((2, 4), 0.25))


def test_ce_probability_batch_mismatch() -> None:
    with bad(ValueError, "target", "(2, 3)", "(3, 3)"):
        zn.nn.CrossEntropyLoss()(ones(2, 3), np.full((3, 3), 1 / 3))


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_ce_non_finite_logits(value: float) -> None:
    logits = ones(2, 3)
    logits[0, 1] = value
    with bad(ValueError, "logits", "finite", "(0, 1)"):
        zn.nn.CrossEntropyLoss()(logits, np.array([0, 1]))


@pytest.mark.parametrize("value", [np.nan, -np.inf])
def test_ce_non_finite_probability_targets(value: float) -> None:
    target = np.full((2, 3), 1 / 3)
    target[1, 0] = value
    with bad(ValueError, "target", "finite", "(1, 0)"):
        zn.nn.CrossEntropyLoss()(ones(2, 3), target)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_mse_non_finite_target(value: float) -> None:
    target = ones(2, 3)
    target[0, 0] = value
    with bad(ValueError, "target", "finite", "(0, 0)"):
        zn.nn.MSELoss()(ones(2, 3), target)


def test_mse_non_finite_output() -> None:
    output = ones(2, 3)
    output[1, 1] = np.nan
    with bad(ValueError, "output", "finite", "(1, 1)"):
        zn.nn.MSELoss()(output, ones(2, 3))


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("target", [
    ones(2, 3), ones(2, 3) * np.inf, ones(3, 3), ones(2, 3).astype(np.float32)],
    ids=["finite target", "inf target", "target of another shape", "float32 target"])
def test_mse_names_a_non_finite_output_first(value: float, target: np.ndarray) -> None:
    """The output's values are checked after the loss (a sum of squares that is not finite),
    or at once when the target is at fault too: the output is named either way, and
    output - target is never computed with an inf target (it would warn first)."""
    output = ones(2, 3)
    output[1, 2] = value
    with bad(ValueError, "output", "finite", "(1, 2)"):
        zn.nn.MSELoss()(output, target)


def test_mse_of_finite_values_that_overflow_is_inf_as_before() -> None:
    with np.errstate(over="ignore"):
        assert zn.nn.MSELoss(reduction="sum")(np.full((1, 1), 1e300), np.zeros((1, 1))) \
            == np.inf


def test_mse_float32_target_with_float64_output() -> None:
    with bad(TypeError, "target", "float64", "float32"):
        zn.nn.MSELoss()(ones(2, 3), ones(2, 3).astype(np.float32))


def test_ce_float32_probabilities_with_float64_logits() -> None:
    with bad(TypeError, "target", "float64", "float32"):
        zn.nn.CrossEntropyLoss()(ones(2, 3), np.full((2, 3), 1 / 3, dtype=np.float32))


# Optimizers


@pytest.mark.parametrize("lr", [0, 0.0, -1e-3])
@pytest.mark.parametrize("optimizer", [zn.optim.SGD, zn.optim.Adam])
def test_lr_not_positive(optimizer: type, lr: float) -> None:
    with bad(ValueError, "lr", "> 0", repr(lr)):
        optimizer(params(), lr=lr)


@pytest.mark.parametrize(("betas", "arg", "given"), [
    ((1.0, 0.999), "betas[0]", "1.0"), ((-0.1, 0.999), "betas[0]", "-0.1"),
    ((0.9, 1.0), "betas[1]", "1.0"), ((0.9, -0.5), "betas[1]", "-0.5"),
])
def test_betas_outside_unit_interval(betas: tuple[float, float], arg: str, given: str) -> None:
    with bad(ValueError, arg, "[0, 1)", given):
        zn.optim.Adam(params(), betas=betas)


@pytest.mark.parametrize("betas", [(0.9,), (0.9, 0.99, 0.999), 0.9])
def test_betas_not_a_pair(betas: object) -> None:
    with bad(ValueError, "betas", "pair", repr(betas)):
        zn.optim.Adam(params(), betas=betas)


def test_adam_negative_eps() -> None:
    with bad(ValueError, "eps", ">= 0", "-1e-08"):
        zn.optim.Adam(params(), eps=-1e-8)


@pytest.mark.parametrize("optimizer", [zn.optim.SGD, zn.optim.Adam])
def test_negative_weight_decay(optimizer: type) -> None:
    with bad(ValueError, "weight_decay", ">= 0", "-0.1"):
        optimizer(params(), lr=0.1, weight_decay=-0.1)


def test_sgd_negative_momentum() -> None:
    with bad(ValueError, "momentum", ">= 0", "-0.9"):
        zn.optim.SGD(params(), lr=0.1, momentum=-0.9)


def test_nesterov_without_momentum() -> None:
    with bad(ValueError, "nesterov", "momentum > 0", "momentum=0"):
        zn.optim.SGD(params(), lr=0.1, nesterov=True)


def test_nesterov_with_dampening() -> None:
    with bad(ValueError, "nesterov", "dampening == 0", "dampening=0.1"):
        zn.optim.SGD(params(), lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)


@pytest.mark.parametrize("optimizer", [zn.optim.SGD, zn.optim.Adam])
def test_empty_params(optimizer: type) -> None:
    with bad(ValueError, "params", "non-empty", "none"):
        optimizer([], lr=0.1)


def test_non_parameter_in_params() -> None:
    with bad(TypeError, "params[1]", "Parameter", "ndarray"):
        zn.optim.SGD([params()[0], ones(2)], lr=0.1)


# Initialisation


def test_unknown_nonlinearity() -> None:
    with bad(ValueError, "nonlinearity", "relu", "'swish'"):
        zn.init.kaiming_uniform_(ones(3, 2), nonlinearity="swish", rng=rng())


def test_unknown_mode() -> None:
    with bad(ValueError, "mode", "('fan_in', 'fan_out')", "'fan_avg'"):
        zn.init.kaiming_uniform_(ones(3, 2), mode="fan_avg", rng=rng())


@pytest.mark.parametrize("param", ["0.1", True, [0.1]])
def test_calculate_gain_bad_param(param: object) -> None:
    with bad(ValueError, "param", "number", repr(param)):
        zn.init.calculate_gain("leaky_relu", param)


# Model state_dict


def assert_load_fails_and_model_untouched(state: dict, exc: type[Exception], arg: str,
                                          expected: str, given: str, got: str = "got ") -> None:
    model = net()
    before = model.state_dict()
    with bad(exc, arg, expected, given, got):
        model.load_state_dict(state)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])  # nothing written, bit for bit


def good_state() -> dict[str, np.ndarray]:
    """A valid state dict for ``net()`` whose first entry differs from the model's weights."""
    state = net().state_dict()
    state["0.weight"] = state["0.weight"] + 1.0
    return state


# A key mismatch is reported as the expected keys, then what is missing and unexpected.
EXPECTED_KEYS = "['0.bias', '0.weight', '2.bias', '2.weight']"


def test_load_state_dict_missing_key() -> None:
    state = good_state()
    del state["2.bias"]
    assert_load_fails_and_model_untouched(state, ValueError, "state_dict", EXPECTED_KEYS,
                                          "missing ['2.bias']", got="")


def test_load_state_dict_extra_key() -> None:
    state = {**good_state(), "4.weight": ones(2, 2)}
    assert_load_fails_and_model_untouched(state, ValueError, "state_dict", EXPECTED_KEYS,
                                          "unexpected ['4.weight']", got="")


def test_load_state_dict_mis_shaped_value() -> None:
    state = {**good_state(), "2.bias": ones(3)}
    assert_load_fails_and_model_untouched(state, ValueError, "state_dict['2.bias']", "(2,)",
                                          "(3,)")


def test_load_state_dict_non_float_value() -> None:
    state = {**good_state(), "2.weight": np.ones((2, 4), dtype=np.int64)}
    assert_load_fails_and_model_untouched(state, TypeError, "state_dict['2.weight']", "float",
                                          "int64")


def test_load_state_dict_non_finite_value() -> None:
    state = good_state()
    state["2.weight"][0, 0] = np.nan
    assert_load_fails_and_model_untouched(state, ValueError, "state_dict['2.weight']", "finite",
                                          "(0, 0)")


# Optimizer state_dict


def adam_after_one_step() -> zn.optim.Adam:
    model = net()
    optimizer = zn.optim.Adam(model.parameters())
    model(ones(2, 3))
    model.backward(ones(2, 2))
    optimizer.step()
    return optimizer


def assert_optimizer_load_fails(mutate, exc: type[Exception], arg: str, expected: str,
                                given: str) -> None:
    """Loading ``mutate(state_dict())`` raises and leaves the optimizer's state as it was."""
    optimizer = adam_after_one_step()
    before = optimizer.state_dict()
    with bad(exc, arg, expected, given):
        optimizer.load_state_dict(mutate(optimizer.state_dict()))
    after = optimizer.state_dict()
    assert after["param_groups"] == before["param_groups"]
    for i, entry in before["state"].items():
        for key, value in entry.items():
            np.testing.assert_array_equal(after["state"][i][key], value)


def test_optimizer_load_missing_top_level_key() -> None:
    assert_optimizer_load_fails(lambda s: {"state": s["state"]}, ValueError, "state_dict",
                                "'state' and 'param_groups'", "{'state'")


def test_optimizer_load_two_param_groups() -> None:
    assert_optimizer_load_fails(lambda s: {**s, "param_groups": s["param_groups"] * 2},
                                ValueError, "state_dict['param_groups']", "one group", "[{")


def test_optimizer_load_wrong_param_indices() -> None:
    def mutate(s: dict) -> dict:
        s["param_groups"][0]["params"] = [0, 1]
        return s
    assert_optimizer_load_fails(mutate, ValueError, "state_dict['param_groups'][0]['params']",
                                "[0, 1, 2, 3]", "[0, 1]")


def test_optimizer_load_unknown_hyperparameter() -> None:
    def mutate(s: dict) -> dict:
        s["param_groups"][0]["momentum"] = 0.9
        return s
    assert_optimizer_load_fails(mutate, ValueError, "state_dict['param_groups'][0]", "'lr'",
                                "'momentum'")


def test_optimizer_load_invalid_hyperparameter() -> None:
    def mutate(s: dict) -> dict:
        s["param_groups"][0]["lr"] = -1.0
        return s
    assert_optimizer_load_fails(mutate, ValueError, "lr", "> 0", "-1.0")


def test_optimizer_load_state_index_out_of_range() -> None:
    assert_optimizer_load_fails(lambda s: {**s, "state": {7: s["state"][0]}}, ValueError,
                                "state_dict['state']", "0..3", "7")


def test_optimizer_load_mis_shaped_state() -> None:
    def mutate(s: dict) -> dict:
        s["state"][0]["exp_avg"] = ones(3, 3)
        return s
    assert_optimizer_load_fails(mutate, ValueError, "state_dict['state'][0]['exp_avg']",
                                "(4, 3)", "(3, 3)")


def test_optimizer_load_state_not_a_mapping() -> None:
    assert_optimizer_load_fails(lambda s: {**s, "state": list(s["state"].values())}, TypeError,
                                "state_dict['state']", "mapping", "list")


def test_optimizer_load_state_entry_not_a_mapping() -> None:
    assert_optimizer_load_fails(lambda s: {**s, "state": {0: 5}}, TypeError,
                                "state_dict['state'][0]", "mapping", "int")


def test_optimizer_load_param_group_not_a_mapping() -> None:
    assert_optimizer_load_fails(lambda s: {**s, "param_groups": [5]}, TypeError,
                                "state_dict['param_groups'][0]", "mapping", "int")


def test_optimizer_load_state_entry_missing_a_key() -> None:
    def mutate(s: dict) -> dict:
        del s["state"][0]["exp_avg_sq"]
        return s
    assert_optimizer_load_fails(mutate, ValueError, "state_dict['state'][0]", "exp_avg_sq",
                                "['exp_avg', 'step']")


# DataLoader


def test_dataloader_length_mismatch() -> None:
    with bad(ValueError, "y", "10 samples", "9"):
        zn.data.DataLoader(ones(10, 2), ones(9), batch_size=2)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, "4", True])
def test_dataloader_bad_batch_size(batch_size: object) -> None:
    with bad(ValueError, "batch_size", "positive integer", repr(batch_size)):
        zn.data.DataLoader(ones(10, 2), ones(10), batch_size=batch_size)


@pytest.mark.parametrize("shuffle", [False, True])
def test_dataloader_batches_are_copies_an_edit_leaves_the_data(shuffle: bool) -> None:
    """(not a bad input, but the loader's promise beside them: torch's batches are new too)"""
    x, y = np.arange(20.0).reshape(10, 2), np.arange(10)
    for xb, yb in zn.data.DataLoader(x, y, 4, shuffle=shuffle, seed=0):
        xb *= -1
        yb *= -1
    assert np.array_equal(x, np.arange(20.0).reshape(10, 2))
    assert np.array_equal(y, np.arange(10))
