"""Checkpoints and the DataLoader's saved position: exact round trips, atomic writes,
and loading that checks the whole file before it changes anything."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy
import safetensors.torch
import torch
from helpers.checkpoints import read_checkpoint, write_checkpoint, write_v1

import zeronet as zn

DTYPES = [np.float32, np.float64]


def make(dtype: type = np.float64, optimizer: str = "adam", *, seed: int = 1,
         batch_size: int = 8) -> tuple[zn.nn.Sequential, zn.optim.Optimizer, zn.data.DataLoader]:
    data = np.random.default_rng(0)
    x, y = data.normal(size=(50, 3)).astype(dtype), data.normal(size=(50, 2)).astype(dtype)
    model = zn.nn.relu_mlp((3, 8, 8, 2), dtype=dtype, rng=np.random.default_rng(seed))
    opt = (zn.optim.Adam(model.parameters(), lr=1e-2) if optimizer == "adam"
           else zn.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9))
    return model, opt, zn.data.DataLoader(x, y, batch_size, shuffle=True, seed=2)


def stream(loader: zn.data.DataLoader) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The loader's batches, epoch after epoch, as one uninterrupted run sees them."""
    while True:
        yield from loader


def train_steps(model: zn.nn.Sequential, opt: zn.optim.Optimizer,
                batches: Iterator[tuple[np.ndarray, np.ndarray]], steps: int) -> None:
    loss_fn = zn.nn.MSELoss()
    for _ in range(steps):
        xb, yb = next(batches)
        opt.zero_grad()
        loss_fn(model(xb), yb)
        model.backward(loss_fn.backward(), input_grad=False)
        opt.step()


def snapshot(model: zn.nn.Module, opt: zn.optim.Optimizer,
             loader: zn.data.DataLoader) -> tuple[dict, dict, dict]:
    return model.state_dict(), opt.state_dict(), loader.state_dict()


def assert_same_snapshot(a: tuple[dict, dict, dict], b: tuple[dict, dict, dict]) -> None:
    (wa, oa, la), (wb, ob, lb) = a, b
    assert wa.keys() == wb.keys()
    assert all(np.array_equal(wa[k], wb[k]) and wa[k].dtype == wb[k].dtype for k in wa)
    assert oa["param_groups"] == ob["param_groups"]
    assert oa["state"].keys() == ob["state"].keys()
    for i, entry in oa["state"].items():
        assert entry.keys() == ob["state"][i].keys()
        for key, value in entry.items():
            other = ob["state"][i][key]
            if isinstance(value, np.ndarray):
                assert np.array_equal(value, other), (i, key)
                assert value.dtype == other.dtype, (i, key)
            else:
                assert value == other, (i, key)
    assert la == lb


# ------------------------------------------------------------------ round trip

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_round_trip_restores_model_optimizer_loader_and_progress_exactly(
        tmp_path: Path, dtype: type, optimizer: str) -> None:
    model, opt, loader = make(dtype, optimizer)
    batches = stream(loader)
    train_steps(model, opt, batches, 3)
    path = zn.save_checkpoint(tmp_path / "run.safetensors", model, opt, loader=loader,
                              progress={"epoch": 0, "step": 3, "loss_sum": 0.1 + 0.2})
    assert path == tmp_path / "run.safetensors"
    fresh = make(dtype, optimizer, seed=7)
    assert zn.load_checkpoint(path, *fresh[:2], loader=fresh[2]) == {
        "epoch": 0, "step": 3, "loss_sum": 0.1 + 0.2}
    assert_same_snapshot(snapshot(*fresh), snapshot(model, opt, loader))
    # ... and both go on identically, the loader from the middle of its epoch on.
    train_steps(model, opt, batches, 9)
    train_steps(*fresh[:2], stream(fresh[2]), 9)
    assert_same_snapshot(snapshot(*fresh), snapshot(model, opt, loader))


def test_file_is_safetensors_that_numpy_and_torch_users_read(tmp_path: Path) -> None:
    model, opt, loader = make()
    train_steps(model, opt, stream(loader), 2)
    path = zn.save_checkpoint(tmp_path / "c.safetensors", model, opt, loader=loader,
                              progress={"step": 2})
    arrays, meta = read_checkpoint(path)
    assert {k for k in arrays if k.startswith("model/")} == {
        f"model/{k}" for k in model.state_dict()}
    assert {"optimizer/state/0/exp_avg", "optimizer/state/5/exp_avg_sq"} <= arrays.keys()
    assert all(np.array_equal(arrays[f"model/{k}"], v) for k, v in model.state_dict().items())
    assert (meta["format"], meta["version"]) == ("zeronet-checkpoint", "2")
    assert meta["optimizer"]["scalar_state"]["0"] == {"step": 2}
    assert meta["progress"] == {"step": 2}
    tensors = safetensors.torch.load_file(path)
    assert tensors.keys() == arrays.keys()
    assert all(torch.equal(tensors[k], torch.from_numpy(a)) for k, a in arrays.items())


