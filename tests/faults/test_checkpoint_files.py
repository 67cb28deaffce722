"""Hostile checkpoint files: each refused with a CheckpointError naming the file and what is
wrong, in memory bounded by the arrays the model expects, before any array it cannot take is
read, and without touching the model."""

from __future__ import annotations

import io
import json
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import safetensors.numpy
from helpers.checkpoints import join, read_checkpoint, split, write_v1

import zeronet as zn
from zeronet import _checkpoint_files

#: Peak memory (tracemalloc) a refusal may take: the test model's arrays are ~2 KB, a
#: hostile file declares from 32 MiB to 8 TiB.
PEAK_BYTES = 8 << 20


def make(seed: int = 1) -> tuple[zn.nn.Sequential, zn.optim.Adam]:
    model = zn.nn.relu_mlp((3, 8, 8, 2), rng=np.random.default_rng(seed))
    opt = zn.optim.Adam(model.parameters(), lr=1e-2)
    for p in model.parameters():
        p.grad = np.ones_like(p.data)
    opt.step()
    return model, opt


@pytest.fixture
def good(tmp_path: Path) -> Path:
    """A checkpoint of ``make()``'s model and Adam state (one step taken)."""
    return zn.save_checkpoint(tmp_path / "good", *make(), progress={"step": 1})


def refused(path: Path, message: str, *, progress_too: bool = False) -> int:
    """Loading ``path`` raises CheckpointError ``path: ...message...``, changes nothing, and
    peaks below PEAK_BYTES; return the peak. ``progress_too``: read_progress refuses it too."""
    model, opt = make(seed=5)
    before = [p.data.copy() for p in model.parameters()], opt.state_dict()
    tracemalloc.start()
    try:
        with pytest.raises(zn.CheckpointError, match=rf"^{path}: .*{message}"):
            zn.load_checkpoint(path, model, opt)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < PEAK_BYTES, f"refusing {path.name} took {peak} bytes"
    assert all(np.array_equal(a, p.data) for a, p in zip(before[0], model.parameters(),
                                                         strict=True))
    assert opt.state_dict()["state"][0]["step"] == before[1]["state"][0]["step"]
    if progress_too:
        with pytest.raises(zn.CheckpointError, match=rf"^{path}: .*{message}"):
            zn.read_progress(path)
    return peak


def edit_header(path: Path, change: Callable[[dict[str, Any]], object], *,
                data: Callable[[bytes], bytes] = lambda d: d) -> Path:
    """Rewrite ``path``'s safetensors header with ``change`` (and its data with ``data``)."""
    header, body = split(path)
    change(header)
    path.write_bytes(join(header, data(body)))
    return path


def with_metadata(path: Path, **fields: str) -> Path:
    """``path`` rewritten with these raw ``__metadata__`` strings (a hostile document)."""
    arrays, meta = read_checkpoint(path)
    metadata = {k: json.dumps(v) if not isinstance(v, str) else v for k, v in meta.items()}
    safetensors.numpy.save_file(arrays, path, metadata={**metadata, **fields})
    return path


def entry(shape: list[int], begin: int = 0, dtype: str = "F64") -> dict[str, Any]:
    size = int(np.prod(shape, dtype=object)) * {"F64": 8, "F32": 4}[dtype]
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, begin + size]}


def declare_huge(header: dict[str, Any]) -> None:
    """model/0.weight declared 2**40 float64 elements (8 TiB), the others moved after it."""
    huge = entry([2**20, 2**20])
    shift = huge["data_offsets"][1] - (header["model/0.weight"]["data_offsets"][1]
                                       - header["model/0.weight"]["data_offsets"][0])
    for name, info in header.items():
        if name != "__metadata__" and info["data_offsets"][0] > \
                header["model/0.weight"]["data_offsets"][0]:
            info["data_offsets"] = [o + shift for o in info["data_offsets"]]
    huge["data_offsets"] = [o + header["model/0.weight"]["data_offsets"][0]
                            for o in huge["data_offsets"]]
    header["model/0.weight"] = huge


# ---------------------------------------------------------------- version 2: the header

def test_a_header_declaring_2_to_the_40_elements_is_refused_by_the_file_size(good: Path) -> None:
    refused(edit_header(good, declare_huge), "its arrays are 87960930.* bytes, but the file "
            "holds", progress_too=True)


