"""Fuzzing the checkpoint reader: mutated and adversarial bytes of a valid version 2
(safetensors) file and of a version 1 (.npz) file, read by load_checkpoint and read_progress.

The harness is fuzz/harness.py's. Every call either returns or raises a documented error
(CheckpointError, FileNotFoundError) naming the file; nothing else passes (MemoryError,
RecursionError, an OverflowError or a zipfile error from deep inside). Each call runs under
tracemalloc and may not peak above PEAK_BYTES, while the mutations declare arrays of up to
2**70 elements and headers of up to 2**64 bytes: a reader that believes a header fails here
(the in-process equivalent of a memory limit, and stricter: an allocation that would have
fit under a limit still counts). A version 2 file that zeronet accepts must also load with
the safetensors library, and give the same arrays.
"""

from __future__ import annotations

import copy
import io
import json
import struct
import tempfile
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import safetensors.numpy
from hypothesis import example, given
from hypothesis import strategies as st

import zeronet as zn
from fuzz.harness import FUZZ, Returned, assert_documented, mutate_bytes, run

PEAK_BYTES = 8 << 20  # the arrays are ~2 KB; the reader's own bounds allow a few MiB


def make(seed: int = 1) -> tuple[zn.nn.Sequential, zn.optim.Adam, zn.data.DataLoader]:
    model = zn.nn.relu_mlp((3, 8, 8, 2), rng=np.random.default_rng(seed))
    opt = zn.optim.Adam(model.parameters(), lr=1e-2)
    for p in model.parameters():
        p.grad = np.ones_like(p.data)
    opt.step()
    x = np.zeros((20, 3))
    return model, opt, zn.data.DataLoader(x, np.zeros((20, 2)), 5, shuffle=True, seed=3)


def valid_files() -> tuple[bytes, bytes]:
    """A valid version 2 and version 1 checkpoint of ``make()``, as bytes."""
    with tempfile.TemporaryDirectory() as folder:
        model, opt, loader = make()
        path = zn.save_checkpoint(Path(folder) / "c", model, opt, loader=loader,
                                  progress={"epoch": 1, "step": 4, "optimizer": "adam"})
        v2 = path.read_bytes()
    arrays = safetensors.numpy.load(v2)
    (length,) = struct.unpack("<Q", v2[:8])
    metadata = json.loads(v2[8:8 + length])["__metadata__"]
    document = {"format": "zeronet-checkpoint", "version": 1,
                **{k: json.loads(v) for k, v in metadata.items() if k not in ("format", "version")}}
    out = io.BytesIO()
    np.savez(out, **arrays, meta=np.array(json.dumps(document)))
    return v2, out.getvalue()


V2, V1 = valid_files()
(_LENGTH,) = struct.unpack("<Q", V2[:8])
HEADER = json.loads(V2[8:8 + _LENGTH])
DATA = V2[8 + _LENGTH:]

# Values a hostile header puts where a dtype, a shape, an offset or a document belongs.
huge_ints = st.sampled_from([2**31, 2**32, 2**40, 2**53, 2**63 - 1, 2**63, 2**64, 2**70, -1,
                             -(2**63)])
hostile_values = st.one_of(
    st.integers(-5, 3000), huge_ints, st.none(), st.booleans(), st.floats(), st.text(max_size=4),
    st.sampled_from(["F32", "F64", "F16", "BF16", "I64", "U8", "BOOL", "F8_E4M3"]),
    st.lists(st.one_of(st.integers(0, 16), huge_ints), max_size=4),
    st.just(json.loads("[" * 25 + "]" * 25)))
hostile_documents = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["[" * 10_000 + "]" * 10_000, '{"step": ' + "9" * 5000 + "}",
                     '{"step": 1e999}', '{"step": NaN}', '{"a": 1, "a": 2}', "null", "[]",
                     '{"step": -Infinity}', '{"' + "k" * 300 + '": 1}']))


def places(value: Any, at: tuple = ()) -> Iterator[tuple]:
    """The path (keys and indices) of every value nested in a JSON document."""
    yield at
    items = value.items() if isinstance(value, dict) else (
        enumerate(value) if isinstance(value, list) else ())
    for key, inner in items:
        yield from places(inner, (*at, key))


def mutated_document(draw: st.DrawFn, text: str) -> str:
    """A document string: hostile, or the original with one value, at any depth, replaced."""
    try:
        document = json.loads(text)
    except ValueError:  # already made hostile by an earlier mutation
        document = None
    if document is None or draw(st.booleans()):
        return draw(hostile_documents)
    at = draw(st.sampled_from(list(places(document))))
    value = draw(st.one_of(hostile_values, st.dictionaries(st.text(max_size=3), st.integers(),
                                                           max_size=2)))
    if not at:
        return json.dumps(value)
    parent = document
    for key in at[:-1]:
        parent = parent[key]
    parent[at[-1]] = value
    return json.dumps(document)


