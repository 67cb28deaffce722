"""zeronet.init against torch.nn.init: gains, fans and bounds exactly; samples statistically.

The two frameworks draw from different generators, so their samples cannot
be compared number by number. What can be compared exactly is every number
that decides the distribution: the gain, the fans, and the (low, high) or
(mean, std) handed to the final uniform/normal draw. The tests capture
torch's by spying on ``torch.Tensor.uniform_``/``normal_`` (what
torch.nn.init calls last) and zeronet's by spying on ``zeronet.init.uniform_``/
``normal_``, and require them equal to the last bit.

The samples themselves are checked against the distribution those
parameters define: inside the bounds, and mean and variance within 6
standard errors of their true values. A correct sampler fails that with
probability ~2e-9 (|Z| > 6 for an asymptotically normal statistic), so the
fixed seeds are not cherry-picked; a wrong gain, fan or sqrt(3) shifts the
variance by 30% or more, which with 60000 samples is over 80 standard
errors. torch's own samples pass the same check (a test of the check).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.init as tinit

import zeronet as zn

# torch.nn.init.calculate_gain's names (zeronet also accepts "identity", which torch rejects)
LINEAR_FAMILY = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                 "conv_transpose3d", "sigmoid"]
GAINS = ([(name, None) for name in [*LINEAR_FAMILY, "tanh", "relu", "selu"]]
         + [("leaky_relu", p) for p in (None, 0, 0.2, 1, math.sqrt(5), -0.5)])
KAIMING = ([(name, 0) for name in [*LINEAR_FAMILY, "tanh", "relu", "selu"]]
           + [("leaky_relu", a) for a in (0, 0.2, math.sqrt(5))])
MODES = ["fan_in", "fan_out"]
FAN_SHAPES = [(1, 1), (3, 5), (16, 784), (10, 16), (4, 3, 5), (4, 3, 2, 2), (2, 3, 1, 1, 2)]
SHAPE = (300, 200)  # 60000 samples: fan_in 200, fan_out 300
SIGMAS = 6


# ---------------------------------------------------------------- spies

def torch_draw(monkeypatch: pytest.MonkeyPatch, fill: Callable[[torch.Tensor], object],
               shape: tuple[int, ...] = SHAPE, dtype: torch.dtype = torch.float64,
               ) -> tuple[str, tuple[float, float], torch.Tensor]:
    """Run torch's init ``fill`` and return (method, its two arguments, the tensor)."""
    calls = []
    for method in ("uniform_", "normal_"):
        original = getattr(torch.Tensor, method)

        def spy(self, a=0.0, b=1.0, *args, _method=method, _original=original, **kwargs):
            calls.append((_method, (a, b)))
            return _original(self, a, b, *args, **kwargs)
        monkeypatch.setattr(torch.Tensor, method, spy)
    tensor = torch.empty(shape, dtype=dtype)
    fill(tensor)
    monkeypatch.undo()
    assert len(calls) == 1, calls
    return (*calls[0], tensor)


def zn_draw(monkeypatch: pytest.MonkeyPatch, fill: Callable[[np.ndarray], object],
            shape: tuple[int, ...] = SHAPE, dtype: type = np.float64,
            ) -> tuple[str, tuple[float, float], np.ndarray]:
    """Run zeronet's init ``fill`` and return (function, its two arguments, the array)."""
    calls = []
    for name in ("uniform_", "normal_"):
        original = getattr(zn.init, name)

        def spy(tensor, a, b, *, rng=None, _name=name, _original=original):
            calls.append((_name, (a, b)))
            return _original(tensor, a, b, rng=rng)
        monkeypatch.setattr(zn.init, name, spy)
    array = np.empty(shape, dtype=dtype)
    fill(array)
    monkeypatch.undo()
    assert len(calls) == 1, calls
    return (*calls[0], array)


def assert_distribution(samples: np.ndarray, method: str, args: tuple[float, float]) -> None:
    """Samples consistent with U(a, b) or N(mean, std^2): bounds, mean and variance.

    The mean's standard error is sqrt(var / n); the variance is estimated as
    the mean of (x - mu)^2 with the true mu, whose standard error is
    sqrt((mu4 - var^2) / n), mu4 being the fourth central moment: h^4/5 for
    U(mu - h, mu + h), 3 std^4 for a normal.
    """
    x = np.asarray(samples, dtype=np.float64).ravel()
    n = x.size
    if method == "uniform_":
        low, high = args
        assert low <= x.min(), (x.min(), args)
        assert x.max() <= high, (x.max(), args)  # float32 rounding may reach high itself
        mu, half = (low + high) / 2, (high - low) / 2
        var, mu4 = half**2 / 3, half**4 / 5
    else:
        mu, std = args
        var, mu4 = std**2, 3 * std**4
    mean_se, var_se = math.sqrt(var / n), math.sqrt((mu4 - var**2) / n)
    assert abs(x.mean() - mu) <= SIGMAS * mean_se, (x.mean(), mu, mean_se)
    sample_var = np.mean((x - mu) ** 2)
    assert abs(sample_var - var) <= SIGMAS * var_se, (sample_var, var, var_se)