def test_a_header_length_beyond_the_file_is_refused(good: Path) -> None:
    header, body = split(good)
    good.write_bytes(join(header, body, length=len(join(header, body)) - 7))
    refused(good, "header length .* exceeds the file's", progress_too=True)


def test_a_huge_header_length_is_refused_before_it_is_read(good: Path) -> None:
    header, body = split(good)
    good.write_bytes(join(header, body, length=2**63))
    refused(good, "header length 9223372036854775808 exceeds the 1048576-byte limit")


def test_a_header_larger_than_the_limit_is_refused_though_safetensors_would_read_it(
        good: Path) -> None:
    header, body = split(good)
    good.write_bytes(join(json.dumps(header) + " " * (2 << 20), body))
    assert safetensors.numpy.load_file(good).keys()  # the library accepts 2 MiB of header
    refused(good, r"header length 20\d{5} exceeds the 1048576-byte limit", progress_too=True)


def test_truncated_or_extended_data_is_refused(good: Path) -> None:
    content = good.read_bytes()
    good.write_bytes(content[:-1])
    refused(good, "bytes, but the file holds .* bytes of data", progress_too=True)
    good.write_bytes(content + b"\0" * 8)
    refused(good, "bytes, but the file holds .* bytes of data", progress_too=True)


@pytest.mark.parametrize(("change", "message"), [
    (lambda h: h["model/2.bias"].update(dtype="BF16"), r"key 'model/2.bias': expected a dtype"),
    (lambda h: h["model/2.bias"].update(dtype=[]), r"key 'model/2.bias': expected a dtype"),
    (lambda h: h["model/2.bias"].update(shape=[4]), r"key 'model/2.bias': shape \(4,\) of F64"),
    (lambda h: h["model/2.bias"].update(shape=-8), r"key 'model/2.bias': expected a shape"),
    (lambda h: h["model/2.bias"].update(data_offsets=[0, 64]), "should begin at"),
    (lambda h: h["model/2.bias"].update(extra=1), "expected a safetensors entry"),
    (lambda h: h.update(__metadata__={"format": "x"}), "expected fields"),
    (lambda h: h.update(__metadata__=[1]), r"no __metadata__ of strings"),
    (lambda h: h["model/2.bias"].update(shape=json.loads("[" * 30 + "]" * 30)),
     "nested more than 20 levels"),
], ids=["dtype", "dtype type", "shape", "shape type", "overlap", "field", "meta fields",
        "meta type", "nesting"])
def test_a_malformed_header_is_refused(good: Path, change: Callable, message: str) -> None:
    refused(edit_header(good, change), message, progress_too=True)


@pytest.mark.parametrize(("arrays", "message"), [
    (lambda a: a | {"model/0.weight": np.zeros((3, 8))},
     r"key 'model/0.weight': expected shape \(8, 3\), got \(3, 8\)"),
    (lambda a: a | {"model/0.weight": np.zeros((8, 3), np.float32)},
     r"key 'model/0.weight': expected dtype float64 .*got float32"),
    (lambda a: a | {"optimizer/state/5/exp_avg": np.zeros(2**16)},
     r"key 'optimizer/state/5/exp_avg': expected shape \(2,\), got \(65536,\)"),
    (lambda a: a | {"model/9.weight": np.zeros(3)}, r"unexpected \['model/9.weight'\]"),
], ids=["shape", "dtype", "optimizer shape", "name"])
def test_a_header_that_does_not_fit_the_model_is_refused_before_any_array_is_read(
        good: Path, monkeypatch: pytest.MonkeyPatch, arrays: Callable, message: str) -> None:
    stored, meta = read_checkpoint(good)
    safetensors.numpy.save_file(arrays(stored), good, metadata={
        k: v if isinstance(v, str) else json.dumps(v) for k, v in meta.items()})
    reads: list[str] = []
    real_read = _checkpoint_files.Stored.read
    monkeypatch.setattr(_checkpoint_files.Stored, "read",
                        lambda self, name: reads.append(name) or real_read(self, name))
    refused(good, message)
    assert reads == []


# ---------------------------------------------------------------- version 2: the document