@st.composite
def v2_files(draw: st.DrawFn) -> bytes:
    """The valid v2 file with its header's entries, documents or length changed, then its
    bytes mutated; now and then random bytes."""
    if draw(st.integers(0, 19)) == 0:
        return draw(st.binary(max_size=64))
    header = copy.deepcopy(HEADER)
    for _ in range(draw(st.integers(0, 2))):
        name = draw(st.sampled_from(sorted(header)))
        if name == "__metadata__":
            key = draw(st.sampled_from(sorted(header[name])))
            header[name][key] = mutated_document(draw, header[name][key]) \
                if key in ("progress", "optimizer", "loader") else draw(st.text(max_size=4))
        else:
            field = draw(st.sampled_from(["dtype", "shape", "data_offsets", "extra"]))
            header[name][field] = draw(hostile_values)
    text = json.dumps(header, allow_nan=True).encode()
    length = len(text) if draw(st.integers(0, 4)) else draw(st.one_of(
        huge_ints.filter(lambda n: 0 <= n < 2**64), st.integers(0, len(text) + 16)))
    return mutate_bytes(draw, struct.pack("<Q", length) + text + DATA)


def npy(shape: Any, descr: Any, version: int = 1, length: int | None = None) -> bytes:
    """An .npy header (format ``version``), declaring ``length`` bytes of header if given."""
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode() + b"\n"
    size = len(header) if length is None else length
    count = struct.pack("<H", size % 2**16) if version == 1 else struct.pack("<I", size % 2**32)
    return b"\x93NUMPY" + bytes([version, 0]) + count + header


@st.composite
def v1_files(draw: st.DrawFn) -> bytes:
    """The valid v1 file with one member replaced by a hostile .npy header (now and then
    deflated), then its bytes mutated."""
    data = V1
    if draw(st.booleans()):
        out = io.BytesIO()
        target = draw(st.sampled_from(["model/0.weight.npy", "meta.npy",
                                       "optimizer/state/1/exp_avg.npy"]))
        with zipfile.ZipFile(io.BytesIO(V1)) as source, zipfile.ZipFile(out, "w") as archive:
            for info in source.infolist():
                if info.filename != target:
                    archive.writestr(info, source.read(info))
            shape = tuple(draw(st.lists(st.one_of(st.integers(0, 9), huge_ints), max_size=3)))
            descr = draw(st.sampled_from(["<f8", "<f4", "|O", "<U5", "|b1", ">f8", "<c16"]))
            length = draw(st.one_of(st.none(), st.sampled_from([0, 2**16 - 1, 2**32 - 1])))
            body = npy(shape, descr, draw(st.sampled_from([1, 2, 3])), length)
            body += draw(st.binary(max_size=256)) + bytes(draw(st.sampled_from([0, 1 << 22])))
            archive.writestr(target, body, compress_type=draw(st.sampled_from(
                [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_DEFLATED])))
        data = out.getvalue()
    return mutate_bytes(draw, data)


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as directory:
        yield Path(directory)


def bounded(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``run(call, ...)`` under tracemalloc; its peak must stay below PEAK_BYTES."""
    tracemalloc.start()
    try:
        outcome = run(call, *args, **kwargs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < PEAK_BYTES, f"{call.__name__} peaked at {peak} bytes"
    return outcome


def check_reader(path: Path, data: bytes) -> Returned | None:
    path.write_bytes(data)
    model, opt, loader = make(seed=7)
    outcome = bounded(zn.load_checkpoint, path, model, opt, loader=loader)
    progress = bounded(zn.read_progress, path)
    if not isinstance(progress, Returned):
        assert_documented(progress, zn.read_progress, str(path))
        assert not isinstance(outcome, Returned), "load_checkpoint read what read_progress " \
                                                  "refused"
    if not isinstance(outcome, Returned):
        assert_documented(outcome, zn.load_checkpoint, str(path))
        return None
    assert outcome.value == progress.value
    return outcome


@FUZZ
@given(data=v2_files())
@example(data=V2)
def test_load_checkpoint_reads_a_v2_file_or_refuses_it_by_name(folder: Path,
                                                              data: bytes) -> None:
    path = folder / "c.safetensors"
    if check_reader(path, data) is not None:  # accepted: safetensors reads the same arrays
        model = make(seed=7)[0]
        zn.load_checkpoint(path, model)
        arrays = safetensors.numpy.load(data)
        assert all(np.array_equal(arrays[f"model/{k}"], v)
                   for k, v in model.state_dict().items())


@FUZZ
@given(data=v1_files())
@example(data=V1)
def test_load_checkpoint_reads_a_v1_file_or_refuses_it_by_name(folder: Path,
                                                              data: bytes) -> None:
    check_reader(folder / "c.npz", data)
