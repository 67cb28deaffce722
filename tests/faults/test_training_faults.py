"""zn.fit: bit-identical resume across processes, and a NaN/inf stopping training at once.

The resume tests train k steps and save, then load in a new Python process and
train k more, and compare weights and optimizer state with 2k uninterrupted
steps using np.array_equal, for SGD with momentum and Adam in both dtypes.
The fault tests inject a NaN/inf at a known step and check the error names
epoch, step and place, that the weights in memory are those after the last
good step, and that the checkpoint on disk is the last good one.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers.checkpoints import read_checkpoint

import zeronet as zn

# Shared by this process and the resuming one (run with python -c).
SETUP = '''
import numpy as np
import zeronet as zn

def make(dtype="float64", optimizer="adam", x=None, y=None, layers=None):
    """A 3-8-8-2 ReLU net, MSE, SGD(momentum) or Adam, 50 samples in batches of 8 (7 a pass)."""
    data = np.random.default_rng(0)
    x = data.normal(size=(50, 3)).astype(dtype) if x is None else x
    y = data.normal(size=(50, 2)).astype(dtype) if y is None else y
    model = layers or zn.nn.relu_mlp((3, 8, 8, 2), dtype=dtype, rng=np.random.default_rng(1))
    opt = (zn.optim.Adam(model.parameters(), lr=1e-2) if optimizer == "adam"
           else zn.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9))
    return model, zn.nn.MSELoss(), opt, zn.data.DataLoader(x, y, 8, shuffle=True, seed=2)
'''
namespace: dict[str, Any] = {}
exec(SETUP, namespace)
make = namespace["make"]
BATCHES = 7
K = 10  # not a multiple of BATCHES: the checkpoint falls in the middle of epoch 2


def run_python(code: str, *args: str) -> None:
    """Run ``code`` in a fresh interpreter importing this zeronet (not another install)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(zn.__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr


def assert_checkpoint_holds(path: Path, model: zn.nn.Module, opt: zn.optim.Optimizer) -> None:
    """The file's arrays and scalars equal the model's and optimizer's, bit for bit."""
    arrays, meta = read_checkpoint(path)
    expected = {f"model/{k}": v for k, v in model.state_dict().items()}
    state = opt.state_dict()["state"]
    expected |= {f"optimizer/state/{i}/{k}": v for i, entry in state.items()
                 for k, v in entry.items() if isinstance(v, np.ndarray)}
    assert arrays.keys() == expected.keys()
    for key, value in expected.items():
        assert arrays[key].dtype == value.dtype, key
        assert np.array_equal(arrays[key], value), key
    assert meta["optimizer"]["scalar_state"] == {
        str(i): {k: v for k, v in entry.items() if not isinstance(v, np.ndarray)}
        for i, entry in state.items()}


def assert_same_state(a: tuple, b: tuple) -> None:
    """Same weights and optimizer state: (model, opt) pairs compared with np.array_equal."""
    (model_a, opt_a), (model_b, opt_b) = a, b
    for (name, pa), (_, pb) in zip(model_a.named_parameters(), model_b.named_parameters(),
                                   strict=True):
        assert np.array_equal(pa.data, pb.data), name
    sa, sb = opt_a.state_dict()["state"], opt_b.state_dict()["state"]
    assert sa.keys() == sb.keys()
    for i in sa:
        for key, value in sa[i].items():
            assert np.array_equal(value, sb[i][key]), (i, key)


# ------------------------------------------------------------------ resume

RESUME = SETUP + '''
import sys
model, loss_fn, opt, loader = make(sys.argv[1], sys.argv[2])
zn.fit(model, loss_fn, opt, loader, epochs=100, max_steps=int(sys.argv[4]),
       checkpoint=sys.argv[3], resume=True)
'''


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_k_steps_saved_then_k_in_a_new_process_equal_2k_uninterrupted(
        tmp_path: Path, dtype: str, optimizer: str) -> None:
    path = tmp_path / "run.npz"
    first = make(dtype, optimizer)
    assert zn.fit(*first, epochs=100, max_steps=K, checkpoint=path).step == K
    halfway = read_checkpoint(path)[0]

    run_python(RESUME, dtype, optimizer, str(path), str(2 * K))

    whole = make(dtype, optimizer)
    assert zn.fit(*whole, epochs=100, max_steps=2 * K).step == 2 * K
    assert_checkpoint_holds(path, whole[0], whole[2])
    arrays, meta = read_checkpoint(path)
    assert meta["progress"]["step"] == 2 * K
    assert meta["progress"]["epoch"] == 2 * K // BATCHES
    assert not np.array_equal(arrays["model/0.weight"], halfway["model/0.weight"])  # it trained


@pytest.mark.parametrize("k", range(1, 3 * BATCHES))
def test_resume_after_any_step_gives_the_same_weights_and_epoch_losses(tmp_path: Path,
                                                                      k: int) -> None:
    whole = make("float64", "adam")
    expected = zn.fit(*whole, epochs=3)
    path = tmp_path / f"k{k}.npz"
    zn.fit(*make("float64", "adam"), epochs=3, max_steps=k, checkpoint=path,
           checkpoint_every=5)
    resumed = make("float64", "adam")
    result = zn.fit(*resumed, epochs=3, checkpoint=path, resume=True)
    assert (result.epoch, result.step) == (3, 3 * BATCHES)
    assert_same_state((resumed[0], resumed[2]), (whole[0], whole[2]))
    # the epoch cut by the checkpoint is reported whole, with the same mean loss
    done_before = k // BATCHES
    assert result.epoch_losses == expected.epoch_losses[done_before:]


def test_two_runs_with_the_same_seeds_are_identical() -> None:
    a, b = make("float32", "adam"), make("float32", "adam")
    assert zn.fit(*a, epochs=4).epoch_losses == zn.fit(*b, epochs=4).epoch_losses
    assert_same_state((a[0], a[2]), (b[0], b[2]))


def test_checkpoint_every_epoch_by_default(tmp_path: Path) -> None:
    path = tmp_path / "c.npz"
    seen = []
    model, loss_fn, opt, loader = make()

    def on_epoch(epoch: int, loss: float) -> None:
        seen.append((epoch, read_checkpoint(path)[1]["progress"]["step"] if epoch > 1 else None))

    zn.fit(model, loss_fn, opt, loader, epochs=3, checkpoint=path, on_epoch=on_epoch)
    # at epoch e's callback the file holds the end of epoch e - 1 (it is saved after it)
    assert seen == [(1, None), (2, BATCHES), (3, 2 * BATCHES)]
    assert read_checkpoint(path)[1]["progress"]["step"] == 3 * BATCHES


# ------------------------------------------------------------------ NaN / inf

def clean_run(steps: int, *, layers: Any = None) -> tuple:
    """(model, opt) after ``steps`` fault-free steps of the same run."""
    model, loss_fn, opt, loader = make(layers=layers)
    if steps:
        zn.fit(model, loss_fn, opt, loader, epochs=100, max_steps=steps)
    return model, opt


def first_step_with_sample(sample: int) -> int:
    """The (1-based) step of epoch 1 whose batch holds row ``sample``."""
    index = np.arange(50)[:, None]
    for step, (xb, _) in enumerate(zn.data.DataLoader(index, index, 8, True, seed=2), start=1):
        if sample in xb:
            return step
    raise AssertionError(sample)


def test_nan_in_an_input_batch_stops_before_the_step_and_keeps_the_last_checkpoint(
        tmp_path: Path) -> None:
    model, loss_fn, opt, loader = make()
    loader.x[27, 1] = np.nan
    bad_step = first_step_with_sample(27)
    assert bad_step > 1
    path = tmp_path / "c.npz"
    with pytest.raises(zn.NonFiniteError) as info:
        zn.fit(model, loss_fn, opt, loader, epochs=5, checkpoint=path, checkpoint_every=1)
    err = info.value
    assert (err.epoch, err.step, err.batch) == (1, bad_step, bad_step)
    assert (err.where, err.kind) == ("input batch", "input")
    assert math.isnan(err.value)
    assert isinstance(err, ArithmeticError)
    assert isinstance(err.__cause__, ValueError)  # zeronet's Linear rejected the NaN
    assert (err.checkpoint, err.checkpoint_step) == (path, bad_step - 1)
    message = str(err)
    assert f"epoch 1, step {bad_step}" in message
    assert f"{path} (after step {bad_step - 1})" in message
    good = clean_run(bad_step - 1)
    assert_checkpoint_holds(path, *good)
    assert_same_state((model, opt), good)


class NaNLossAt(zn.nn.MSELoss):
    """MSELoss whose ``at``-th call (1-based) returns NaN."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at, self.calls = at, 0

    def __call__(self, output: np.ndarray, target: np.ndarray) -> float:
        self.calls += 1
        loss = super().__call__(output, target)
        return math.nan if self.calls == self.at else loss


def test_nan_loss_in_epoch_2_names_epoch_step_and_loss_and_leaves_the_checkpoint(
        tmp_path: Path) -> None:
    model, _, opt, loader = make()
    path = tmp_path / "c.npz"
    with pytest.raises(zn.NonFiniteError) as info:
        zn.fit(model, NaNLossAt(10), opt, loader, epochs=5, checkpoint=path, checkpoint_every=4)
    err = info.value
    assert (err.epoch, err.step, err.batch, err.where, err.kind) == (2, 10, 3, "loss", "loss")
    assert "non-finite loss at epoch 2, step 10 (batch 3 of the epoch), loss:" in str(err)
    assert (err.checkpoint, err.checkpoint_step) == (path, 8)
    assert_checkpoint_holds(path, *clean_run(8))
    assert_same_state((model, opt), clean_run(9))  # the step with the NaN was not taken


class SpikeAt(zn.nn.Linear):
    """A Linear layer whose weight gradient gets ``value`` at ``entries`` in backward ``at``."""

    def __init__(self, *args: Any, at: int, value: float,
                 entries: tuple[tuple[int, int], ...] = ((0, 0),), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.at, self.value, self.entries, self.calls = at, value, entries, 0

    def backward(self, grad_out: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        grad_in = super().backward(grad_out, input_grad=input_grad)
        self.calls += 1
        if self.calls == self.at:
            for entry in self.entries:
                self.weight.grad[entry] = self.value
        return grad_in


def spiked_net(dtype: str = "float64", **spike: Any) -> zn.nn.Sequential:
    """relu_mlp((3, 8, 8, 2))'s layers and draws, with layer 2 a SpikeAt."""
    def linear(n_in: int, n_out: int, **kwargs: Any) -> zn.nn.Linear:
        if n_in == n_out == 8:
            return SpikeAt(n_in, n_out, **spike, **kwargs)
        return zn.nn.Linear(n_in, n_out, **kwargs)
    return zn.nn.relu_mlp((3, 8, 8, 2), dtype=dtype, rng=np.random.default_rng(1), linear=linear)


@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
def test_non_finite_gradient_names_the_parameter(tmp_path: Path, value: float) -> None:
    model, loss_fn, opt, loader = make(layers=spiked_net(at=12, value=value))
    path = tmp_path / "c.npz"
    with pytest.raises(zn.NonFiniteError) as info:
        zn.fit(model, loss_fn, opt, loader, epochs=5, checkpoint=path)
    err = info.value
    assert (err.epoch, err.step, err.batch, err.where, err.kind) == (2, 12, 5, "2.weight",
                                                                     "gradient")
    assert np.array_equal(err.value, value, equal_nan=True)
    assert "2.weight: the gradient has 1 NaN/inf of 64 entries" in str(err)
    assert (err.checkpoint, err.checkpoint_step) == (path, BATCHES)  # saved after epoch 1
    assert_checkpoint_holds(path, *clean_run(BATCHES))
    assert_same_state((model, opt), clean_run(11))


def test_finite_gradients_whose_sum_overflows_do_not_stop_training() -> None:
    # 3e38 + 3e38 overflows float32 in the quick check; the full scan finds them finite.
    net = spiked_net("float32", at=3, value=3e38, entries=((0, 0), (0, 1)))
    model, loss_fn, opt, loader = make("float32", layers=net)
    assert zn.fit(model, loss_fn, opt, loader, epochs=1, max_steps=3).step == 3
    assert all(np.isfinite(p.data).all() for p in model.parameters())


def test_overflowing_activation_names_the_layer() -> None:
    model, loss_fn, opt, loader = make("float32")
    model[2].weight.data[:] = 1e38  # layer 2's outputs overflow float32
    with pytest.raises(zn.NonFiniteError) as info:
        zn.fit(model, loss_fn, opt, loader, epochs=1)
    err = info.value
    assert (err.step, err.where, err.kind) == (1, "layer 2 (Linear)", "activation")
    assert err.checkpoint is None
    assert "no checkpoint was written" in str(err)


def test_nan_in_the_targets_names_the_target_batch() -> None:
    model, loss_fn, opt, loader = make()
    loader.y[:, 0] = np.nan
    with pytest.raises(zn.NonFiniteError, match=r"epoch 1, step 1 .*target batch: y has 8 NaN"):
        zn.fit(model, loss_fn, opt, loader, epochs=1)


def test_a_value_error_that_is_not_about_nan_is_not_turned_into_one() -> None:
    model, loss_fn, opt, _ = make()
    loader = zn.data.DataLoader(np.ones((10, 4)), np.ones((10, 2)), 5)
    with pytest.raises(ValueError, match=r"x: expected shape \(N, 3\), got \(5, 4\)"):
        zn.fit(model, loss_fn, opt, loader, epochs=1)


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"epochs": 0}, ValueError, "epochs: expected a positive integer, got 0"),
    ({"max_steps": -1}, ValueError, "max_steps: expected a positive integer, got -1"),
    ({"checkpoint_every": 5}, ValueError, "checkpoint: expected a file path"),
    ({"resume": True}, ValueError, "checkpoint: expected a file path"),
    ({"resume": True, "checkpoint": "/nonexistent/c.npz"}, FileNotFoundError,
     "c.npz: checkpoint file does not exist"),
])
def test_fit_rejects_bad_arguments(kwargs: dict, error: type[Exception], message: str) -> None:
    model, loss_fn, opt, loader = make()
    with pytest.raises(error, match=message):
        zn.fit(model, loss_fn, opt, loader, **{"epochs": 1, **kwargs})