@pytest.mark.parametrize(("document", "message"), [
    ("[" * 100_000 + "]" * 100_000, "progress.*nested more than 20 levels"),
    ('{"step": ' + "9" * 5000 + "}", "an integer of 5000 digits"),
    ('{"step": 1e999}', "number 1e999 out of range"),
    ('{"step": NaN}', "NaN is not a number"),
    ('{"step": 1, "step": 2}', "a key appears twice"),
    ('{"step": 9223372036854775808}', r"progress\['step'\]: expected .*2\*\*63"),
    ('{"step": "' + "x" * 201 + '"}', r"progress\['step'\]: expected .*at most 200 characters"),
])
def test_a_hostile_progress_document_is_refused(good: Path, document: str, message: str) -> None:
    refused(with_metadata(good, progress=document), message, progress_too=True)


@pytest.mark.parametrize(("step", "message"), [
    (2**53, r"state_dict\['state'\]\[3\]\['step'\]: expected an integer in \[0, 2\*\*53\)"),
    (-1, r"expected an integer in \[0, 2\*\*53\)"),
    (1.5, r"expected an integer in \[0, 2\*\*53\)"),
])
def test_an_adam_step_that_would_overflow_is_refused_at_load(good: Path, step: object,
                                                             message: str) -> None:
    _, meta = read_checkpoint(good)
    meta["optimizer"]["scalar_state"]["3"]["step"] = step
    refused(with_metadata(good, optimizer=json.dumps(meta["optimizer"])), message)


@pytest.mark.parametrize(("group", "message"), [
    ({"lr": 1e999}, "out of range"),  # not JSON-finite: refused by the reader
    ({"lr": 0.0}, "lr: expected a finite number > 0"),
    ({"betas": [0.9, 1.0]}, r"betas\[1\]: expected"),
    ({"eps": -1e-8}, "eps: expected a finite number >= 0"),
    ({"weight_decay": "0"}, "weight_decay: expected"),
    ({"amsgrad": 1}, "amsgrad: expected a bool"),
])
def test_hyper_parameters_out_of_range_are_refused_at_load(good: Path, group: dict,
                                                           message: str) -> None:
    _, meta = read_checkpoint(good)
    meta["optimizer"]["param_groups"][0] |= group
    refused(with_metadata(good, optimizer=json.dumps(meta["optimizer"]).replace(
        "Infinity", "1e999")), message)


def test_a_loader_state_of_huge_integers_is_refused_by_name(tmp_path: Path) -> None:
    x = np.zeros((10, 3))
    loader = zn.data.DataLoader(x, np.zeros((10, 2)), 5, shuffle=True, seed=0)
    model, opt = make()
    path = zn.save_checkpoint(tmp_path / "c", model, opt, loader=loader)
    _, meta = read_checkpoint(path)
    meta["loader"]["rng"]["state"]["state"] = 10**45
    with_metadata(path, loader=json.dumps(meta["loader"]))
    with pytest.raises(zn.CheckpointError, match=rf"^{path}: key '__metadata__' \(loader\)"):
        zn.load_checkpoint(path, model, opt, loader=loader)


# ---------------------------------------------------------------- version 1: .npz

def npy(shape: tuple[int, ...], data: bytes = b"", descr: str = "<f8") -> bytes:
    """An .npy member: a header declaring ``shape`` and ``descr``, then ``data``."""
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": descr, "fortran_order": False,
                                               "shape": shape})
    return out.getvalue() + data


def v1_with(path: Path, good: Path, name: str, member: Callable[[zipfile.ZipFile], None]) -> Path:
    """A v1 checkpoint of ``good``'s arrays in which ``member`` writes the member ``name``."""
    arrays, meta = read_checkpoint(good)
    write_v1(path, {k: v for k, v in arrays.items() if k != name}, meta)
    with zipfile.ZipFile(path, "a") as archive:
        member(archive)
    return path


def test_a_v1_member_declaring_a_huge_shape_is_refused_before_its_data(tmp_path: Path,
                                                                       good: Path) -> None:
    path = v1_with(tmp_path / "c.npz", good, "model/0.weight", lambda z: z.writestr(
        "model/0.weight.npy", npy((2**20, 2**20), b"\0" * 64)))
    refused(path, r"key 'model/0.weight': shape \(1048576, 1048576\) of float64 is "
                  r"8796093022208 bytes .* but the member declares", progress_too=True)