def test_a_version_1_npz_checkpoint_is_still_read(tmp_path: Path) -> None:
    model, opt, loader = make()
    train_steps(model, opt, stream(loader), 3)
    arrays, meta = read_checkpoint(zn.save_checkpoint(tmp_path / "c", model, opt, loader=loader,
                                                      progress={"step": 3}))
    write_v1(tmp_path / "old.npz", arrays, meta)
    fresh = make(seed=7)
    assert zn.load_checkpoint(tmp_path / "old.npz", *fresh[:2], loader=fresh[2]) == {"step": 3}
    assert_same_snapshot(snapshot(*fresh), snapshot(model, opt, loader))
    assert zn.read_progress(tmp_path / "old.npz") == {"step": 3}


def test_model_only_checkpoint_restores_weights_and_refuses_an_optimizer(tmp_path: Path) -> None:
    model = make()[0]
    zn.save_checkpoint(tmp_path / "w.npz", model)
    other, other_opt, _ = make(seed=5)
    assert zn.load_checkpoint(tmp_path / "w.npz", other) == {}
    assert all(np.array_equal(a, b) for a, b in zip(model.state_dict().values(),
                                                     other.state_dict().values(), strict=True))
    with pytest.raises(zn.CheckpointError, match=r"w\.npz.*no optimizer state"):
        zn.load_checkpoint(tmp_path / "w.npz", other, other_opt)


# ------------------------------------------------------------------ atomic writes

class Interrupt(KeyboardInterrupt):
    pass