def test_fit_wants_a_dataloader() -> None:
    model, loss_fn, opt, _ = make()
    with pytest.raises(TypeError, match=r"loader: expected a zeronet\.data\.DataLoader, got list"):
        zn.fit(model, loss_fn, opt, [(np.ones((2, 3)), np.ones((2, 2)))], epochs=1)


@pytest.mark.parametrize("every", [3, BATCHES])
def test_resuming_from_the_checkpoint_a_fault_left_reproduces_the_clean_run(
        tmp_path: Path, every: int) -> None:
    # every=BATCHES: the checkpoint was saved after the epoch's last batch, before the
    # loader noticed the epoch had ended; the resumed run must close that epoch, not redo it.
    path = tmp_path / "c.npz"
    model, _, opt, loader = make()
    with pytest.raises(zn.NonFiniteError, match=f"after step {BATCHES // every * every}"):
        zn.fit(model, NaNLossAt(BATCHES + 2), opt, loader, epochs=3, checkpoint=path,
               checkpoint_every=every)
    whole = make()
    expected = zn.fit(*whole, epochs=3)
    resumed = make()
    result = zn.fit(*resumed, epochs=3, checkpoint=path, resume=True)
    assert result.step == 3 * BATCHES
    assert result.epoch_losses == expected.epoch_losses  # epoch 1 was still open in the file
    assert_same_state((resumed[0], resumed[2]), (whole[0], whole[2]))