@pytest.mark.parametrize(("shape", "message"), [
    ((2**22,), r"key 'model/0.weight': expected shape \(8, 3\), got \(4194304,\)"),
    ((8, 3), r"key 'model/0.weight': shape \(8, 3\) .* but the member declares 335"),
], ids=["declared", "undeclared"])
def test_a_v1_zip_bomb_is_refused_without_inflating_it(tmp_path: Path, good: Path,
                                                       shape: tuple[int, ...],
                                                       message: str) -> None:
    def bomb(archive: zipfile.ZipFile) -> None:  # 32 MiB of zeros, a few KB deflated
        info = zipfile.ZipInfo("model/0.weight.npy")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=False) as member:
            member.write(npy(shape))
            for _ in range(32):
                member.write(bytes(1 << 20))
    path = v1_with(tmp_path / "c.npz", good, "model/0.weight", bomb)
    assert path.stat().st_size < 100_000
    refused(path, message)


def test_a_v1_npy_header_declaring_4_gib_of_header_is_refused_without_inflating_it(
        tmp_path: Path, good: Path) -> None:
    def bomb(archive: zipfile.ZipFile) -> None:  # an .npy 2.0 header "of 4 GiB", then zeros
        info = zipfile.ZipInfo("model/0.weight.npy")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=False) as member:
            member.write(b"\x93NUMPY\x02\x00\xff\xff\xff\xff")
            for _ in range(32):
                member.write(bytes(1 << 20))
    refused(v1_with(tmp_path / "c.npz", good, "model/0.weight", bomb),
            r"key 'model/0.weight': not a readable .npy header")


@pytest.mark.parametrize(("member", "message"), [
    (lambda z: z.writestr("model/0.weight.npy", npy((8, 3), descr="|O")),
     "expected an array of numbers"),
    (lambda z: z.writestr("model/0.weight.npy", b"\x93NUMPY\x01\x00" + b"\xff\xff" + b"{"),
     "not a readable .npy header"),
    (lambda z: z.writestr("model/0.weight.npy", npy((8, 3), bytes(191))), "member declares"),
    (lambda z: z.writestr("model/0.weight.npy", npy((8, 3), bytes(192)),
                          compress_type=zipfile.ZIP_LZMA), "zip method 14"),
    (lambda z: z.writestr("notes.txt", b"hello"), "is not one .npy array"),
], ids=["object", "header", "short", "lzma", "foreign member"])
def test_a_malformed_v1_member_is_refused(tmp_path: Path, good: Path, member: Callable,
                                          message: str) -> None:
    refused(v1_with(tmp_path / "c.npz", good, "model/0.weight", member), message,
            progress_too=True)


def test_a_v1_zip_directory_beyond_the_limit_is_refused(tmp_path: Path, good: Path) -> None:
    def many(archive: zipfile.ZipFile) -> None:
        for i in range(12_000):
            archive.writestr(f"{'x' * 50}{i}.npy", b"")
    refused(v1_with(tmp_path / "c.npz", good, "", many), "zip directory of .* bytes exceeds",
            progress_too=True)


def test_a_v1_meta_of_deep_json_is_refused(tmp_path: Path, good: Path) -> None:
    arrays, _ = read_checkpoint(good)
    with open(tmp_path / "c.npz", "wb") as file:
        np.savez(file, **arrays, meta=np.array("[" * 50_000 + "]" * 50_000))
    refused(tmp_path / "c.npz", "key 'meta': JSON nested more than 20", progress_too=True)


# ---------------------------------------------------------------- memory, good against hostile

def test_refusing_a_hostile_file_costs_no_more_memory_than_loading_a_good_one(
        tmp_path: Path) -> None:
    model = zn.nn.relu_mlp((784, 16, 16, 10), rng=np.random.default_rng(0))  # the MNIST net
    opt = zn.optim.Adam(model.parameters())
    for p in model.parameters():
        p.grad = np.ones_like(p.data)
    opt.step()
    path = zn.save_checkpoint(tmp_path / "mnist", model, opt)
    tracemalloc.start()
    zn.load_checkpoint(path, model, opt)
    good_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    edit_header(path, declare_huge)
    tracemalloc.start()
    with pytest.raises(zn.CheckpointError, match="bytes, but the file holds"):
        zn.load_checkpoint(path, model, opt)
    hostile_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert hostile_peak < good_peak