# ---------------------------------------------------------------- gains and fans

@pytest.mark.parametrize(("nonlinearity", "param"), GAINS)
def test_calculate_gain(nonlinearity, param):
    assert zn.init.calculate_gain(nonlinearity, param) == tinit.calculate_gain(nonlinearity, param)


@pytest.mark.parametrize(("nonlinearity", "param"), [("swish", None), ("leaky_relu", "0.2"),
                                                     ("leaky_relu", True)])
def test_calculate_gain_rejects_like_torch(nonlinearity, param):
    with pytest.raises(ValueError, match=r"negative_slope|nonlinearity"):
        tinit.calculate_gain(nonlinearity, param)
    with pytest.raises(ValueError, match=r"param|nonlinearity"):
        zn.init.calculate_gain(nonlinearity, param)


@pytest.mark.parametrize("shape", FAN_SHAPES)
def test_fans(shape):
    expected = tinit._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert zn.init.calculate_fan_in_and_fan_out(np.empty(shape)) == expected


def test_fans_need_two_dimensions():
    with pytest.raises(ValueError, match="2 dimensions"):
        tinit._calculate_fan_in_and_fan_out(torch.empty(5))
    with pytest.raises(ValueError, match="dimensions"):
        zn.init.calculate_fan_in_and_fan_out(np.empty(5))


# ---------------------------------------------------------------- exact parameters

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("nonlinearity", "a"), KAIMING)
def test_kaiming_uniform_bound(nonlinearity, a, mode, monkeypatch):
    method, args, tensor = torch_draw(
        monkeypatch, lambda t: tinit.kaiming_uniform_(t, a, mode, nonlinearity))
    # torch's formula, from torch's own pieces (kaiming_uniform_'s body)
    fan = tinit._calculate_correct_fan(tensor, mode)
    std = tinit.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    assert args == (-math.sqrt(3.0) * std, math.sqrt(3.0) * std)
    assert zn.init.kaiming_uniform_bound(np.empty(SHAPE), a, mode, nonlinearity) == args[1]
    assert zn_draw(monkeypatch, lambda w: zn.init.kaiming_uniform_(w, a, mode, nonlinearity))[:2] \
        == (method, args)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("nonlinearity", "a"), KAIMING)
def test_kaiming_normal_std(nonlinearity, a, mode, monkeypatch):
    expected = torch_draw(monkeypatch, lambda t: tinit.kaiming_normal_(t, a, mode, nonlinearity))
    actual = zn_draw(monkeypatch, lambda w: zn.init.kaiming_normal_(w, a, mode, nonlinearity))
    assert actual[:2] == expected[:2]


@pytest.mark.parametrize("gain", [1.0, math.sqrt(2.0), 5.0 / 3])
@pytest.mark.parametrize("shape", [SHAPE, (16, 784), (4, 3, 5)])
@pytest.mark.parametrize("kind", ["uniform", "normal"])
def test_xavier(kind, shape, gain, monkeypatch):
    expected = torch_draw(monkeypatch, lambda t: getattr(tinit, f"xavier_{kind}_")(t, gain), shape)
    actual = zn_draw(monkeypatch, lambda w: getattr(zn.init, f"xavier_{kind}_")(w, gain), shape)
    assert actual[:2] == expected[:2]


@pytest.mark.parametrize(("fan_in", "fan_out"), [(1, 16), (16, 16), (16, 1), (784, 16), (16, 10)])
def test_default_linear_init_bounds(fan_in, fan_out, monkeypatch):
    """zeronet.nn.Linear draws W and b within torch.nn.Linear's exact bounds."""
    calls = {}

    def torch_spy(self, a, b, *args, _original=torch.Tensor.uniform_, **kwargs):
        calls.setdefault("torch", []).append((a, b))
        return _original(self, a, b, *args, **kwargs)

    def zn_spy(tensor, a, b, *, rng=None, _original=zn.init.uniform_):
        calls.setdefault("zeronet", []).append((a, b))
        return _original(tensor, a, b, rng=rng)

    monkeypatch.setattr(torch.Tensor, "uniform_", torch_spy)
    monkeypatch.setattr(zn.init, "uniform_", zn_spy)
    torch.nn.Linear(fan_in, fan_out)
    zn.nn.Linear(fan_in, fan_out, rng=np.random.default_rng(0))
    monkeypatch.undo()
    assert calls["zeronet"] == calls["torch"]  # [(-w, w) for the weight, (-b, b) for the bias]
    assert calls["torch"][1][1] == 1 / math.sqrt(fan_in)


# ---------------------------------------------------------------- samples