@pytest.mark.parametrize("error", [Interrupt, OSError])
def test_interrupted_save_keeps_the_previous_checkpoint_and_no_temp_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: type[BaseException]) -> None:
    model, opt, loader = make()
    path = zn.save_checkpoint(tmp_path / "c.safetensors", model, opt, loader=loader)
    before = path.read_bytes()
    train_steps(model, opt, stream(loader), 2)
    real_atomic_file = zn.checkpoint.atomic_file

    @contextlib.contextmanager
    def half_then_fail(target: Path) -> Iterator[object]:
        with real_atomic_file(target) as file:
            class HalfWriter:
                def write(self, data: bytes) -> None:
                    file.write(data[:len(data) // 2])   # half the file is written ...
                    raise error("stopped mid-write")    # ... then Ctrl-C / disk full
            yield HalfWriter()

    monkeypatch.setattr(zn.checkpoint, "atomic_file", half_then_fail)
    with pytest.raises(error, match="stopped mid-write"):
        zn.save_checkpoint(path, model, opt, loader=loader)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["c.safetensors"]


def test_save_into_a_missing_directory_names_it(tmp_path: Path) -> None:
    model, _, _ = make()
    with pytest.raises(FileNotFoundError, match="nowhere"):
        zn.save_checkpoint(tmp_path / "nowhere" / "c.safetensors", model)


# ------------------------------------------------------------------ loading checks everything first

def rewrite(path: Path, change: callable) -> None:
    """Apply ``change(arrays, meta)`` to the file's arrays and metadata, in place."""
    arrays, meta = read_checkpoint(path)
    change(arrays, meta)
    write_checkpoint(path, arrays, meta)


def set_key(key: str, value: object) -> callable:
    def change(arrays: dict, meta: dict) -> None:
        arrays[key] = value
    return change


def drop_key(key: str) -> callable:
    def change(arrays: dict, meta: dict) -> None:
        del arrays[key]
    return change


def set_meta(*keys: str, value: object) -> callable:
    def change(arrays: dict, meta: dict) -> None:
        target = meta
        for k in keys[:-1]:
            target = target[k]
        target[keys[-1]] = value
    return change


W = np.zeros((8, 3))
CORRUPTIONS = {
    "version": (set_meta("version", value=3), "key '__metadata__'.*version 2, got "
                                              "'zeronet-checkpoint' version '3'"),
    "missing weight": (drop_key("model/2.weight"), r"missing \['model/2.weight'\]"),
    "unexpected weight": (set_key("model/9.weight", W), r"unexpected \['model/9.weight'\]"),
    "shape": (set_key("model/0.weight", np.zeros((3, 8))),
              r"key 'model/0.weight': expected shape \(8, 3\), got \(3, 8\)"),
    "dtype": (set_key("model/0.weight", W.astype(np.float32)),
              "key 'model/0.weight': expected dtype float64 .*got float32"),
    "nan weight": (set_key("model/4.bias", np.array([np.nan, 0.0])),
                   "key 'model/4.bias': expected finite values, got 1 NaN/inf"),
    "optimizer class": (set_meta("optimizer", "class", value="SGD"),
                        "written by SGD, cannot restore a Adam"),
    "optimizer state shape": (set_key("optimizer/state/1/exp_avg", np.zeros(3)),
                              r"key 'optimizer/state/1/exp_avg': expected shape \(8,\)"),
    "optimizer state missing": (drop_key("optimizer/state/3/exp_avg_sq"),
                                r"missing \['optimizer/state/3/exp_avg_sq'\]"),
    "optimizer hyper-parameter": (
        set_meta("optimizer", "param_groups", 0, "lr", value=-1.0),
        r"optimizer state: lr: expected a finite number > 0, got -1.0"),
    "optimizer step": (set_meta("optimizer", "scalar_state", "0", value={}),
                       r"optimizer state: .*\['state'\]\[0\]: expected keys"),
    "loader batch size": (set_meta("loader", "batch_size", value=16),
                          r"\(loader\): state_dict\['batch_size'\]: expected 8 .*got 16"),
    "loader position": (set_meta("loader", "batches_consumed", value=99),
                        r"\(loader\): state_dict\['batches_consumed'\]: expected an integer in "
                        r"\[0, 7\], got 99"),
    "loader rng": (set_meta("loader", "rng", "bit_generator", value="MT19937"),
                   r"\(loader\): state_dict\['rng'\]: expected a PCG64 state"),
    "progress": (set_meta("progress", value={"step": [3]}),
                 r"progress\['step'\]: expected a str key and an int \(\|value\| < 2\*\*63\), a "
                 "finite float or a str"),
    "unknown array": (set_key("notes", W), r"unexpected arrays \['notes'\]"),
}


@pytest.mark.parametrize("case", CORRUPTIONS)
def test_bad_file_raises_naming_file_and_key_and_changes_nothing(tmp_path: Path,
                                                                 case: str) -> None:
    change, message = CORRUPTIONS[case]
    path = tmp_path / "c.safetensors"
    model, opt, loader = make()
    train_steps(model, opt, stream(loader), 3)
    zn.save_checkpoint(path, model, opt, loader=loader, progress={"step": 3})
    rewrite(path, change)
    target = make(seed=4)
    train_steps(*target[:2], stream(target[2]), 2)  # a state of its own, to see it is kept
    before = snapshot(*target)
    with pytest.raises(zn.CheckpointError, match=rf"^{path}: .*{message}"):
        zn.load_checkpoint(path, *target[:2], loader=target[2])
    assert_same_snapshot(snapshot(*target), before)


def test_wrong_model_dtype_is_refused_not_cast(tmp_path: Path) -> None:
    model, opt, _ = make(np.float32)
    zn.save_checkpoint(tmp_path / "c", model, opt)
    other, other_opt, _ = make(np.float64)
    with pytest.raises(zn.CheckpointError, match=r"expected dtype float64 .*got float32"):
        zn.load_checkpoint(tmp_path / "c", other, other_opt)


@pytest.mark.parametrize(("content", "message"), [
    (b"", "not a readable checkpoint: 0 bytes, too short"),
    (b"not a zip file", "not a readable checkpoint: its safetensors header length"),
    (b"PK\x03\x04broken", r"not a readable checkpoint \(v1, \.npz\)"),
    (b"\x02\x00\x00\x00\x00\x00\x00\x00{}", "not a zeronet checkpoint: .* no __metadata__"),
])
def test_unreadable_file_names_the_file(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "c"
    path.write_bytes(content)
    with pytest.raises(zn.CheckpointError, match=rf"^{path}: {message}"):
        zn.load_checkpoint(path, make()[0])


def test_npy_file_and_pickled_object_array_are_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", np.zeros(3))
    with pytest.raises(zn.CheckpointError, match=r"not a readable checkpoint: its safetensors"):
        zn.load_checkpoint(tmp_path / "a.npy", make()[0])
    np.savez(tmp_path / "o.npz", meta=np.array([{"a": 1}], dtype=object))
    with pytest.raises(zn.CheckpointError, match=r"key 'meta': expected an array of numbers"):
        zn.load_checkpoint(tmp_path / "o.npz", make()[0])


def test_missing_file_and_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nothing: checkpoint file does not exist"):
        zn.load_checkpoint(tmp_path / "nothing", make()[0])
    np.savez(tmp_path / "f.npz", weights=np.zeros(3))
    with pytest.raises(zn.CheckpointError, match="key 'meta' missing"):
        zn.load_checkpoint(tmp_path / "f.npz", make()[0])
    safetensors.numpy.save_file({"weights": np.zeros(3)}, tmp_path / "f.safetensors")
    with pytest.raises(zn.CheckpointError, match="no __metadata__"):
        zn.load_checkpoint(tmp_path / "f.safetensors", make()[0])


# ------------------------------------------------------------------ DataLoader position

def batches(loader: zn.data.DataLoader, count: int) -> list[np.ndarray]:
    """The next ``count`` batches' x, crossing epochs, stopping right after the last."""
    out: list[np.ndarray] = []
    while len(out) < count:
        for xb, _ in loader:
            out.append(xb.copy())
            if len(out) == count:
                break
    return out


@pytest.mark.parametrize("drop_last", [False, True])
def test_loader_resumes_from_any_batch(drop_last: bool) -> None:
    x = np.arange(23.0)[:, None]
    per_epoch = 4 if drop_last else 5
    for k in range(3 * per_epoch + 1):
        whole = batches(zn.data.DataLoader(x, x, 5, True, drop_last, seed=3), 3 * per_epoch + 2)
        first = zn.data.DataLoader(x, x, 5, True, drop_last, seed=3)
        head = batches(first, k)
        state = json.loads(json.dumps(first.state_dict()))  # JSON-able, and survives it
        second = zn.data.DataLoader(x, x, 5, True, drop_last, seed=99)
        second.load_state_dict(state)
        tail = batches(second, 3 * per_epoch + 2 - k)
        assert all(np.array_equal(a, b) for a, b in zip(whole, head + tail, strict=True)), k


def test_loader_sequence_is_unchanged_permutations_of_its_generator() -> None:
    x = np.arange(23.0)[:, None]
    loader = zn.data.DataLoader(x, x, 5, shuffle=True, seed=3)
    rng = np.random.default_rng(3)
    for _ in range(3):
        order = rng.permutation(23)
        got = np.concatenate([xb[:, 0] for xb, _ in loader])
        np.testing.assert_array_equal(got, order)
    loader.state_dict()  # reading the state draws nothing
    np.testing.assert_array_equal(np.concatenate([xb[:, 0] for xb, _ in loader]),
                                  rng.permutation(23))


def test_loader_state_between_epochs_and_at_the_last_batch() -> None:
    x = np.arange(10.0)[:, None]
    loader = zn.data.DataLoader(x, x, 5, shuffle=True, seed=0)
    start = loader.state_dict()
    assert start["batches_consumed"] == 0
    it = iter(loader)
    next(it)
    next(it)
    assert loader.state_dict() == {**start, "batches_consumed": 2}  # still in the epoch
    with pytest.raises(StopIteration):
        next(it)
    after = loader.state_dict()
    assert after["batches_consumed"] == 0
    assert after["rng"] != start["rng"]


@pytest.mark.parametrize(("change", "message"), [
    ({"n": 11}, r"state_dict\['n'\]: expected 10 \(this loader's\), got 11"),
    ({"shuffle": False}, r"state_dict\['shuffle'\]: expected True"),
    ({"batches_consumed": -1},
     r"state_dict\['batches_consumed'\]: expected an integer in \[0, 2\]"),
    ({"batches_consumed": 1.0}, r"state_dict\['batches_consumed'\]: expected an integer"),
    ({"rng": {"bit_generator": "PCG64", "state": {}}}, r"state_dict\['rng'\]: not a valid PCG64"),
    ({"extra": 1}, r"state_dict: expected keys"),
])
def test_loader_rejects_a_bad_state_and_keeps_its_own(change: dict, message: str) -> None:
    x = np.arange(10.0)[:, None]
    loader = zn.data.DataLoader(x, x, 5, shuffle=True, seed=0)
    next(iter(loader))
    state = {**loader.state_dict(), **change}
    before = loader.state_dict()
    with pytest.raises(ValueError, match=f"^{message}"):
        loader.load_state_dict(state)
    assert loader.state_dict() == before