INITS = {
    "uniform": (lambda w, rng: zn.init.uniform_(w, -0.3, 0.7, rng=rng),
                lambda t: tinit.uniform_(t, -0.3, 0.7)),
    "normal": (lambda w, rng: zn.init.normal_(w, 0.5, 2.0, rng=rng),
               lambda t: tinit.normal_(t, 0.5, 2.0)),
    "kaiming_uniform": (lambda w, rng: zn.init.kaiming_uniform_(w, nonlinearity="relu", rng=rng),
                        lambda t: tinit.kaiming_uniform_(t, nonlinearity="relu")),
    "kaiming_uniform_fan_out": (
        lambda w, rng: zn.init.kaiming_uniform_(w, 0.2, "fan_out", rng=rng),
        lambda t: tinit.kaiming_uniform_(t, 0.2, "fan_out")),
    "kaiming_normal": (lambda w, rng: zn.init.kaiming_normal_(w, nonlinearity="relu", rng=rng),
                       lambda t: tinit.kaiming_normal_(t, nonlinearity="relu")),
    "xavier_uniform": (lambda w, rng: zn.init.xavier_uniform_(w, rng=rng), tinit.xavier_uniform_),
    "xavier_normal": (lambda w, rng: zn.init.xavier_normal_(w, rng=rng), tinit.xavier_normal_),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", INITS)
def test_samples_follow_the_distribution(name, dtype, monkeypatch):
    zn_fill, torch_fill = INITS[name]
    method, args, samples = zn_draw(monkeypatch, lambda w: zn_fill(w, np.random.default_rng(11)),
                                    dtype=dtype)
    assert samples.dtype == dtype
    assert_distribution(samples, method, args)
    torch.manual_seed(11)
    torch_method, torch_args, tensor = torch_draw(monkeypatch, torch_fill)
    assert (torch_method, torch_args) == (method, args)
    assert_distribution(tensor.numpy(), torch_method, torch_args)  # the check accepts torch


def test_kaiming_wrong_fan_is_detected():
    """The statistical check has power: samples drawn with fan_out fail the fan_in check."""
    rng = np.random.default_rng(11)
    wrong = zn.init.kaiming_uniform_(np.empty(SHAPE), mode="fan_out", nonlinearity="relu", rng=rng)
    bound = zn.init.kaiming_uniform_bound(np.empty(SHAPE), mode="fan_in", nonlinearity="relu")
    with pytest.raises(AssertionError):
        assert_distribution(wrong, "uniform_", (-bound, bound))


@pytest.mark.parametrize(("fan_in", "fan_out"), [(200, 300), (784, 16)])
def test_default_linear_init_samples(fan_in, fan_out):
    """W and b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as torch.nn.Linear; var 1/(3 fan_in)."""
    layer = zn.nn.Linear(fan_in, fan_out, rng=np.random.default_rng(5))
    torch.manual_seed(5)
    torch_layer = torch.nn.Linear(fan_in, fan_out, dtype=torch.float64)
    bound = 1 / math.sqrt(fan_in)
    for values in (layer.weight.data, layer.bias.data, torch_layer.weight.detach().numpy(),
                   torch_layer.bias.detach().numpy()):
        assert np.abs(values).max() <= bound
    assert_distribution(layer.weight.data, "uniform_", (-bound, bound))
    assert_distribution(torch_layer.weight.detach().numpy(), "uniform_", (-bound, bound))


# ---------------------------------------------------------------- seeds, dtypes, in place

@pytest.mark.parametrize("name", INITS)
def test_same_seed_same_numbers(name):
    fill = INITS[name][0]
    first = fill(np.empty((20, 30)), np.random.default_rng(3))
    np.testing.assert_array_equal(first, fill(np.empty((20, 30)), np.random.default_rng(3)))
    assert not np.array_equal(first, fill(np.empty((20, 30)), np.random.default_rng(4)))


def test_same_seed_same_linear():
    a = zn.nn.Linear(7, 5, rng=np.random.default_rng(9)).state_dict()
    b = zn.nn.Linear(7, 5, rng=np.random.default_rng(9)).state_dict()
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", INITS)
def test_fills_in_place_and_keeps_dtype(name, dtype):
    array = np.empty((6, 4), dtype=dtype)
    assert INITS[name][0](array, np.random.default_rng(0)) is array
    assert array.dtype == dtype
    param = zn.nn.Parameter(np.empty((6, 4), dtype=dtype))
    data = param.data
    assert INITS[name][0](param, np.random.default_rng(0)) is param
    assert param.data is data
    assert data.dtype == dtype
    np.testing.assert_array_equal(data, array)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_constant_fills_like_torch(dtype):
    fills = [(lambda w: zn.init.constant_(w, 0.3), lambda t: tinit.constant_(t, 0.3)),
             (zn.init.zeros_, tinit.zeros_), (zn.init.ones_, tinit.ones_)]
    for zn_fill, torch_fill in fills:
        array = zn_fill(np.empty((3, 4), dtype=dtype))
        tensor = torch_fill(torch.empty((3, 4), dtype=torch.float64 if dtype == np.float64
                                        else torch.float32))
        np.testing.assert_array_equal(array, tensor.numpy())
        assert array.dtype == dtype
